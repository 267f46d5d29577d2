#!/usr/bin/env bash
# Compressed tensors: every codec keeps the tensor's values exactly and makes
# the file smaller; h5py and h5diff read them through HDF5's plugins; observe,
# merge, normalize (which keeps the codec), the IRIS export and preview give
# what they give from the uncompressed tensor; bad codecs are refused.
. "$(dirname "$0")/lib/tap.sh"

MKVIEW="$HELPERS/mkview"
find_python || true
cd "$SCRATCH" || exit 1

# Chunks of 6 x 128 x 32 floats (96 KiB): several Blosc blocks each, so that
# reading a few longitudes decompresses part of a chunk.
arepo-mksnap -n 50000 --seed 5 snap_005.hdf5 >/dev/null
for u in 1e7 2e7; do
	"$MKVIEW" --config "$TOP/pipelines/presets/tiny.json" --view ${u%e7} \
		--set coordinate_hyper.lon_steps=128 --set coordinate_hyper.lat_steps=32 \
		--set writer_hyper.length_cm_per_processing=$u snap_005.hdf5 view_$u.h5 >/dev/null
done
codecs="lz4 lz4:9 zstd zstd:5"
arepo-interp --compress none view_1e7.h5 none.h5
raw=$(stat -c %s none.h5)
for c in $codecs; do
	ok "--compress $c writes the tensor" arepo-interp -j 2 --max-memory 1K --compress $c view_1e7.h5 $c.h5
	ok "$c: the same values as uncompressed (h5diff, no tolerance)" h5diff none.h5 $c.h5 /physical /physical
	size=$(stat -c %s $c.h5)
	ok "$c: a smaller file ($size bytes, uncompressed $raw)" test "$size" -lt "$raw"
done
ok "1 thread and 3 threads write the same bytes" \
	sh -c 'arepo-interp -j 1 view_1e7.h5 j1.h5 && arepo-interp -j 3 view_1e7.h5 j3.h5 && cmp j1.h5 j3.h5'
ok "a tensor that differs is not identical to h5diff (the check can fail)" \
	sh -c "arepo-interp --compress zstd --fill 1 --max-distance 0.5 view_1e7.h5 other.h5 && ! h5diff -q none.h5 other.h5 /physical /physical"

if [ -n "$PYTHON" ]; then
	ok "h5py reads every codec: equal arrays, Blosc filter 32001 with the standard cd_values" "$PYTHON" -c "
import h5py, numpy as np, sys
ref = h5py.File('none.h5', 'r')['physical']
ok = ref.compression is None and ref.id.get_create_plist().get_nfilters() == 0
codes = {'lz4': 1, 'zstd': 5}
for name, level in (('lz4', 1), ('lz4:9', 9), ('zstd', 1), ('zstd:5', 5)):
    d = h5py.File(name + '.h5', 'r')['physical']
    f = d.id.get_create_plist().get_filter(0)
    cd = f[2]
    ok &= np.array_equal(d[...], ref[...]) and f[0] == 32001 and len(cd) == 7
    ok &= cd[2] == 4 and cd[3] == 6 * 128 * 32 * 4 and cd[4] == level and cd[6] == codes[name.split(':')[0]]
    ok &= d.chunks == (6, 1, 128, 32)
sys.exit(not ok)"
else
	skip 1 "no python3 with numpy and h5py (scripts/install-deps installs them)"
fi

# The configuration key, recorded in the view, chooses the codec; --compress wins.
"$MKVIEW" --config "$TOP/pipelines/presets/tiny.json" --view 1 \
	--set writer_hyper.tensor_compression=lz4:3 snap_005.hdf5 keyed.h5 >/dev/null
arepo-interp keyed.h5 keyed.t
arepo-interp --compress none keyed.h5 keyed-none.t
# The filter's parameters as h5dump prints them: revision, format, type size,
# chunk bytes, level, shuffle, compressor.
export -f codec_of 2>/dev/null
codec_of() { h5dump -pH -d /physical "$1" | tr -d '\n' | sed -n 's/.*FILTER_ID 32001.*PARAMS { \([0-9 ]*\) }.*/\1/p'; }
is "$(codec_of keyed.t)" "2 2 4 6144 3 0 1" "writer_hyper.tensor_compression in the view's configuration chooses the codec"
is "$(codec_of keyed-none.t)" "" "--compress overrides it"
is "$(codec_of zstd.h5)" "2 2 4 98304 1 0 5" "zstd is level 1"

