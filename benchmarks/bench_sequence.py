"""Deep attention (``equations.sequence``): the two layer thresholds at one skip strength (issue 16).

* ``alpha_2`` (layer 2 learned first): :func:`equations.sequence.deep_linearisation` at ``Q = 0``;
* ``alpha_1`` (the staircase threshold of layer 1 on the ``Q_22`` branch):
  :func:`equations.sequence.deep_staircase` with its defaults (a coarse root search, then one
  evaluation of the fine rules at that root and a step to theirs, the outer average split over
  two threads), against the old way: Brent's method on the fine rules themselves, one thread
  (``coarse=None, workers=1``), which lands on the same root (the difference is in the JSON).

Wall and CPU times (``time.process_time`` sums over threads) after a warm-up that compiles or loads
the kernels. The machine is shared in development: wall times on a loaded machine are upper
bounds, CPU times are less affected. Writes JSON to benchmarks/results/sequence.json.

    python benchmarks/bench_sequence.py [--out PATH] [--quick] [--skip C]

``--quick`` leaves out the old way (it takes several minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from equations.sequence import deep_linearisation, deep_staircase


def clocked(f):
    t, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - t, time.process_time() - c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sequence.json"))
    ap.add_argument("--quick", action="store_true", help="leave out the old way (Brent on the fine rules)")
    ap.add_argument("--skip", type=float, default=1.0, help="skip strength c")
    args = ap.parse_args(argv)
    c = args.skip
    res = {"machine": platform.platform(), "cpus": os.cpu_count(), "skip": c}
    if hasattr(os, "getloadavg"):
        res["load_average_before"] = os.getloadavg()
    # compile / load the kernels
    _, t_warm, _ = clocked(lambda: deep_staircase(c, n_teacher=4, n_gl=3, n_eta=3, n_z=8, coarse=(4, 3, 3, 8)))
    deep_linearisation(c, n_h=8, n_z=8)
    res["kernel_compile_or_load_s"] = t_warm
    lin, w2, c2 = clocked(lambda: deep_linearisation(c))
    res["alpha_2"] = {"value": lin["alpha_2"], "wall_s": w2, "cpu_s": c2}
    st, w1, c1 = clocked(lambda: deep_staircase(c))
    res["alpha_1"] = {"value": st["alpha_1"], "q": st["q"], "lambda_12": st["lambda_12"],
                      "newton_step": st["newton_step"], "coarse_evaluations": st["coarse_evaluations"],
                      "wall_s": w1, "cpu_s": c1}
    res["both_wall_s"] = w1 + w2
    print(f"c = {c}: alpha_2 = {lin['alpha_2']:.6f} ({w2:.1f} s wall, {c2:.1f} s CPU), "
          f"alpha_1 = {st['alpha_1']:.5f} at q = {st['q']:.5f} ({w1:.1f} s wall, {c1:.1f} s CPU)")
    if not args.quick:
        old, wo, co = clocked(lambda: deep_staircase(c, coarse=None, workers=1))
        res["alpha_1_old_way"] = {"value": old["alpha_1"], "q": old["q"], "evaluations": old["coarse_evaluations"],
                                  "wall_s": wo, "cpu_s": co, "ratio_wall_old_over_new": wo / w1,
                                  "difference": st["alpha_1"] - old["alpha_1"]}
        print(f"old way (Brent on the fine rules, one thread): alpha_1 = {old['alpha_1']:.5f} "
              f"({wo:.1f} s wall, {co:.1f} s CPU): {wo / w1:.1f}x the wall time")
    if hasattr(os, "getloadavg"):
        res["load_average_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
