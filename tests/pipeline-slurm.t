#!/usr/bin/env bash
# The Slurm chain on a real single-node Slurm started by the test with
# MaxArraySize=11 and MaxJobCount=60: a chain of 60 views planned in
# bundles within those limits, one bundle's job killed and resubmitted, the
# same tensors as the make pipeline's; the plan of 1 600 snapshots x 64
# views against a limit of 1001, checked from the scripts it writes;
# sbatch-shaped options and per-stage resources; observing, killed and
# resubmitted, the same pairs as the make pipeline's, in a WORK with a space
# and a colon; a bundle failing part-way, named with its log, its dependents
# not run, redone alone; cancel. AREPO_SLURM_BENCH=1 also times the 60 views
# with one task per view and in bundles (reported as diagnostics).
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/slurm.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cd "$SCRATCH" || exit 1
export SLURM_MAX_ARRAY_SIZE=11 SLURM_MAX_JOB_COUNT=60
if ! start_slurm; then
	skip 1 "cannot start munged, slurmctld and slurmd here (needs root and slurm-wlm, munge)"
	done_testing
	exit
fi
# 15 snapshots of 4 views; a configuration of 3 of them with small
# observability grids (quick to build, the same tensors).
sed 's/"total_snapshots": 2/"total_snapshots": 15/' "$TOP/pipelines/presets/tiny.json" >config15.json
sed 's/"total_snapshots": 2/"total_snapshots": 3/; /"N_H_TOT_steps"/,/]/ s/128/32/;
	/"abundance_H2_steps"/,/]/ s/64/16/; /"T_steps"/,/]/ s/64/16/' \
	"$TOP/pipelines/presets/tiny.json" >config.json
mkdir src src3
for i in $(seq 15); do
	if [ "$i" = 2 ]; then
		arepo-mksnap -n 20000 --seed 2 --files 2 src/snapdir_002 >/dev/null
	else
		arepo-mksnap -n 20000 --seed "$i" "src/$(printf 'snap_%03d.hdf5' "$i")" >/dev/null
	fi
done
cp src/snap_001.hdf5 src/snap_003.hdf5 src3/ && cp -r src/snapdir_002 src3/

# --- Dry runs: nothing submitted.
run_status arepo-submit --dry-run --config config.json --work dry --source src3
is "$status" 0 "--dry-run"
like "$out" "submit fetch_0_0_1 --array=0%1 -- fetch.sh 0 0 3 12" \
	"prints the submission script: one fetch task for the 3 snapshots, throttled to the cache"
like "$out" "submit interp_0_0_1 --array=0 --dependency=aftercorr:\\\$extract_0_0_1 -- interp.sh" \
	"interp task n after extract task n"
like "$out" "#SBATCH --output=.*/logs/extract_%A_%a.log" "and the scripts"
like "$out" "stage\"? bundle .*dry\"? extract \\$\\(\\(\\\$1 \\+ AREPO_TASK\\)\\) \"\\\$2\" \"\\\$3\" \"\\\$4\"" \
	"whose tasks make their bundle"
like "$out" "total: 5 jobs in 5 submissions" "and the plan"
ok "and submits nothing" test ! -e dry/slurm/jobs
like "$out" "arepo-interp --backend auto --threads 2 " "interp tasks get the backend (auto by default) and their CPUs as threads"
run_status arepo-submit --dry-run --backend cuda --config config.json --work dry --source src3
like "$(cat dry/slurm/interp.sh)" "#SBATCH --gres=gpu:1" "--backend cuda asks a GPU for each interp task"
ok "and for no other stage" sh -c '! grep -l gres dry/slurm/fetch.sh dry/slurm/extract.sh dry/slurm/merge.sh dry/slurm/normalize.sh'
like "$out" "arepo-interp --backend cuda " "and passes the backend on"
run_status arepo-submit --dry-run --observe thick --observe-backend cuda --backend cpu --config config.json --work dry-obs --source src3
is "$status" 0 "--observe-backend cuda (a dry run)"
like "$(cat dry-obs/slurm/observe.sh)" "#SBATCH --gres=gpu:1" "asks a GPU for each observe task"
ok "and none for interp with --backend cpu" sh -c '! grep -l gres dry-obs/slurm/interp.sh'
like "$out" "arepo-observe --backend cuda " "and passes the backend to arepo-observe"
like "$(arepo-submit --list-stages | tr '\n' ' ')" "^list .* fetch .* extract .* interp .* grids .* observe .* merge .* normalize " "--list-stages"

