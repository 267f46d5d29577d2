"""Independent checks of a dataset of observed pairs (NumPy and JSON only).
Usage:
  pairs_reference.py units DATASET
      IRIS's calculate_iris_units on the sample the dataset records: 1/std
      (ddof 1) of the stacked columnized and observed arrays, and the units
      derived from them, equal to those dataset.h5 holds
  pairs_reference.py scaled DATASET RAW_DIR
      every pair equals its raw copy in RAW_DIR (the observed file of the
      same snapshot and view) times the dataset's float32 factors
  pairs_reference.py export DATASET EXPORT
      IRIS's layout: columnized_N.npy and observed_N.npy equal to the pairs,
      attributes.json's index in shuffle order, hyper.json's units"""

import json
import os
import sys

import h5py
import numpy as np


def catalog(ds):
    f = h5py.File(os.path.join(ds, "dataset.h5"), "r")
    names = [n.decode() for n in f["catalog"]["tensor"]]
    return f, names


def units(ds):
    f, names = catalog(ds)
    p = f["pairs"].attrs
    sample = list(p["unit_sample"])
    files = [h5py.File(os.path.join(ds, names[i]), "r") for i in sample]
    col = np.stack([g["columnized"][...] for g in files])
    obs = np.stack([g["observed"][...] for g in files])
    rho = 1. / np.std(col.flatten(), ddof=1)
    second = 1. / np.std(obs.flatten(), ddof=1)
    assert p["factors"][0] == rho and p["factors"][1] == second, (p["factors"], rho, second)
    w = json.loads(f.attrs["config"])["writer_hyper"]
    time_p = w["velocity_cm_per_s_per_processing"] / w["length_cm_per_processing"]
    length_p = 100 / w["length_cm_per_processing"]
    mass_p = 1000 / w["mass_g_per_processing"]
    density_p = mass_p / (length_p * length_p * length_p)
    temperature_p = 1 / w["temperature_K_per_processing"]
    density_iris = rho * density_p
    if p["mode"].decode() == "simple":
        time_iris = second * (density_p * time_p) / density_iris
        temperature_iris = temperature_p
    else:
        time_iris = time_p
        temperature_iris = second * temperature_p
    length_iris = np.power(mass_p / density_iris, 1 / 3)
    u = f["units"].attrs
    got = [u["length_iris_per_SI"], u["time_iris_per_SI"], u["mass_iris_per_SI"], u["temperature_iris_per_SI"]]
    want = [length_iris, time_iris, mass_p, temperature_iris]
    assert all(a == b for a, b in zip(got, want)), (got, want)


def scaled(ds, raw):
    f, names = catalog(ds)
    fc, fo = (np.float32(x) for x in f["pairs"].attrs["factors"])
    by_view = {}
    for name in os.listdir(raw):
        r = h5py.File(os.path.join(raw, name), "r")
        by_view[(r.attrs["snapshot_name"], int(r.attrs["view"]))] = r
    for i, n in enumerate(names):
        g = h5py.File(os.path.join(ds, n), "r")
        r = by_view[(g.attrs["snapshot_name"], int(g.attrs["view"]))]
        assert np.array_equal(g["columnized"][...], r["columnized"][...] * fc), n
        assert np.array_equal(g["observed"][...], r["observed"][...] * fo), n
        assert np.array_equal(f["columnized"][i], g["columnized"][...]), n
        assert np.array_equal(f["observed"][i], g["observed"][...]), n


def export(ds, out):
    f, names = catalog(ds)
    attrs = json.load(open(os.path.join(out, "attributes.json")))
    shuffle = list(f["shuffle"])
    assert attrs["cardinality"] == len(names)
    assert attrs["index"] == [["columnized_%d.npy" % i, "observed_%d.npy" % i] for i in shuffle]
    for i in range(len(names)):
        assert np.array_equal(np.load(os.path.join(out, "columnized_%d.npy" % i)), f["columnized"][i])
        assert np.array_equal(np.load(os.path.join(out, "observed_%d.npy" % i)), f["observed"][i])
    hyper = json.load(open(os.path.join(out, "hyper.json")))
    d = hyper["dataset_hyper"]
    second = "_v_density_iris_per_processing" if f["pairs"].attrs["mode"].decode() == "simple" \
        else "_temperature_iris_per_processing"
    assert d["_density_iris_per_processing"] == f["pairs"].attrs["factors"][0]
    assert d[second] == f["pairs"].attrs["factors"][1]
    assert d["_length_iris_per_SI"] == f["units"].attrs["length_iris_per_SI"]
    for section in ("writer_hyper", "dataset_hyper", "coordinate_hyper", "observer_hyper",
                    "cube_hyper", "training_hyper"):
        assert section in hyper, section
    assert "mode" not in hyper["observer_hyper"] and "seed" not in hyper


{"units": lambda: units(sys.argv[2]), "scaled": lambda: scaled(sys.argv[2], sys.argv[3]),
 "export": lambda: export(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
