#!/usr/bin/env bash
# The make pipeline end to end: from a local directory and from a loopback
# sshd, with -j 2, killed mid-run and resumed; the same tensors every way.
# The observe stage (pairs made, tensors removed, resumed after a kill), the
# run's settings recorded in WORK and checked on resume, the first failing
# stage's message, odd names, the same commands as arepo-submit's, install.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/sshd.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
cd "$SCRATCH" || exit 1
# The tiny preset, with all three snapshots chosen and small observability
# grids (they do not change the tensors; they make the grids job quick).
sed 's/"total_snapshots": 2/"total_snapshots": 3/; /"N_H_TOT_steps"/,/]/ s/128/32/;
	/"abundance_H2_steps"/,/]/ s/64/16/; /"T_steps"/,/]/ s/64/16/' \
	"$TOP/pipelines/presets/tiny.json" >config.json
CONFIG="$SCRATCH/config.json"
PIPE="make --no-print-directory -f $TOP/pipelines/arepo.mk CONFIG=$CONFIG"
STAGE="sh $TOP/pipelines/lib/stage"
mkdir src
arepo-mksnap -n 60000 --seed 1 src/snap_001.hdf5 >/dev/null
arepo-mksnap -n 60000 --seed 2 --files 2 src/snapdir_002 >/dev/null
arepo-mksnap -n 60000 --seed 3 src/snap_003.hdf5 >/dev/null
VIEWS="1_view0 1_view1 1_view2 1_view3 2_view0 2_view1 2_view2 2_view3 3_view0 3_view1 3_view2 3_view3"

# The tensors (or observed files) of two runs, by snapshot and view.
same_files() { # DIR_A DIR_B DATASET...
	local a=$1 b=$2 v d
	shift 2
	for v in $VIEWS; do
		for d; do
			h5diff -d 0 "$a/$v.h5" "$b/$v.h5" "$d" "$d" >/dev/null || { echo "differs: $a/$v.h5 $d"; return 1; }
		done
	done
}
same_tensors() { same_files "$1" "$2" /physical; }
same_pairs() { same_files "$1" "$2" /observed /columnized; }
count() { ls "$@" 2>/dev/null | wc -l; }

ok "a straight run (-j 1)" $PIPE WORK=straight SOURCE=src
is "$(count straight/dataset/tensors)" 12 "3 snapshots x 4 views in the dataset"
ok "the dataset is complete" arepo-merge -o straight/dataset --skip-existing straight/tensors/1_view0.h5
run_status $PIPE WORK=straight SOURCE=src
like "$out" "Nothing to be done|is up to date" "a rerun does nothing"
like "$($STAGE show straight interp 1 0)" "arepo-interp --backend auto --gpu-lock $SCRATCH/straight/gpu-locks " \
	"interp jobs take a GPU each through WORK/gpu-locks (or the CPU)"
ok "the effective configuration is recorded in WORK/config.json" cmp straight/config.json <(arepo-config --config "$CONFIG")
like "$(cat straight/pipeline.env)" "OBSERVE=none" "and the settings in WORK/pipeline.env (no observing asked)"
like "$($STAGE show straight observe 1 0)" "arepo-observe --backend auto --gpu-lock $SCRATCH/straight/gpu-locks " \
	"observe jobs too, with INTERP_BACKEND's backend by default"
run_status $PIPE WORK=straight SOURCE=src OBSERVE_BACKEND=gpu
is "$status" 2 "OBSERVE_BACKEND=gpu is refused"
run_status $PIPE WORK=straight SOURCE=src INTERP_BACKEND=gpu
is "$status" 2 "INTERP_BACKEND=gpu is refused"
like "$err" "INTERP_BACKEND=gpu: expected cpu, auto or cuda" "naming the choices"
ok "with -j 2, 2 MPI ranks, observing and keeping the tensors" \
	$PIPE -j 2 WORK=parallel SOURCE=src MPI_RANKS=2 OBSERVE=thick KEEP_PHYSICAL=1 observe
ok "gives the same tensors" same_tensors straight/tensors parallel/tensors

# Killed in the middle, then resumed.
setsid $PIPE -j 2 WORK=killed SOURCE=src >killed.log 2>&1 &
pid=$!
for i in $(seq 200); do
	[ "$(count killed/tensors)" -ge 1 ] && break
	sleep 0.02
