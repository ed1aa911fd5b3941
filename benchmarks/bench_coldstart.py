"""Cold start: import plus first solve of each registered model, with and without the Numba cache.

Each measurement is a fresh Python process, timed from the outside:

* "empty cache": ``NUMBA_CACHE_DIR`` points at a new empty folder, so every kernel the solve
  touches is compiled;
* "warm cache": the same folder again, so the kernels are loaded from disk.

Two kinds of process per model (its first registered example):

* ``api``: ``import equations, fixedpoint`` then ``fixedpoint.solve(model, start="informed")``;
  the process also reports its import time and its first-solve time, and how many kernels
  (Numba dispatchers of ``fixedpoint`` and ``equations``) that solve compiled or loaded;
* ``cli``: the command ``fixedpoint solve <model> key=value ...`` (run as ``python -m
  fixedpoint.cli``, so that the ``PYTHONPATH`` in force is the code measured).

Two kernel tiers (``--jit``, the environment variable ``FIXEDPOINT_JIT`` of ``fixedpoint._jit``):

* ``auto``: what a user's process does, kernels interpreted until they have cost 1 s, then
  compiled (a short solve never imports Numba; "empty" and "warm" then differ only in what the
  Python byte-code cache holds);
* ``compile``: Numba from the first kernel call, as before tiering (``--profile`` lists what
  each kernel costs to compile in this tier).

Besides the wall time of the process, its CPU time (user + system, from ``getrusage``) is
recorded: compilation is single-threaded, so the CPU time is what a loaded machine does not
inflate. ``--repeat`` runs every measurement several times (a new empty cache each time) and
the table shows the medians (the JSON has every run; on a busy machine the minima are the
better estimate).

    python benchmarks/bench_coldstart.py [--repeat N] [--kinds api,cli] [--jit auto,compile] [--out PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import equations

SCRIPT = """
import os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
compile_cpu, stack = {{}}, []
if os.environ.get("FIXEDPOINT_JIT") == "compile":
    # exclusive compile CPU time per kernel: a kernel's own compilation, without that of the
    # kernels it calls (compiled inside it when they are not compiled yet). Only when compiling
    # from the start: importing Numba here would change what an interpreted run costs.
    from numba.core import event
    class Listener(event.Listener):
        def on_start(self, ev):
            f = ev.data["dispatcher"].py_func
            stack.append([f.__module__ + "." + f.__qualname__, time.process_time(), 0.0])
        def on_end(self, ev):
            name, start, inner = stack.pop()
            dt = time.process_time() - start
            if stack:
                stack[-1][2] += dt
            compile_cpu[name] = compile_cpu.get(name, 0.0) + dt - inner
    event.register("numba:compile", Listener())
import equations, fixedpoint
t1, c1 = time.perf_counter(), time.process_time()
model = equations.get({name!r}, **{params!r})
sol = fixedpoint.solve(model, start="informed")
t2, c2 = time.perf_counter(), time.process_time()
import gc, json
kernels = 0
if "numba" in sys.modules:  # not imported at all by a run that stayed interpreted
    from numba.core.registry import CPUDispatcher
    kernels = sum(len(d.signatures) for d in gc.get_objects() if isinstance(d, CPUDispatcher)
                  and d.py_func.__module__.split(".")[0] in ("fixedpoint", "equations"))
