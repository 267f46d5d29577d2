"""Independent reference for arepo-interp: the grid of a view file mapped to
positions as IRIS does (NumPy float32 axes and trigonometry, double sums,
IRIS-NUMERICS), the nearest cell by brute force in double precision with ties
to the lower index, compared with a tensor file.
Usage: interp_reference.py VIEW TENSOR
NumPy's float32 cos/sin may differ from C's by one ulp, which moves a grid
point by a hair: a differing point is accepted only when its two nearest
cells are equidistant within 1e-6 (relative); anything else is a mismatch."""

import sys

import h5py
import numpy as np

f32, f64 = np.float32, np.float64


def linspace(a, b, n):
    if n == 1:
        return np.array([a], dtype=f32)
    step = (b - a) / (n - 1)
    y = np.arange(n, dtype=f64) * step + a
    y[-1] = b
    return y.astype(f32)


view = h5py.File(sys.argv[1], "r")
tensor = np.asarray(h5py.File(sys.argv[2], "r")["physical"])
A = view.attrs
pos = np.asarray(view["position"], dtype=f32).astype(f64)
val = np.asarray(view["value"], dtype=f32)
r = linspace(A["r_min"], A["r_max"], int(A["r_steps"]))
lon = linspace(A["lon_min"], A["lon_max"], int(A["lon_steps"]))
lat = linspace(A["lat_min"], A["lat_max"], int(A["lat_steps"]))
theta, R = float(A["theta"]), float(A["observer_radius"])
R3, L3, B3 = np.meshgrid(r, lon, lat, indexing="ij")
xy = R3 * np.cos(B3)
z = R3 * np.sin(B3)
phi = f32(np.pi + theta) + L3
assert xy.dtype == f32 and phi.dtype == f32
x = R * np.cos(theta) + (xy * np.cos(phi)).astype(f64)
y = R * np.sin(theta) + (xy * np.sin(phi)).astype(f64)
q = np.stack([x.ravel(), y.ravel(), z.astype(f64).ravel()], axis=1)

n = len(pos)
if n == 0:
    ok = not np.any(tensor)
    print("empty view: tensor all zero" if ok else "MISMATCH: empty view, non-zero tensor")
    sys.exit(0 if ok else 1)
got = tensor.reshape(6, -1).T
mismatch = near_ties = 0
for start in range(0, len(q), 4096):
    qq = q[start:start + 4096]
    dx = pos[None, :, 0] - qq[:, None, 0]
    dy = pos[None, :, 1] - qq[:, None, 1]
    dz = pos[None, :, 2] - qq[:, None, 2]
    d2 = (dx * dx + dy * dy) + dz * dz
    best = np.argmin(d2, axis=1)
    want = val[best]
    differ = np.flatnonzero(np.any(got[start:start + len(qq)].view(np.uint32) != want.view(np.uint32), axis=1))
    for i in differ:
        row = np.sort(d2[i])
        if n > 1 and row[1] - row[0] <= 1e-6 * row[1]:
            near_ties += 1
        else:
            mismatch += 1
print("points %d, mismatches %d, near ties accepted %d" % (len(q), mismatch, near_ties))
sys.exit(1 if mismatch else 0)