# sbatch's shapes: --opt=value, short options, a stage's own resources,
# values with spaces kept whole, a GPU where interp is.
run_status arepo-submit --dry-run --config=config.json --work=dry --source src3 --time=2:00:00 --time interp=4:00:00 \
	-c3 --mem extract,merge=3G -p debug --qos=normal -C "haswell|skylake" --mail-type=END,FAIL --mail-user me@example.org \
	--sbatch-option "--comment=two words" --sbatch-option=normalize=--exclusive --gres=gpu:2 -A interp=gpuproj
is "$status" 0 "sbatch-shaped options"
header() { grep '^#SBATCH' "dry/slurm/$1.sh" | tr '\n' ' '; }
like "$(header interp)" "--cpus-per-task=3 .*--time=4:00:00 .*--mem=4G .*--gres=gpu:2 .*--partition=debug .*--account=gpuproj .*--qos=normal .*\"--constraint=haswell\\|skylake\" .*--mail-type=END,FAIL .*--mail-user=me@example.org .*\"--comment=two words\"" \
	"interp: its time, the CPUs, the GPUs and the account given to it, the rest given to all"
like "$(header extract)" "--cpus-per-task=1 .*--time=2:00:00 .*--mem=3G .*--partition=debug" "extract: the time of all, its memory, one CPU"
ok "no GPU, no account but interp's" sh -c '! grep -E "gres|account" dry/slurm/fetch.sh dry/slurm/extract.sh dry/slurm/merge.sh'
like "$(header normalize)" "--exclusive" "an sbatch option for one stage"
ok "and only for it" sh -c '! grep -e --exclusive dry/slurm/merge.sh'
run_status arepo-submit --dry-run --config config.json --work dry --source src3 --time intrp=1:00
is "$status" 2 "a misspelt stage: exit 2"
like "$err" "arepo-submit: --time intrp=1:00: unknown stage intrp" "naming it"
run_status arepo-submit --dry-run --config config.json --work dry --source src3 --force=yes
like "$status $err" "^2 arepo-submit: --force: takes no value" "--flag=value refused for a flag"

run_status arepo-submit --dry-run --observe thick --observe-cpus 3 --observe-time 7:00 --observe-mem 700M \
	--config config.json --work dryobs --source src3
like "$out" "submit observe_0_0_1 --array=0 --dependency=aftercorr:\\\$interp_0_0_1,afterok:\\\$grids -- observe.sh" \
	"--observe: an observe array, task n after interp task n and after the grids job"
like "$(tr '\n' ' ' <dryobs/slurm/observe.sh)" "--cpus-per-task=3 .*--time=7:00 .*--mem=700M" "with its own resources"
like "$out" "arepo-merge --link --skip-existing -o $SCRATCH/dryobs/dataset $SCRATCH/dryobs/observed/1_view0.h5 " \
	"and merge takes the observed files"

# IRIS's scale: 1 600 snapshots x 64 views against arrays of 1001 (names
# only: nothing reads the snapshots in a dry run).
mkdir big && (cd big && seq -f 'snap_%04g.hdf5' 1 1600 | xargs touch)
sed 's/"total_snapshots": 2/"total_snapshots": 1600/; s/"points_per_snapshot": 4/"points_per_snapshot": 64/' \
	"$TOP/pipelines/presets/tiny.json" >config-big.json
