"""Makes a bad copy of a snapshot for the reader's error tests.
Usage: corrupt.py KIND FILE  (modifies FILE in place)."""

import sys

import h5py
import numpy as np

kind, path = sys.argv[1], sys.argv[2]
with h5py.File(path, "r+") as f:
    gas = f["PartType0"]
    n = gas["Density"].shape[0]
    if kind == "no-boxsize":
        del f["Header"].attrs["BoxSize"]
    elif kind == "no-header":
        del f["Header"]
    elif kind == "no-velocities":
        del gas["Velocities"]
    elif kind == "flat-coordinates":
        del gas["Coordinates"]
        gas.create_dataset("Coordinates", data=np.zeros((n, 2), dtype=np.float32))
    elif kind == "short-density":
        data = gas["Density"][: n - 1]
        del gas["Density"]
        gas.create_dataset("Density", data=data)
    elif kind in ("nan-coordinate", "inf-coordinate"):
        c = gas["Coordinates"][...]
        c[n // 2, 1] = np.nan if kind == "nan-coordinate" else np.inf
        gas["Coordinates"][...] = c
    elif kind == "two-abundances":
        data = gas["ChemicalAbundances"][:, :2]
        del gas["ChemicalAbundances"]
        gas.create_dataset("ChemicalAbundances", data=data)
    elif kind == "integer-density":
        del gas["Density"]
        gas.create_dataset("Density", data=np.ones(n, dtype=np.int32))
    elif kind == "unphysical":
        # Cells no gas has, one of each kind, the first at cell 100.
        d = gas["Density"][...]
        d[100], d[200] = -1, np.nan
        gas["Density"][...] = d
        u = gas["InternalEnergy"][...]
        u[300] = -5
        gas["InternalEnergy"][...] = u
        v = gas["Velocities"][...]
        v[n - 1, 2] = np.inf
        gas["Velocities"][...] = v
    elif kind == "wrong-total":
        t = f["Header"].attrs["NumPart_Total"].copy()
        t[0] += 5
        f["Header"].attrs["NumPart_Total"] = t
    else:
        sys.exit("unknown kind " + kind)
