"""Benchmark of the spiked Wigner family (issue 4) and the shared prior module.

1. One scalar average ``overlap(g)`` of the sparse Rademacher / Gauss-Bernoulli priors: the
   Numba single-integral kernel (state-evolution hot path), the full windowed kernel (all four
   averages at once) and ``scipy.integrate.quad`` on the definition (what research code does),
   with their agreement.
2. One ``update`` evaluation of the models (homogeneous, inhomogeneous two-block).
3. A 200-point ``snr`` sweep, both branches (uninformed and informed), warm (kernels compiled):
   target < 0.2 s.
4. The thresholds of the sparse Rademacher prior at rho = 0.05 (stability, lower spinodal, IT,
   algorithmic spinodal) and the tricritical sparsity.
5. The 100 x 100 (rho, snr) phase diagram from both starts plus the three threshold lines over
   20 sparsities: target < 60 s on 2 cores (``--quick``: 40 x 40 and 8 sparsities).
6. One AMP run (``simulate``) at d = 2000.

Prints a table and writes ``benchmarks/results/spiked_wigner.json``. Run:
``/work/venv/bin/python benchmarks/bench_spiked_wigner.py [--quick] [--out PATH]``.
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
from scipy import integrate

import fixedpoint
from equations.priors import make_prior
from equations.spiked_wigner import (SpikedWigner, SpikedWignerInhomogeneous, fold_of_uninformed_branch,
                                     tricritical_rho)


def timeit(fn, repeat=5, number=1):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return float(np.median(times)), float(np.min(times))


def quad_overlap(prior, g):
    """``E[E[x|y]^2]`` by adaptive quad over y, per component of the prior (the naive baseline)."""
    s, rho = prior.scale, prior.rho

    def mean2(y):
        mean, _ = prior.denoise(np.array([y]), g)
        return mean[0] ** 2

    phi = lambda y, mu, var: math.exp(-((y - mu) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)  # noqa: E731
    total = 0.0
    if prior.kind == "sparse_rademacher":
        comps = [(0.0, 1 - rho, 1.0), (math.sqrt(g) * s, rho, 1.0)]  # +-s mirror each other
    else:
        comps = [(0.0, 1 - rho, 1.0), (0.0, rho, 1 + g * s * s)]
    for mu, w, var in comps:
        val, _ = integrate.quad(lambda y: mean2(y) * phi(y, mu, var), -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12,
                                limit=200)
        total += w * val
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller phase diagram, fewer repeats")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "spiked_wigner.json"))
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    res = {"machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    rows = []

    t = time.perf_counter()
    for kind, rho in (("sparse_rademacher", 0.05), ("gauss_bernoulli", 0.1), ("rademacher", 1.0)):
        p = make_prior(kind, rho, second_moment=1.0)
        p.overlap(1.0), p.averages(1.0), p.denoise(np.zeros(3), 1.0)
    res["kernel_compile_or_load_s"] = time.perf_counter() - t

    # 1. scalar averages
    for kind, rho, g in (("sparse_rademacher", 0.05, 1.2), ("gauss_bernoulli", 0.1, 1.2)):
        p = make_prior(kind, rho, second_moment=1.0)
        fast = timeit(lambda: p.overlap(g), repeat, 2000)
        full = timeit(lambda: p.averages(g), repeat, 200)
        quad = timeit(lambda: quad_overlap(p, g), 3, 1)
        diff = abs(p.overlap(g) - quad_overlap(p, g))
        res[f"overlap_{kind}"] = {"g": g, "fast_s": fast, "full_kernel_s": full, "quad_s": quad,
                                  "abs_diff_vs_quad": diff, "speedup_vs_quad": quad[0] / fast[0]}
        rows.append((f"overlap {kind} rho={rho} g={g}: fast kernel", fast[0] * 1e6, "us"))
        rows.append(("  all averages (full kernel)", full[0] * 1e6, "us"))
        rows.append((f"  scipy quad baseline (|diff| {diff:.1e})", quad[0] * 1e6, "us"))

    # 2. update evaluations
    models = {
        "rademacher": SpikedWigner(prior="rademacher", snr=1.5),
        "sparse_rademacher_0.05": SpikedWigner(prior="sparse_rademacher", rho=0.05, snr=1.2),
        "gauss_bernoulli_0.1": SpikedWigner(prior="gauss_bernoulli", rho=0.1, snr=1.2),
        "inhomogeneous_2_blocks": SpikedWignerInhomogeneous(prior="sparse_rademacher", rho=0.1, fractions=(0.3, 0.7),
                                                            profile=((0.5, 1.0), (1.0, 3.0)), snr=1.5),
    }
    res["update"] = {}
    for name, m in models.items():
        x = np.full(len(m.state_names), 0.6)
        tt = timeit(lambda: m.update(x), repeat, 2000)
        res["update"][name] = tt
        rows.append((f"update {name}", tt[0] * 1e6, "us"))

    # 3. 200-point sweep, both branches
    res["sweep_200"] = {}
    snrs = np.linspace(0.5, 3.0, 200)
    for name in ("rademacher", "sparse_rademacher_0.05"):
        m = models[name]

        def both():
            a = fixedpoint.sweep(m, "snr", snrs, start="uninformed")
            b = fixedpoint.sweep(m, "snr", snrs, start="informed")
            return a, b

        tt = timeit(both, 3, 1)
        a, b = both()
        counter = {"n": 0}
        orig = type(m).update

        def counted(self, x):
            counter["n"] += 1
            return orig(self, x)

        type(m).update = counted
        try:
            both()
        finally:
            type(m).update = orig
        res["sweep_200"][name] = {"time_s": tt, "converged": int(a.converged.sum() + b.converged.sum()),
                                  "reported_evaluations": int(a.evaluations.sum() + b.evaluations.sum()),
                                  "update_calls": counter["n"]}
        rows.append((f"200-point snr sweep x 2 branches, {name} (target < 0.2 s)", tt[0], "s"))
        rows.append((f"  update calls (engine reports {res['sweep_200'][name]['reported_evaluations']})",
                     counter["n"], ""))

    # 4. thresholds
    base = SpikedWigner(prior="sparse_rademacher", rho=0.05, snr=1.0)
    thr = {}
    for label, fn in (
        ("stability", lambda: fixedpoint.threshold(base, "snr", (0.5, 2.0), kind="stability")),
        ("lower_spinodal", lambda: fixedpoint.threshold(base, "snr", (0.3, 0.99), kind="spinodal", start="informed")),
        ("information_theoretic", lambda: fixedpoint.threshold(base, "snr", (0.3, 0.99), kind="first_order")),
        ("algorithmic_engine", lambda: fixedpoint.threshold(base, "snr", (0.9, 1.5), kind="spinodal",
                                                            start="uninformed", solver=fixedpoint.Anderson(memory=2))),
        ("algorithmic_fold", lambda: fold_of_uninformed_branch("sparse_rademacher", 0.05)),
        ("tricritical_rho", lambda: tricritical_rho("sparse_rademacher")),
    ):
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        value = float(getattr(out, "value", out))
        thr[label] = {"value": value, "time_s": dt}
        rows.append((f"threshold {label} (rho=0.05) = {value:.8f}", dt, "s"))
    res["thresholds"] = thr

    # 5. phase diagram with its three lines
    n_grid, n_lines = (40, 8) if args.quick else (100, 20)
    rhos = np.linspace(0.02, 0.3, n_grid)
    snr_grid = np.linspace(0.2, 1.8, n_grid)
    line_rhos = np.linspace(0.02, 0.085, n_lines)
    t = time.perf_counter()
    du = fixedpoint.phase_diagram(base, {"rho": rhos, "snr": snr_grid}, start="uninformed")
    di = fixedpoint.phase_diagram(base, {"rho": rhos, "snr": snr_grid}, start="informed")
    t_grid = time.perf_counter() - t
    low = fixedpoint.threshold_line(base, "snr", (0.05, 0.999), over={"rho": line_rhos}, kind="spinodal",
                                    start="informed")
    it = fixedpoint.threshold_line(base, "snr", (0.05, 0.999), over={"rho": line_rhos}, kind="first_order")
    alg = [fold_of_uninformed_branch("sparse_rademacher", r) for r in line_rhos]
    t_total = time.perf_counter() - t
    res["phase_diagram"] = {"grid": [n_grid, n_grid], "lines_points": n_lines, "grid_both_starts_s": t_grid,
                            "total_s": t_total, "finite_fraction": float(np.isfinite(du["m"]).mean() *
                                                                         np.isfinite(di["m"]).mean()),
                            "lines_converged": int(low.converged.sum() + it.converged.sum()),
                            "algorithmic": [float(a) for a in alg]}
    rows.append((f"{n_grid}x{n_grid} phase diagram, both starts", t_grid, "s"))
    rows.append((f"  + lower spinodal, IT, algorithmic lines ({n_lines} rho) (target < 60 s)", t_total, "s"))

    # 6. AMP
    m = SpikedWigner(prior="rademacher", snr=1.5)
    t = time.perf_counter()
    out = m.simulate(2000, 0)
    dt = time.perf_counter() - t
    res["amp_d2000"] = {"time_s": dt, "iterations": out["iterations"], "overlap": out["overlap"]}
    rows.append((f"AMP d=2000 rademacher snr=1.5 ({int(out['iterations'])} iterations)", dt, "s"))

    width = max(len(r[0]) for r in rows)
    for label, value, unit in rows:
        print(f"{label:<{width}}  {value:12.4g} {unit}")
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=2, default=float))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
