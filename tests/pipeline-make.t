#!/usr/bin/env bash
# The make pipeline end to end: from a local directory and from a loopback
# sshd, with -j 2, killed mid-run and resumed; the same tensors every way.
. "$(dirname "$0")/lib/tap.sh"
. "$(dirname "$0")/lib/sshd.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
find_python || true
cd "$SCRATCH" || exit 1
# The tiny preset, with all three snapshots chosen.
sed 's/"total_snapshots": 2/"total_snapshots": 3/' "$TOP/pipelines/presets/tiny.json" >config.json
CONFIG="$SCRATCH/config.json"
PIPE="make --no-print-directory -f $TOP/pipelines/arepo.mk CONFIG=$CONFIG"
mkdir src
arepo-mksnap -n 60000 --seed 1 src/snap_001.hdf5 >/dev/null
arepo-mksnap -n 60000 --seed 2 --files 2 src/snapdir_002 >/dev/null
arepo-mksnap -n 60000 --seed 3 src/snap_003.hdf5 >/dev/null

# The tensors of a run, by snapshot and view, for comparisons.
same_tensors() { # WORK_A WORK_B
	local a b n=0
	for a in "$1"/dataset/tensors/*.h5; do
		b="$2/dataset/tensors/$(basename "$a")"
		h5diff -d 0 "$a" "$b" /physical /physical >/dev/null || { echo "differs: $a"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -eq 12 ] || { echo "$n tensors"; return 1; }
}

ok "a straight run (-j 1)" $PIPE WORK=straight SOURCE=src
is "$(ls straight/dataset/tensors | wc -l)" 12 "3 snapshots x 4 views in the dataset"
ok "the dataset is complete" arepo-merge -o straight/dataset --skip-existing straight/tensors/1_view0.h5
run_status $PIPE WORK=straight SOURCE=src
like "$out" "Nothing to be done|is up to date" "a rerun does nothing"
like "$(grep -m1 arepo-interp straight/snapshots.mk)" "arepo-interp --backend auto --gpu-lock $SCRATCH/straight/gpu-locks " \
	"interp jobs take a GPU each through WORK/gpu-locks (or the CPU)"
run_status $PIPE WORK=straight SOURCE=src INTERP_BACKEND=gpu
is "$status" 2 "INTERP_BACKEND=gpu is refused"
like "$err" "INTERP_BACKEND=gpu: expected cpu, auto or cuda" "naming the choices"
ok "with -j 2" $PIPE -j 2 WORK=parallel SOURCE=src MPI_RANKS=2
ok "gives the same tensors" same_tensors straight parallel

# Killed in the middle, then resumed.
setsid $PIPE -j 2 WORK=killed SOURCE=src >killed.log 2>&1 &
pid=$!
for i in $(seq 200); do
	[ "$(ls killed/tensors 2>/dev/null | wc -l)" -ge 1 ] && break
	sleep 0.02
done
kill -TERM -- -$pid 2>/dev/null
wait $pid 2>/dev/null
partial=$(ls killed/tensors 2>/dev/null | wc -l)
ok "killed mid-run ($partial of 12 tensors made)" test "$partial" -lt 12
ok "resumed" $PIPE -j 2 WORK=killed SOURCE=src
ok "the same tensors as the straight run" same_tensors straight killed
is "$(find killed -name '.*.part-*' | wc -l)" 0 "no temporary file left"

# From a remote archive over ssh.
if start_sshd; then
	SSH="SSH_OPTIONS=--port $SSH_PORT --ssh-key $SSH_DIR/user_key --ssh-option UserKnownHostsFile=$SSH_DIR/known_hosts"
	ok "from a loopback sshd" $PIPE -j 2 WORK=remote "SOURCE=$SSH_USER@127.0.0.1:$SCRATCH/src" "$SSH" CACHE_SLOTS=1
	ok "the same tensors" same_tensors straight remote
	is "$(ls -A remote/cache | grep -v '^\.' | wc -l)" 0 "every snapshot left the cache once extracted"
else
	skip 3 "cannot start sshd (scripts/install-deps installs openssh-server)"
fi

done_testing
