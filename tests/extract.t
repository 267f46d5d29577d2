#!/usr/bin/env bash
# arepo-extract with real mpirun: identical views whatever the number of
# ranks, chunk size and passes, views checked against an independent NumPy
# computation, reruns, a failing rank, same-stem snapshots and cells no gas
# has.
. "$(dirname "$0")/lib/tap.sh"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
CONFIG="$TOP/pipelines/presets/tiny.json"
find_python || true
cd "$SCRATCH" || exit 1

arepo-mksnap -n 120000 --seed 11 snap_011.hdf5 >/dev/null
arepo-mksnap -n 90000 --seed 12 --files 3 snapdir_012 >/dev/null
SNAPS="snap_011.hdf5 snapdir_012"

# --chunk-mb 1: many chunks, so that every rank reads some of each snapshot.
ok "one process, without mpirun" arepo-extract --chunk-mb 1 --config "$CONFIG" -o plain $SNAPS
is "$(ls plain/snap_011 | tr '\n' ' ')" "view_0.h5 view_1.h5 view_2.h5 view_3.h5 " "writes view_<k>.h5 for the 4 observers"
ok "the multi-file snapshot under its stem" test -f plain/snap_012/view_3.h5
for n in 1 2 3; do
	ok "mpirun -n $n" mpirun -n $n arepo-extract --chunk-mb 1 --config "$CONFIG" -o ranks$n $SNAPS
	ok "mpirun -n $n: the same bytes as one process" diff -r plain ranks$n
done
ok "one snapshot over 3 ranks (all ranks read it together)" \
	mpirun -n 3 arepo-extract --chunk-mb 1 --config "$CONFIG" -o together snap_011.hdf5
ok "the same bytes" diff -r plain/snap_011 together/snap_011
ok "with 64 MiB chunks (one per snapshot)" mpirun -n 2 arepo-extract --config "$CONFIG" -o bigchunks $SNAPS
ok "the same bytes" diff -r plain bigchunks

if [ -n "$PYTHON" ]; then
	cp "$CONFIG" config.json
	for v in 0 1 2 3; do
		ok "view $v of a single-file snapshot: geometry, box, cells and radial velocities match NumPy" \
			env PYTHONPATH="$TOP/tests/lib" "$PYTHON" "$TOP/tests/lib/view_reference.py" snap_011.hdf5 config.json plain/snap_011/view_$v.h5
	done
	ok "a view of the multi-file snapshot matches NumPy" \
		env PYTHONPATH="$TOP/tests/lib" "$PYTHON" "$TOP/tests/lib/view_reference.py" snapdir_012 config.json plain/snap_012/view_2.h5
	ok "with --margin 20 and a skew" mpirun -n 2 arepo-extract --margin 20 --set dataset_hyper.CMZ_skew_range=[0.5,2] --config "$CONFIG" -o skewed snap_011.hdf5
	"$PYTHON" - "$CONFIG" <<'PY' >skew.json
import json, sys
c = json.load(open(sys.argv[1]))
c["dataset_hyper"]["CMZ_skew_range"] = [0.5, 2.0]
json.dump(c, sys.stdout)
PY
	ok "match NumPy too" env PYTHONPATH="$TOP/tests/lib" "$PYTHON" "$TOP/tests/lib/view_reference.py" --margin-pc 20 snap_011.hdf5 skew.json skewed/snap_011/view_1.h5
	ok "views draw their own perturbations" "$PYTHON" -c "
import h5py, sys
s = [float(h5py.File('plain/snap_011/view_%d.h5' % k, 'r').attrs['scale']) for k in range(4)]
sys.exit(not (len(set(s)) == 4 and all(0.25 <= x < 1 for x in s)))"
	ok "--radius stores cell radii" sh -c "arepo-extract --radius --config '$CONFIG' -o radii snap_011.hdf5 && h5ls radii/snap_011/view_0.h5 | grep -q '^radius'"
else
	skip 9 "no python3 with numpy and h5py (scripts/install-deps installs them)"
fi
cells_of() { h5ls "$1" | sed -n 's/^position *Dataset {\([0-9]*\)[/,].*/\1/p'; }
arepo-extract --margin 20 --config "$CONFIG" -o margin20 snap_011.hdf5
more=$(cells_of margin20/snap_011/view_1.h5)
fewer=$(cells_of plain/snap_011/view_1.h5)
ok "a 20 pc margin keeps more cells ($more) than none ($fewer)" test "${more:-0}" -gt "${fewer:-0}" -a "${fewer:-0}" -gt 0

# Reruns do what is missing.
touch -d '2000-01-01' plain/snap_011/view_0.h5
run_status arepo-extract --stats --config "$CONFIG" -o plain $SNAPS
like "$out" "views_written=0" "a rerun writes nothing"
like "$out" "views_skipped=8" "and skips the 8 views"
is "$(stat -c %Y plain/snap_011/view_0.h5)" "$(date -d '2000-01-01' +%s)" "leaving them untouched"
rm plain/snap_012/view_2.h5
run_status mpirun -n 2 arepo-extract --stats --config "$CONFIG" -o plain $SNAPS
like "$out" "views_written=1" "after a view is lost, only it is redone"
ok "identically" diff -r plain ranks1
run_status arepo-extract --stats --force --config "$CONFIG" -o plain snap_011.hdf5
like "$out" "views_written=4" "--force redoes them"

