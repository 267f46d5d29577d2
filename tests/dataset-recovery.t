#!/usr/bin/env bash
# What killed and failed runs leave in a dataset: arepo-merge killed with
# SIGKILL before each system call that changes a file (strace's fault
# injection), then run again; temporaries of dead runs; a source dataset on
# a read-only file system; full disks (a small tmpfs, when run as root).
. "$(dirname "$0")/lib/tap.sh"

MKTENSOR="$HELPERS/mktensor"
find_python || true
cd "$SCRATCH" || exit 1
mounts=
trap 'for m in $mounts; do umount "$m"; done; rm -rf "$SCRATCH"' EXIT

mkdir keep
for k in 0 1 2 3; do
	"$MKTENSOR" 6 7 5 snap_001 $k 3 1e7 keep/t_$k.h5
	"$MKTENSOR" 6 7 5 snap_002 $k 3 1e7 keep/s_$k.h5
done

# The state a merge must end in: TARGET's catalog names exactly its files,
# the 6 entries once each, nothing else in the directory, no input left.
settled() { # DIR
	local names files
	names=$(h5dump -d catalog "$1/dataset.h5" | grep -o 'tensors/snap_[^"]*' | sort | tr '\n' ' ')
	files=$(cd "$1/tensors" && ls -A | sed 's|^|tensors/|' | sort | tr '\n' ' ')
	echo "entries=$(h5dump -a entries "$1/dataset.h5" | sed -n 's/.*(0): //p')" \
		"same=$([ "$names" = "$files" ] && echo yes || echo "no: catalog $names files $files")" \
		"dir=$(ls -A "$1" | tr '\n' ' ')" "inputs=$(ls -A in | wc -l)"
}
want_settled="entries=6 same=yes dir=dataset.h5 dataset.lock tensors  inputs=0"

setup() { # a target with 2 entries, 2 loose tensors and a source dataset of 2
	rm -rf target in
	mkdir in
	arepo-merge --copy -o target keep/t_0.h5 keep/t_1.h5
	cp keep/t_2.h5 keep/t_3.h5 in/
	arepo-merge --copy -o in/src keep/s_0.h5 keep/s_1.h5
}
MERGE="arepo-merge -o target in/t_2.h5 in/t_3.h5 in/src"

if command -v strace >/dev/null 2>&1; then
	# Every system call that changes a name, in order, from one traced run.
	setup
	calls="link,linkat,rename,renameat,renameat2,unlink,unlinkat,rmdir,mkdir,mkdirat"
	strace -f -qq -o trace.txt -e trace=$calls $MERGE
	sequence=$(grep -oE '^([0-9]+ +)?[a-z0-9]+\(' trace.txt | sed -E 's/^[0-9]+ +//; s/\($//')
	total=$(echo "$sequence" | wc -l)
	ok "a traced merge changes $total names" test "$total" -ge 10
	bad=
	declare -A seen=()
	i=0
	for call in $sequence; do
		i=$((i + 1))
		seen[$call]=$((${seen[$call]:-0} + 1))
		setup
		(strace -f -qq -o /dev/null -e trace=$calls -e inject=$call:signal=KILL:when=${seen[$call]} \
			$MERGE; exit $?) >/dev/null 2>&1
		killed=$?
		if [ $((i % 2)) = 0 ]; then rerun="$MERGE --skip-existing"; else rerun=$MERGE; fi
		$rerun 2>rerun.err
		status=$?
		state=$(settled target)
		if [ "$killed $status" != "137 0" ] || [ "$state" != "$want_settled" ] || [ -e in/src ] ||
			[ -s rerun.err ]; then
			bad="$bad [$i: killed at $call #${seen[$call]}: $killed, rerun $status $(cat rerun.err), $state]"
		fi
		[ -n "$PYTHON" ] && [ $i = 1 -o $i = $((total / 2)) -o $i = $total ] && cp -r target target_$i
	done
	is "$bad" "" "killed before each of the $total (every moment that changes a file), a rerun (with or without --skip-existing) ends with the 6 entries, each once, only their files in tensors/, no temporary, no journal, the inputs and the source dataset removed"
	if [ -n "$PYTHON" ]; then
		ok "(the entries hold the right tensors)" "$PYTHON" -c "
