"""Compute the layer-by-layer learning curves of deep attention (``c = 1``) that
``notebooks/sequence.ipynb`` plots (``notebooks/deep_attention_gamp.json``).

    python notebooks/_deep_attention_gamp.py          # everything (about 15 minutes of CPU)
    python notebooks/_deep_attention_gamp.py --se     # only the state evolution's sub-branch
    python notebooks/_deep_attention_gamp.py --gamp   # only the GAMP points

GAMP (:func:`equations._simulate.gamp_deep_attention.simulate_deep_attention`, default denoiser
rule) at ``d = D`` for ``SEEDS`` seeds per ``alpha`` in ``ALPHAS`` (from below ``alpha_2 =
0.185478`` to past the staircase ``alpha_1 = 0.71965``), ``max_iter = MAX_ITER``, ``tol = TOL``;
each point stores the mean and standard error over the seeds of ``Q_11``, ``Q_22``, ``Q_12``,
``q_22`` (Nishimori), the iterations, the number of converged runs and, for the first seed, the
trace of ``Q_11`` and ``Q_22`` over the iterations. The state evolution on the invariant sub-branch
``Q_11 = Q_12 = 0`` (:func:`equations.sequence.deep_subbranch`) at the ``q`` of ``QS``: ``alpha_q``
(the ``alpha`` at which ``Q_22 = q``) and the growth rate ``alpha_q K_1`` of ``Q_11``, on the
teacher route with its default rules (1e-4 in ``K_2`` at ``q = 0.5``, its docstring).
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import time

import numpy as np

from equations._simulate.gamp_deep_attention import simulate_deep_attention
from equations.sequence import deep_linearisation, deep_subbranch

HERE = pathlib.Path(__file__).parent
PATH = HERE / "deep_attention_gamp.json"
SKIP = 1.0
ALPHAS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1)
D = 400
SEEDS = (0, 1, 2)
MAX_ITER = 120
TOL = 1e-3
QS = (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95, 0.97)
KEYS = ("Q_11", "Q_22", "Q_12", "q_11", "q_22", "C_22", "rho_1", "rho_2", "iterations")


def se_rows():
    rows = []
    for q in QS:
        t = time.process_time()
        r = deep_subbranch(SKIP, q, route="truth", workers=2)
        route = "truth"
        rows.append({"q": q, "alpha_q": r["alpha_q"], "growth_1": r["growth_1"], "route": route,
                     "cpu_s": time.process_time() - t})
        print(f"SE q = {q}: alpha_q = {r['alpha_q']:.5f}, growth_1 = {r['growth_1']:.4f} "
              f"({rows[-1]['cpu_s']:.1f} s)", flush=True)
    return rows


def gamp_rows():
    rows = []
    for alpha in ALPHAS:
        t = time.process_time()
        runs = [simulate_deep_attention(SKIP, alpha, D, seed, max_iter=MAX_ITER, tol=TOL, trace=(seed == SEEDS[0]))
                for seed in SEEDS]
        row = {"alpha": alpha, "d": D, "seeds": list(SEEDS), "converged": int(sum(r["converged"] for r in runs))}
        for k in KEYS:
            v = np.array([r[k] for r in runs])
            row[k] = float(v.mean())
            row[k + "_sem"] = float(v.std(ddof=1) / math.sqrt(v.size))
        row["trace_Q_11"] = [round(v, 5) for v in runs[0]["trace_Q_11"]]
        row["trace_Q_22"] = [round(v, 5) for v in runs[0]["trace_Q_22"]]
        row["cpu_s"] = time.process_time() - t
        rows.append(row)
        print(f"GAMP alpha = {alpha}: Q_11 = {row['Q_11']:.4f} +- {row['Q_11_sem']:.4f}, Q_22 = {row['Q_22']:.4f} "
              f"+- {row['Q_22_sem']:.4f}, q_22 = {row['q_22']:.4f}, iterations {row['iterations']:.0f}, "
              f"converged {row['converged']}/{len(SEEDS)} ({row['cpu_s']:.1f} s)", flush=True)
    return rows


def main(argv):
    data = json.loads(PATH.read_text()) if PATH.exists() else {}
    # the thresholds: alpha_2 (six digits, under a second) and the stored staircase alpha_1 at c = 1
    stair = json.loads((HERE / "deep_attention_thresholds.json").read_text())["staircase"]
    alpha_1 = next(r["alpha_1"] for r in stair if r["c"] == SKIP)
    data.update({"skip": SKIP, "alpha_2": deep_linearisation(SKIP)["alpha_2"], "alpha_1_staircase": alpha_1,
                 "gamp_options": {"d": D, "seeds": list(SEEDS), "max_iter": MAX_ITER, "tol": TOL}})
    if "--gamp" not in argv:
        data["se"] = se_rows()
    if "--se" not in argv:
        data["gamp"] = gamp_rows()
    PATH.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main(sys.argv[1:])
