"""Checks an arepo-mksnap snapshot the way a reader of real AREPO output
would see it. Usage: check_mksnap.py SNAPSHOT_OR_DIR CELLS FILES DTYPE CHEMISTRY
Prints one line per failed check; exits 1 if any failed."""

import glob
import os
import sys

import h5py
import numpy as np

path, cells, files, dtype, chemistry = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "yes"
pieces = sorted(glob.glob(os.path.join(path, "*.hdf5")), key=lambda p: int(p.split(".")[-2])) if os.path.isdir(path) else [path]
bad = []


def check(cond, what):
    if not cond:
        bad.append(what)


check(len(pieces) == files, "expected %d files, found %d" % (files, len(pieces)))
ids, total = [], 0
for k, p in enumerate(pieces):
    f = h5py.File(p, "r")
    h = f["Header"].attrs
    types = {"BoxSize": ("f", 8, ()), "NumFilesPerSnapshot": ("i", 4, ()), "NumPart_ThisFile": ("i", 4, (6,)),
             "NumPart_Total": ("u", 4, (6,)), "NumPart_Total_HighWord": ("u", 4, (6,)), "MassTable": ("f", 8, (6,)),
             "Time": ("f", 8, ()), "Redshift": ("f", 8, ()), "UnitLength_in_cm": ("f", 8, ()),
             "UnitMass_in_g": ("f", 8, ()), "UnitVelocity_in_cm_per_s": ("f", 8, ()), "Flag_DoublePrecision": ("i", 4, ())}
    for name, (kind, size, shape) in types.items():
        check(name in h, "%s: Header attribute %s missing" % (p, name))
        if name in h:
            v = np.asarray(h[name])
            check(v.dtype.kind == kind and v.dtype.itemsize == size and v.shape == shape,
                  "%s: %s is %s%s, expected %s%d%s" % (p, name, v.dtype, v.shape, kind, size, shape))
    check(h["NumFilesPerSnapshot"] == files, "NumFilesPerSnapshot")
    check(int(h["NumPart_Total"][0]) == cells, "NumPart_Total[0]")
    check(abs(h["UnitLength_in_cm"] - 3.0856775814913673e18) < 1e6 and h["UnitMass_in_g"] == 1.989e33 and h["UnitVelocity_in_cm_per_s"] == 1e5, "units of 1 pc, 1 Msun, 1 km/s")
    check(h["Flag_DoublePrecision"] == (1 if dtype == "float64" else 0), "Flag_DoublePrecision")
    n = int(h["NumPart_ThisFile"][0])
    total += n
    gas = f["PartType0"]
    expected = {"Coordinates": (n, 3), "Velocities": (n, 3), "Density": (n,), "InternalEnergy": (n,), "Masses": (n,), "ParticleIDs": (n,)}
    if chemistry:
        expected.update({"ChemicalAbundances": (n, 3), "DustTemperature": (n,)})
    check(set(gas.keys()) == set(expected), "%s: datasets %s, expected %s" % (p, sorted(gas.keys()), sorted(expected)))
    for name, shape in expected.items():
        if name in gas:
            check(gas[name].shape == shape, "%s: %s shape %s" % (p, name, gas[name].shape))
            if name != "ParticleIDs":
                check(gas[name].dtype == np.dtype(dtype), "%s: %s dtype %s" % (p, name, gas[name].dtype))
    check(gas["ParticleIDs"].dtype == np.uint32, "ParticleIDs uint32")
    ids.append(np.asarray(gas["ParticleIDs"]))
    if k == 0:
        pos = np.asarray(gas["Coordinates"], dtype=np.float64) - h["BoxSize"] / 2
        vel = np.asarray(gas["Velocities"], dtype=np.float64)
        lz = np.mean(pos[:, 0] * vel[:, 1] - pos[:, 1] * vel[:, 0])
        check(lz < 0, "the disk rotates clockwise (mean L_z %g)" % lz)
        check(np.all(np.abs(pos) < h["BoxSize"] / 2), "cells inside the box")
        if chemistry:
            chem = np.asarray(gas["ChemicalAbundances"])
            check(chem.min() >= 0 and chem[:, 0].max() <= 0.5, "abundances in range")
check(total == cells, "pieces hold %d cells, expected %d" % (total, cells))
check(np.array_equal(np.concatenate(ids), np.arange(1, cells + 1)), "ParticleIDs 1..N in order across pieces")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