import h5py, numpy as np, sys
ok = True
for t in [1, $((total / 2)), $total]:
    d = h5py.File('target_%d/dataset.h5' % t, 'r')
    for i, row in enumerate(d['catalog'][:]):
        src = {b'snap_001': 't', b'snap_002': 's'}[row['snapshot_name']]
        ok &= np.array_equal(d['physical'][i], h5py.File('keep/%s_%d.h5' % (src, row['view']), 'r')['physical'][...])
sys.exit(not ok)"
	else
		skip 1 "no python3 with numpy and h5py (scripts/install-deps installs them)"
	fi
else
	skip 3 "no strace (scripts/install-deps installs it)"
fi

# Left by earlier versions or by hand: a tensor in tensors/ that no catalog
# names is replaced, never kept beside a "_1".
setup
cp keep/t_2.h5 target/tensors/snap_001_view2_seed3.h5
run_status $MERGE
is "$status $(settled target)" "0 $want_settled" "a leftover at a tensor's name is replaced, no _1 beside it"

# A source dataset half emptied by an earlier version (which kept no
# journal): merged again with --skip-existing, it goes whole.
setup
arepo-merge --copy -o target in/src
rm in/src/tensors/snap_002_view0_seed3.h5
run_status $MERGE --skip-existing
is "$status $(settled target)" "0 $want_settled" "a half-emptied source dataset merges again, and goes"

# Temporaries of runs killed by SIGKILL (their pid no longer runs).
dead=$(sh -c 'echo $$')
host=$(hostname | tr -c 'A-Za-z0-9.\n-' '_')
setup
touch target/.dataset.h5.part-$host-$dead-0 target/tensors/.snap_001_view2_seed3.h5.part-$host-$dead-1 \
	target/tensors/snap_001_view3_seed3.h5.part in/src/.dataset.h5.part-$host-$dead-2
mkdir iris && touch iris/.tensor_000000.npy.part-$host-$dead-0 iris/.hyper.json.part-$host-$$-0
run_status $MERGE --export-iris iris
is "$status $(settled target)" "0 $want_settled" "arepo-merge removes the temporaries dead runs left in the dataset"
is "$(ls -A iris | grep part | tr '\n' ' ')" ".hyper.json.part-$host-$$-0 " \
	"and in the export directory those of dead owners only"
arepo-merge --copy --units-from target -o other keep/s_2.h5 2>/dev/null
mkdir -p u && cp keep/s_3.h5 u/ && "$MKTENSOR" 6 7 5 snap_003 0 3 2e7 u/x.h5
arepo-merge --copy --units-from target -o target u/x.h5
touch target/.dataset.h5.part-$host-$dead-7 target/tensors/.snap_003_view0_seed3.h5.part-$host-$dead-8
run_status arepo-normalize target
is "$status $(ls -A target target/tensors | grep -c part)" "0 0" "arepo-normalize too"

# A source dataset on a read-only file system: refused, not silently left.
if [ "$(id -u)" = 0 ] && mkdir ro && mount -t tmpfs -o size=4m tmpfs ro 2>/dev/null; then
	mounts="$mounts $SCRATCH/ro"
	arepo-merge --copy -o ro/src keep/s_0.h5 keep/s_1.h5
	cp keep/s_2.h5 ro/
	mount -o remount,ro ro
	rm -rf rotarget
	run_status arepo-merge -o rotarget ro/src
	is "$status" 1 "moving a dataset out of a read-only file system: exit 1"
	like "$err" "^arepo-merge: ro/src: cannot be removed once merged: Read-only file system; use --copy; nothing changed$" \
		"says so in one line"
	ok "(nothing changed)" test ! -e rotarget -a -e ro/src/dataset.h5
	run_status arepo-merge -o rotarget ro/s_2.h5
	like "$status $err" "^1 arepo-merge: ro/s_2.h5: cannot be moved out of ro: Read-only file system; use --copy" \
		"a tensor there too"
	run_status arepo-merge --copy -o rotarget ro/src ro/s_2.h5
	is "$status $(h5dump -a entries rotarget/dataset.h5 | sed -n 's/.*(0): //p')" "0 3" "--copy merges them"
