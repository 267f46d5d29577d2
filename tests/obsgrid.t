#!/usr/bin/env bash
# The observability grids built from IRIS's molecular data file with IRIS's
# inputs (lib/obsgrid.c) against IRIS's own grids (the references'
# grids.npz), array by array, bit for bit; the grid file's layout.
. "$(dirname "$0")/lib/tap.sh"

REF="${IRIS_OBSERVE_DATA:-$TOP/../shared/data/iris-observe}"
BUILD="$HELPERS/obsgrid-build"
ARRAYS="rho x_H2 T j dj_drho dj_dx_H2 dj_dT alpha dalpha_drho dalpha_dx_H2 dalpha_dT d_bolic d_ab dT"
find_python || true
cd "$SCRATCH" || exit 1

if [ ! -f "$REF/13C16O.dat" ] || [ ! -f "$REF/tiny/grids.npz" ]; then
	skip 19 "no IRIS references at $REF (IRIS_OBSERVE_DATA)"
	done_testing
	exit
fi
if [ -z "$PYTHON" ]; then
	skip 19 "no python3 with numpy and h5py (scripts/install-deps installs them)"
	done_testing
	exit
fi

ok "the grids build from $REF/13C16O.dat with IRIS's inputs" "$BUILD" "$REF/13C16O.dat" grids.h5
"$BUILD" -j 1 --steps 16 8 8 "$REF/13C16O.dat" coarse-1.h5 >/dev/null
"$BUILD" -j 3 --steps 16 8 8 "$REF/13C16O.dat" coarse-3.h5 >/dev/null
ok "1 or 3 threads write the same bytes (a 16 x 8 x 8 grid)" cmp coarse-1.h5 coarse-3.h5

"$PYTHON" "$TOP/tests/lib/obsgrid_compare.py" "$REF/tiny/grids.npz" grids.h5 >compare.txt 2>&1
sed 's/^/# /' compare.txt
for a in $ARRAYS; do
	line=$(grep "^$a: " compare.txt)
	like "$line" "^$a: 0 of [0-9]+ elements differ, max 0 ulp$" "$a equals IRIS's bit for bit"
done
line=$(grep "^nu_ul (Hz): " compare.txt)
like "$line" "0 of 1 elements differ" "the line's frequency (float32 GHz, times 1e9) is IRIS's nu_ul"

ok "the file: format, key, float32 datasets of IRIS's shapes, steps and inputs as attributes" "$PYTHON" -c "
import h5py, sys
f = h5py.File('grids.h5', 'r')
a = f.attrs
shapes = {'rho': (128,), 'x_H2': (64,), 'T': (64,)}
for n in '$ARRAYS'.split()[3:11]:
    shapes[n] = (128, 64, 64)
good = all(f[n].shape == s and f[n].dtype == 'float32' for n, s in shapes.items())
good &= a['format'] == b'arepo-obsgrids/1' and len(a['key']) == 64
good &= a['molecular_weight'] == 29.0 and a['d_bolic'].dtype == 'float32'
good &= b'molecular_data_sha256=' in a['inputs'] and b'T_continuum=2.73' in a['inputs']
sys.exit(not good)"
key=$("$BUILD" --steps 16 8 8 "$REF/13C16O.dat" coarse-again.h5 | sed -n 's/^key=//p')
other=$("$BUILD" --steps 16 8 9 "$REF/13C16O.dat" coarse-9.h5 | sed -n 's/^key=//p')
ok "the key depends on the inputs (another T_steps, another key)" test -n "$key" -a "$key" != "$other"

done_testing
