"""A user-defined channel (``equations.custom``) next to the built-in one: first-call and warm cost.

The same noisy sign channel, ``P(y | z) = H(-y z / sqrt(noise))``, once built in (``channel="sign"``)
and once written by a user as a ``@custom.likelihood`` cfunc in their own module (the probit,
``width = sqrt(noise)``), solved for ``glm_bayes(prior="gaussian", alpha=2, noise=0.1)``. Each
"first call" is a fresh Python process timed from the inside (import excluded):

* "empty cache": ``NUMBA_CACHE_DIR`` is a new empty folder: the toolkit's kernels, and the user's
  cfunc, are compiled;
* "warm cache": a second process with the same folder: everything is loaded from disk (the
  toolkit's kernels take the user's function as a first-class function argument, so they are
  compiled once per signature, not once per user function or per process).

"warm" is the median of repeated solves inside the second process (new model objects, so that no
result is memoised), and "one map call" the median cost of one state-evolution evaluation (the
channel integrals) or of one ERM map (``update``). The same for ``glm_erm`` with the logistic loss,
built in and as three ``@custom.loss`` cfuncs (``loss``, ``dloss``, ``d2loss``; prox by Newton).

    python benchmarks/bench_custom.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

USER = '''
import math
from equations import custom

@custom.likelihood
def probit(y, z, noise, theta):
    return 0.5 * math.erfc(-y * z / math.sqrt(2.0 * noise))

@custom.loss
def logistic(y, z, theta):
    u = -y * z
    return u + math.log1p(math.exp(-u)) if u > 0.0 else math.log1p(math.exp(u))

@custom.loss
def dlogistic(y, z, theta):
    u = y * z
    s = math.exp(-u) / (1.0 + math.exp(-u)) if u > 0.0 else 1.0 / (1.0 + math.exp(u))
    return -y * s

@custom.loss
def d2logistic(y, z, theta):
    s = 1.0 / (1.0 + math.exp(-abs(y * z)))
    return y * y * s * (1.0 - s)
'''

RUN = '''
import json, math, statistics, sys, time
t0 = time.perf_counter()
import equations, fixedpoint
from equations import custom
t_import = time.perf_counter() - t0
which = sys.argv[1]
def model(alpha=2.0):
    import bench_user as u
    if which == "custom":
        ch = custom.CustomChannel(likelihood=u.probit, width=math.sqrt(0.1))
        return equations.get("glm_bayes", channel=ch, noise=0.1, alpha=alpha)
    if which == "sign":
        return equations.get("glm_bayes", channel="sign", noise=0.1, alpha=alpha)
    loss = "logistic" if which == "logistic" else custom.CustomLoss(
        loss=u.logistic, dloss=u.dlogistic, d2loss=u.d2logistic, labels="binary")
    return equations.get("glm_erm", loss=loss, channel="sign", noise=0.1, alpha=alpha, reg=0.1)
t = time.perf_counter(); sol = fixedpoint.solve(model()); first = time.perf_counter() - t
warm = []
for k in range(3):
    m = model(2.0 + 1e-9 * (k + 1))
    t = time.perf_counter(); fixedpoint.solve(m); warm.append(time.perf_counter() - t)
mod = model()
se = []
for k in range(20):
    t = time.perf_counter()
    if which in ("sign", "custom"):
        mod._channel.se_integrals(0.5 + 1e-3 * k, 0.5)
    else:
        mod.update([0.5, 0.5 + 1e-3 * k, 1.0])
    se.append(time.perf_counter() - t)
t = time.perf_counter(); sw = fixedpoint.sweep(model(), "alpha", [1.5 + 0.1 * k for k in range(10)])
sweep = (time.perf_counter() - t) / 10
print(json.dumps({"import": t_import, "first": first, "warm": statistics.median(warm),
                  "se": statistics.median(se), "q": sol["q"], "sweep_per_point": sweep}))
'''


def run(which, cache, folder):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(folder), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", RUN, which], capture_output=True, text=True, env=env, check=True,
                         cwd=folder)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "custom.json"))
    ap.add_argument("--models", default="sign,custom,logistic,custom_logistic",
                    help="comma-separated subset of sign, custom, logistic, custom_logistic")
    args = ap.parse_args()
    models = [w for w in args.models.split(",") if w]
    rows = {}
    for which in models:
        res = {"empty": [], "warm": []}
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                (folder / "bench_user.py").write_text(USER)
                res["empty"].append(run(which, folder / "cache", folder))
                res["warm"].append(run(which, folder / "cache", folder))
        rows[which] = res
    med = statistics.median
    print(f"{'model':<24}{'first (empty cache)':>22}{'first (warm cache)':>21}{'warm solve':>13}{'one map call':>14}"
          f"{'sweep, per point':>18}")
    for which, label in (("sign", "glm_bayes, sign"), ("custom", "glm_bayes, cfunc probit"),
                         ("logistic", "glm_erm, logistic"), ("custom_logistic", "glm_erm, cfunc logistic")):
        if which not in rows:
            continue
        r = rows[which]
        print(f"{label:<24}{med(x['first'] for x in r['empty']):>20.3f} s{med(x['first'] for x in r['warm']):>19.3f} s"
              f"{med(x['warm'] for x in r['warm']):>11.4f} s{1e3 * med(x['se'] for x in r['warm']):>11.3f} ms"
              f"{med(x['sweep_per_point'] for x in r['warm']):>16.4f} s")
    for a, b in (("custom", "sign"), ("custom_logistic", "logistic")):
        if a not in rows or b not in rows:
            continue
        dq = rows[a]["warm"][0]["q"] - rows[b]["warm"][0]["q"]
        print(f"fixed point q: {a} - {b} = {dq:.1e}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
