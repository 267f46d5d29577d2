"""Independent expectations for arepo-preview: writes small tensor files with
known values (h5py) and computes, for chosen grid cells, the colour the
picture must show there (IRIS's columnize formula, viridis through its nine
published stops, linear between them).
Usage: preview_reference.py write DIR
       preview_reference.py expect TENSOR LO HI   (prints "x y r g b" lines)
       preview_reference.py viridis T             (prints "r g b" for T in [0, 1])"""

import json
import sys

import h5py
import numpy as np

STOPS = ["440154", "472c7a", "3b518b", "2c718e", "21908d", "27ad81", "5cc863", "aadc32", "fde725"]
STOPS = [tuple(int(h[i:i + 2], 16) for i in (0, 2, 4)) for h in STOPS]


def viridis(t):
    t = min(max(t, 0.0), 1.0)
    x = t * 8
    i = min(int(x), 7)
    f = x - i
    return tuple(int(np.floor(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k]) + 0.5)) for k in range(3))


CONFIG = {"writer_hyper": {"length_cm_per_processing": 1e7, "mass_g_per_processing": 1.0,
                           "velocity_cm_per_s_per_processing": 1e7, "temperature_K_per_processing": 1.0},
          "coordinate_hyper": {"r_crop_min_index": 0, "r_crop_max_index": 4}}
R, L, B = 4, 5, 3


def write(path, physical):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_(b"arepo-tensor/1")
        f.attrs["config"] = np.bytes_(json.dumps(CONFIG).encode())
        f.create_dataset("physical", data=physical.astype(np.float32), chunks=(6, 1, L, B))


def h2_map(physical):
    mw_H2, mw_H, mw_He, aHe = 2.01568, 1.00784, 4.002602, 0.1
    rho = physical[1].astype(np.float32)
    x = physical[3].astype(np.float32)
    d = (rho * x * np.float32(mw_H2) / np.float32(mw_H + aHe * mw_He)).astype(np.float64)
    return d.mean(axis=2) * 1e-21  # g/cm3 from 1 g per (1e7 cm)^3


if sys.argv[1] == "viridis":
    print(*viridis(float(sys.argv[2])))
elif sys.argv[1] == "write":
    out = sys.argv[2]
    p = np.zeros((6, R, L, B), dtype=np.float32)
    for r in range(R):
        for j in range(L):
            p[1, r, j, :] = (r + 1) * (j + 1)
    p[3] = 0.5
    write(out + "/ramp.h5", p)
    q = p.copy()
    q[1, 2, 3, :] = np.nan
    q[1, 0, 0, :] = np.inf
    write(out + "/holes.h5", q)
else:
    physical = np.asarray(h5py.File(sys.argv[2], "r")["physical"])
    lo, hi = float(sys.argv[3]), float(sys.argv[4])
    m = h2_map(physical)
    zoom = 256 // max(L, R)
    for r in range(R):
        for j in range(L):
            # Row 0 is the largest r; each cell is zoom x zoom pixels from (10, 10).
            x = 10 + j * zoom + zoom // 2
            y = 10 + (R - 1 - r) * zoom + zoom // 2
            rgb = viridis((m[r, j] - lo) / (hi - lo))
            print(x, y, *rgb)
