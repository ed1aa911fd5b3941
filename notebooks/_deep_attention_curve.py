"""The full state evolution of ``deep_attention`` (the registered target of ``sequence_multi_index``)
along ``alpha`` at ``c = 1``, from both starts, into ``notebooks/deep_attention_curve.json``, which
``sequence.ipynb`` draws next to GAMP and the sub-branch.

The map is the quasi-Monte Carlo state evolution at ``2^12`` points (0.35% scatter; the registered
default is ``2^14``), about 0.4 s an evaluation on two cores. Also stored: the first layer's
threshold read off this map, the ``alpha`` at which the eigenvalue of ``Q_11`` on the invariant
sub-branch ``Q_11 = Q_12 = 0`` reaches one (the map's Jacobian there is triangular; central
differences of the engine, ``fixedpoint.solvers.model_jacobian``), by Brent's method: a second route
to the staircase ``alpha_1`` of ``equations.sequence.deep_staircase``. About ten minutes. Run from
the repository's top folder::

    python notebooks/_deep_attention_curve.py
"""

import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

import equations
import fixedpoint
from fixedpoint.solvers import model_jacobian

PATH = Path(__file__).resolve().parent / "deep_attention_curve.json"
SKIP = 1.0
LOG2_POINTS = 12
ALPHAS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.72, 0.76, 0.8, 0.84]


def model(alpha):
    return equations.get("sequence_multi_index", target="deep_attention", skip=SKIP, alpha=alpha,
                         log2_points=LOG2_POINTS)


def sub_branch_growth(alpha, x0):
    """``(eigenvalue of Q_11, Q_22)`` at the sub-branch's fixed point at ``alpha`` (solved on the
    invariant subspace from ``x0``: the map keeps ``Q_11`` and ``Q_12`` at their rounding, 1e-31 and
    1e-18)."""
    m = model(alpha)
    sol = fixedpoint.solve(m, start=x0, solver=fixedpoint.Anderson(check_stability=False))
    assert sol.converged and abs(sol.x[0]) < 1e-20 and abs(sol.x[1]) < 1e-12, sol.message
    return float(model_jacobian(m, sol.x)[0, 0]), sol.x


def main():
    out = {"skip": SKIP, "log2_points": LOG2_POINTS, "alpha": ALPHAS}
    t0 = time.perf_counter()
    alpha_1_map(out)
    m = model(0.5)
    for start, alphas in (("uninformed", ALPHAS), ("informed", ALPHAS[::-1])):
        t = time.perf_counter()
        sw = fixedpoint.sweep(m, "alpha", alphas, start=start)
        order = np.argsort(alphas)
        out[start] = {"x": [[float(v) for v in sw.x[i]] for i in order],
                      "converged": [bool(sw.converged[i]) for i in order],
                      "evaluations": [int(sw.evaluations[i]) for i in order],
                      "messages": [sw.messages[i] for i in order],
                      "seconds": time.perf_counter() - t}
        print(start, f"{out[start]['seconds']:.0f} s", flush=True)
    out["seconds"] = time.perf_counter() - t0
    PATH.write_text(json.dumps(out, indent=1))


def alpha_1_map(out):
    """The first layer's threshold on this map, into ``out``: where the ``Q_11`` eigenvalue of the
    sub-branch reaches one."""
    x0 = np.array([0.0, 0.0, 0.9])
    t = time.perf_counter()
    calls = []

    def f(alpha):
        g, x = sub_branch_growth(alpha, x0)
        calls.append({"alpha": alpha, "growth_1": g, "Q_22": float(x[2])})
        return g - 1.0

    alpha_1 = brentq(f, 0.65, 0.8, xtol=1e-5)
    out["alpha_1_map"] = {"value": alpha_1, "calls": calls, "seconds": time.perf_counter() - t}
    print(f"alpha_1 on the map: {alpha_1:.5f} ({len(calls)} solves, {out['alpha_1_map']['seconds']:.0f} s)",
          flush=True)


if __name__ == "__main__":
    main()
