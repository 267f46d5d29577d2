"""Independent reference for the snapshot reader's numbers: IRIS's
Snapshot._get_particle_values and _apply_units_and_perturbations redone
with NumPy, step by step as IRIS-NUMERICS describes them (explicit dtypes,
so that the result does not depend on NumPy 1 or 2 promotion rules).

Usage: iris_reference.py SNAPSHOT DUMPDIR [options]
Compares DUMPDIR/*.f32 (written by tests/helpers/dump-cells) bit for bit
with the reference; prints one line per field and exits 1 on a mismatch."""

import argparse
import glob
import os
import re
import sys

import h5py
import numpy as np

f32, f64 = np.float32, np.float64


def pieces(path):
    if os.path.isdir(path):
        found = glob.glob(os.path.join(path, "*.*.hdf5")) + glob.glob(os.path.join(path, "*.*.h5"))
        return sorted(found, key=lambda p: int(re.search(r"\.(\d+)\.h(df)?5$", p).group(1)))
    return [path]


def read(files, name):
    parts = [np.asarray(h5py.File(p, "r")["PartType0"][name]) for p in files]
    return np.concatenate(parts)


def cells(snapshot, scale=None, density=None, skew=None, skew_angle=None, no_abundances=False,
          default_dust=None, tinf="50000.0", radius=False):
    """The cells of a snapshot in processing units, as IRIS computes them."""
    a = argparse.Namespace(snapshot=snapshot, scale=scale, density=density, skew=skew,
                           skew_angle=skew_angle, no_abundances=no_abundances,
                           default_dust=default_dust, tinf=tinf, radius=radius)
    return compute(a)


def compute(a):
    # IRIS's default hyper parameters.
    length_cm_pp, mass_g_pp, velocity_cm_s_pp, temperature_K_pp = 1e7, 1.0, 1e7, 1.0
    k_B, L = 1.380649e-23, 6.022141e23
    m_H, m_He, abundance_He = 1.00784 / L / 1000., 4.002602 / L / 1000., 0.1
    number_unit = 1e15
    T_inf = np.inf if a.tinf == "none" else float(a.tinf)

    files = pieces(a.snapshot)
    header = h5py.File(files[0], "r")["Header"].attrs
    box = float(header["BoxSize"])
    UL, UM, UV = float(header["UnitLength_in_cm"]), float(header["UnitMass_in_g"]), float(header["UnitVelocity_in_cm_per_s"])

    # Temperature, all double, rounded at the end.
    Lm, Vm, Mkg = UL / 100, UV / 100, UM / 1000
    ts = Lm / Vm
    E = Mkg * Lm * Lm / ts / ts
    k = k_B / E
    ism = (m_H + abundance_He * m_He) * (number_unit / Mkg)
    u = read(files, "InternalEnergy").astype(f32)
    n = len(u)
    if a.no_abundances:
        x_h2 = np.full(n, 0.5, dtype=f32)
        x_hp = np.zeros(n, dtype=f32)
        x_co = np.zeros(n, dtype=f32)
    else:
        chem = read(files, "ChemicalAbundances")
        x_h2, x_hp, x_co = chem[:, 0].astype(f32), chem[:, 1].astype(f32), chem[:, 2].astype(f32)
    tf = u.astype(f64) * (ism / k) / number_unit
    at = ((f32(1) + x_hp) - x_h2) + f32(abundance_He)
    assert at.dtype == f32
    T = (2.0 / 3.0) * tf / at.astype(f64)
    T = np.where(T > T_inf, np.inf, T)
    tc = 1.0 / temperature_K_pp
    temperature = (T * tc).astype(f32)

    # Units and perturbations.
    lc = UL / length_cm_pp
    vc = UV / velocity_cm_s_pp
    mc = UM / mass_g_pp
    dc = mc / (lc * lc * lc)
    if a.scale is not None:
        lc *= a.scale
        vc *= a.scale
    if a.density is not None:
        dc *= a.density
    pos = read(files, "Coordinates").astype(f32) - f32(box / 2)
    assert pos.dtype == f32
    vel = read(files, "Velocities").astype(f32)
    if a.skew is not None:
        t = a.skew_angle
        aa, bb, c, s = a.skew, 1 / a.skew, np.cos(t), np.sin(t)
        S = np.array([[aa * c * c + bb * s * s, (aa - bb) * c * s, 0],
                      [(aa - bb) * c * s, bb * c * c + aa * s * s, 0],
                      [0, 0, 1]], dtype=f32).astype(f64)

        def apply(m, v):
            v = v.astype(f64)
            return np.stack([(m[r, 0] * v[:, 0] + m[r, 1] * v[:, 1]) + m[r, 2] * v[:, 2] for r in range(3)], axis=1).astype(f32)
        position = apply(lc * S, pos)
        velocity = apply(vc * S, vel)
    else:
        position = (pos.astype(f64) * lc).astype(f32)
        velocity = (vel.astype(f64) * vc).astype(f32)
    density = (read(files, "Density").astype(f32).astype(f64) * dc).astype(f32)
    if a.default_dust is not None:
        dust = np.full(n, f32(a.default_dust), dtype=f32)
    else:
        dust = read(files, "DustTemperature").astype(f32)
    dust = dust * f32(tc)

    expected = {"position": position, "velocity": velocity, "density": density,
                "temperature": temperature, "x_h2": x_h2, "x_co": x_co, "dust": dust}
    if a.radius:
        # Not IRIS: the radius of the sphere of each cell's volume Masses / Density.
        try:
            masses = read(files, "Masses").astype(f32)
        except KeyError:
            masses = np.full(n, f32(header["MassTable"][0]), dtype=f32)
        rho = read(files, "Density").astype(f32)
        expected["radius"] = (np.cbrt(3.0 / (4.0 * np.pi) * masses.astype(f64) / rho.astype(f64)) * lc).astype(f32)
    return expected


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("snapshot")
    ap.add_argument("dump")
    ap.add_argument("--scale", type=float)
    ap.add_argument("--density", type=float)
    ap.add_argument("--skew", type=float)
    ap.add_argument("--skew-angle", type=float)
    ap.add_argument("--no-abundances", action="store_true")
    ap.add_argument("--default-dust", type=float)
    ap.add_argument("--tinf", default="50000.0")
    ap.add_argument("--radius", action="store_true")
    a = ap.parse_args()
    expected = compute(a)
    temperature = expected["temperature"]
    bad = 0
    for name, want in expected.items():
        got = np.fromfile(os.path.join(a.dump, name + ".f32"), dtype="<f4")
        want = np.ascontiguousarray(want, dtype=f32).ravel()
        if got.shape != want.shape:
            print("MISMATCH %s: %d values, expected %d" % (name, got.size, want.size))
            bad += 1
            continue
        differ = np.flatnonzero(got.view(np.uint32) != want.view(np.uint32))
        if differ.size:
            i = differ[0]
            print("MISMATCH %s: %d of %d values differ; first at %d: %r, expected %r"
                  % (name, differ.size, got.size, i, got[i], want[i]))
            bad += 1
        else:
            print("identical %s (%d values)" % (name, got.size))
    print("above_T_inf %d" % int(np.isinf(temperature).sum()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