done
kill -TERM -- -$pid 2>/dev/null
wait $pid 2>/dev/null
partial=$(count killed/tensors)
ok "killed mid-run ($partial of 12 tensors made)" test "$partial" -lt 12
ok "resumed" $PIPE -j 2 WORK=killed SOURCE=src
ok "the same tensors as the straight run" same_tensors straight/tensors killed/tensors
is "$(find killed -name '.*.part-*' | wc -l)" 0 "no temporary file left"
rm -r killed/dataset
ok "merged in batches of a few inputs" env AREPO_MERGE_BATCH=600 $PIPE WORK=killed SOURCE=src
ok "the same catalog and shuffle as one merge's" \
	sh -c 'h5diff -d 0 straight/dataset/dataset.h5 killed/dataset/dataset.h5 /catalog /catalog &&
		h5diff -d 0 straight/dataset/dataset.h5 killed/dataset/dataset.h5 /shuffle /shuffle'

# The observe stage: a pair per view, the grids built once, tensors gone.
ok "OBSERVE=thick up to the observed files" $PIPE -j 2 WORK=obs SOURCE=src OBSERVE=thick observe
is "$(count obs/observed) $(count obs/tensors)" "12 0" "12 observed files, and no tensor kept"
ok "the grids built once, in WORK" test -f obs/obsgrids.h5
arepo-observe --config "$CONFIG" --grids obs/obsgrids.h5 straight/tensors/2_view1.h5 direct.h5
ok "a pair is arepo-observe's of the same tensor" \
	h5diff -d 0 direct.h5 obs/observed/2_view1.h5 /observed /observed
ok "the same pairs with -j 2 and 2 ranks" same_pairs obs/observed parallel/observed
is "$(count parallel/tensors)" 12 "KEEP_PHYSICAL=1 keeps the tensors"
run_status $PIPE WORK=obs SOURCE=src OBSERVE=thick observe
like "$out" "Nothing to be done" "a rerun makes no pair again (their tensors are gone)"
run_status arepo-status obs
like "$out" "interp +12/12" "arepo-status counts an observed view's tensor as made"
like "$out" "grids +1/1" "the grids"
like "$out" "observe +12/12" "and the observed files"
like "$($STAGE show obs merge)" "arepo-merge --link --skip-existing -o $SCRATCH/obs/dataset $SCRATCH/obs/observed/1_view0.h5 " \
	"merge is given the observed files"

# Observing killed at any moment: no view lost, resumed to the same pairs.
setsid $PIPE -j 2 WORK=obskilled SOURCE=src OBSERVE=thick observe >obskilled.log 2>&1 &
pid=$!
for i in $(seq 1500); do
	[ "$(count obskilled/observed)" -ge 1 ] && break
	sleep 0.02
done
kill -TERM -- -$pid 2>/dev/null
wait $pid 2>/dev/null
partial=$(count obskilled/observed)
ok "killed while observing ($partial of 12 pairs made)" test "$partial" -ge 1 -a "$partial" -lt 12
before=$(cd obskilled/observed && stat -c '%n %i %Y' *.h5)
ok "resumed" $PIPE -j 2 WORK=obskilled SOURCE=src OBSERVE=thick observe
is "$(cd obskilled/observed && stat -c '%n %i %Y' $(echo "$before" | cut -d' ' -f1))" "$before" \
	"the pairs made before the kill are kept, not made again"
ok "the same pairs as the straight run" same_pairs obs/observed obskilled/observed
is "$(count obskilled/tensors)" 0 "no tensor left"
# A pair that cannot be made: its tensor stays, and is made again only for it.
rm obs/observed/2_view3.h5
run_status $PIPE WORK=obs SOURCE=src OBSERVE=thick OBSERVE_OPTIONS=--lon-block=0 observe
like "$err" "arepo-observe: --lon-block 0: " "an observe task that fails"
is "$(count obs/observed) $(ls obs/tensors)" "11 2_view3.h5" "leaves its tensor, only its"
ok "rerun" $PIPE WORK=obs SOURCE=src OBSERVE=thick observe
ok "the same pairs" same_pairs obs/observed parallel/observed
is "$(count obs/tensors)" 0 "and the tensor is gone"

