#!/usr/bin/env bash
# The Slurm chain on a real single-node Slurm started by the test: submit,
# wait, arepo-status complete and the same dataset as the make pipeline's; a
# failing task shown with its log, its dependents not run; cancel. The
# observe stage: its resources, killed and resubmitted, the same pairs as
# the make pipeline's, in a WORK with a space and a colon.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/slurm.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cd "$SCRATCH" || exit 1
if ! start_slurm; then
	skip 1 "cannot start munged, slurmctld and slurmd here (needs root and slurm-wlm, munge)"
	done_testing
	exit
fi
# Three snapshots; small observability grids (quick to build, the same tensors).
sed 's/"total_snapshots": 2/"total_snapshots": 3/; /"N_H_TOT_steps"/,/]/ s/128/32/;
	/"abundance_H2_steps"/,/]/ s/64/16/; /"T_steps"/,/]/ s/64/16/' \
	"$TOP/pipelines/presets/tiny.json" >config.json
mkdir src
arepo-mksnap -n 40000 --seed 1 src/snap_001.hdf5 >/dev/null
arepo-mksnap -n 40000 --seed 2 --files 2 src/snapdir_002 >/dev/null
arepo-mksnap -n 40000 --seed 3 src/snap_003.hdf5 >/dev/null

run_status arepo-submit --dry-run --config config.json --work dry --source src
is "$status" 0 "--dry-run"
like "$err" "sbatch --parsable .*--array=1,2,3%2 .*fetch.sh" "prints the sbatch commands, the fetch array throttled to the cache"
like "$out" "#SBATCH --output=.*/logs/extract_%A_%a.log" "and the scripts"
ok "and submits nothing" test ! -e dry/slurm/jobs
like "$out" "arepo-interp --backend auto --threads 2 " "interp tasks get the backend (auto by default) and their CPUs as threads"
run_status arepo-submit --dry-run --backend cuda --config config.json --work dry --source src
like "$out" "#SBATCH --gres=gpu:1" "--backend cuda asks a GPU for each interp task"
like "$out" "arepo-interp --backend cuda " "and passes the backend on"
like "$(arepo-submit --list-stages | tr '\n' ' ')" "^list .* fetch .* extract .* interp .* grids .* observe .* merge .* normalize " "--list-stages"
run_status arepo-submit --dry-run --observe thick --observe-cpus 3 --observe-time 7:00 --observe-mem 700M \
	--config config.json --work dryobs --source src
like "$err" "--array=0,1,2,3,4,5,6,7,8,9,10,11 --dependency=aftercorr:<interp>,afterok:<grids> .*observe.sh" \
	"--observe: an observe array, task n after interp task n and after the grids job"
like "$(tr '\n' ' ' <dryobs/slurm/observe.sh)" "--cpus-per-task=3 .*--time=7:00 .*--mem=700M" "with its own resources"
like "$out" "arepo-merge --link --skip-existing -o $SCRATCH/dryobs/dataset $SCRATCH/dryobs/observed/1_view0.h5 " \
	"and merge takes the observed files"

ok "the chain is submitted" arepo-submit --config config.json --work chain --source src --time 10:00 --mem 500M \
	--cpus-per-task 1
is "$(awk '{ print $1 }' chain/slurm/jobs | tr '\n' ' ')" "fetch extract interp merge normalize " "five jobs recorded in WORK/slurm/jobs"
ok "it completes" wait_chain chain 240
run_status arepo-status chain
is "$status" 0 "arepo-status reports it complete (exit 0)"
like "$out" "interp +12/12" "12 of 12 tensors"
like "$out" "normalize +[0-9]+ +1 completed" "the normalize job completed"
ok "logs, one per job and task, under WORK/logs" test -e "$(ls chain/logs/interp_*_11.log)"

make --no-print-directory -f "$TOP/pipelines/arepo.mk" -j 2 CONFIG="$SCRATCH/config.json" WORK=made SOURCE=src \
	OBSERVE=thick KEEP_PHYSICAL=1 observe >/dev/null 2>&1