run_status arepo-submit --dry-run --plan --max-array-size 1001 --max-jobs 10000 --config config-big.json --work bigw --source big
is "$status" 0 "--dry-run --plan: 1 600 snapshots x 64 views"
like "$out" "limits: arrays of at most 1001 tasks \(--max-array-size 1001\), 10000 jobs" "prints the limits"
like "$out" "interp +102400 +[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+ (min|h)" "the tasks, arrays, bundle sizes and task lengths"
# Every array within the limit, every snapshot and view in exactly one
# bundle, every dependency on a job submitted before, and each bundle after
# the one that makes what it reads.
check=$(awk -v V=64 -v N=1600 '
function fail(m) { print m; bad = 1 }
$1 != "submit" { next }
{
	name = $2; array = ""; deps = ""; script = ""
	for (i = 3; i <= NF; i++) {
		if ($i ~ /^--array=/) array = substr($i, 9)
		else if ($i ~ /^--dependency=/) deps = substr($i, 14)
		else if ($i == "--") { script = $(i + 1); off = $(i + 2); layer = $(i + 3); G = $(i + 4); C = $(i + 5); break }
	}
	stage = script; sub(/\.sh$/, "", stage)
	nd = split(deps, d, ",")
	for (k = 1; k <= nd; k++) {
		split(d[k], t, ":")
		dep = substr(t[2], 2)
		if (!(dep in defined)) fail(name ": depends on " dep ", not submitted before")
		if (t[1] == "aftercorr") corr[name] = dep
	}
	defined[name] = stage
	if (array == "") { runafter[stage] = deps; next }
	sub(/%.*/, "", array)
	n = split(array, r, ",")
	cnt = 0
	for (k = 1; k <= n; k++) {
		if (split(r[k], ab, "-") == 1) ab[2] = ab[1]
		for (x = ab[1]; x <= ab[2]; x++) {
			cnt++
			if (x > 1000) fail(name ": index " x " beyond 1000")
			e = off + x
			has[name, e] = 1
			if (stage == "fetch" || stage == "extract") {
				for (I = e * G + 1; I <= (e + 1) * G && I <= N; I++) { seen[stage, I]++; snapbundle[stage, I] = name SUBSEP e }
				if (stage == "extract" && snapbundle["fetch", e * G + 1] != corr[name] SUBSEP e) fail(name ": group " e " not after its fetch")
			} else {
				last = (e + 1) * G; if (last > N) last = N
				size = (last - e * G) * V
				for (q = layer * C; q < (layer + 1) * C && q < size; q++) {
					I = e * G + 1 + int(q / V); K = q % V
					seen[stage, I, K]++
					# The extract of its snapshot is the one this task follows.
					if (stage == "interp" && snapbundle["extract", I] != corr[name] SUBSEP e) fail(name ": view " I " " K " not after its extract")
				}
			}
		}
	}
	if (cnt > 1001) fail(name ": " cnt " tasks")
	total += cnt
	if (stage == "interp") interps = interps " afterok:$" name
}
END {
	for (I = 1; I <= N; I++) {
		if (seen["fetch", I] != 1 || seen["extract", I] != 1) fail("snapshot " I ": " seen["fetch", I] + 0 " fetch, " seen["extract", I] + 0 " extract bundles")
		for (K = 0; K < V; K++) if (seen["interp", I, K] != 1) { fail("view " I " " K ": in " seen["interp", I, K] + 0 " bundles"); break }
	}
	split(substr(interps, 2), want, " ")
	for (k in want) if (index("," runafter["merge"] ",", "," substr(want[k], 1) ",") == 0) fail("merge not after " want[k])
	if (runafter["normalize"] != "afterok:$merge") fail("normalize after " runafter["normalize"])
	if (total + 2 > 10000) fail(total + 2 " jobs")
	if (!bad) print "ok", total + 2
}' bigw/slurm/submit.sh)
like "$check" "^ok [0-9]+$" "every array within 1001, every view in exactly one bundle, every dependency well formed (${check#ok } jobs)"
like "$(cat bigw/slurm/interp.sh)" "stage'? bundle '?$SCRATCH/bigw'? interp " "interp tasks run their bundle"
read -r off layer g c <<<"$(awk '$1 == "submit" && /interp.sh/ { print $(NF - 3), $(NF - 2), $(NF - 1), $NF; exit }' bigw/slurm/submit.sh)"
is "$(sh "$TOP/pipelines/lib/stage" units bigw interp "$off" "$layer" "$g" "$c" | head -n 2 | tr '\n' ' ')" "1 0 1 1 " \
	"the stage runner's first bundle is the plan's"
ok "and nothing submitted" test ! -e bigw/slurm/jobs

# --- 60 views within MaxArraySize=11 and MaxJobCount=60; a unit's cost
# given so that bundles must grow to fit the jobs.
run_status arepo-submit --plan --config config15.json --work chain --source src --time 10:00 --mem 500M --cpus-per-task 1 \
	--task-minutes 1 --unit-seconds fetch=120,extract=120 --unit-seconds interp=60
is "$status" 0 "a chain of 60 views is submitted"
plan=$out
like "$plan" "limits: arrays of at most 11 tasks \(MaxArraySize 11\), 59 jobs \(MaxJobCount 60 less 1 and the 0 jobs held now\)" \
	"read from Slurm: MaxArraySize and MaxJobCount"
like "$plan" "grown from the target to fit 59 jobs" "the bundles grown from the target to fit"
like "$plan" "highest index ([0-9]|10), within 10" "every array within MaxArraySize"
jobs=$(awk '{ print $1 }' chain/slurm/jobs | sort | uniq -c | awk '$1 > 1 { print $2 }' | tr '\n' ' ')
like "$jobs" "fetch .*interp " "arrays split into several submissions"
interp=$(awk '$1 == "interp" { print $2 }' chain/slurm/jobs | paste -sd, -)
# One bundle's job killed while it runs (another one, if it ended before
# the signal came).
killed=
for i in $(seq 600); do
	task=$(squeue -h -t R -j "$interp" -o %i 2>/dev/null | head -n 1)
	if [ -n "$task" ] && scancel "$task" 2>/dev/null; then
		for j in $(seq 50); do
			state=$(squeue -h -t all -j "$task" -o %T 2>/dev/null)
			case $state in RUNNING | COMPLETING | '') sleep 0.1 ;; *) break ;; esac
		done
		[ "$state" != CANCELLED ] || { killed=$task; break; }
	fi
	sleep 0.1