else
	skip 5 "a read-only file system needs root to mount a tmpfs"
fi

# Full disks: every failure exits 1 with one line naming the file and the
# reason, changes nothing, and nothing crashes as HDF5 shuts down.
fill() { # DIR KB: leave about KB kilobytes free
	local avail
	rm -f "$1/fill"
	avail=$(df -k --output=avail "$1" | tail -n 1)
	dd if=/dev/zero of="$1/fill" bs=1k count=$((avail - $2)) 2>/dev/null
	sync
}
if [ "$(id -u)" = 0 ] && mkdir full && mount -t tmpfs -o size=3m tmpfs full 2>/dev/null; then
	mounts="$mounts $SCRATCH/full"
	arepo-merge --copy -o L keep/t_0.h5
	for k in 0 1 2 3; do "$MKTENSOR" 20 30 20 snap_004 $k 3 2e7 full/u_$k.h5; done
	"$MKTENSOR" 20 30 20 snap_005 0 3 2e7 keep/w.h5
	arepo-merge -o full/ds full/u_0.h5 full/u_1.h5
	before=$(md5sum full/ds/dataset.h5)
	for free in 4 8; do
		fill full $free
		run_status arepo-merge -o full/ds full/u_2.h5 full/u_3.h5
		is "$status" 1 "merge, dataset.h5 on a full disk ($free KB free): exit 1"
		like "$err" "^arepo-merge: full/ds/dataset.h5: cannot (create|write): No space left on device$" \
			"(one line: the file, the reason)"
		is "$(md5sum full/ds/dataset.h5) $(ls -A full full/ds full/ds/tensors | tr '\n' ' ')" \
			"$before full: ds fill u_2.h5 u_3.h5  full/ds: dataset.h5 dataset.lock tensors  full/ds/tensors: snap_004_view0_seed3.h5 snap_004_view1_seed3.h5 " \
			"(nothing changed: the inputs in place, no tensor outside the catalog, no journal)"
	done
	fill full 8
	run_status arepo-merge --copy -o full/ds keep/w.h5
	like "$status $err" "^1 arepo-merge: keep/w.h5: cannot copy to full/ds/tensors/snap_005_view0_seed3.h5: No space left on device$" \
		"merge --copy to a full disk: exit 1, one line"
	fill full 8
	run_status arepo-normalize --units-from L full/ds
	like "$status $err" "^1 arepo-normalize: full/ds/dataset.h5: cannot write: No space left on device$" \
		"normalize, its new units on a full disk: exit 1, one line"
	rm full/fill
	arepo-normalize --units-from L full/ds >/dev/null
	arepo-merge -o full/ds3 --units-from L full/u_2.h5 full/u_3.h5
	if command -v strace >/dev/null 2>&1; then trace="strace -f -qq -e trace=none -o crash.txt"; else trace=; fi
	fill full 100
	run_status $trace arepo-normalize -j 1 full/ds3
	like "$status $err" "^1 arepo-normalize: full/ds3/tensors/snap_004_view[23]_seed3.h5: cannot write its replacement: No space left on device$" \
		"normalize, a tensor on a full disk: exit 1, one line"
	if [ -n "$trace" ]; then
		is "$(grep -c 'killed by' crash.txt)" 0 "(no process killed by a signal: $(grep 'killed by' crash.txt | head -n 1))"
	else
		skip 1 "no strace (scripts/install-deps installs it)"
	fi
	is "$(ls -A full/ds3/tensors | grep -c part)" 0 "(no temporary left)"
	rm full/fill
	run_status arepo-normalize --log-level info full/ds3
	is "$status $out|$(printf '%s\n' "$err" | tail -n 1)" "0 |arepo-normalize: info: full/ds3: 2 of 2 tensors converted" "with space again, a rerun converts them"
else
	skip 12 "full disks need root to mount a small tmpfs"
fi

done_testing