same=yes
for t in made/tensors/*.h5; do
	h5diff -d 0 "$t" "chain/tensors/$(basename "$t")" /physical /physical >/dev/null || same=no
done
is "$same" yes "the same tensors as the make pipeline's"
is "$(ls chain/dataset/tensors | wc -l)" 12 "all in the dataset"

# Observing, killed once the first pair is made, resubmitted.
W="obs chain:1"
ok "a chain that observes" arepo-submit --config config.json --work "$W" --source src --time 10:00 --mem 500M \
	--cpus-per-task 1 --observe thick --observe-cpus 1 --observe-time 5:00 --observe-mem 300M
observe=$(awk '$1 == "observe" { print $2 }' "$W/slurm/jobs")
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
ok "resubmitted" arepo-submit --config config.json --work "$W" --source src --time 10:00 --mem 500M \
	--cpus-per-task 1 --observe thick --observe-cpus 1 --observe-time 5:00 --observe-mem 300M
wait_chain "$W" 240
run_status arepo-status "$W"
like "$out" "observe +12/12" "arepo-status: every pair made"
like "$out" "observe +[0-9]+ +[0-9]+ completed" "and the observe tasks completed"
is "$(cd "$W/observed" && stat -c '%n %i %Y' $(echo "$before" | cut -d' ' -f1))" "$before" \
	"the pairs made before the kill were not made again"
is "$(ls "$W/tensors" | wc -l)" 0 "no tensor kept"
ok "a log per observe task" test -s "$(ls "$W"/logs/observe_*_11.log | tail -n 1)"
same=yes
for t in made/observed/*.h5; do
	h5diff -d 0 "$t" "$W/observed/$(basename "$t")" /observed /observed >/dev/null &&
		h5diff -d 0 "$t" "$W/observed/$(basename "$t")" /columnized /columnized >/dev/null || same=no
done
is "$same $(ls made/observed | wc -l)" "yes 12" "the same pairs as the make pipeline's"
is "$status" 0 "the pair dataset is complete"
ok "a dataset of the 12 pairs" "${PYTHON:-/usr/bin/python3}" -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
assert f.attrs['kind'] == b'pairs' and f['observed'].shape[0] == 12" "$W/dataset/dataset.h5"

# A corrupt snapshot: its task fails (fetch checks it), the rest of the chain does not run.
mkdir bad && cp src/snap_001.hdf5 src/snap_003.hdf5 bad/
printf 'corrupt' | dd of=bad/snap_003.hdf5 bs=1 seek=0 conv=notrunc 2>/dev/null
arepo-submit --config config.json --work failing --source bad --time 10:00 --mem 500M --cpus-per-task 1 >/dev/null
wait_chain failing 120
run_status arepo-status --failed failing
is "$status" 1 "a failing chain: arepo-status exits 1"
like "$out" "failed: fetch task 2 .*FAILED, exit code 3, log .*/logs/fetch_[0-9]+_2.log" "names the failed task, its exit code and its log"
like "$out" "\| arepo-fetch: .*snap_003.hdf5: not an HDF5 file" "with the last lines of the log"
like "$out" "fetch +1/2" "and counts only the snapshots really fetched"
like "$out" "merge +[0-9]+ +1 cancelled" "its dependents do not run"
ok "no dataset" test ! -e failing/dataset/dataset.h5

# Cancel.
cp src/snap_001.hdf5 src/snap_003.hdf5 bad/ 2>/dev/null
arepo-submit --config config.json --work cancelled --source src --time 10:00 --mem 500M \
	--sbatch-option --begin=now+1hour >/dev/null
run_status arepo-submit --cancel cancelled
is "$status" 0 "--cancel"
sleep 2
states=$(for id in $(awk '{ print $2 }' cancelled/slurm/jobs); do scontrol -o show job "$id" | sed -n 's/.* JobState=\([A-Z]*\) .*/\1/p'; done | sort -u | tr '\n' ' ')
is "$states" "CANCELLED " "cancels the whole chain"

# Resubmission after the failure does only what is missing.
cp src/snap_003.hdf5 bad/snap_003.hdf5
ok "resubmitting the failed chain" arepo-submit --config config.json --work failing --source bad --time 10:00 --mem 500M \
	--cpus-per-task 1
like "$(cat failing/slurm/jobs)" "fetch [0-9]+" "submits again"
ok "which completes" wait_chain failing 240
ok "complete now" arepo-status failing

done_testing
