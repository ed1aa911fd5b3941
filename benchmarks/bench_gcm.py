"""Benchmark of the Gaussian covariate model (``gcm_erm``).

1. A warm random-features solve (logistic loss, relu, p/d = 1.5, alpha = 2, reg = 0.1; tolerance
   1e-10): target 10 ms.
2. A 100-point sweep of ridge on random features along ``p_over_d`` (0.1 to 10, erf, alpha = 1,
   reg = 0.01, noise = 0.1): target 1 s.
3. One point of spiked random features (``spiked_random_features``: tanh units, sin teacher, eta = 3,
   alpha0 = 20, alpha = 1, reg = 0.1; tolerance 1e-10), the model built (its tables of the
   conditional coefficients) and solved: target 50 ms.
4. A warm solve on a given power-law spectrum of 1e5 modes (square and logistic losses), whose
   weights' side is a Numba loop over the modes, against the same spectral means in numpy.

Prints a table and writes ``benchmarks/results/gcm.json``. Run: ``python benchmarks/bench_gcm.py``
(a few seconds once the kernels are compiled).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

import fixedpoint
from equations.gcm import GCMERM, _spectral_weights, power_law
from equations.gcm_spiked import SpikedRF


def _time(f, repeats):
    f()  # warm-up (compiles or loads the kernels)
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), float(np.min(ts))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "gcm.json"))
    args = ap.parse_args(argv)
    rep = 3 if args.quick else 10
    rows = {}
    rf = GCMERM(loss="logistic", activation="relu", p_over_d=1.5, alpha=2.0, reg=0.1)
    rows["rf_logistic_solve"] = _time(lambda: fixedpoint.solve(rf, atol=1e-10, rtol=1e-10), rep)
    ridge = GCMERM(loss="square", activation="erf", p_over_d=1.0, alpha=1.0, reg=0.01, noise=0.1)
    grid = np.geomspace(0.1, 10.0, 100)
    sw = fixedpoint.sweep(ridge, "p_over_d", grid)
    assert all(sw.converged)
    rows["rf_ridge_sweep_100"] = _time(lambda: fixedpoint.sweep(ridge, "p_over_d", grid), max(1, rep // 3))
    def spiked_point():  # a new eta each time: the tables are rebuilt, as for a new point of a sweep
        spiked_point.eta += 1e-9
        m = SpikedRF(activation="tanh", target_activation="sin", eta=spiked_point.eta, alpha0=20.0, alpha=1.0,
                     reg=0.1)
        return fixedpoint.solve(m, atol=1e-10, rtol=1e-10)

    spiked_point.eta = 3.0
    rows["spiked_rf_point"] = _time(spiked_point, rep)
    omega, theta = power_law(100000, 1.5, 0.5)
    for loss in ("square", "logistic"):
        sp = GCMERM(features="spectra", spectrum=omega, teacher=theta, loss=loss, alpha=0.5, reg=1e-3)
        rows[f"spectra_1e5_{loss}_solve"] = _time(lambda sp=sp: fixedpoint.solve(sp, atol=1e-10, rtol=1e-10), rep)
    om, c2 = np.array(omega), np.array(omega) ** 2 * np.array(theta) ** 2

    def numpy_means():
        r = 1.0 / (1e-3 + 0.7 * om)
        return np.mean(om * r), np.mean(c2 * r), np.mean((0.5 * c2 * om + 0.3 * om * om) * r * r)

    rows["weights_side_numba_1e5"] = _time(lambda: _spectral_weights(om, c2, 1e-3, 0.7 ** 0.5, 0.3, 0.7), rep * 10)
    rows["weights_side_numpy_1e5"] = _time(numpy_means, rep * 10)
    print(f"{'case':34s} {'median (ms)':>12s} {'min (ms)':>10s}")
    for k, (med, mn) in rows.items():
        print(f"{k:34s} {1e3 * med:12.3f} {1e3 * mn:10.3f}")
    out = {"machine": platform.platform(), "python": platform.python_version(),
           "timings_s": {k: {"median": v[0], "min": v[1]} for k, v in rows.items()}}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