done
ok "an interp task killed while running ($killed)" test -n "$killed"
wait_chain chain 120
run_status arepo-status chain
is "$status" 1 "arepo-status: incomplete (exit 1)"
like "$out" "killed: interp task ${killed#*_} of job ${killed%_*} \(snapshot [0-9]+ view [0-9]+ to snapshot [0-9]+ view [0-9]+, [0-9]+ views, [0-9]+ not made\), signal 15, log $SCRATCH/chain/logs/interp_${killed%_*}_${killed#*_}.log" \
	"names the killed bundle, its views and its log"
like "$out" "entries +[0-9]+/60 +tensors made" "progress in entries"
like "$out" "merge +[0-9]+ +1: 1 cancelled" "the merge after it cancelled"
before=$(cd chain/tensors && stat -c '%n %i %Y' *.h5)
run_status arepo-submit --config config15.json --work chain --source src --time 10:00 --mem 500M --cpus-per-task 1
is "$status" 0 "resubmitted"
like "$(awk '{ print $1 }' chain/slurm/jobs | tr '\n' ' ')" "^(interp )?merge normalize $" "only what is missing"
ok "completes" wait_chain chain 120
run_status arepo-status chain
is "$status" 0 "arepo-status: complete (exit 0)"
like "$out" "interp +60/60 +views" "60 of 60 tensors"
like "$out" "entries +60/60 +tensors made \(100%\)" "60 entries"
like "$out" "normalize +[0-9]+ +1: 1 completed" "the normalize job completed"
is "$(cd chain/tensors && stat -c '%n %i %Y' $(echo "$before" | cut -d' ' -f1))" "$before" \
	"the tensors made before the kill were not made again"
ok "a log per task under WORK/logs, each unit timed" grep -q "^# unit interp [0-9]* [0-9]* made in [0-9.]* s" \
	"$(ls chain/logs/interp_*_0.log | head -n 1)"
make --no-print-directory -f "$TOP/pipelines/arepo.mk" -j 2 CONFIG="$SCRATCH/config15.json" WORK=made SOURCE=src \
	interp >/dev/null 2>&1
