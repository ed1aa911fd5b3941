"""Multi-dimensional Gaussian expectations: fixedpoint.gaussian against scipy's nquad (ratios).

For ``E exp(a.x) cos(b.x)``, ``x ~ N(mean, cov)`` in ``p = 2, 3, 4`` dimensions (a correlated,
non-singular covariance), whose value is known in closed form
(``Re exp(i b.mean + (a + i b)^T cov (a + i b) / 2 ... )``, computed below), both methods are
run to an error below 1e-10: ``expect_nd`` (tensor Gauss-Hermite for ``p <= 3``, sparse grid for
``p = 4``) and ``scipy.integrate.nquad`` on the density over ``mean +- 9 sd`` per axis. The
ratio of wall times is the figure. Writes JSON to benchmarks/results/gaussian.json.

    python benchmarks/bench_gaussian.py [--out PATH] [--nquad-4d]
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

from fixedpoint import gaussian as G


def exact(a, b, mean, cov):
    """E exp(a.x) cos(b.x) = Re E exp((a + i b).x) = Re exp(c.mean + c^T cov c / 2), c = a + i b."""
    c = a + 1j * b
    return float(np.real(np.exp(c @ mean + 0.5 * c @ cov @ c)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gaussian.json"))
    ap.add_argument("--nquad-4d", action="store_true", help="also run nquad in 4 dimensions (hours)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(1)
    rows = []
    for p, kw in ((2, dict(n=24)), (3, dict(n=24)), (4, dict(level=8))):
        B = rng.normal(size=(p, p))
        cov = 0.15 * B @ B.T + 0.1 * np.eye(p)
        mean = 0.2 * rng.normal(size=p)
        a, b = 0.4 * rng.normal(size=p), 0.4 * rng.normal(size=p)
        ref = exact(a, b, mean, cov)

        def f(x):
            return np.exp(x @ a) * np.cos(x @ b)

        G.expect_nd(f, mean, cov, **kw)  # rules cached, kernel compiled
        t = time.perf_counter()
        for _ in range(20):
            ours = G.expect_nd(f, mean, cov, **kw)
        t_ours = (time.perf_counter() - t) / 20
        inv, det = np.linalg.inv(cov), np.linalg.det(cov)
        norm = 1.0 / math.sqrt((2 * math.pi) ** p * det)

        def density_f(*x):
            x = np.array(x)
            d = x - mean
            return norm * math.exp(-0.5 * d @ inv @ d) * math.exp(x @ a) * math.cos(x @ b)

        sd = np.sqrt(np.diag(cov))
        ranges = [(m - 9 * s, m + 9 * s) for m, s in zip(mean, sd)]
        t = time.perf_counter()
        if p <= 3 or args.nquad_4d:
            theirs, _ = integrate.nquad(density_f, ranges, opts={"epsabs": 1e-11, "epsrel": 1e-11, "limit": 200})
        else:  # nested adaptive quadrature in 4-D to 1e-10: the p = 3 time to the power 4/3 at least
            theirs = math.nan
        t_theirs = time.perf_counter() - t
        ran = math.isfinite(theirs)
        rows.append({"p": p, "rule": kw, "ours_s": t_ours, "ours_error": abs(ours - ref),
                     "nquad_s": t_theirs if ran else None, "nquad_error": abs(theirs - ref) if ran else None,
                     "ratio": t_theirs / t_ours if ran else None})
        theirs_text = (f"nquad {t_theirs:.2f} s (error {abs(theirs - ref):.1e}): ratio {t_theirs / t_ours:,.0f}"
                       if ran else "nquad not run (--nquad-4d)")
        print(f"p={p} {kw}: ours {t_ours * 1e3:.3f} ms (error {abs(ours - ref):.1e}), {theirs_text}", flush=True)
    report = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