# The pair dataset: merged and normalized.
ok "the pair dataset" $PIPE WORK=obs SOURCE=src OBSERVE=thick
ok "arepo-status: complete" arepo-status obs
is "$(count obs/tensors)" 0 "with no tensor kept"
ok "its pairs are in the dataset's units (normalized once)" sh -c \
	"h5dump -A obs/dataset/dataset.h5 | grep -q '\"pairs\"' && arepo-normalize --stats obs/dataset | grep -q '^converted=0$'"

# The run's settings, checked on resume; the first failing stage's message.
run_status $PIPE WORK=nolist SOURCE=nowhere
is "$status" 2 "a failed listing stops the run"
like "$err" "arepo-list: $SCRATCH/nowhere: No such file or directory" "with arepo-list's message"
ok "and nothing after it" test "$(printf '%s\n' "$err" | grep -c 'arepo-merge\|No rule')" -eq 0
run_status $PIPE WORK=nolist SOURCE=src list
is "$status" 2 "another SOURCE in the same WORK is refused"
like "$err" "^arepo.mk: WORK=$SCRATCH/nolist: made by a run with other settings \(differ: SOURCE\); FORCE=1 starts over$" \
	"naming what differs"
ok "FORCE=1 starts over" $PIPE WORK=nolist SOURCE=src FORCE=1 list
is "$(wc -l <nolist/snapshots.txt)" 3 "with the new source"
sed 's/"seed": 0/"seed": 7/; s/"lon_steps": 32/"lon_steps": 16/' config.json >other.json
run_status $PIPE WORK=nolist SOURCE=src CONFIG=other.json
like "$err" "differ: seed, coordinate_hyper.lon_steps\)" "another configuration: the keys that differ"
is "$(wc -l <nolist/snapshots.txt)" 3 "and nothing is changed"

# A configuration asks for pairs by setting observer_hyper.mode.
sed 's/"T_cmb": 2.73/"T_cmb": 2.73, "mode": "optically thin"/' config.json >asks.json
$PIPE CONFIG=asks.json WORK=asks SOURCE=src list >/dev/null 2>&1
like "$(cat asks/pipeline.env)" "OBSERVE=thin" "a configuration that sets observer_hyper.mode: OBSERVE defaults to it"
arepo-submit --dry-run --config asks.json --work asks2 --source src >/dev/null 2>&1
like "$(cat asks2/pipeline.env)" "OBSERVE=thin" "and --observe too"
run_status arepo-submit --dry-run --config config.json --work dry3 --source src --scheduler pbs
like "$status $err" "^2 arepo-submit: --scheduler pbs: no .*/sched-pbs.sh$" "--scheduler: only those with a lib/sched-NAME.sh"

