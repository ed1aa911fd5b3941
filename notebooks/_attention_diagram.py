"""The positional / semantic phase diagram of ``dot_product_attention`` on an ``(omega, alpha)``
grid, from both starts, into ``notebooks/attention_diagram.npz``, which ``sequence.ipynb`` draws.

Each grid point is solved from the positional and from the semantic start (a phase diagram of the
engine per start: rows along ``omega``, each row a checked warm-started sweep along ``alpha``;
the semantic one runs down in ``alpha``, so that it follows the semantic branch from where it is
the global minimiser down to where it ends). The global minimiser of the empirical loss is the
branch of larger free entropy (minus the training objective); the first-order line is where the
two cross. The grid is the 30 x 30 of ``benchmarks/bench_escape.py``. At 8 teacher nodes
(``alpha_c`` within 3e-3 of the default 16: the model's docstring) this takes about ten minutes on
two workers (``benchmarks/README.md``), too long for a notebook that the documentation build
executes. The two diagrams run at once, from two threads, on one pool of worker processes (the
pool ``phase_diagram`` starts itself: each worker's model on its share of the cores), so
that the rows of both starts share the workers to the end: run one after the other, each
diagram's last rows left a worker idle, and its first row ran alone in this process (675 s
against 622 s for the same rows in one pool, 2026-12-02). Run from the repository's top folder::

    python notebooks/_attention_diagram.py [workers]

Rows are checkpointed in ``/tmp/attention_diagram_<start>`` (a rerun resumes).
"""

import concurrent.futures as cf
import sys
import time
from pathlib import Path

import numpy as np

import equations
import fixedpoint
from fixedpoint import _jit
from fixedpoint.diagram import _process_pool

PATH = Path(__file__).resolve().parent / "attention_diagram.npz"
NODES = 8
OMEGAS = np.round(np.linspace(0.0, 0.55, 30), 10)
ALPHAS = np.round(np.linspace(0.2, 3.2, 30), 10)
STARTS = {"positional": ALPHAS, "semantic": ALPHAS[::-1]}


def main(workers):
    model = equations.get("dot_product_attention", omega=0.3, alpha=1.0, nodes=NODES)
    out = {"omega": OMEGAS, "alpha": ALPHAS, "nodes": NODES, "sigma": model.sigma, "reg": model.reg}
    # the kernels compiled (or loaded from the cache) once, here, before the pool forks its workers
    _jit.compile_now()
    fixedpoint.solve(model, start="semantic")
    t = time.perf_counter()
    # the pool phase_diagram(executor=workers) would start itself, shared by both diagrams
    with _process_pool(workers) as pool, \
            cf.ThreadPoolExecutor(len(STARTS)) as callers:
        diagrams = {start: callers.submit(fixedpoint.phase_diagram, model, {"omega": OMEGAS, "alpha": alphas},
                                          start=start, executor=pool, checkpoint=f"/tmp/attention_diagram_{start}")
                    for start, alphas in STARTS.items()}
        for start, alphas in STARTS.items():
            d = diagrams[start].result()
            order = np.argsort(alphas)        # stored in increasing alpha
            out[f"{start}_x"] = d.x[:, order]
            out[f"{start}_converged"] = d.converged[:, order]
            out[f"{start}_evaluations"] = d.evaluations[:, order]
            for k in ("free_entropy", "test_error"):
                out[f"{start}_{k}"] = np.asarray(d.observables[k])[:, order]
            print(start, int(d.evaluations.sum()), "evaluations,", int(d.converged.sum()), "of", d.converged.size,
                  "converged", flush=True)
    out["seconds"] = time.perf_counter() - t
    print(f"both starts: {out['seconds']:.0f} s on {workers} workers", flush=True)
    out["names"] = np.array(model.state_names)
    np.savez(PATH, **out)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
