#!/usr/bin/env python3
"""Writes the three data sets of the README's runs beyond Fashion-MNIST, from data that
Debian packages ship (no download):

  digits/       scikit-learn's handwritten digits (python3-sklearn: 1797 images of 8x8
                pixels, values 0..16, 10 classes) as IDX files in the Fashion-MNIST layout:
                pixels scaled to 0..255 (round(v * 255 / 16)), 1437 training images
                (train-*) and 360 test images (t10k-*), split by a seeded permutation
                (numpy RandomState(0)).
  breast_cancer_train.csv, breast_cancer_test.csv
                scikit-learn's Wisconsin breast cancer table (569 rows, 30 features) with a
                header of the feature names and a "diagnosis" column of names (malignant,
                benign); 455 training and 114 test rows, split as above.
  co2_weekly.csv
                the Mauna Loa weekly CO2 series of statsmodels (python3-statsmodels, public
                domain, 1958-03-29 .. 2001-12-29, 2284 weeks), the 59 missing weeks filled by
                linear interpolation between their neighbours: columns date, co2 (ppm) and
                change (this week's co2 minus last week's, so the first week is dropped:
                2283 rows). A forecaster of the change has no trend to extrapolate, and its
                error is the error of the level forecast "this week + predicted change".

Usage: /usr/bin/python3 bench/make_datasets.py [OUTDIR]   (default build/bench-data)
"""

import csv
import os
import struct
import sys


def write_idx(path, arr):
    import numpy as np
    arr = np.ascontiguousarray(arr)
    type_byte = {np.dtype("uint8"): 0x08}[arr.dtype]
    with open(path, "wb") as f:
        f.write(bytes([0, 0, type_byte, arr.ndim]))
        for d in arr.shape:
            f.write(struct.pack(">I", d))
        f.write(arr.tobytes())


def split(n, n_test):
    import numpy as np
    perm = np.random.RandomState(0).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def digits(out):
    import numpy as np
    from sklearn.datasets import load_digits
    d = load_digits()
    images = np.rint(d.images * 255.0 / 16.0).astype(np.uint8)  # (1797, 8, 8)
    labels = d.target.astype(np.uint8)
    tr, te = split(len(labels), 360)
    os.makedirs(os.path.join(out, "digits"), exist_ok=True)
    for prefix, idx in (("train", tr), ("t10k", te)):
        write_idx(os.path.join(out, "digits", prefix + "-images-idx3-ubyte"), images[idx])
        write_idx(os.path.join(out, "digits", prefix + "-labels-idx1-ubyte"), labels[idx])
    return "digits: %d training / %d test images of 8x8" % (len(tr), len(te))


def breast_cancer(out):
    from sklearn.datasets import load_breast_cancer
    d = load_breast_cancer()
    tr, te = split(len(d.target), 114)
    for name, idx in (("breast_cancer_train.csv", tr), ("breast_cancer_test.csv", te)):
        with open(os.path.join(out, name), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(d.feature_names) + ["diagnosis"])
            for i in idx:
                w.writerow(["%.6g" % v for v in d.data[i]] + [d.target_names[d.target[i]]])
    return "breast cancer: %d training / %d test rows" % (len(tr), len(te))


def co2(out):
    import numpy as np
    try:
        from statsmodels.datasets import co2 as sm_co2
    except ImportError:
        sys.exit("make_datasets: the CO2 series needs statsmodels (Debian: apt-get install python3-statsmodels)")
    path = os.path.join(os.path.dirname(sm_co2.__file__), "co2.csv")
    dates, values = [], []
    with open(path) as f:
        for row in csv.DictReader(f):
            dates.append(row["date"])
            values.append(float(row["co2"]) if row["co2"] else float("nan"))
    v = np.array(values)
    missing = np.isnan(v)
    idx = np.arange(len(v))
    v[missing] = np.interp(idx[missing], idx[~missing], v[~missing])
    v = np.round(v, 2)
    with open(os.path.join(out, "co2_weekly.csv"), "w") as f:
        f.write("date,co2,change\n")
        for i in range(1, len(v)):
            f.write("%s,%.2f,%.2f\n" % (dates[i], v[i], v[i] - v[i - 1]))
    return "co2: %d weeks, %d filled" % (len(v), int(missing.sum()))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench-data"
    os.makedirs(out, exist_ok=True)
    for make in (digits, breast_cancer, co2):
        print(make(out))
    print("written to", out)


if __name__ == "__main__":
    main()