# Names with spaces and colons.
mkdir "s p:c" && cp -r src/* "s p:c/" && cp config.json "c o:n f.json"
ok "WORK, SOURCE and CONFIG with spaces and colons" make --no-print-directory -f "$TOP/pipelines/arepo.mk" -j 2 \
	"CONFIG=c o:n f.json" "WORK=w o:rk" "SOURCE=./s p:c"
ok "give the same tensors" same_tensors straight/tensors "w o:rk/tensors"
ok "arepo-status reads that WORK" arepo-status "w o:rk"
run_status $PIPE "WORK=new
line" SOURCE=src
is "$status $(printf '%s\n' "$err" | grep -Evc '^make(\[[0-9]+\])?: \*\*\*')" "2 1" "a newline in WORK: refused in one line"
like "$err" "^arepo.mk: WORK: a name with a newline is not supported" "naming the variable"

# The same command for each stage whichever driver runs it.
$PIPE WORK=viamake SOURCE=src OBSERVE=thick THREADS=2 GPU_LOCKS= EXTRACT_OPTIONS="--margin 0.5" \
	INTERP_OPTIONS="--max-memory 64M" OBSERVE_OPTIONS="--lon-block 8" list >/dev/null 2>&1
arepo-submit --dry-run --config "$CONFIG" --work viasubmit --source src --observe thick --cpus-per-task 2 \
	--observe-cpus 2 --extract-options "--margin 0.5" --interp-options "--max-memory 64M" \
	--observe-options "--lon-block 8" >/dev/null 2>&1
same=yes
for s in list fetch extract interp grids observe merge normalize; do
	a=$($STAGE show viamake $s 1 0 | sed "s|$SCRATCH/viamake|WORK|g")
	b=$(AREPO_TASK_CPUS=2 $STAGE show viasubmit $s 1 0 | sed "s|$SCRATCH/viasubmit|WORK|g")
	[ "$a" = "$b" ] || { same=no; echo "# make:  $a"; echo "# slurm: $b"; }
done
is "$same" yes "make and arepo-submit run the same commands, options included"
run_status arepo-submit --dry-run --config other.json --work viasubmit --source src
is "$status" 2 "arepo-submit refuses a WORK made with other settings"
like "$err" "^arepo-submit: --work $SCRATCH/viasubmit: made by a run with other settings \(differ: seed, coordinate_hyper.lon_steps, --observe\); --force starts over$" \
	"naming what differs"
run_status arepo-submit --dry-run --config config.json --work subnolist --source nowhere
like "$status $err" "^1 arepo-list: $SCRATCH/nowhere: No such file or directory$" "and stops at a failed listing, with its message"
like "$($STAGE show viamake observe 1 0)" "arepo-observe --backend auto --config $CONFIG --mode thick --grids $SCRATCH/viamake/obsgrids.h5 --threads 2 --lon-block 8 " \
	"observe: the mode, the run's grids, the threads and OBSERVE_OPTIONS"

# Installed, with GNU directories of their own: the make file, the shared
# stage files and the presets the manual names, the tools found; then
# uninstalled.
dirs=(PREFIX="$SCRATCH/prefix" bindir="$SCRATCH/bin" datadir="$SCRATCH/data" mandir="$SCRATCH/man")
if make -s -C "$TOP" -o all install "${dirs[@]}" >install.log 2>&1; then
	ok "the installed arepo.mk runs, with an installed preset" make --no-print-directory \
		-f "$SCRATCH/data/arepo/pipeline/arepo.mk" CONFIG="$SCRATCH/data/arepo/presets/tiny.json" WORK=installed \
		SOURCE=src extract
	like "$(cat installed/pipeline.env)" "BIN=$SCRATCH/bin/" "with the installed tools"
	like "$("$SCRATCH/bin/arepo-submit" --list-stages | tr '\n' ' ')" "^list .*observe .*normalize " \
		"the installed arepo-submit finds the stages"
	run_status "$SCRATCH/bin/arepo-submit" --dry-run --config "$CONFIG" --work installed-submit --source src
	like "$out" "^exec /bin/sh '?$SCRATCH/data/arepo/pipeline/lib/stage'? bundle" "and runs its tasks with them"
	run_status "$SCRATCH/bin/arepo-status" installed-submit
	like "$status $out" "^1 stage +done/expected" "arepo-status too"
	ok "the man pages in mandir" test -f "$SCRATCH/man/man7/arepo-pipeline.7" -a -f "$SCRATCH/man/man1/arepo-submit.1"
	ok "make uninstall" make -s -C "$TOP" uninstall "${dirs[@]}"
	is "$(find "$SCRATCH/bin" "$SCRATCH/data" "$SCRATCH/man" -type f | wc -l)" 0 "removes every file it installed"
else
	skip 8 "make install failed: $(tail -n 1 install.log)"
fi

# From a remote archive over ssh.
if start_sshd; then
	SSH="SSH_OPTIONS=--port $SSH_PORT --ssh-key $SSH_DIR/user_key --ssh-option UserKnownHostsFile=$SSH_DIR/known_hosts"
	ok "from a loopback sshd" $PIPE -j 2 WORK=remote "SOURCE=$SSH_USER@127.0.0.1:$SCRATCH/src" "$SSH" CACHE_SLOTS=1
	ok "the same tensors" same_tensors straight/tensors remote/tensors
	is "$(ls -A remote/cache | grep -v '^\.' | wc -l)" 0 "every snapshot left the cache once extracted"
	run_status arepo-status remote
	like "$out" "fetch +3/3" "arepo-status counts an evicted snapshot as fetched"
else
	skip 4 "cannot start sshd (scripts/install-deps installs openssh-server)"
fi

done_testing