same=yes
for t in made/tensors/*.h5; do
	h5diff -d 0 "$t" "chain/tensors/$(basename "$t")" /physical /physical >/dev/null || same=no
done
is "$same $(ls made/tensors | wc -l)" "yes 60" "the same 60 tensors as the make pipeline's"
is "$(ls chain/dataset/tensors | wc -l)" 60 "all in the dataset"
run_status arepo-submit --config config15.json --work chain --source src
like "$status $out" "^0 arepo-submit: .*chain: nothing to submit" "a complete run: nothing to submit"

if [ "${AREPO_SLURM_BENCH:-0}" = 1 ]; then
	# The scheduler's time per entry: the same 60 views one task per view,
	# in bundles of about 3 s, and in bundles sized for 30 min (costs
	# measured above). Per view: the chain's wall time, the time in the
	# tools (the units' times in the logs), and what the node's CPUs spent
	# besides (wall x CPUs - tools): the scheduler's and the tasks' own.
	SLURM_MAX_JOB_COUNT=1000 restart_slurm
	bench() { # WORK OPTION...
		local w=$1 t0
		shift
		# The earlier tasks' logs, for their costs.
		mkdir -p "$w/logs/earlier" && cp chain/logs/*.log "$w/logs/earlier/"
		t0=$(date +%s.%N)
		arepo-submit --plan --config config15.json --work "$w" --source src --mem 500M --cpus-per-task 1 "$@" >"$w.plan"
		wait_chain "$w" 600
		tools=$(cat "$w"/logs/*.log | awk '$2 == "unit" && $6 == "made" { t += $8 } END { print t + 0 }')
		awk -v t0="$t0" -v t1="$(date +%s.%N)" -v w="$w" -v tools="$tools" -v cpus="$(nproc)" \
			-v jobs="$(grep -o 'total: [0-9]* jobs' "$w.plan")" 'BEGIN {
			wall = t1 - t0
			printf "# %s: %s, chain %.1f s; a view: %.3f s wall, %.3f s in the tools, %.3f CPU s besides\n",
				w, jobs, wall, wall / 60, tools / 60, (wall * cpus - tools) / 60 }'
	}
	bench per-view --snapshots-per-task 1 --views-per-task 1
	bench bundled-3s --task-minutes 0.05
	bench bundled-30min
	arepo-status per-view >/dev/null && arepo-status bundled-3s >/dev/null && arepo-status bundled-30min >/dev/null
	is "$?" 0 "bench: each complete"
fi

# --- Observing, killed once the first pair is made, resubmitted; a fresh
# controller (the first one holds the jobs above).
restart_slurm
W="obs chain:1"
ok "a chain that observes" arepo-submit --config config.json --work "$W" --source src3 --time 10:00 --mem 500M \
	--cpus-per-task 1 --observe thick --observe-cpus 1 --observe-time 5:00 --observe-mem 300M
observe=$(awk '$1 == "observe" { print $2; exit }' "$W/slurm/jobs")
info=$(scontrol -o show job "$observe" | head -n 1)
like "$info" "TimeLimit=00:05:00 .*CPUs/Task=1 .*MinMemoryNode=300M" "the observe tasks get their own resources"
for i in $(seq 600); do
	[ "$(ls "$W/observed" 2>/dev/null | wc -l)" -ge 1 ] && break
	sleep 0.2
done
arepo-submit --cancel "$W" >/dev/null
for i in $(seq 100); do squeue -h | grep -q . || break; sleep 0.2; done
partial=$(ls "$W/observed" | wc -l)
ok "killed ($partial of 12 pairs made)" test "$partial" -ge 1 -a "$partial" -lt 12
before=$(cd "$W/observed" && stat -c '%n %i %Y' *.h5)
ok "resubmitted" arepo-submit --config config.json --work "$W" --source src3 --time 10:00 --mem 500M \
	--cpus-per-task 1 --observe thick --observe-cpus 1 --observe-time 5:00 --observe-mem 300M
wait_chain "$W" 240
run_status arepo-status "$W"
like "$out" "observe +12/12" "arepo-status: every pair made"
like "$out" "entries +12/12 +pairs made" "counted in entries"
like "$out" "observe +([0-9]+|[0-9]+ jobs) +([0-9]+): \\2 completed" "and the observe tasks completed"
is "$(cd "$W/observed" && stat -c '%n %i %Y' $(echo "$before" | cut -d' ' -f1))" "$before" \
	"the pairs made before the kill were not made again"
is "$(ls "$W/tensors" | wc -l)" 0 "no tensor kept"
make --no-print-directory -f "$TOP/pipelines/arepo.mk" -j 2 CONFIG="$SCRATCH/config.json" WORK=made3 SOURCE=src3 \
	OBSERVE=thick KEEP_PHYSICAL=1 observe >/dev/null 2>&1
same=yes
for t in made3/observed/*.h5; do
	h5diff -d 0 "$t" "$W/observed/$(basename "$t")" /observed /observed >/dev/null &&
		h5diff -d 0 "$t" "$W/observed/$(basename "$t")" /columnized /columnized >/dev/null || same=no
done
is "$same $(ls made3/observed | wc -l)" "yes 12" "the same pairs as the make pipeline's"
is "$status" 0 "the pair dataset is complete"
ok "a dataset of the 12 pairs" "${PYTHON:-/usr/bin/python3}" -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
assert f.attrs['kind'] == b'pairs' and f['observed'].shape[0] == 12" "$W/dataset/dataset.h5"

# A corrupt snapshot in a bundle of three: the bundle fails part-way (fetch
# checks it), the rest of the chain does not run.
mkdir bad && cp -r src3/* bad/
printf 'corrupt' | dd of=bad/snap_003.hdf5 bs=1 seek=0 conv=notrunc 2>/dev/null
arepo-submit --config config.json --work failing --source bad --mem 500M --cpus-per-task 1 >/dev/null
wait_chain failing 120
run_status arepo-status --failed failing
is "$status" 1 "a failing chain: arepo-status exits 1"
like "$out" "failed: fetch task 0 of job [0-9]+ \(snapshots 1-3, 1 not made\), exit code 3, log .*/logs/fetch_[0-9]+_0.log" \
	"names the failed bundle, what it did not make, its exit code and its log"
