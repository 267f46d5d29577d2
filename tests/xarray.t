#!/usr/bin/env bash
# xarray (engine h5netcdf) reads every file the tools write with named
# dimensions and coordinates, no phony_dim: tensors (channel, r, lon, lat),
# observed files (line, lon, v; column, r, lon), datasets of both kinds
# (entry first, the catalog's columns as coordinates), after arepo-normalize
# too, with names of any bytes, and grids that differ between entries.
. "$(dirname "$0")/lib/tap.sh"

MKTENSOR="$HELPERS/mktensor"
preset="$TOP/pipelines/presets/tiny.json"
cd "$SCRATCH" || exit 1
export AREPO_CACHE_DIR="$SCRATCH/cache"
if ! find_python || ! "$PYTHON" -c 'import xarray, h5netcdf' 2>/dev/null; then
	skip 8 "no python3 with xarray and h5netcdf (scripts/install-deps installs them)"
	done_testing
	exit
fi

"$MKTENSOR" 4 5 3 snap_000 0 7 1e7 a0.h5
"$MKTENSOR" 4 5 3 snap_001 1 7 1e7 a1.h5
"$MKTENSOR" 4 5 3 "$(printf 'snap_\377\303_002')" 2 7 1e7 odd.h5
"$MKTENSOR" 4 5 3 snap_000 0 7 1e7 again.h5
ok "a tensor's bytes stay the same run to run, dimension scales included" cmp a0.h5 again.h5

ok "a tensor: channel, r, lon, lat with the grid's values and units, channel names and units" \
	"$PYTHON" -c "
import numpy as np, xarray as xr, h5py
ds = xr.open_dataset('a0.h5', engine='h5netcdf')
p = ds.physical
assert p.dims == ('channel', 'r', 'lon', 'lat'), p.dims
assert list(ds.channel.values) == ['radial_velocity', 'density', 'temperature', 'x_H2', 'x_CO', 'dust_temperature']
assert list(ds.channel_units.values) == ['100000 m s-1', '1e-18 kg m-3', 'K', '1', '1', 'K'], ds.channel_units.values
f = h5py.File('a0.h5', 'r')
for axis in 'r', 'lon', 'lat':
    a = f.attrs
    want = np.linspace(a[axis + '_min'], a[axis + '_max'], a[axis + '_steps']).astype(np.float32)
    assert (ds[axis].values == want).all(), axis
assert ds.r.attrs['units'] == '10000000 cm' and ds.lon.attrs['units'] == 'radian'
assert (p.values == f['physical'][...]).all()
"

arepo-merge --copy -o data a0.h5 a1.h5 odd.h5 2>/dev/null
ok "a dataset: physical (entry, channel, r, lon, lat); each catalog column a coordinate along entry" \
	"$PYTHON" -c "
import numpy as np, xarray as xr, h5py
ds = xr.open_dataset('data/dataset.h5', engine='h5netcdf')
p = ds.physical
assert p.dims == ('entry', 'channel', 'r', 'lon', 'lat'), p.dims
cat = h5py.File('data/dataset.h5', 'r')['catalog'][...]
for name in cat.dtype.names:
    col = p[name].values
    if cat.dtype[name].kind == 'S':
        assert list(col) == [c.decode('utf-8', 'replace') for c in cat[name]], name
    else:
        assert np.array_equal(col, cat[name], equal_nan=True), name
assert list(p.snapshot_name.values[:2]) == ['snap_000', 'snap_001']
assert p.snapshot_name.values[2] == 'snap_\ufffd\ufffd_002', p.snapshot_name.values[2]
assert list(ds.entry.values) == [0, 1, 2] and (ds.shuffle.values >= 0).all()
assert (p.isel(entry=1).values == h5py.File('a1.h5', 'r')['physical'][...]).all()
assert (ds.lon.values == xr.open_dataset('a0.h5', engine='h5netcdf').lon.values).all()
"
ok "... its catalog still holds the name's bytes" "$PYTHON" -c "
import h5py
assert h5py.File('data/dataset.h5', 'r')['catalog'][2]['snapshot_name'] == b'snap_\xff\xc3_002'"

