#!/usr/bin/env bash
# arepo-observe against IRIS's own outputs (every mode, every stage, both
# reference cases, with IRIS's grids and with ours), the grid build against
# IRIS's grids, independence from threads and blocks, the grid file's reuse
# and rebuild, and refusals.
. "$(dirname "$0")/lib/tap.sh"

REF="${IRIS_OBSERVE_DATA:-$TOP/../shared/data/iris-observe}"
MKTENSOR="$HELPERS/mktensor"
REFPY="$TOP/tests/lib/observe_reference.py"
find_python || true
cd "$SCRATCH" || exit 1
export AREPO_CACHE_DIR="$SCRATCH/cache"

# case_tensor CASE: the reference case's physical tensor as a tensor file CASE.h5.
case_tensor() {
	local shape
	shape=$("$PYTHON" -c "import numpy; print(*numpy.load('$REF/$1/physical.npy', mmap_mode='r').shape[1:])")
	# shellcheck disable=SC2086
	"$MKTENSOR" $shape snap_000 0 1 1e7 "$1.h5" && "$PYTHON" "$REFPY" tensor "$REF/$1" "$1.h5"
}

if [ -n "$PYTHON" ] && [ -d "$REF/tiny" ] && [ -d "$REF/small" ]; then
	ok "the grid build runs" arepo-observe --config "$REF/tiny/hyper.json" --build-grids ours.h5
	ok "our grids equal IRIS's grids.npz bit for bit (axes, steps, j, alpha and their gradients)" \
		"$PYTHON" "$REFPY" grids-compare "$REF/tiny" ours.h5
	ok "IRIS's grids.npz as a grid file" "$PYTHON" "$REFPY" grids "$REF/tiny" ours.h5 iris.h5
	for c in tiny small; do
		case_tensor $c
		for mode in thick thin selthin cpubatch simple; do
			m=$mode
			[ $mode = cpubatch ] && m=thick # IRIS's CPUBatchObservedDataset: thick on a CPU
			for grids in iris ours; do
				arepo-observe --mode $m --grids $grids.h5 --stages $c-$mode-$grids.stages.h5 \
					$c.h5 $c-$mode-$grids.h5
				ok "$c, $mode, $grids grids: velocity blur, cubes before and after the beam, observed and columnized are IRIS's bit for bit" \
					"$PYTHON" "$REFPY" compare "$REF/$c" $mode $c-$mode-$grids.h5 $c-$mode-$grids.stages.h5
			done
		done
	done
else
	skip 23 "no IRIS reference outputs in $REF, or no python3 with numpy and h5py"
fi

# A synthetic tensor with the tiny preset's grid (32 x 32 x 8), physical values.
preset="$TOP/pipelines/presets/tiny.json"
"$MKTENSOR" 32 32 8 snap_001 3 7 1e7 t.h5
[ -z "$PYTHON" ] || "$PYTHON" "$TOP/tests/lib/physical_tensor.py" t.h5 "$preset" 5

run_status arepo-observe --stats -j 1 t.h5 j1.h5
is "$status" 0 "observes a tensor with the configuration it records (the tiny preset)"
like "$out" "^mode=thick" "optically thick is the default mode"
like "$(ls cache)" "^obsgrids-[0-9a-f]{16}\.h5$" "the grids were kept in the cache directory"
run_status arepo-observe --log-level info -j 2 t.h5 j2.h5
like "$err" "grids reused" "a second run reuses the grid file"
arepo-observe -j 3 --lon-block 3 t.h5 j3.h5
arepo-observe -j 2 --lon-block 1 t.h5 b1.h5
ok "1, 2 and 3 threads give the same bytes" sh -c 'cmp j1.h5 j2.h5 && cmp j1.h5 j3.h5'
ok "blocks of 1 and 3 longitudes give the same bytes" cmp j1.h5 b1.h5
for mode in thin selthin simple; do
	arepo-observe -j 1 --mode $mode t.h5 $mode-1.h5
	arepo-observe -j 3 --lon-block 5 --mode $mode t.h5 $mode-3.h5
	ok "$mode: threads and blocks give the same bytes" cmp $mode-1.h5 $mode-3.h5
done
# SLEEF's AVX-512F builds, used where the CPU has AVX-512F, and its AVX2
# builds (PyTorch's) give the same bytes.
cp j1.h5 thick-1.h5
run_status env AREPO_NO_AVX512=1 arepo-observe --stats -j 2 t.h5 thick-avx2.h5
like "$out" "vector_math=avx2" "AREPO_NO_AVX512 asks for SLEEF's AVX2 builds"
for mode in thin selthin simple; do
	AREPO_NO_AVX512=1 arepo-observe -j 2 --mode $mode t.h5 $mode-avx2.h5