# A failing rank stops the run, with the error, and leaves no view of it.
cp snap_011.hdf5 bad_013.hdf5
if [ -n "$PYTHON" ]; then
	"$PYTHON" "$TOP/tests/lib/corrupt.py" nan-coordinate bad_013.hdf5
	start=$(date +%s)
	run_status timeout 60 mpirun -n 3 arepo-extract --chunk-mb 1 --config "$CONFIG" -o failing bad_013.hdf5 snap_011.hdf5
	is "$status" 3 "a NaN coordinate read by one rank: exit 3"
	like "$err" "arepo-extract: bad_013.hdf5: PartType0/Coordinates of cell 60000 is not finite" "with the error"
	is "$(printf '%s\n' "$err" | grep -c '^arepo-extract:')" 1 "said once"
	ok "within seconds" test $(( $(date +%s) - start )) -lt 30
	is "$(find failing -type f 2>/dev/null | grep -c bad_013)" 0 "no view of the bad snapshot"
	is "$(find failing -name '.*part*' 2>/dev/null | wc -l)" 0 "no temporary file"
else
	skip 6 "no python3 with numpy and h5py"
fi
# Pieces larger than HDF5's chunk cache: the views' bytes still do not depend
# on the ranks, the chunk size or passes.
arepo-mksnap -n 300000 --seed 5 snap_021.hdf5 >/dev/null
arepo-extract --chunk-mb 4 --config "$CONFIG" -o big1 snap_021.hdf5
for n in 2 3; do
	mpirun -n $n arepo-extract --chunk-mb 4 --config "$CONFIG" -o big$n snap_021.hdf5
	ok "300000 cells, 4 MiB chunks: mpirun -n $n writes the same bytes as one process" \
		sh -c "for v in 0 1 2 3; do cmp big1/snap_021/view_\$v.h5 big$n/snap_021/view_\$v.h5 || exit 1; done"
done
arepo-extract --config "$CONFIG" -o big64 snap_021.hdf5
ok "and so do 64 MiB chunks" diff -r big1 big64
run_status mpirun -n 2 arepo-extract --stats --chunk-mb 2 --max-memory 18M --config "$CONFIG" -o bigpasses snap_021.hdf5
like "$out" "passes=[2-9]" "a small --max-memory writes the views in several passes"
ok "the same bytes" diff -r big1 bigpasses

# launch N COMMAND...: one process, or N ranks under mpirun.
launch() {
	local n=$1
	shift
	if [ "$n" = 1 ]; then "$@"; else mpirun -n "$n" "$@"; fi
}

# Snapshots of the same stem: refused, both named, nothing written.
mkdir runA runB
cp snap_011.hdf5 runA/snap_001.hdf5
cp snap_021.hdf5 runB/snap_001.hdf5
for n in 1 2; do
	run_status launch $n arepo-extract --config "$CONFIG" -o same runA/snap_001.hdf5 runB/snap_001.hdf5
	is "$status" 2 "two snapshots of the same stem ($n rank(s)): exit 2"
	like "$(printf '%s\n' "$err" | grep '^arepo-')" "^arepo-extract: runA/snap_001.hdf5 and runB/snap_001.hdf5 have the same stem snap_001" "naming both"
	ok "nothing written" test ! -e same
done

# Cells no gas has: refused with their count and the first, unless allowed.
if [ -n "$PYTHON" ]; then
	cp snap_011.hdf5 unphysical_014.hdf5
	"$PYTHON" "$TOP/tests/lib/corrupt.py" unphysical unphysical_014.hdf5
	for n in 1 3; do
		run_status launch $n arepo-extract --chunk-mb 1 --config "$CONFIG" -o unphys unphysical_014.hdf5
		is "$status" 3 "NaN or negative density, negative energy, infinite velocity ($n rank(s)): exit 3"
		like "$(printf '%s\n' "$err" | grep '^arepo-')" "^arepo-extract: unphysical_014.hdf5: 4 gas cells have values no gas has \(Density NaN, infinite or negative: 2; InternalEnergy NaN, infinite or negative: 1; Velocities not finite: 1\); the first is cell 100 of unphysical_014.hdf5: Density -1; no view written" "counted over the whole snapshot, the first named"
		is "$(find unphys -type f 2>/dev/null | wc -l)" 0 "no view, no temporary"
	done
	ok "--allow-unphysical extracts them" arepo-extract --allow-unphysical --config "$CONFIG" -o unphys unphysical_014.hdf5
	is "$(ls unphys/unphysical_014 | wc -l)" 4 "all four views"
else
	skip 8 "no python3 with numpy and h5py"
fi

run_status mpirun -n 2 arepo-extract --config "$CONFIG" -o x no_such_snapshot.hdf5
is "$status" 1 "a missing snapshot: exit 1"
like "$err" "no_such_snapshot.hdf5: No such file or directory" "naming it"
run_status arepo-extract -o x snap_011.hdf5
is "$status" 2 "no grid bounds in the configuration: exit 2"
like "$err" "coordinate_hyper.r_min is not set" "naming the key"
run_status arepo-extract --config "$CONFIG" snap_011.hdf5
is "$status" 2 "no --out: exit 2"

done_testing
