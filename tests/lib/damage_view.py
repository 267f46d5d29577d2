"""Makes a bad copy of a view file for arepo-interp's error tests.
Usage: damage_view.py KIND FILE  (modifies FILE in place)."""

import sys

import h5py
import numpy as np

kind, path = sys.argv[1], sys.argv[2]
with h5py.File(path, "r+") as f:
    if kind == "nan-position":
        p = f["position"][...]
        p[len(p) // 2, 0] = np.nan
        f["position"][...] = p
    elif kind == "value-columns":
        v = f["value"][:, :5]
        del f["value"]
        f.create_dataset("value", data=v)
    elif kind == "one-lat-step":
        f.attrs["lat_steps"] = np.int64(1)
    elif kind == "zero-r-steps":
        f.attrs["r_steps"] = np.int64(0)
    elif kind == "no-format":
        del f.attrs["format"]
    elif kind == "no-theta":
        del f.attrs["theta"]
    else:
        sys.exit("unknown kind " + kind)