done
if grep -qw avx512f /proc/cpuinfo; then
	run_status arepo-observe --stats -j 2 --mode simple t.h5 simple-512.h5
	like "$out" "vector_math=avx512f" "on this CPU (AVX-512F) the AVX-512F builds are used"
	for mode in thick thin selthin simple; do
		ok "$mode: SLEEF's AVX-512F and AVX2 builds give the same bytes" cmp $mode-1.h5 $mode-avx2.h5
	done
else
	skip 5 "this CPU has no AVX-512F: only SLEEF's AVX2 builds run here"
fi
if [ -n "$PYTHON" ]; then
	ok "the observed file: format, shapes, mode, provenance, finite values" "$PYTHON" - j1.h5 <<'EOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
a = f.attrs
assert a["format"].decode() == "arepo-observed/1", a["format"]
assert f["observed"].shape == (1, 32, 512) and f["observed"].dtype == np.float32
assert f["columnized"].shape == (1, 32, 32) and f["columnized"].dtype == np.float32
assert a["mode"].decode() == "optically thick"
assert a["snapshot_name"].decode() == "snap_001" and int(a["view"]) == 3 and int(a["seed"]) == 7
assert list(a["v_range_km_s"]) == [-200.0, 200.0] and int(a["v_steps"]) == 512
assert len(a["grids_key"].decode()) == 64
assert '"mode": "optically thick"' in a["config"].decode()
assert np.isfinite(f["observed"][...]).all() and np.isfinite(f["columnized"][...]).all()
assert f["observed"][...].max() > 0.1
EOF
else
	skip 1 "no python3 with numpy and h5py"
fi
like "$(arepo-observe --mode simple --stats t.h5 s.h5)" "^mode=simple" "--mode simple"
run_status arepo-observe --set observer_hyper.mode=thin --stats --force t.h5 s.h5
like "$out" "^mode=thin" "observer_hyper.mode chooses the mode"

# The grid file follows its inputs.
run_status arepo-observe --log-level info --grids g.h5 --force t.h5 o.h5
like "$err" "grids built" "--grids FILE: built when absent"
run_status arepo-observe --log-level info --grids g.h5 --force t.h5 o.h5
like "$err" "grids reused" "--grids FILE: reused with the same inputs"
run_status arepo-observe --log-level info --grids g.h5 --set observer_hyper.T_continuum=3.0 --force t.h5 o2.h5
like "$err" "g.h5: made from other inputs; rebuilding the grids" "a changed input (T_continuum) rebuilds the grid file"
ok "... and changes the observation" sh -c '! cmp -s o.h5 o2.h5'
cp "$TOP/pipelines/chem/13C16O.dat" mol.dat
sed -i '4s/29.0/29.5/' mol.dat
run_status arepo-observe --log-level info --grids g.h5 --set 'observer_hyper.chem_path=["'"$SCRATCH"'/mol.dat"]' --force t.h5 o3.h5
like "$err" "g.h5: made from other inputs; rebuilding the grids" "a changed molecular data file rebuilds the grid file"
run_status arepo-observe --set 'observer_hyper.chem_path=["/nowhere/X.dat"]' --force t.h5 o4.h5
is "$status" 2 "a molecular data file found nowhere: exit 2"
like "$err" "chem_path: /nowhere/X.dat does not exist, nor does X.dat in" "... naming where it looked"
echo "not a grid file" >notgrid.h5
run_status arepo-observe --grids notgrid.h5 --force t.h5 o5.h5
ok "a --grids file that is not a grid file is refused, not overwritten" \
	sh -c "[ $status -ne 0 ] && grep -q 'not a grid file' notgrid.h5"

