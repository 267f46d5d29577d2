"""Writes physically plausible values into a tensor file made by the mktensor
helper, with the grid of a configuration (its coordinate_hyper) and that
configuration recorded, so that arepo-observe accepts it.
With "edges", a cell outside the velocity band and one without gas; with
"zero-T", two cells at T = 0 (IRIS's NaN).
Usage: physical_tensor.py TENSOR CONFIG SEED [edges] [zero-T]"""

import json
import math
import sys

import h5py
import numpy as np

path, preset, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
flags = sys.argv[4:]
hyper = json.load(open(preset))
c = hyper["coordinate_hyper"]
with h5py.File(path, "r+") as f:
    shape = f["physical"].shape[1:]
    rng = np.random.default_rng(seed)
    phys = np.stack([
        rng.uniform(-0.5, 0.5, shape),          # v_r, processing (100 km/s)
        10 ** rng.uniform(-3, 3, shape),        # density
        rng.uniform(8, 300, shape),             # T
        rng.uniform(0, 0.5, shape),             # x_H2
        rng.uniform(0, 1.4e-4, shape),          # x_CO
        rng.uniform(8, 25, shape),              # T_dust
    ]).astype(np.float32)
    phys[2, 1, 1, 1] = np.inf                   # above T_inf: no line
    if "edges" in flags:
        phys[0, 7, 1, 2] = 3.0                  # 300 km/s: outside the band
        phys[1, 9, 9, 1] = 0                    # no gas
    if "zero-T" in flags:
        phys[2, 1, 2, 3] = 0
        phys[2, 5, 6, 7] = 0
    f["physical"][...] = phys
    lpp = hyper.get("writer_hyper", {}).get("length_cm_per_processing", 1e7) / (100 * 3.08567758128e16)
    a = f.attrs
    a["r_min"], a["r_max"] = c["r_min"] / lpp, c["r_max"] / lpp
    a["lon_min"], a["lon_max"] = [v * math.pi / 180 * c["spin_orientation"] for v in (c["lon_min"], c["lon_max"])]
    a["lat_min"], a["lat_max"] = [v * math.pi / 180 for v in (c["lat_min"], c["lat_max"])]
    a["config"] = np.bytes_(json.dumps(hyper).encode())
