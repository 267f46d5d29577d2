"""Brings IRIS's reference observations (IRIS-OBSERVATION.md, data/iris-observe)
to arepo-observe and compares its outputs with them, bit for bit.
Usage:
  observe_reference.py tensor CASE_DIR TENSOR.h5
      writes the case's physical.npy into the tensor file TENSOR.h5 (made by the
      mktensor helper with the case's shape), with the case's geometry and its
      hyper.json as the tensor's configuration
  observe_reference.py grids CASE_DIR OURS.h5 OUT.h5
      copies the grid file OURS.h5 (made by arepo-observe --build-grids, for its
      key) to OUT.h5 with IRIS's own grids from grids.npz in place of ours
  observe_reference.py compare CASE_DIR MODE OBSERVED.h5 [STAGES.h5]
      compares the observed file (and the stages) with the case's MODE outputs:
      exit 0 when every stage is bit-identical, else 1 with a line per stage
  observe_reference.py grids-compare CASE_DIR OURS.h5
      compares our grid file with IRIS's grids.npz, array by array
  observe_reference.py same A.h5 B.h5
      exit 0 when every dataset of the two files holds the same bits (NaNs
      match NaNs, whatever their payloads)"""

import json
import math
import os
import sys

import h5py
import numpy as np

f32 = np.float32


def lpp(hyper):
    w, d = hyper["writer_hyper"], hyper["dataset_hyper"]
    return w["length_cm_per_processing"] / (100 * d["meters_per_parsec"])


def make_tensor(case, path):
    hyper = json.load(open(os.path.join(case, "hyper.json")))
    phys = np.load(os.path.join(case, "physical.npy"))
    c = hyper["coordinate_hyper"]
    with h5py.File(path, "r+") as f:
        assert f["physical"].shape == phys.shape, (f["physical"].shape, phys.shape)
        f["physical"][...] = phys
        a = f.attrs
        a["r_min"] = np.float64(c["r_min"] / lpp(hyper))
        a["r_max"] = np.float64(c["r_max"] / lpp(hyper))
        a["lon_min"] = np.float64(c["lon_min"] * math.pi / 180 * c["spin_orientation"])
        a["lon_max"] = np.float64(c["lon_max"] * math.pi / 180 * c["spin_orientation"])
        a["lat_min"] = np.float64(c["lat_min"] * math.pi / 180)
        a["lat_max"] = np.float64(c["lat_max"] * math.pi / 180)
        a["config"] = np.bytes_(open(os.path.join(case, "hyper.json")).read().encode())


GRID_NAMES = {
    "rho": "op.rho.0", "x_H2": "op.abundance_H2.0", "T": "op.T.0",
    "j": "op.j.0", "dj_drho": "op.dj_drho.0", "dj_dx_H2": "op.dj_d_ab.0", "dj_dT": "op.dj_dT.0",
    "alpha": "op.alpha.0", "dalpha_drho": "op.d_alpha_drho.0",
    "dalpha_dx_H2": "op.d_alpha_d_ab.0", "dalpha_dT": "op.d_alpha_dT.0",
}
GRID_STEPS = {"d_bolic": "op.dN_bolic.0", "d_ab": "op.d_ab.0", "dT": "op.dT.0"}


def make_grids(case, ours, out):
    z = np.load(os.path.join(case, "grids.npz"))
    with h5py.File(ours, "r") as src, h5py.File(out, "w") as dst:
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for name in src:
            data = z[GRID_NAMES[name]] if name in GRID_NAMES else src[name][...]
            dst.create_dataset(name, data=np.asarray(data, dtype=src[name].dtype))
        for attr, key in GRID_STEPS.items():
            dst.attrs[attr] = np.asarray(z[key], dtype=dst.attrs[attr].dtype)


def ulps(a, b):
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def report(name, got, want):
    got = np.ascontiguousarray(got, dtype=f32)
    want = np.ascontiguousarray(want, dtype=f32)
    if got.shape != want.shape:
        print(f"{name}: shape {got.shape}, IRIS's {want.shape}")
        return False
    same = got.view(np.uint32) == want.view(np.uint32)
    if same.all():
        print(f"{name}: bit-identical ({got.size} values)")
        return True
    d = np.abs(got.astype(np.float64) - want.astype(np.float64))
    d[~np.isfinite(d)] = np.inf
    peak = np.nanmax(np.abs(want.astype(np.float64)))
    print(f"{name}: {np.count_nonzero(~same)} of {got.size} differ; max |diff| {d.max():.3g} "
          f"({d.max() / peak if peak else 0:.3g} of max |IRIS|); max {ulps(got, want).max()} ulp")
    return False


def compare(case, mode, observed, stages):
    ref = os.path.join(case, mode)
    ok = True
    with h5py.File(observed, "r") as f:
        ok &= report("observed", f["observed"][...], np.load(os.path.join(ref, "dataset", "observed_0.npy")))
        ok &= report("columnized", f["columnized"][...],
                     np.load(os.path.join(ref, "dataset", "columnized_0.npy")))
    if stages:
        with h5py.File(stages, "r") as s:
            blurred = np.load(os.path.join(ref, "blurred_physical.npy"))
            ok &= report("velocity blur", s["blurred_v_r"][...], blurred[0])
            if os.path.exists(os.path.join(ref, "ppv_prebeam.npy")):
                ok &= report("cube before the beam", s["ppv_prebeam"][...],
                             np.load(os.path.join(ref, "ppv_prebeam.npy"))[0, 0])
            ok &= report("cube", s["ppv"][...], np.load(os.path.join(ref, "ppv.npy"))[0, 0])
    return ok


def grids_compare(case, ours):
    z = np.load(os.path.join(case, "grids.npz"))
    ok = True
    with h5py.File(ours, "r") as f:
        for name, key in GRID_NAMES.items():
            ok &= report(name, f[name][...], z[key])
        for attr, key in GRID_STEPS.items():
            ok &= report(attr, np.asarray(f.attrs[attr], dtype=f32), z[key])
    return ok


def same(a, b):
    ok = True
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        if sorted(fa) != sorted(fb):
            print("datasets:", sorted(fa), sorted(fb))
            return False
        for name in fa:
            x, y = fa[name][...], fb[name][...]
            if x.shape != y.shape:
                print("%s: shapes %s and %s" % (name, x.shape, y.shape))
                ok = False
                continue
            differ = (x.view(np.uint32) != y.view(np.uint32)) & ~(np.isnan(x) & np.isnan(y))
            if differ.any():
                i = tuple(np.argwhere(differ)[0])
                print("%s: %d values differ, the first at %s: %r and %r" % (name, differ.sum(), i, x[i], y[i]))
                ok = False
    return ok


def main(argv):
    cmd = argv[1]
    if cmd == "tensor":
        make_tensor(argv[2], argv[3])
    elif cmd == "grids":
        make_grids(argv[2], argv[3], argv[4])
    elif cmd == "compare":
        return 0 if compare(argv[2], argv[3], argv[4], argv[5] if len(argv) > 5 else None) else 1
    elif cmd == "grids-compare":
        return 0 if grids_compare(argv[2], argv[3]) else 1
    elif cmd == "same":
        return 0 if same(argv[2], argv[3]) else 1
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
