#!/usr/bin/env bash
# arepo-merge imports IRIS dataset directories (hyper.json, attributes.json,
# .npy): a dataset exported with --export-iris and imported again gives the
# same arrays, in the same order, in the same units, for tensors and pairs;
# malformed directories are refused and change nothing.
. "$(dirname "$0")/lib/tap.sh"

MKTENSOR="$HELPERS/mktensor"
preset="$TOP/pipelines/presets/tiny.json"
cd "$SCRATCH" || exit 1
export AREPO_CACHE_DIR="$SCRATCH/cache"
if ! find_python; then
	skip 14 "no python3 with numpy and h5py (scripts/install-deps installs them)"
	done_testing
	exit
fi

# The same arrays in the same order, and the same unit keys.
cat >same.py <<'EOF'
import json, sys
import numpy as np
a, b = sys.argv[1], sys.argv[2]
ia = json.load(open(a + '/attributes.json'))['index']
ib = json.load(open(b + '/attributes.json'))['index']
assert len(ia) == len(ib) > 0
flat = lambda x: x if isinstance(x, list) else [x]
for x, y in zip(ia, ib):
    for p, q in zip(flat(x), flat(y)):
        u, v = np.load(a + '/' + p), np.load(b + '/' + q)
        assert u.dtype == v.dtype == np.float32 and u.shape == v.shape and (u.tobytes() == v.tobytes()), (p, q)
ha, hb = json.load(open(a + '/hyper.json')), json.load(open(b + '/hyper.json'))
assert ha == hb, [(s, k, ha[s].get(k), hb[s].get(k)) for s in ha for k in ha[s] if isinstance(ha[s], dict) and ha[s].get(k) != hb[s].get(k)]
EOF

for i in 0 1 2 3; do "$MKTENSOR" 4 5 3 snap_00$i $i 7 1e7 t$i.h5; done
"$MKTENSOR" 4 5 3 snap_009 0 7 3.0856775814913673e18 other.h5
arepo-merge --copy -o a t0.h5 t1.h5 t2.h5 t3.h5 2>/dev/null
arepo-merge --copy -o other other.h5 2>/dev/null
arepo-normalize --units-from other a >/dev/null 2>&1
arepo-merge -o a --export-iris a-iris 2>/dev/null

run_status arepo-merge -o b a-iris
is "$status $err" "0 " "an IRIS directory of tensors imports into a new dataset"
ok "exported again: the same arrays in the same order, the same hyper.json (units included)" \
	sh -c "arepo-merge -o b --export-iris b-iris && '$PYTHON' same.py a-iris b-iris"
ok "the dataset's units are hyper.json's; its order the IRIS order; unknowns marked" "$PYTHON" -c "
import json, math, h5py, numpy as np
a, b = h5py.File('a/dataset.h5', 'r'), h5py.File('b/dataset.h5', 'r')
for k in a['units'].attrs:
    assert a['units'].attrs[k] == b['units'].attrs[k], k
index = json.load(open('a-iris/attributes.json'))['index']
cat = b['catalog'][...]
assert list(b['shuffle'][...]) == list(range(4))
for i, name in enumerate(index):
    assert cat[i]['snapshot_name'].decode() == name[:-4] and cat[i]['view'] == -1
    assert math.isnan(cat[i]['theta']) and cat[i]['snapshot'].decode().endswith('a-iris/' + name)
    assert (b['physical'][i] == np.load('a-iris/' + name)).all()
t = h5py.File('b/' + cat[0]['tensor'].decode(), 'r')
assert json.loads(t.attrs['config'])['coordinate_hyper'] == json.loads(a.attrs['config'])['coordinate_hyper']
"
run_status arepo-normalize --log-level info b
is "$status" 0 "arepo-normalize on the imported dataset ..."
like "$err" "every tensor is in the dataset's units" "... has nothing to convert"
run_status arepo-merge --copy -o c t0.h5 a-iris
is "$status" 3 "IRIS tensors in other units than the dataset's: exit 3"
like "$err" "its units differ from the dataset's" "... saying why"
ok "... and no dataset is left" test ! -e c
run_status arepo-merge -o b a-iris
is "$status" 3 "the same directory again: duplicates, exit 3"

# Pairs (the simple mode), normalized, exported, imported.
for i in 0 1 2; do
	"$MKTENSOR" 32 32 8 snap_01$i $i 7 1e7 p$i.h5
	"$PYTHON" "$TOP/tests/lib/physical_tensor.py" p$i.h5 "$preset" $i
	arepo-observe -j 2 --mode simple p$i.h5 s$i.h5
done
arepo-merge --copy -o pa s0.h5 s1.h5 s2.h5 2>/dev/null
arepo-normalize pa >/dev/null 2>&1
arepo-merge -o pa --export-iris pa-iris 2>/dev/null
run_status arepo-merge -o pb pa-iris
is "$status $err" "0 " "an IRIS directory of pairs imports"
ok "exported again: the same pairs in the same order, the same hyper.json, the same factors" \
	sh -c "arepo-merge -o pb --export-iris pb-iris && '$PYTHON' same.py pa-iris pb-iris && '$PYTHON' -c \"
import h5py
a, b = h5py.File('pa/dataset.h5', 'r'), h5py.File('pb/dataset.h5', 'r')
assert b.attrs['kind'] == b'pairs' and b['pairs'].attrs['mode'] == b'simple'
assert (a['pairs'].attrs['factors'] == b['pairs'].attrs['factors']).all()
\""

# Refusals: nothing is made.
cp -r a-iris bad
printf '{"index": [3]}' >bad/attributes.json
run_status arepo-merge -o d bad
like "$status $err" "^3 .*bad/attributes.json: index entry 0 is neither" "a malformed attributes.json: exit 3 naming it"
cp -r a-iris bad2
"$PYTHON" -c "import numpy as np; np.save('bad2/tensor_000001.npy', np.zeros((6, 4, 5, 3)))"
run_status arepo-merge -o d bad2
like "$status $err" "^3 .*bad2/tensor_000001.npy: not float32" "a float64 array: exit 3 naming the file"
ok "... and no dataset, no temporary is left" test ! -e d

done_testing
