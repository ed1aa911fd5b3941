"""Multi-index state evolution: the costs issue 13 names, and the damped loop as a baseline.

* a K = 2 committee (Gaussian weights) solved at ``alpha = 1.5`` to ``atol = rtol = 1e-10``,
  warm, with ``fixedpoint.solve`` (Anderson) and with the plain damped loop papers copy
  (``fixedpoint.Damped(0.5)``, the same map): the ratio of wall times;
* a 100-point ``alpha`` sweep of it over ``0.5..3`` (``fixedpoint.sweep``: checked warm starts,
  the default for a model without a unique fixed point), against the same sweep solved cold at
  every value (``warm=False``, the definition): wall and CPU times (the CPU is shared), map
  evaluations (stability Jacobians included) and the largest difference of the states;
* the weak-learnability threshold ``alpha_c`` of ``sign(z1 z2)`` (``p = 2``; ``pi^2 / 4``);
* the binary committee (``p = 2``, rademacher prior): its prior's map, and the 25-point ``alpha``
  sweep of ``notebooks/multi_index.ipynb``;
* one solve of a ``p = 3`` committee, and one map evaluation of a ``p = 4`` target (``committee_erf``,
  noise 0.1; a solve takes many minutes at that cost);
* ``norm2`` at ``p = 4`` (noise 0.1, ``alpha = 3``) solved from both starts.

The authors' codes for these models integrate by Monte Carlo over hours (or no longer import),
so the baseline here is the damped loop on our own map. Writes JSON to
benchmarks/results/multi_index.json.

    python benchmarks/bench_multi_index.py [--out PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

import fixedpoint
from bench_continuation import timed  # (the same median/min timer; benchmarks/ is on the path)
from equations.multi_index import MultiIndex


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "multi_index.json"))
    ap.add_argument("--quick", action="store_true", help="one repeat of each timing")
    args = ap.parse_args(argv)
    reps = 1 if args.quick else 5
    res = {"machine": platform.platform(), "cpus": os.cpu_count()}

    m = MultiIndex(target="committee", p=2, alpha=1.5)
    fixedpoint.solve(m)  # compile / load the kernels
    sol, med, mn = timed(lambda: fixedpoint.solve(m, atol=1e-10, rtol=1e-10), reps)
    damped, dmed, dmn = timed(lambda: fixedpoint.solve(m, atol=1e-10, rtol=1e-10, solver=fixedpoint.Damped(0.5)),
                              max(1, reps // 2))
    res["committee_K2_solve"] = {"median_s": med, "min_s": mn, "iterations": sol.iterations,
                                 "converged": bool(sol.converged), "Q01": float(sol["Q"][0, 1]),
                                 "damped_median_s": dmed, "damped_iterations": damped.iterations,
                                 "ratio_damped_over_solve": dmed / med}
    alphas = np.linspace(0.5, 3.0, 100)
    calls = [0]
    update = MultiIndex.update

    def counted(self, x):
        calls[0] += 1
        return update(self, x)

    def run(warm):
        calls[0] = 0
        t, c = time.perf_counter(), time.process_time()
        out = fixedpoint.sweep(m, "alpha", alphas, warm=warm)
        return out, time.perf_counter() - t, time.process_time() - c, calls[0]

    MultiIndex.update = counted
    try:
        best = min((run(None) for _ in range(1 if args.quick else 3)), key=lambda r: r[2])
        sw, wall, cpu, nmap = best
        entry = {"s": wall, "cpu_s": cpu, "map_evaluations": nmap, "converged": int(np.sum(sw.converged))}
        if not args.quick:
            cold, cwall, ccpu, cmap = run(False)
            entry.update(cold_s=cwall, cold_cpu_s=ccpu, cold_map_evaluations=cmap,
                         max_abs_diff_vs_cold=float(np.nanmax(np.abs(sw.x - cold.x))))
    finally:
        MultiIndex.update = update
    res["committee_K2_sweep_100"] = entry

    z = MultiIndex(target="sign_z1z2", p=2, alpha=1.0)
    th, tmed, tmn = timed(lambda: fixedpoint.threshold(z, "alpha", (1.0, 5.0), kind="stability"), reps)
    res["alpha_c_sign_z1z2"] = {"median_s": tmed, "value": th.value, "error_vs_pi2_over_4": abs(th.value - math.pi ** 2 / 4)}

    # the binary committee (rademacher prior): its prior's map at three sizes of Q_hat, and the
    # 25-point sweep of notebooks/multi_index.ipynb through both transitions
    from equations.multi_index import prior_denoiser
    prior_ms = {}
    for scale in (1.0, 3.0, 10.0):
        Q_hat = scale * np.array([[1.0, 0.2], [0.2, 0.8]])
        prior_denoiser("rademacher", Q_hat)
        _, pmed, _ = timed(lambda: prior_denoiser("rademacher", Q_hat), max(reps, 3))
        prior_ms[f"Q_hat_{scale:g}"] = 1e3 * pmed
    b2 = MultiIndex(target="committee", p=2, prior="rademacher", alpha=1.0)
    fixedpoint.solve(b2)
    sb, tb, _ = timed(lambda: fixedpoint.sweep(b2, "alpha", np.linspace(1.0, 2.2, 25), start="uninformed"), 1)
    res["binary_committee"] = {"prior_map_ms": prior_ms, "sweep_25_s": tb,
                               "evaluations": int(np.sum(sb.evaluations)), "converged": int(np.sum(sb.converged))}

    m3 = MultiIndex(target="committee", p=3, alpha=2.0)
    fixedpoint.solve(m3)
    s3, t3, _ = timed(lambda: fixedpoint.solve(m3), 1)
    res["committee_K3_solve"] = {"s": t3, "iterations": s3.iterations, "converged": bool(s3.converged)}
    # p = 4: one map evaluation (a solve from the uninformed start takes many minutes at this cost)
    m4 = MultiIndex(target="committee_erf", p=4, alpha=3.0, noise=0.1)
    x4 = m4.initial_state()
    m4.update(x4)
    _, t4, _ = timed(lambda: m4.update(x4), 1)
    res["committee_erf_p4_map"] = {"s": t4}
    # norm2 at p = 4 (the Fourier route on the eigenspaces of Q): solves from both starts
    n4 = MultiIndex(target="norm2", p=4, alpha=3.0, noise=0.1)
    fixedpoint.solve(n4, start="informed")
    for start in ("informed", "uninformed"):
        sn, tn, _ = timed(lambda: fixedpoint.solve(n4, start=start), 1)
        res[f"norm2_p4_solve_{start}"] = {"s": tn, "evaluations": sn.evaluations, "converged": bool(sn.converged),
                                          "Q00": float(sn["Q"][0, 0])}

    for k, v in res.items():
        print(f"{k:28s} {v}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