like "$out" "\| arepo-fetch: .*snap_003.hdf5: not an HDF5 file" "with the last lines of the log"
like "$out" "fetch +2/3" "the snapshots of the bundle fetched before the failure stay fetched"
like "$out" "merge +[0-9]+ +1: 1 cancelled" "its dependents do not run"
ok "no dataset" test ! -e failing/dataset/dataset.h5

# Cancel; the sbatch options as the jobs got them.
arepo-submit --config config.json --work cancelled --source src3 --time=10:00 --time interp=7:00 --mem 500M \
	--sbatch-option=--begin=now+1hour --sbatch-option "--comment=two words" >/dev/null
fetch=$(awk '$1 == "fetch" { print $2 }' cancelled/slurm/jobs)
interp=$(awk '$1 == "interp" { print $2 }' cancelled/slurm/jobs)
like "$(scontrol -o show job "$fetch")" "TimeLimit=00:10:00 .*Comment=two words " "--time=T and an sbatch option with spaces, whole"
like "$(scontrol -o show job "$interp")" "TimeLimit=00:07:00 " "--time interp=T for interp alone"
run_status arepo-submit --config config.json --work cancelled --source src3
like "$status $err" "^2 arepo-submit: --work .*cancelled: the chain recorded in .* still has [0-9]+ tasks to run" \
	"a second chain is refused while the first runs"
run_status arepo-submit --cancel cancelled
is "$status" 0 "--cancel"
sleep 2
states=$(for id in $(awk '{ print $2 }' cancelled/slurm/jobs); do scontrol -o show job "$id" | sed -n 's/.* JobState=\([A-Z]*\) .*/\1/p'; done | sort -u | tr '\n' ' ')
is "$states" "CANCELLED " "cancels the whole chain"

# Resubmission after the failure does only what is missing.
cp src3/snap_003.hdf5 bad/snap_003.hdf5
ok "resubmitting the failed chain" arepo-submit --config config.json --work failing --source bad --mem 500M \
	--cpus-per-task 1
like "$(cat failing/slurm/jobs)" "fetch [0-9]+" "submits again"
ok "which completes" wait_chain failing 240
ok "complete now" arepo-status failing
like "$(cat failing/logs/fetch_$(awk '$1 == "fetch" { print $2 }' failing/slurm/jobs)_0.log)" \
	"# bundle fetch 0 0 of 3 snapshots, 12 views: 1 made, 2 done before, 0 failed" "the bundle made only what was missing"

done_testing
