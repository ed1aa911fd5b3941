"""Finite-size simulations that ``multi_index.ipynb`` and ``sequence.ipynb`` compare with the state
evolution, stored in ``notebooks/simulations.json`` (the documentation build executes the notebooks,
and these runs took two to three minutes of its time; the tests run smaller ones):

* ``committee``: Bayes-optimal GAMP for the ``K = 2`` sign committee (Gaussian weights), ``d =
  1000``, seeds 0-2, at ``alpha = 1`` (non-specialised) and ``3`` (specialised): the 0/1
  generalisation error of each run (:meth:`equations.multi_index.MultiIndex.simulate`);
* ``attention``: GAMP for the single tied softmax attention (``L = 2``), ``d = 1000``, seeds 0-2,
  at ``alpha = 0.3, 0.4``: the overlap of each run (``sequence_multi_index``, ``target =
  "attention"``);
* ``dot_product_attention``: full-batch L-BFGS on the empirical loss of the positional/semantic
  model (``omega = 0.3``, defaults otherwise), ``d = 300``, seeds 0-2, from each start at ``alpha =
  1.0, 1.8``: the training objective (``energy``) of each run;
* ``norm2``: Bayes-optimal GAMP for ``y = |z|^2 + noise`` (noise 0.1) at ``p = 3`` (``alpha = 2.5``)
  and ``p = 4`` (``alpha = 3``), ``d = 2000``, seeds 0-3: ``overlap``, ``mse`` and ``label_mse`` of
  each run (about 25 minutes of CPU: GAMP needs ``d = 2000`` for this target, module docstring of
  :mod:`equations._simulate.gamp_multi`).

Run from the repository's top folder (about 30 minutes of CPU; ``--only NAME`` recomputes one
section and keeps the others)::

    python notebooks/_simulations.py [--only norm2]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import equations

PATH = Path(__file__).resolve().parent / "simulations.json"
SEEDS = (0, 1, 2)


def committee():
    out = []
    for alpha in (1.0, 3.0):
        m = equations.get("multi_index", target="committee", p=2, alpha=alpha)
        out.append({"alpha": alpha, "d": 1000, "gen_error": [m.simulate(1000, s)["gen_error"] for s in SEEDS]})
    return out


def attention():
    out = []
    for alpha in (0.3, 0.4):
        m = equations.get("sequence_multi_index", target="attention", alpha=alpha)
        out.append({"alpha": alpha, "d": 1000, "overlap": [m.simulate(1000, s)["overlap"] for s in SEEDS]})
    return out


def dot_product_attention():
    out = []
    for start in ("positional", "semantic"):
        for alpha in (1.0, 1.8):
            m = equations.get("dot_product_attention", omega=0.3, alpha=alpha)
            out.append({"start": start, "alpha": alpha, "omega": 0.3, "d": 300,
                        "energy": [m.simulate(300, s, start=start)["energy"] for s in SEEDS]})
    return out


def norm2():
    out = []
    for p, alpha in ((3, 2.5), (4, 3.0)):
        m = equations.get("multi_index", target="norm2", p=p, alpha=alpha, noise=0.1)
        runs = [m.simulate(2000, s) for s in range(4)]
        out.append({"p": p, "alpha": alpha, "noise": 0.1, "d": 2000, "seeds": list(range(4)),
                    **{k: [r[k] for r in runs] for k in ("overlap", "mse", "label_mse")}})
    return out


SECTIONS = {"committee": committee, "attention": attention, "dot_product_attention": dot_product_attention,
            "norm2": norm2}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=tuple(SECTIONS), help="recompute this section only, keeping the others")
    args = ap.parse_args(argv)
    data = {"seeds": list(SEEDS), "python": platform.python_version()}
    if args.only:
        data = json.loads(PATH.read_text())
    for name, fun in SECTIONS.items():
        if args.only and name != args.only:
            continue
        t = time.process_time()
        data[name] = fun()
        data[f"{name}_cpu_seconds"] = round(time.process_time() - t, 1)
        print(name, data[f"{name}_cpu_seconds"], "s", flush=True)
    PATH.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
