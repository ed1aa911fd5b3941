"""Cold start: import plus first solve of each registered model, with and without the Numba cache.

Each measurement is a fresh Python process (``python -c``), timed from the outside:

* "empty cache": ``NUMBA_CACHE_DIR`` points at a new empty folder, so every kernel the solve
  touches is compiled;
* "warm cache": the same folder again, so the kernels are loaded from disk.

Prints a table and writes JSON to benchmarks/results/coldstart.json.

    python benchmarks/bench_coldstart.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import equations

SCRIPT = """
import time
t0 = time.perf_counter()
import equations, fixedpoint
t1 = time.perf_counter()
model = equations.get({name!r}, **{params!r})
sol = fixedpoint.solve(model, start="informed")
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, sol.converged)
"""


def run(name, params, cache):
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(name=name, params=params)], env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    total = time.perf_counter() - t
    return {"process_s": total, "import_s": float(out[0]), "first_solve_s": float(out[1]),
            "converged": out[2] == "True"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "coldstart.json"))
    args = ap.parse_args(argv)
    rows = []
    print(f"{'model':28s} {'cache':6s} {'process s':>10s} {'import s':>9s} {'1st solve s':>12s}")
    for name in equations.available():
        params = equations.MODELS[name].examples[0]
        with tempfile.TemporaryDirectory() as cache:
            for label in ("empty", "warm"):
                r = run(name, params, cache)
                rows.append({"model": name, "params": params, "cache": label, **r})
                print(f"{name:28s} {label:6s} {r['process_s']:10.2f} {r['import_s']:9.2f} {r['first_solve_s']:12.2f}")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
