#!/usr/bin/env python3
"""Compares a grid file written by obsgrid_save with IRIS's own grids (the
references' grids.npz), array by array, bit for bit.

Usage: obsgrid_compare.py GRIDS.npz GRIDS.h5

Prints one line per array: its name, the number of elements whose bits
differ, and the largest difference in units in the last place (float32
values counted along the ordered line of their bit patterns: -0 and +0 are
1 apart). Exits 1 if any array differs."""
import sys

import h5py
import numpy as np

PAIRS = [
    # (name in the .h5, key in the .npz)
    ('rho', 'op.rho.0'),
    ('x_H2', 'op.abundance_H2.0'),
    ('T', 'op.T.0'),
    ('j', 'op.j.0'),
    ('dj_drho', 'op.dj_drho.0'),
    ('dj_dx_H2', 'op.dj_d_ab.0'),
    ('dj_dT', 'op.dj_dT.0'),
    ('alpha', 'op.alpha.0'),
    ('dalpha_drho', 'op.d_alpha_drho.0'),
    ('dalpha_dx_H2', 'op.d_alpha_d_ab.0'),
    ('dalpha_dT', 'op.d_alpha_dT.0'),
]
ATTRS = [('d_bolic', 'op.dN_bolic.0'), ('d_ab', 'op.d_ab.0'), ('dT', 'op.dT.0')]


def ordered(a):
    """float32 bits mapped onto a monotonic int64 line (-0 just below +0)."""
    i = np.ascontiguousarray(a, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7fffffff) - 1, i)


def compare(name, got, want):
    got = np.asarray(got, dtype=np.float32)
    want = np.asarray(want, dtype=np.float32)
    if got.shape != want.shape:
        print(f'{name}: shape {got.shape}, IRIS has {want.shape}')
        return False
    differ = got.view(np.int32) != want.view(np.int32)
    n = int(differ.sum())
    ulp = int(np.abs(ordered(got) - ordered(want)).max()) if n else 0
    print(f'{name}: {n} of {got.size} elements differ, max {ulp} ulp')
    return n == 0


def main():
    ref = np.load(sys.argv[1])
    f = h5py.File(sys.argv[2], 'r')
    ok = True
    for name, key in PAIRS:
        ok &= compare(name, f[name][...], ref[key])
    for name, key in ATTRS:
        ok &= compare(name, np.float32(f.attrs[name]).reshape(()), ref[key].reshape(()))
    nu = np.float32(f.attrs['nu_ul_ghz'])
    ok &= compare('nu_ul (Hz)', (nu * np.float32(1e9)).reshape(1), ref['op.nu_ul'])
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
