"""Automatic phase lines against the lines traced by hand (issue targets, never asserted).

The README's main job: the sparse-Rademacher spiked Wigner model over ``rho = 0.02:0.3:60``,
``snr`` in ``[0.05, 2]``.

* the slow way: three ``threshold_line`` calls with the brackets a user had to find
  (``spinodal:0.05:0.999:informed``, ``first_order:0.05:0.999``, ``spinodal:0.99:1.3:uninformed``,
  the README's command before ``--lines auto``), whose lines stop at the last grid value where
  they were found;
* ``phase_lines``: every line found, their ends located to 1e-8, with 1 and 2 worker processes.

Reported: wall time, and the error of where the coexistence lines end against
``equations.spiked_wigner.tricritical_rho`` (an independent computation from the
``overlap(u)/u`` curve). Writes JSON to benchmarks/results/phase_lines.json.

    python benchmarks/bench_phase_lines.py [--out PATH]
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
from equations.spiked_wigner import tricritical_rho


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "phase_lines.json"))
    args = ap.parse_args(argv)
    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.02, snr=0.5)
    rhos = np.linspace(0.02, 0.3, 60)
    rho_c = tricritical_rho("sparse_rademacher", tol=1e-12)
    fp.phase_lines(model, "snr", over={"rho": rhos[:3]}, within=(0.05, 2.0))  # compile / load kernels

    t = time.perf_counter()
    by_hand = [fp.threshold_line(model, "snr", br, over={"rho": rhos}, kind=kind, **kw)
               for kind, br, kw in (("spinodal", (0.05, 0.999), {"start": "informed"}),
                                    ("first_order", (0.05, 0.999), {}),
                                    ("spinodal", (0.99, 1.3), {"start": "uninformed"}))]
    t_hand = time.perf_counter() - t
    end_hand = max(float(np.max(line.over_values[np.isfinite(line.values)])) for line in by_hand)

    rows = [{"method": "threshold_line x 3, hand brackets", "workers": 1, "seconds": t_hand,
             "end_of_lines_rho": end_hand, "error_vs_tricritical_rho": abs(end_hand - rho_c)}]
    for workers in (1, 2):
        t = time.perf_counter()
        pl = fp.phase_lines(model, "snr", over={"rho": rhos}, within=(0.05, 2.0), workers=workers)
        dt = time.perf_counter() - t
        (pt,) = pl.points
        rows.append({"method": "phase_lines", "workers": workers, "seconds": dt, "end_of_lines_rho": pt["rho"],
                     "error_vs_tricritical_rho": abs(pt["rho"] - rho_c), "lines": [l.key for l in pl]})
    print(f"{'method':38s} {'workers':>7s} {'seconds':>8s} {'lines end at rho':>17s} {'error':>9s}")
    for r in rows:
        print(f"{r['method']:38s} {r['workers']:7d} {r['seconds']:8.2f} {r['end_of_lines_rho']:17.10f} "
              f"{r['error_vs_tricritical_rho']:9.2g}")
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              "tricritical_rho": rho_c, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