# Refusals.
run_status arepo-observe t.h5 j1.h5
is "$status" 0 "an existing observed file is kept (rerun safe)"
echo junk >junk.h5
run_status arepo-observe junk.h5 junk.out.h5
is "$status" 3 "not an HDF5 file: exit 3"
ok "... and no output" test ! -e junk.out.h5
head -c 20000 t.h5 >cut.h5
run_status arepo-observe cut.h5 cut.out.h5
is "$status" 3 "a truncated tensor: exit 3"
run_status arepo-observe --set coordinate_hyper.lon_max=2.0 t.h5 grid.out.h5
is "$status" 2 "a tensor whose extent is not the configuration's: exit 2"
like "$err" "t.h5: the tensor spans .* in lon but the configuration" "... naming the file and the axis"
run_status arepo-observe --set coordinate_hyper.lat_steps=16 t.h5 grid.out.h5
is "$status" 2 "a tensor whose shape is not the configuration's: exit 2"
run_status arepo-observe --set observer_hyper.n_lines=2 t.h5 x.h5
is "$status" 2 "n_lines other than 1: exit 2"
run_status arepo-observe --mode thicker t.h5 x.h5
is "$status" 2 "an unknown mode: exit 2"
if [ -n "$PYTHON" ]; then
	cp t.h5 cold.h5
	"$PYTHON" -c "
import h5py
with h5py.File('cold.h5', 'r+') as f:
    p = f['physical']
    p[2, 1, 2, 3] = 0
    p[2, 5, 6, 7] = 0
"
	run_status arepo-observe cold.h5 cold.out.h5
	is "$status" 3 "temperatures of 0: exit 3"
	like "$err" "cold.h5: 2 voxels have a temperature <= 0.*first is at \(r, lon, lat\) = \(1, 2, 3\)" \
		"... naming how many and the first"
	ok "... and no output" test ! -e cold.out.h5
	run_status arepo-observe --allow-nan cold.h5 cold.out.h5
	is "$status" 0 "--allow-nan observes them as IRIS does"
	ok "... with NaN in the observation" "$PYTHON" -c "
import h5py, numpy
assert numpy.isnan(h5py.File('cold.out.h5', 'r')['observed'][...]).any()"
	run_status arepo-observe --mode simple cold.h5 cold.simple.h5
	is "$status" 0 "the simple mode does not use the temperature"
	cp t.h5 nan.h5
	"$PYTHON" -c "
import h5py
with h5py.File('nan.h5', 'r+') as f:
    f['physical'][1, 0, 0, 1] = float('nan')
    f['physical'][1, 0, 0, 2] = -1
"
	run_status arepo-observe --allow-nan nan.h5 nan.out.h5
	is "$status" 3 "NaN or negative density: exit 3, even with --allow-nan"
	like "$err" "nan.h5: 2 voxels .*the first is the density at \(r, lon, lat\) = \(0, 0, 1\)" "... naming the first"
else
	skip 10 "no python3 with numpy and h5py"
fi
chmod 555 . 2>/dev/null
if [ "$(id -u)" -ne 0 ]; then
	run_status arepo-observe --force t.h5 ro.h5
	is "$status" 1 "an unwritable directory: exit 1"
else
	skip 1 "root writes anywhere"
fi
chmod 755 .
run_status arepo-observe --set observer_hyper.out_blur_fwhm=null --stats --force t.h5 nobeam.h5
is "$status" 0 "out_blur_fwhm null: no beam, as IRIS"
ok "... which changes the observation" sh -c '! cmp -s nobeam.h5 j1.h5'
run_status arepo-observe --set observer_hyper.out_blur_fwhm=0 --force t.h5 x.h5
is "$status" 2 "out_blur_fwhm 0: exit 2"
run_status arepo-observe --mode simple --set observer_hyper.chem_path=null --set observer_hyper.T_steps=null t.h5 simple-nokeys.h5
is "$status" 0 "the simple mode needs none of the line's keys"
run_status arepo-observe --config "$preset" --set coordinate_hyper.r_min=null --build-grids bg.h5
is "$status" 0 "--build-grids needs no grid bounds"
if [ -n "$PYTHON" ]; then
	cp t.h5 normalized.h5
	"$PYTHON" -c "
import h5py, numpy
with h5py.File('normalized.h5', 'r+') as f:
    f.attrs['iris_units'] = numpy.array([1.0, 2.0, 3.0, 4.0])
"
	run_status arepo-observe normalized.h5 normalized.out.h5
	is "$status" 3 "a tensor converted to a dataset's units: exit 3"
	like "$err" "normalized.h5: converted to a dataset's units" "... saying why"
else
	skip 2 "no python3 with numpy and h5py"
fi
run_status arepo-observe --help
like "$out" "--build-grids FILE" "--help lists the options"
ok "the man pages render" sh -c "man -l '$TOP/man/man1/arepo-observe.1' >/dev/null 2>&1 && man -l '$TOP/man/man5/arepo-observed.5' >/dev/null 2>&1"
ok "no temporary file is left behind" sh -c '! ls -a | grep -q "\.part-"'

done_testing
