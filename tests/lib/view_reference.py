"""Independent reference for arepo-extract: a view's geometry, pruning box,
cells and radial velocities recomputed with NumPy from the snapshot and the
configuration (IRIS-NUMERICS), compared with the view file bit for bit.
Usage: view_reference.py SNAPSHOT CONFIG.json VIEW [--margin-pc M]
The perturbation factors are taken from the view's attributes (their draw is
the random generator's business, tested elsewhere)."""

import argparse
import json
import math
import sys

import h5py
import numpy as np

import iris_reference

f32, f64 = np.float32, np.float64

ap = argparse.ArgumentParser()
ap.add_argument("snapshot")
ap.add_argument("config")
ap.add_argument("view")
ap.add_argument("--margin-pc", type=float, default=0.0)
a = ap.parse_args()

cfg = json.load(open(a.config))
c = cfg["coordinate_hyper"]
view = h5py.File(a.view, "r")
A = view.attrs
k, P = int(A["view"]), int(A["points_per_snapshot"])
bad = []

# Geometry, as IRIS's Writer and make_physical_tensor compute it.
lpp = 1e7 / (100 * 3.08567758128e16)
theta = 2 * np.pi / P * k
theta += c.get("theta_zero", 0.0) / 180 * np.pi
spin = c.get("spin_orientation", -1)
expect = {
    "theta": theta,
    "observer_radius": c.get("observer_radius", 8277.0) / lpp,
    "r_min": c["r_min"] / lpp, "r_max": c["r_max"] / lpp,
    "lon_min": c["lon_min"] * np.pi / 180 * spin, "lon_max": c["lon_max"] * np.pi / 180 * spin,
    "lat_min": c["lat_min"] * np.pi / 180 * spin, "lat_max": c["lat_max"] * np.pi / 180 * spin,
}
for name, value in expect.items():
    if float(A[name]) != value:
        bad.append("attribute %s is %r, expected %r" % (name, float(A[name]), value))

# The pruning box from the 8 corners, float32 first (IRIS's _prune_particles).
R = expect["observer_radius"]
corners = []
for r in (A["r_min"], A["r_max"]):
    for lon in (A["lon_min"], A["lon_max"]):
        for lat in (A["lat_min"], A["lat_max"]):
            r32, lon32, lat32 = f32(r), f32(lon), f32(lat)
            xy = r32 * np.cos(lat32)
            z = r32 * np.sin(lat32)
            phi = f32(np.pi + theta) + lon32
            corners.append((R * math.cos(theta) + f64(xy * np.cos(phi)),
                            R * math.sin(theta) + f64(xy * np.sin(phi)), f64(z)))
corners = np.array(corners)
margin = a.margin_pc / lpp
box_min, box_max = corners.min(axis=0) - margin, corners.max(axis=0) + margin
# NumPy's float32 cos/sin may differ from C's by an ulp: compare the box to 1e-6.
if not (np.allclose(box_min, A["box_min"], rtol=1e-6, atol=0) and np.allclose(box_max, A["box_max"], rtol=1e-6, atol=0)):
    bad.append("box %s..%s, expected %s..%s" % (A["box_min"], A["box_max"], box_min, box_max))

# The cells, with the view's own factors.
def factor(name):
    v = float(A[name])
    return None if math.isnan(v) else v

cells = iris_reference.cells(a.snapshot, scale=factor("scale"), density=factor("density_factor"),
                             skew=factor("skew_factor"), skew_angle=factor("skew_angle"),
                             tinf="none" if cfg.get("observer_hyper", {}).get("T_inf", 5e4) is None else str(cfg.get("observer_hyper", {}).get("T_inf", 5e4)))
pos = cells["position"]
bmin, bmax = np.asarray(A["box_min"]), np.asarray(A["box_max"])
keep = np.all((pos.astype(f64) >= bmin) & (pos.astype(f64) <= bmax), axis=1)

# Radial velocity toward the observer, float32 in IRIS's order.
o = np.array([R * math.cos(theta), R * math.sin(theta), 0.0]).astype(f32)
p, v = pos[keep], cells["velocity"][keep]
rv = o - p
n = np.sqrt((rv[:, 0] * rv[:, 0] + rv[:, 1] * rv[:, 1]) + rv[:, 2] * rv[:, 2])
rh = rv / n[:, None]
v_r = (rh[:, 0] * v[:, 0] + rh[:, 1] * v[:, 1]) + rh[:, 2] * v[:, 2]
assert v_r.dtype == f32
value = np.stack([v_r, cells["density"][keep], cells["temperature"][keep], cells["x_h2"][keep],
                  cells["x_co"][keep], cells["dust"][keep]], axis=1)

got_pos = np.asarray(view["position"])
got_val = np.asarray(view["value"])
if got_pos.shape != p.shape:
    bad.append("%d cells, expected %d" % (len(got_pos), len(p)))
else:
    if not np.array_equal(got_pos.view(np.uint32), p.view(np.uint32)):
        bad.append("positions differ")
    d = np.flatnonzero(np.any(got_val.view(np.uint32) != value.view(np.uint32), axis=1))
    if d.size:
        bad.append("values of %d cells differ; first %d: %r, expected %r" % (d.size, d[0], got_val[d[0]], value[d[0]]))
    # A handful of cells, spelled out: the radial velocity by hand in double.
    for i in np.linspace(0, len(p) - 1, 5).astype(int) if len(p) else []:
        to_obs = o.astype(f64) - p[i].astype(f64)
        by_hand = float(np.dot(to_obs / np.linalg.norm(to_obs), v[i].astype(f64)))
        if abs(by_hand - float(got_val[i, 0])) > 1e-5 * (abs(by_hand) + 1e-3):
            bad.append("cell %d: v_r %r, by hand %r" % (i, got_val[i, 0], by_hand))
for b in bad:
    print("MISMATCH", b)
print("%d cells checked" % len(p))
sys.exit(1 if bad else 0)
