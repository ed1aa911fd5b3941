"""Sweeps, phase diagrams and thresholds: speed and cost (issue targets, never asserted).

Measured on the sparse-Rademacher spiked Wigner model (one order parameter):

1. a 200-point snr sweep, both branches (uninformed and informed), warm (Numba compiled),
   with the safeguarded Anderson solver and with plain iteration for comparison;
2. a 100 x 100 (rho, snr) phase diagram with 1 and 2 worker processes (speed-up; the two
   results must be identical);
3. thresholds (stability, spinodal from both starts, first-order): value, solves and time.

Prints a table and writes JSON to benchmarks/results/continuation.json.

    python benchmarks/bench_continuation.py [--quick] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import equations
import fixedpoint as fp


def timed(f, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times)), float(np.min(times))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a 40 x 40 diagram and one repeat")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "continuation.json"))
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else 3
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}

    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.05, snr=1.0)
    fp.sweep(model, "snr", [0.5, 1.5])  # compile / load kernels

    # 1. sweeps
    snrs = np.linspace(0.5, 3.0, 200)
    rows = []
    for label, solver in (("Anderson()", None), ("Damped(0)", fp.Damped(0.0))):
        def both():
            return [fp.sweep(model, "snr", snrs, start=s, solver=solver, max_iter=200_000)
                    for s in ("uninformed", "informed")]
        (lo, hi), med, best = timed(both, repeat)
        rows.append({"solver": label, "median_s": med, "min_s": best,
                     "evaluations": int(lo.evaluations.sum() + hi.evaluations.sum()),
                     "converged": int(lo.converged.sum() + hi.converged.sum())})
        if label == "Anderson()":
            ref = (lo, hi)
        else:
            dev = max(np.nanmax(np.abs(lo["m"] - ref[0]["m"])), np.nanmax(np.abs(hi["m"] - ref[1]["m"])))
            rows[-1]["max_dev_vs_anderson"] = float(dev)
    report["sweep_200_both_branches"] = rows
    print("200-point snr sweep, both branches, sparse_rademacher rho=0.05 (target < 0.2 s warm)")
    for r in rows:
        print(f"  {r['solver']:12s} {r['median_s']:.3f} s (min {r['min_s']:.3f})  evaluations {r['evaluations']:6d}"
              f"  converged {r['converged']}/400" + (f"  max |dm| {r['max_dev_vs_anderson']:.1e}"
                                                       if "max_dev_vs_anderson" in r else ""))

    # 2. phase diagram
    n = 40 if args.quick else 100
    grid = {"rho": np.linspace(0.02, 0.3, n), "snr": np.linspace(0.3, 2.5, n)}
    out = {}
    for workers in (1, 2):
        t = time.perf_counter()
        d = fp.phase_diagram(model, grid, executor=workers)
        out[workers] = (d, time.perf_counter() - t)
    same = bool(np.array_equal(out[1][0].x, out[2][0].x, equal_nan=True))
    report["phase_diagram"] = {"shape": [n, n], "seconds_1_worker": out[1][1], "seconds_2_workers": out[2][1],
                               "speedup": out[1][1] / out[2][1], "identical": same,
                               "converged": int(out[1][0].converged.sum()),
                               "evaluations": int(out[1][0].evaluations.sum())}
    pd = report["phase_diagram"]
    print(f"\n{n}x{n} (rho, snr) phase diagram from 'uninformed' (target 100x100 < 30 s on 2 cores)")
    print(f"  1 worker {pd['seconds_1_worker']:.1f} s, 2 workers {pd['seconds_2_workers']:.1f} s, speed-up "
          f"{pd['speedup']:.2f}, identical {same}, converged {pd['converged']}/{n * n}")

    # 3. thresholds
    m = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.05, snr=1.0)
    cases = [("stability", {}, (0.5, 1.5)), ("spinodal", {"start": "uninformed"}, (0.5, 1.5)),
             ("spinodal", {"start": "informed"}, (0.3, 1.0)), ("first_order", {}, (0.3, 1.5))]
    report["thresholds"] = []
    print("\nthresholds, sparse_rademacher rho=0.05 (targets: tolerance reached in < 100 solves)")
    for kind, kw, br in cases:
        t = time.perf_counter()
        thr = fp.threshold(m, "snr", br, kind=kind, **kw)
        dt = time.perf_counter() - t
        report["thresholds"].append({"kind": kind, **kw, "value": thr.value, "bracket": list(thr.bracket),
                                     "converged": thr.converged, "solves": thr.solves, "seconds": dt})
        print(f"  {kind:12s} {kw.get('start', ''):10s} snr = {thr.value:.10f}  converged {thr.converged}  "
              f"solves {thr.solves:3d}  {dt * 1e3:.0f} ms")

    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
