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
  1.0, 1.8``: the training objective (``energy``) of each run.

Run from the repository's top folder (about 3 minutes of CPU)::

    python notebooks/_simulations.py
"""

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


def main():
    data = {"seeds": list(SEEDS), "python": platform.python_version()}
    for name, fun in (("committee", committee), ("attention", attention),
                      ("dot_product_attention", dot_product_attention)):
        t = time.process_time()
        data[name] = fun()
        data[f"{name}_cpu_seconds"] = round(time.process_time() - t, 1)
        print(name, data[f"{name}_cpu_seconds"], "s", flush=True)
    PATH.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
