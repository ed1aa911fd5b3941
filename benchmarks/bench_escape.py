"""Where the evaluations of the attention phase diagram go: the ``(omega, alpha)`` grid of
``dot_product_attention`` (8 teacher nodes) from the positional start (rows swept up in ``alpha``)
and the semantic start (swept down), as ``notebooks/_attention_diagram.py`` computes it.

Each task is one row of one start: ``fixedpoint.sweep`` along ``alpha`` at one ``omega``, exactly
what a row of ``fixedpoint.phase_diagram`` is (``fixedpoint.diagram._row``), run here directly so
that every solve's message (the solver's notes: escapes, continuations past a saddle) comes back
with its evaluations. Rows of both starts share one pool of worker processes. Prints the wall time,
the evaluations per start, and the most expensive solves; writes JSON to
``benchmarks/results/escape.json``::

    python benchmarks/bench_escape.py [--workers 2] [--n-omega 30] [--n-alpha 30] [--rows 0,5,10]
                                      [--top 10] [--out PATH]

``--rows`` computes only those rows (indices into the omega grid), to see where the evaluations
go without paying for the whole grid. The machine is shared in development: wall times on a
loaded machine are upper bounds (the load averages before and after are in the JSON).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

NODES = 8


def grid(n_omega, n_alpha):
    return np.round(np.linspace(0.0, 0.55, n_omega), 10), np.round(np.linspace(0.2, 3.2, n_alpha), 10)


def row(start, omega, alphas):
    """One row of one start: ``(per-point records, seconds)``."""
    import equations
    import fixedpoint

    t = time.perf_counter()
    model = equations.get("dot_product_attention", omega=float(omega), alpha=1.0, nodes=NODES)
    sw = fixedpoint.sweep(model, "alpha", alphas, start=start)
    out = []
    for j, a in enumerate(alphas):
        out.append({"omega": float(omega), "alpha": float(a), "start": start,
                    "evaluations": int(sw.evaluations[j]), "converged": bool(sw.converged[j]),
                    "x": [float(v) for v in sw.x[j]], "message": sw.messages[j]})
    return out, time.perf_counter() - t


def share_cores(threads):
    """Worker initializer: the share of the cores each worker's model may use for its own threads,
    as the worker processes of ``fixedpoint.phase_diagram`` get it."""
    from fixedpoint.protocol import THREADS_VARIABLE

    os.environ[THREADS_VARIABLE] = str(threads)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n-omega", type=int, default=30)
    ap.add_argument("--n-alpha", type=int, default=30)
    ap.add_argument("--rows", default=None, help="comma-separated row indices (default: all)")
    ap.add_argument("--starts", default="positional,semantic")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "escape.json"))
    args = ap.parse_args(argv)
    omegas, alphas = grid(args.n_omega, args.n_alpha)
    rows = range(len(omegas)) if args.rows is None else [int(i) for i in args.rows.split(",")]
    starts = args.starts.split(",")
    res = {"machine": platform.platform(), "cpus": os.cpu_count(), "nodes": NODES, "workers": args.workers,
           "omega": omegas.tolist(), "alpha": alphas.tolist(), "rows": list(rows), "starts": starts}
    if hasattr(os, "getloadavg"):
        res["load_average_before"] = os.getloadavg()
    # compile or load the kernels once here (forked workers inherit them)
    import equations
    import fixedpoint
    from fixedpoint import _jit

    _jit.compile_now()
    t = time.perf_counter()
    fixedpoint.solve(equations.get("dot_product_attention", omega=0.3, alpha=1.0, nodes=NODES), start="semantic")
    res["warm_up_s"] = time.perf_counter() - t

    tasks = [(s, omegas[i], alphas if s == "positional" else alphas[::-1]) for i in rows for s in starts]
    records, row_seconds = [], []
    t0 = time.perf_counter()
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    with cf.ProcessPoolExecutor(args.workers, initializer=share_cores, initargs=(threads,)) as pool:
        futures = [pool.submit(row, *task) for task in tasks]
        for fut in cf.as_completed(futures):
            out, sec = fut.result()
            records.extend(out)
            row_seconds.append({"start": out[0]["start"], "omega": out[0]["omega"], "seconds": sec,
                                "evaluations": sum(r["evaluations"] for r in out)})
            print(f"  {out[0]['start']:10s} omega={out[0]['omega']:.4f}: {sec:6.1f} s, "
                  f"{row_seconds[-1]['evaluations']:6d} evaluations", flush=True)
    wall = time.perf_counter() - t0
    res["wall_s"] = wall
    res["row_seconds"] = row_seconds
    for s in starts:
        mine = [r for r in records if r["start"] == s]
        res[f"{s}_evaluations"] = sum(r["evaluations"] for r in mine)
        res[f"{s}_converged"] = sum(r["converged"] for r in mine)
        res[f"{s}_points"] = len(mine)
    res["evaluations"] = sum(r["evaluations"] for r in records)
    records.sort(key=lambda r: -r["evaluations"])
    res["top"] = records[:args.top]
    res["records"] = sorted(records, key=lambda r: (r["start"], r["omega"], r["alpha"]))
    if hasattr(os, "getloadavg"):
        res["load_average_after"] = os.getloadavg()
    print(f"{len(records)} solves in {wall:.0f} s wall ({args.workers} workers): {res['evaluations']} evaluations",
          "(" + ", ".join(f"{s} {res[f'{s}_evaluations']}, {res[f'{s}_converged']}/{res[f'{s}_points']} converged"
                          for s in starts) + ")")
    print(f"the {args.top} most expensive solves:")
    for r in res["top"]:
        print(f"  {r['start']:10s} omega={r['omega']:.4f} alpha={r['alpha']:.4f}: {r['evaluations']:5d} evaluations;"
              f" {r['message'][:400]}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