# Observe: the same observation, read a few longitudes at a time.
arepo-observe --mode simple none.h5 obs-none.h5
for c in lz4 zstd; do
	ok "$c: observe gives the same observation, read 5 longitudes at a time on 2 threads" \
		sh -c "arepo-observe --mode simple -j 2 --lon-block 5 $c.h5 obs-$c.h5 &&
		       h5diff obs-none.h5 obs-$c.h5 /observed /observed && h5diff obs-none.h5 obs-$c.h5 /columnized /columnized"
done

# Preview, merge, normalize and the IRIS export.
ok "preview draws the same picture" \
	sh -c 'arepo-preview -o none.png none.h5 && arepo-preview -o zstd.png zstd.h5 && cmp none.png zstd.png'
arepo-interp --compress none view_2e7.h5 u-none.h5
arepo-interp --compress zstd:3 view_2e7.h5 u-zstd.h5
arepo-merge --copy -o target none.h5
ok "merge compressed tensors (in two sets of units)" arepo-merge --copy --units-from target -o mixed zstd.h5 u-zstd.h5
arepo-merge --copy --units-from target -o plain none.h5 u-none.h5
ok "normalize the dataset with compressed tensors" arepo-normalize --units-from target mixed
arepo-normalize --units-from target plain
is "$(for f in mixed/tensors/*.h5; do echo "$(codec_of "$f")"; done | sort | tr '\n' ,)" \
	"2 2 4 98304 1 0 5,2 2 4 98304 3 0 5," "normalize keeps each tensor's codec"
ok "and the normalized values are those of the uncompressed tensors" sh -c '
	for f in plain/tensors/*.h5; do
		g=$(ls mixed/tensors/ | grep -F "$(basename "$f" | sed "s/_[0-9]*\.h5$//")" | head -n 1)
		h5diff "$f" "mixed/tensors/$g" /physical /physical || exit 1
	done'
ok "the IRIS export writes the same arrays" sh -c '
	arepo-merge -o mixed --export-iris iris-mixed && arepo-merge -o plain --export-iris iris-plain &&
	for f in iris-plain/*.npy; do cmp "$f" "iris-mixed/$(basename "$f")" || exit 1; done &&
	test "$(ls iris-plain/*.npy | wc -l)" = 2'
arepo-merge -o imported iris-plain
is "$(for f in imported/tensors/*.h5; do echo "$(codec_of "$f")"; done | tr '\n' ,)" \
	"2 2 4 98304 1 0 5,2 2 4 98304 1 0 5," "an IRIS import writes its tensors with the configuration's codec"
if [ -n "$PYTHON" ]; then
	ok "h5py reads the virtual physical of datasets over compressed tensors (merged, imported)" "$PYTHON" -c "
import h5py, numpy as np, sys
m = h5py.File('mixed/dataset.h5', 'r'); p = h5py.File('plain/dataset.h5', 'r')
i = h5py.File('imported/dataset.h5', 'r')
sys.exit(not (m['physical'].shape[0] == 2 and np.array_equal(m['physical'][...], p['physical'][...])
              and np.count_nonzero(m['physical'][...]) > 0 and
              sorted(x.tobytes() for x in i['physical']) == sorted(x.tobytes() for x in p['physical'])))"
else
	skip 1 "no python3 with numpy and h5py"
fi

# Bad codecs: exit 2, naming the option or key.
for bad in gzip zstd:0 zstd:10 lz4: none:1 ""; do
	run_status arepo-interp --compress "$bad" view_1e7.h5 bad.h5
	is "$status" 2 "--compress '$bad': exit 2"
	like "$err" "^arepo-interp: --compress $bad: expected none, lz4\[:LEVEL\] or zstd\[:LEVEL\]" "--compress '$bad': named"
done
ok "(no tensor written)" test ! -e bad.h5
run_status arepo-config --set writer_hyper.tensor_compression=zstd:12
is "$status" 2 "writer_hyper.tensor_compression=zstd:12: exit 2"
like "$err" "writer_hyper.tensor_compression \"zstd:12\": expected" "and the key is named"
is "$(arepo-config | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["writer_hyper"]["tensor_compression"])' 2>/dev/null)" \
	"zstd:1" "the key's default is zstd:1"

done_testing
