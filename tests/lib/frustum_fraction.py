"""Fraction of a snapshot's gas cells inside IRIS's pruning box (the
axis-aligned box around the 8 frustum corners) for the SEDIGISM preset
geometry, observer at theta = 0, no perturbation. Positions in parsec.
Usage: frustum_fraction.py SNAPSHOT"""

import sys

import h5py
import numpy as np

f = h5py.File(sys.argv[1], "r")
h = f["Header"].attrs
pc = float(h["UnitLength_in_cm"]) / 3.08567758128e18
pos = (np.asarray(f["PartType0/Coordinates"], dtype=np.float64) - float(h["BoxSize"]) / 2) * pc
R, spin, theta = 8277.0, -1, 0.0
corners = []
for r in (8052.0, 8502.0):
    for lon in (-1.5, 1.5):
        for lat in (-0.375, 0.375):
            lo, la = np.radians(lon) * spin, np.radians(lat) * spin
            rho = r * np.cos(la)
            phi = np.pi + theta + lo
            corners.append((R * np.cos(theta) + rho * np.cos(phi), R * np.sin(theta) + rho * np.sin(phi), r * np.sin(la)))
c = np.array(corners)
inside = np.all((pos >= c.min(axis=0)) & (pos <= c.max(axis=0)), axis=1)
print("%.4f" % inside.mean())