print(t1 - t0, t2 - t1, sol.converged, kernels, c1 - c0, c2 - c1)
print(json.dumps(compile_cpu))
"""


def _cli_args(params):
    """``key=value`` words for the command line (tuples as JSON lists)."""
    return [f"{k}={json.dumps(v) if isinstance(v, (tuple, list)) else v}" for k, v in params.items()]


def run(kind, name, params, cache, out_dir, jit="auto"):
    """One fresh process (kernels tiered as ``FIXEDPOINT_JIT=jit``); returns its timings."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache, "MPLBACKEND": "Agg", "FIXEDPOINT_JIT": jit}
    if kind == "api":
        cmd = [sys.executable, "-c", SCRIPT.format(name=name, params=params)]
    else:
        cmd = [sys.executable, "-m", "fixedpoint.cli", "solve", name, *_cli_args(params), "--out", out_dir]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    # run in an empty folder: the current directory, first on the path of ``python -c``, must not
    # shadow the packages that PYTHONPATH or the installation provide
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=out_dir)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    row = {"process_s": wall, "process_cpu_s": cpu, "returncode": proc.returncode}
    if kind == "api":
        if proc.returncode != 0:
            raise RuntimeError(f"{name}: the process failed:\n{proc.stderr}")
        lines = proc.stdout.strip().splitlines()
        out = lines[-2].split()
        row.update(import_s=float(out[0]), first_solve_s=float(out[1]), converged=out[2] == "True",
                   kernels=int(out[3]), import_cpu_s=float(out[4]), first_solve_cpu_s=float(out[5]),
                   compile_cpu_s=json.loads(lines[-1]))
    return row


def _median(rows, key):
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else float("nan")


def _print_profile(rows):
    """Per model: each kernel's compile CPU time (median over the empty-cache api runs)."""
    for name in dict.fromkeys(r["model"] for r in rows):
        runs = [r["compile_cpu_s"] for r in rows
                if r["model"] == name and r["kind"] == "api" and r["cache"] == "empty" and r.get("compile_cpu_s")]
        if not runs:
            continue
        kernels = {k for run in runs for k in run}
        times = {k: statistics.median([run.get(k, 0.0) for run in runs]) for k in kernels}
        print(f"\n{name}: compile CPU s per kernel (empty cache), total {sum(times.values()):.2f}")
        for k, t in sorted(times.items(), key=lambda kv: -kv[1]):
            print(f"  {t:6.3f}  {k}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "coldstart.json"))
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement (medians shown)")
    ap.add_argument("--kinds", default="api,cli", help="comma-separated: api, cli")
    ap.add_argument("--models", default=None, help="comma-separated model names (default: all)")
    ap.add_argument("--jit", default="auto,compile",
                    help="comma-separated FIXEDPOINT_JIT modes to measure: auto (the default of a user's process: "
                         "interpreted first) and/or compile (Numba from the first call, as before tiering)")
    ap.add_argument("--profile", action="store_true", help="print each kernel's compile CPU time (api, empty cache)")
    args = ap.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    jits = [j for j in args.jit.split(",") if j]
    if not set(kinds) <= {"api", "cli"} or args.repeat < 1 or not jits or not set(jits) <= {"auto", "compile"}:
        ap.error("--kinds takes api and/or cli; --jit auto and/or compile; --repeat must be >= 1")
    names = args.models.split(",") if args.models else equations.available()
    rows = []
    print(f"{'model':28s} {'jit':7s} {'kind':4s} {'cache':6s} {'process s':>10s} {'cpu s':>7s} {'import s':>9s} "
          f"{'1st solve s':>12s} {'(cpu s)':>8s} {'kernels':>8s}")
    for name in names:
        params = equations.MODELS[name].examples[0]
        for jit, kind in itertools.product(jits, kinds):
            runs = {"empty": [], "warm": []}
            for _ in range(args.repeat):
                with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out_dir:
                    for label in ("empty", "warm"):
                        r = run(kind, name, params, cache, out_dir, jit)
                        runs[label].append(r)
                        rows.append({"model": name, "params": params, "jit": jit, "kind": kind, "cache": label, **r})
            for label, rs in runs.items():
                print(f"{name:28s} {jit:7s} {kind:4s} {label:6s} {_median(rs, 'process_s'):10.2f} "
                      f"{_median(rs, 'process_cpu_s'):7.2f} {_median(rs, 'import_s'):9.2f} "
                      f"{_median(rs, 'first_solve_s'):12.2f} {_median(rs, 'first_solve_cpu_s'):8.2f} "
                      f"{_median(rs, 'kernels'):8.0f}")
    if args.profile:
        _print_profile(rows)
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        import numba
        import numpy

        env.update(numba=numba.__version__, numpy=numpy.__version__)
    except ImportError:
        pass
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"environment": env, "repeat": args.repeat, "rows": rows}, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
