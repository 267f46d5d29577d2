#!/usr/bin/env bash
# Datasets of observed pairs: arepo-merge of observed files, IRIS's units of
# the pair types checked against NumPy on the sample the dataset records,
# arepo-normalize scaling each pair once (also when killed), the IRIS export
# read back, the refusals of mixed kinds, modes and axes, and --units-from.
. "$(dirname "$0")/lib/tap.sh"

MKTENSOR="$HELPERS/mktensor"
REFPY="$TOP/tests/lib/pairs_reference.py"
preset="$TOP/pipelines/presets/tiny.json"
cd "$SCRATCH" || exit 1
export AREPO_CACHE_DIR="$SCRATCH/cache"
if ! find_python; then
	skip 1 "no python3 with numpy and h5py (scripts/install-deps installs them)"
	done_testing
	exit
fi

# Six tensors of the tiny preset's grid, observed in the thick and simple modes.
mkdir raw simple
for i in 0 1 2 3 4 5; do
	"$MKTENSOR" 32 32 8 snap_00$i $i 7 1e7 t$i.h5
	"$PYTHON" "$TOP/tests/lib/physical_tensor.py" t$i.h5 "$preset" $i
	arepo-observe -j 2 t$i.h5 raw/o$i.h5
	arepo-observe -j 2 --mode simple t$i.h5 simple/s$i.h5
done
cp -r raw keep

run_status arepo-merge --copy -o ds raw/o0.h5 raw/o1.h5 raw/o2.h5 raw/o3.h5 raw/o4.h5
is "$status $err" "0 " "observed files make a dataset of pairs"
ok "columnized (5, 1, 32, 32) and observed (5, 1, 32, 512), read with h5py from anywhere" \
	sh -c "cd / && '$PYTHON' -c \"
import h5py
f = h5py.File('$SCRATCH/ds/dataset.h5', 'r')
assert f.attrs['kind'] == b'pairs' and f['pairs'].attrs['mode'] == b'optically thick'
assert f['columnized'].shape == (5, 1, 32, 32) and f['observed'].shape == (5, 1, 32, 512)
assert len(f['pairs'].attrs['unit_sample']) == 4
\""
ok "IRIS's units on the recorded sample (1/std, ddof 1, NumPy float32), factors and SI units exactly" \
	"$PYTHON" "$REFPY" units ds
"$MKTENSOR" 32 32 8 snap_009 0 7 1e7 plain.h5
run_status arepo-merge --copy -o ds plain.h5
is "$status" 3 "a physical tensor into a dataset of pairs: exit 3"
like "$err" "plain.h5: a physical tensor, the dataset's entries are observed pairs" "... saying why"
run_status arepo-merge --copy -o ds simple/s5.h5
is "$status" 3 "a pair of another mode: exit 3"
like "$err" "observed in the simple mode, the dataset's pairs in the optically thick mode" "... naming both"
arepo-observe --set cube_hyper.v_steps=256 t5.h5 narrow.h5
run_status arepo-merge --copy -o ds narrow.h5
is "$status" 3 "a pair with another velocity axis: exit 3"
ok "... and nothing changed" "$PYTHON" -c "
import h5py; assert h5py.File('ds/dataset.h5', 'r')['observed'].shape[0] == 5"
run_status arepo-merge --copy -o ds raw/o5.h5
is "$status" 0 "a sixth pair extends the dataset"

# Normalize: once, also when killed and run again.
run_status arepo-normalize ds
is "$status" 0 "arepo-normalize converts the pairs"
ok "every pair is its raw self times the float32 factors, also through the virtual datasets" \
	"$PYTHON" "$REFPY" scaled ds keep
like "$(arepo-normalize --log-level info ds 2>&1)" "nothing rewritten" "a second run finds nothing to do"
cp -r keep again
arepo-merge --copy -o ds2 again/o0.h5 again/o1.h5 again/o2.h5 again/o3.h5 again/o4.h5 again/o5.h5
for at in 0 0.05 0.1; do
	arepo-normalize -j 2 ds2 >/dev/null 2>&1 &
	pid=$!
	sleep $at
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
done
arepo-normalize ds2 >/dev/null
ok "killed with SIGKILL at three moments and run again: every pair scaled exactly once" \
	"$PYTHON" "$REFPY" scaled ds2 keep

# The IRIS export.
run_status arepo-merge -o ds --export-iris exp
is "$status" 0 "--export-iris of a dataset of pairs"
ok "columnized_N.npy, observed_N.npy, attributes.json's pairs in shuffle order, hyper.json's units" \
	"$PYTHON" "$REFPY" export ds exp

# The simple mode: its second unit is a velocity density.
run_status arepo-merge --copy -o sds simple/s0.h5 simple/s1.h5 simple/s2.h5 simple/s3.h5
is "$status" 0 "a dataset of simple-mode pairs"
ok "its units as SimplyObservedDataset's (1/std of the velocity densities; the time unit from them)" \
	"$PYTHON" "$REFPY" units sds
run_status arepo-merge -o sds --export-iris sexp
is "$status" 3 "an export before arepo-normalize is refused (hyper.json would state units the arrays are not in)"
ok "... and nothing exported" test ! -e sexp
arepo-normalize sds 2>/dev/null
arepo-merge -o sds --export-iris sexp >/dev/null
ok "its export names _v_density_iris_per_processing" grep -q '"_v_density_iris_per_processing"' sexp/hyper.json

# Units from another dataset (IRIS's take_units).
run_status arepo-merge --copy --units-from ds -o other keep/o0.h5 keep/o1.h5
is "$status" 0 "--units-from a dataset of pairs"
ok "the factors are take_units' from the other dataset's SI units" "$PYTHON" -c "
import h5py
a = h5py.File('other/dataset.h5', 'r'); b = h5py.File('ds/dataset.h5', 'r')
for k in ('length_iris_per_SI', 'time_iris_per_SI', 'mass_iris_per_SI', 'temperature_iris_per_SI'):
    assert a['units'].attrs[k] == b['units'].attrs[k], k
u = b['units'].attrs
length_p = 100.0 / 1e7
density_p = (1000.0 / 1.0) / (length_p * length_p * length_p)
L = u['length_iris_per_SI']
density = u['mass_iris_per_SI'] / (L * L * L) / density_p
f = a['pairs'].attrs['factors']
assert f[0] == density and f[1] == u['temperature_iris_per_SI'] / 1.0, (f, density)
assert 'unit_sample' not in a['pairs'].attrs"

ok "arepo-preview draws a contact sheet of pairs" arepo-preview --grid 4 -o sheet.png ds
ok "no temporary file is left behind" sh -c '! find . -name ".*.part-*" | grep -q .'

done_testing
