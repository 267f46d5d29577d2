#!/usr/bin/env bash
# arepo-interp against brute force and an independent NumPy reference, on
# many small random views; independence from threads and slab size; the
# options; bad input.
. "$(dirname "$0")/lib/tap.sh"

RANDVIEW="$HELPERS/randview"
MKVIEW="$HELPERS/mkview"
find_python || true
cd "$SCRATCH" || exit 1

same_tensor() { h5diff -d 0 "$1" "$2" /physical /physical >/dev/null; }

for pattern in uniform duplicates plane single far clustered; do
	for seed in 1 2 3; do
		v=$pattern-$seed
		"$RANDVIEW" $pattern $seed 400 9 13 7 $v.h5
		arepo-interp --backend brute $v.h5 $v.brute.h5
		arepo-interp -j 1 $v.h5 $v.j1.h5
		arepo-interp -j 3 --max-memory 1K $v.h5 $v.j3.h5
		ok "$v: the k-d tree picks the brute-force cell at every point (1 thread)" same_tensor $v.j1.h5 $v.brute.h5
		ok "$v: 3 threads and one r step per slab give the same tensor" same_tensor $v.j3.h5 $v.brute.h5
		if [ -n "$PYTHON" ]; then
			ok "$v: matches the NumPy reference (IRIS's geometry, ties to the lower index)" \
				"$PYTHON" "$TOP/tests/lib/interp_reference.py" $v.h5 $v.j1.h5
		fi
	done
done
[ -n "$PYTHON" ] || skip 18 "no python3 with numpy and h5py (scripts/install-deps installs them)"

# A larger view cut from a synthetic galaxy with the tiny preset.
arepo-mksnap -n 200000 --seed 5 snap_005.hdf5 >/dev/null
"$MKVIEW" --config "$TOP/pipelines/presets/tiny.json" --view 1 --radius snap_005.hdf5 galaxy.h5 >cells.txt
ok "a view of the synthetic galaxy holds cells ($(cat cells.txt))" test "$(cat cells.txt)" -gt 10000
arepo-interp --backend brute galaxy.h5 galaxy.brute.h5
arepo-interp --stats -j 2 galaxy.h5 galaxy.h5.t >stats.txt
ok "galaxy view: k-d tree equals brute force" same_tensor galaxy.h5.t galaxy.brute.h5
mkdir j1 j3
arepo-interp -j 1 galaxy.h5 j1/t.h5
arepo-interp -j 3 --max-memory 1K galaxy.h5 j3/t.h5
ok "1 thread, and 3 threads with one r step per slab, write the same bytes" cmp j1/t.h5 j3/t.h5
if [ -n "$PYTHON" ]; then
	ok "galaxy view: matches the NumPy reference" "$PYTHON" "$TOP/tests/lib/interp_reference.py" galaxy.h5 galaxy.h5.t
	ok "the tensor is (6, 32, 32, 8) float32, chunked one r-slab per chunk" "$PYTHON" -c "
import h5py, sys
d = h5py.File('galaxy.h5.t', 'r')['physical']
sys.exit(not (d.shape == (6, 32, 32, 8) and d.dtype == 'float32' and d.chunks == (6, 1, 32, 8)))"
	ok "the tensor carries the view's attributes and backend, no timing" "$PYTHON" -c "
import h5py, sys
a = h5py.File('galaxy.h5.t', 'r').attrs
v = h5py.File('galaxy.h5', 'r').attrs
same = all(a[k] == v[k] for k in ('theta', 'observer_radius', 'r_min', 'lon_max', 'view', 'seed', 'snapshot_name'))
sys.exit(not (same and a['format'] == b'arepo-tensor/1' and a['backend'] == b'cpu' and
              not any(k.startswith('seconds') or k == 'threads' for k in a)))"
else
	skip 3 "no python3 with numpy and h5py"
fi

# The pruning box: with the margin arepo-interp asks for, the tensor is exact.
need=$(sed -n 's/^margin_needed_pc=//p' stats.txt)
risk=$(sed -n 's/^points_at_risk=//p' stats.txt)
ok "points whose nearest cell may lie outside the box are counted ($risk)" test "$risk" -gt 0
margin=$(awk -v m="$need" 'BEGIN { printf "%.6f", m * 1.0001 + 0.001 }')
"$MKVIEW" --config "$TOP/pipelines/presets/tiny.json" --view 1 --margin "$margin" snap_005.hdf5 wide.h5 >/dev/null
"$MKVIEW" --config "$TOP/pipelines/presets/tiny.json" --view 1 --margin 5000 snap_005.hdf5 huge.h5 >/dev/null
arepo-interp --stats wide.h5 wide.t >wide.txt
arepo-interp huge.h5 huge.t
ok "with the margin it reported ($need pc), the tensor equals that of a 5 kpc margin" same_tensor wide.t huge.t
is "$(sed -n 's/^points_at_risk=//p' wide.txt)" 0 "and no point is at risk any more"

# Options.
arepo-interp --stats --max-distance 2 galaxy.h5 capped.h5 >capped.txt
filled=$(sed -n 's/^points_filled=//p' capped.txt)
ok "--max-distance 2 pc fills the points far from gas ($filled)" test "$filled" -gt 0 -a "$filled" -lt 8192
arepo-interp --stats --radius-factor 1 --fill nan galaxy.h5 rcap.h5 >rcap.txt
ok "--radius-factor fills the points beyond their cell's radius" test "$(sed -n 's/^points_filled=//p' rcap.txt)" -gt 0
if [ -n "$PYTHON" ]; then
	ok "with the fill value (nan), elsewhere the nearest cell's values" "$PYTHON" -c "
