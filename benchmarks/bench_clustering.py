"""Benchmark of subspace clustering (``subspace_clustering``).

1. The centroid channel (one call of the compiled kernel: three two-dimensional integrals on
   and off the support) against ``scipy.integrate.nquad`` on the same integrals (the slow way;
   the authors' code integrates one-dimensional versions by ``quad``), with their agreement.
2. The label channel ``m_u(a)``: one direct evaluation of the compiled Gumbel-max integral, one
   query of the lazily built table that the map uses, and the table's construction.
3. One ``update`` and one warm solve from each start.
4. A ``(rho, snr)`` phase diagram from the uninformed start on 2 workers: ``--quick`` 20 x 20,
   otherwise 40 x 40, extrapolated to 100 x 100; ``--full`` runs the 100 x 100 diagram itself
   (target: < 60 s on 2 cores).
5. The weak-recovery (stability) threshold through the engine and in closed form.

Prints a table and writes ``benchmarks/results/clustering.json``. Run:
``python benchmarks/bench_clustering.py [--quick | --full] [--out PATH]``.
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
from scipy import integrate, stats
from scipy.special import expit

import fixedpoint
from equations.mixtures import clustering as C
from equations.mixtures._clustering_kernels import label_ratio


def timeit(fn, repeat=5, number=1):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return float(np.median(times)), float(np.min(times))


def nquad_centroid(rho, n, a1, a):
    c0 = 0.5 * math.log1p(a1) + 0.5 * n * math.log1p(a) + math.log((1 - rho) / rho)

    def E(b1, b, what):
        def f(R, z):
            s = 0.5 * (b1 * z * z + b * R) - c0
            pi = expit(s)
            val = {"z2": pi * pi * z * z, "R": pi * pi * R, "log": np.logaddexp(0, s)}[what]
            return val * stats.norm.pdf(z) * stats.chi2.pdf(R, n)
        return integrate.nquad(f, [[0, 80], [-10, 10]], opts={"epsabs": 1e-12, "epsrel": 1e-10, "limit": 200})[0]

    s = {w: E(a1, a, w) for w in ("z2", "R", "log")}
    o = {w: E(a1 / (1 + a1), a / (1 + a), w) for w in ("z2", "R", "log")}
    m_par = a1 / (1 + a1) * (rho * s["z2"] + (1 - rho) / (1 + a1) * o["z2"])
    m_perp = a / (1 + a) * (rho * s["R"] + (1 - rho) / (1 + a) * o["R"]) / n
    return m_par, m_perp, math.log1p(-rho) + rho * s["log"] + (1 - rho) * o["log"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true", help="run the 100 x 100 diagram itself (about a minute)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "clustering.json"))
    args = ap.parse_args()
    repeat = 3 if args.quick else 7
    res = {"machine": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    rows = []

    # 1. centroid channel: raw labels (the mean direction a1 > 0: nested 2-D rules) and centred (1-D)
    res["centroid_channel"] = {}
    for label, case in (("raw labels, a1 = 1.5", (0.3, 3, 1.5, 0.7)), ("centred, a1 = 0", (0.3, 3, 0.0, 0.7))):
        fast = timeit(lambda: C.centroid_channel(*case), repeat, 20)
        t = time.perf_counter()
        ref = nquad_centroid(case[0], case[1] - 1, case[2], case[3]) if case[2] > 0 else None
        slow = time.perf_counter() - t
        entry = {"case": case, "kernel_s": fast}
        rows.append((f"centroid channel rho=0.3 k=3 {label} (kernel)", fast[0] * 1e3, "ms"))
        if ref is not None:
            diff = float(np.max(np.abs(np.array(C.centroid_channel(*case)) - np.array(ref))))
            entry.update({"nquad_s": slow, "max_abs_diff": diff, "speedup": slow / fast[0]})
            rows.append((f"  scipy nquad (|diff| {diff:.1e})", slow * 1e3, "ms"))
        res["centroid_channel"][label] = entry

    # 2. label channel
    gx, gw = np.polynomial.legendre.leggauss(8)
    direct = timeit(lambda: label_ratio(2.0, 3, gx, gw), repeat, 3)
    C._TABLES.clear()
    t = time.perf_counter()
    C.label_channel(2.0, 3)
    build = time.perf_counter() - t
    table = timeit(lambda: C._ratio(2.0, 3), repeat, 2000)
    res["label_channel"] = {"direct_s": direct, "table_query_s": table, "first_query_with_build_s": build}
    rows.append(("label channel k=3 a=2, direct", direct[0] * 1e3, "ms"))
    rows.append(("  table query", table[0] * 1e6, "us"))
    rows.append(("  first query (builds the pieces it needs)", build, "s"))

    # 3. update and solves
    m = C.SubspaceClustering(k=3, rho=0.3, alpha=2.0, snr=12.0)
    x = m.initial_state("informed")
    upd = timeit(lambda: (m._chain.cache_clear(), m.update(x)), repeat, 20)
    res["update_s"] = upd
    rows.append(("update (k=3, rho=0.3)", upd[0] * 1e3, "ms"))
    for start in ("uninformed", "informed"):
        tt = timeit(lambda: (m._chain.cache_clear(), fixedpoint.solve(m, start=start)), repeat, 1)
        res[f"solve_{start}_s"] = tt
        rows.append((f"solve from {start}", tt[0] * 1e3, "ms"))

    # 4. phase diagram
    n = 100 if args.full else 20 if args.quick else 40
    grid = {"rho": np.linspace(0.05, 1.0, n), "snr": np.linspace(1.0, 15.0, n)}
    base = C.SubspaceClustering(k=3, rho=0.3, alpha=2.0, snr=5.0)
    t = time.perf_counter()
    d = fixedpoint.phase_diagram(base, grid, executor=2)
    dt = time.perf_counter() - t
    conv = float(np.mean(d.converged))
    res["diagram"] = {"n": n, "seconds": dt, "converged_fraction": conv, "extrapolated_100x100_s": dt * (100 / n) ** 2}
    rows.append((f"diagram {n}x{n} (rho, snr), 2 workers, {conv:.0%} converged", dt, "s"))
    rows.append(("  extrapolated to 100x100", dt * (100 / n) ** 2, "s"))

    # 5. threshold
    mt = C.SubspaceClustering(k=3, rho=0.3, alpha=2.0, snr=5.0)
    t = time.perf_counter()
    thr = fixedpoint.threshold(mt, "snr", (2.0, 12.0), kind="stability")
    dt = time.perf_counter() - t
    closed = mt.stability_snr()
    res["stability"] = {"engine": thr.value, "closed_form": closed, "seconds": dt}
    rows.append((f"stability threshold (engine {thr.value:.10f}, closed form {closed:.10f})", dt, "s"))

    width = max(len(r[0]) for r in rows)
    for name, val, unit in rows:
        print(f"{name:<{width}}  {val:12.4g} {unit}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2, default=float))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
