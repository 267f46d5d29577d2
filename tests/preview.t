#!/usr/bin/env bash
# arepo-preview: pictures decoded with libpng and compared, pixel by pixel at
# known places, with colours computed independently in NumPy.
. "$(dirname "$0")/lib/tap.sh"

PIXEL="$HELPERS/pngpixel"
cd "$SCRATCH" || exit 1
if ! find_python; then
	skip 1 "no python3 with numpy and h5py (scripts/install-deps installs them)"
	done_testing
	exit
fi
"$PYTHON" "$TOP/tests/lib/preview_reference.py" write .

# H2 map of a ramp: rho = (r + 1) (lon + 1), x_H2 = 0.5; linear scale over a known range.
c=$("$PYTHON" -c "print(0.5 * 2.01568 / (1.00784 + 0.1 * 4.002602) * 1e-21)")
lo=$("$PYTHON" -c "print(1 * $c)")
hi=$("$PYTHON" -c "print(20 * $c)")
ok "an H2 map" arepo-preview --scale linear --range "$lo:$hi" -o ramp.png ramp.h5
ok "decodes as a PNG" "$PIXEL" ramp.png
"$PYTHON" "$TOP/tests/lib/preview_reference.py" expect ramp.h5 "$lo" "$hi" >expected.txt
bad=0
while read -r x y r g b; do
	got=$("$PIXEL" ramp.png "$x" "$y" | tail -1)
	set -- $got
	for k in 1 2 3; do
		want=$(echo "$r $g $b" | cut -d' ' -f$k)
		eval "have=\$$k"
		[ $((have - want)) -le 1 ] && [ $((want - have)) -le 1 ] || { bad=$((bad + 1)); echo "# ($x,$y): $got, expected $r $g $b"; break; }
	done
done <expected.txt
is "$bad" 0 "every grid cell has the colour of its mean H2 density (20 cells)"
size=$("$PIXEL" ramp.png | head -1)
like "$size" "^[0-9]+ [0-9]+$" "the picture has a size ($size)"

ok "NaN and infinities" arepo-preview --scale linear --range "$lo:$hi" -o holes.png holes.h5
# r 2, lon 3 is NaN; r 0, lon 0 is +inf (rows run from the largest r; 51 pixels a cell).
is "$("$PIXEL" holes.png $((10 + 3 * 51 + 25)) $((10 + 1 * 51 + 25)) | tail -1)" "255 0 255" "NaN is magenta"
is "$("$PIXEL" holes.png $((10 + 0 * 51 + 25)) $((10 + 3 * 51 + 25)) | tail -1)" "255 0 0" "infinity is red"

ok "a slice of a channel" arepo-preview --slice lat=1 --channel 3 --scale linear --range 0:1 -o slice.png ramp.h5
is "$("$PIXEL" slice.png 42 42 | tail -1)" "$("$PYTHON" -c "
import sys; sys.argv = ['x', 'expect', 'ramp.h5', '0', '1']
sys.path.insert(0, '$TOP/tests/lib')
from preview_reference import viridis
print(*viridis(0.5))" 2>/dev/null | tail -1)" "x_H2 = 0.5 gives the middle of viridis"

# A dataset's contact sheet and a snapshot's face-on map.
mkdir tensors && "$HELPERS/mktensor" 8 8 4 snap_001 0 1 1e7 tensors/a.h5 && "$HELPERS/mktensor" 8 8 4 snap_001 1 1 1e7 tensors/b.h5
arepo-merge -o data tensors/a.h5 tensors/b.h5 >/dev/null
ok "a dataset's contact sheet" arepo-preview --grid 2 -o sheet.png data
like "$("$PIXEL" sheet.png | head -1)" "^[0-9]+ [0-9]+$" "decodes"
arepo-mksnap -n 20000 snap_002.hdf5 >/dev/null
ok "a snapshot's face-on map with its observers" arepo-preview --config "$TOP/pipelines/presets/tiny.json" --size 64 -o face.png snap_002.hdf5
# Observer 0 stands at (R, 0): on the map's horizontal midline, right of the centre.
read -r w h < <("$PIXEL" face.png | head -1)
mid=$((10 + 128))
x0=$(awk 'BEGIN { printf "%d", 10 + (8277 + 2.4 * 8277 / 2) / (2.4 * 8277 / 256) + 0.5 }')
is "$("$PIXEL" face.png "$x0" "$mid" | tail -1)" "255 255 255" "observer 0 drawn where it stands"

# An observed pair: observed[l][k] = l + 10 k - 5 (K), lon across and velocity up.
"$PYTHON" - <<'EOF2'
import json, h5py, numpy as np
L, V, R = 4, 8, 3
with h5py.File("pair.h5", "w") as f:
    f.attrs["format"] = np.bytes_(b"arepo-observed/1")
    f.attrs["config"] = np.bytes_(json.dumps({"writer_hyper": {"temperature_K_per_processing": 1.0}}).encode())
    f.attrs["observed_units"] = np.bytes_(b"K (Rayleigh-Jeans temperature)")
    f.attrs["v_range_km_s"] = np.array([-200.0, 200.0])
    l, k = np.meshgrid(np.arange(L), np.arange(V), indexing="ij")
    f["observed"] = (l + 10 * k - 5).astype(np.float32)[None]
    f["columnized"] = np.full((1, R, L), 1e-3, np.float32)
EOF2
ok "an observed pair" arepo-preview --range -5:78 -o pair.png pair.h5
bad=0
for l in 0 3; do
	for k in 0 5 7; do
		# 4 x 8 pixels drawn 32 times larger, from (10, 10); velocity index 0 at the bottom.
		x=$((10 + l * 32 + 16)) y=$((10 + (7 - k) * 32 + 16))
		want=$("$PYTHON" "$TOP/tests/lib/preview_reference.py" viridis "$(echo "($l + 10 * $k) / 83" | bc -l)")
		got=$("$PIXEL" pair.png $x $y | tail -1)
		[ "$got" = "$want" ] || { bad=$((bad + 1)); echo "# lon $l, v $k: $got, expected $want"; }
	done
done
is "$bad" 0 "the observed map: lon across, velocity up, linear by default (6 places)"
like "$("$PIXEL" pair.png | head -1)" "^[0-9]+ [0-9]+$" "... beside the columnized map"

run_status arepo-preview -o x.png no_such_file.h5
is "$status" 1 "a missing input: exit 1"
run_status arepo-preview --range 0:1 -o x.png ramp.h5
is "$status" 2 "a log scale with a range from 0: usage error"

done_testing