import h5py, numpy as np, sys
a = h5py.File('rcap.h5', 'r')['physical'][...]
b = h5py.File('galaxy.h5.t', 'r')['physical'][...]
nan = np.isnan(a)
sys.exit(not (nan.any() and np.array_equal(a[~nan], b[~nan]) and (nan.all(axis=0) == nan.any(axis=0)).all()))"
else
	skip 1 "no python3 with numpy and h5py"
fi
run_status arepo-interp --progress --force galaxy.h5 galaxy.h5.t
like "$err" "100%" "--progress reports on stderr"

"$RANDVIEW" empty 1 0 5 5 5 empty.h5
run_status arepo-interp empty.h5 empty.t
is "$status" 0 "an empty view is not an error"
like "$err" "no cells; the tensor is all zeros" "but a warning"
ok "and its tensor is all zeros" sh -c "h5dump -d /physical empty.t | grep -E '^ *\\([0-9]' | grep -qv '[1-9]'"

# Reruns.
before=$(stat -c %Y.%s galaxy.h5.t)
sleep 1
run_status arepo-interp galaxy.h5 galaxy.h5.t
is "$status $(stat -c %Y.%s galaxy.h5.t)" "0 $before" "an existing tensor is kept"
ok "--force rewrites it" arepo-interp --force galaxy.h5 galaxy.h5.t
echo "not a tensor" >other.h5
run_status arepo-interp galaxy.h5 other.h5
is "$status" 1 "a different existing file is not overwritten"

# Bad input: exit 3 (1 for I/O), one line, no output file.
expect_bad() { # VIEW PATTERN NAME
	rm -f out.t
	run_status arepo-interp "$1" out.t
	is "$status" 3 "$3: exit 3"
	like "$err" "^arepo-interp: $2" "$3: the message says what is wrong"
	ok "$3: no tensor file" test ! -e out.t
}
expect_bad snap_005.hdf5 "snap_005.hdf5: not a view file" "a snapshot instead of a view"
printf 'plain text\n' >text.h5
expect_bad text.h5 "text.h5: not an HDF5 file" "not HDF5"
if [ -n "$PYTHON" ]; then
	for kind in nan-position value-columns one-lat-step zero-r-steps no-theta; do
		cp uniform-1.h5 $kind.h5
		"$PYTHON" "$TOP/tests/lib/damage_view.py" $kind $kind.h5
	done
	expect_bad nan-position.h5 "nan-position.h5: position of cell 200 is not finite" "a NaN position"
	expect_bad value-columns.h5 "value-columns.h5: dataset value has the wrong shape" "a mis-shaped value dataset"
	expect_bad one-lat-step.h5 "one-lat-step.h5: lat has one step but lat_min .* differs from lat_max" "one step on an axis with min != max"
	expect_bad zero-r-steps.h5 "zero-r-steps.h5: r_steps is 0" "zero steps"
	expect_bad no-theta.h5 "no-theta.h5: attribute theta is missing" "a missing attribute"
else
	skip 15 "no python3 with numpy and h5py"
fi
run_status arepo-interp uniform-1.h5 no/such/dir/out.t
is "$status" 1 "an unwritable output: exit 1"
ls -A no 2>/dev/null | grep -q . && leftover=yes || leftover=no
is "$leftover" no "and nothing is left behind"
# Without a usable GPU (so in CI): a clear error, and auto falls back. Where
# a GPU is usable, make test-gpu tests the CUDA backend.
run_status arepo-interp --backend cuda uniform-1.h5 cuda.t
if [ "$status" -eq 0 ]; then
	skip 9 "a GPU is usable here (make test-gpu tests it)"
else
	is "$status" 1 "--backend cuda with no usable GPU: exit 1"
	like "$err" "^arepo-interp: --backend cuda: (no usable GPU: |this build has no CUDA backend)" \
		"saying why"
	is "$(printf '%s\n' "$err" | wc -l)" 1 "in one line"
	ok "and writing no tensor" test ! -e cuda.t
	run_status arepo-interp --backend cuda --gpu-lock locks --device 0 uniform-1.h5 cuda.t
	is "$status" 1 "with --gpu-lock and --device too"
	run_status arepo-interp --backend auto --stats uniform-1.h5 auto.t
	is "$status" 0 "--backend auto falls back to the CPU"
	like "$err" "warn: no usable GPU: .*; using the CPU|warn: this build has no CUDA backend.*; using the CPU" "with a warning"
	like "$out" "backend=cpu" "reported by --stats"
	ok "the same tensor as the CPU's" same_tensor auto.t uniform-1.j1.h5
fi
run_status arepo-interp --device -1 uniform-1.h5 x.t
is "$status" 2 "--device -1: usage error"
run_status arepo-interp --device one uniform-1.h5 x.t
is "$status" 2 "--device one: usage error"
run_status arepo-interp --gpu-lock "" uniform-1.h5 x.t
is "$status" 2 "--gpu-lock with an empty name: usage error"
run_status arepo-interp --threads 0 uniform-1.h5 x.t
is "$status" 2 "--threads 0: usage error"

done_testing