# Another grid in the same dataset: r, lon and lat are dimensions without values.
"$MKTENSOR" 4 5 3 snap_003 3 7 1e7 shifted.h5
"$PYTHON" -c "
import h5py
with h5py.File('shifted.h5', 'r+') as f:
    f.attrs['lon_min'] += 0.01; f.attrs['lon_max'] += 0.01"
arepo-merge --copy -o data shifted.h5 2>/dev/null
ok "entries on different grids: r, lon, lat named, without values; the bounds per entry" \
	"$PYTHON" -c "
import xarray as xr
ds = xr.open_dataset('data/dataset.h5', engine='h5netcdf')
assert ds.physical.dims == ('entry', 'channel', 'r', 'lon', 'lat')
assert 'lon' not in ds.coords and 'r' not in ds.coords and ds.dims['lon'] == 5
assert ds.lon_min.values[3] == ds.lon_min.values[0] + 0.01
"

# Another dataset's units, then normalize: the channel units follow.
"$MKTENSOR" 4 5 3 snap_009 0 7 3.0856775814913673e18 other.h5
arepo-merge --copy -o other other.h5 2>/dev/null
arepo-normalize --units-from other data >/dev/null 2>&1
ok "after arepo-normalize: the tensors' and the dataset's channel units are the new ones" \
	"$PYTHON" -c "
import xarray as xr, h5py
ds = xr.open_dataset('data/dataset.h5', engine='h5netcdf')
t = xr.open_dataset('data/' + ds.tensor.values[0], engine='h5netcdf')
o = xr.open_dataset('other/dataset.h5', engine='h5netcdf')
assert list(ds.channel_units.values) == list(o.channel_units.values) == list(t.channel_units.values)
assert t.channel_units.values[1] != '1e-18 kg m-3', t.channel_units.values
assert t.physical.dims == ('channel', 'r', 'lon', 'lat') and 'iris_units' in t.attrs
"

# Pairs.
for i in 0 1; do
	"$MKTENSOR" 32 32 8 snap_01$i $i 7 1e7 p$i.h5
	"$PYTHON" "$TOP/tests/lib/physical_tensor.py" p$i.h5 "$preset" $i
	arepo-observe -j 2 --mode simple p$i.h5 s$i.h5
done
ok "an observed file: observed (line, lon, v), v in km/s; columnized (column, r, lon), r cropped" \
	"$PYTHON" -c "
import numpy as np, xarray as xr
ds = xr.open_dataset('s0.h5', engine='h5netcdf')
a = ds.attrs
axis = lambda n: np.linspace(a[n + '_min'], a[n + '_max'], int(a[n + '_steps'])).astype(np.float32)
assert ds.observed.dims == ('line', 'lon', 'v') and ds.columnized.dims == ('column', 'r', 'lon')
assert ds.v.attrs['units'] == 'km s-1' and ds.v.values[0] == a['v_range_km_s'][0] and ds.v.values[-1] == a['v_range_km_s'][1]
assert len(ds.v) == a['v_steps'] and (ds.lon.values == axis('lon')).all()
lo, hi = a['r_crop']
assert (ds.r.values == axis('r')[lo:hi]).all() and len(ds.r) == hi - lo
assert ds.observed.attrs['units'] == a['observed_units']
"
arepo-merge --copy -o pairs s0.h5 s1.h5 2>/dev/null
arepo-normalize pairs >/dev/null 2>&1
ok "a dataset of pairs: (entry, line, lon, v) and (entry, column, r, lon), after normalize" \
	"$PYTHON" -c "
import numpy as np, xarray as xr, h5py
ds = xr.open_dataset('pairs/dataset.h5', engine='h5netcdf')
assert ds.observed.dims == ('entry', 'line', 'lon', 'v') and ds.columnized.dims == ('entry', 'column', 'r', 'lon')
f = h5py.File('pairs/dataset.h5', 'r')
assert (ds.observed.values == f['observed'][...]).all() and len(ds.v) == 512
assert list(ds.observed.view.values) == list(f['catalog']['view'])
t = xr.open_dataset('pairs/' + ds.tensor.values[0], engine='h5netcdf')
assert t.observed.attrs['units'].startswith('IRIS units: ') and t.observed.dims == ('line', 'lon', 'v')
"

done_testing
