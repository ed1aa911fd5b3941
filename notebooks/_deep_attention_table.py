"""Compute the table of deep-attention layer thresholds over the skip strength ``c`` that
``notebooks/sequence.ipynb`` plots (``notebooks/deep_attention_thresholds.json``).

    python notebooks/_deep_attention_table.py                 # alpha_2, alpha^(0)_1 at every c (a minute)
    python notebooks/_deep_attention_table.py --staircase 0.01 # add / replace the staircase alpha_1 at c
    python notebooks/_deep_attention_table.py --staircase 0.25 --rules 12,4,4,48   # other fine rules

``alpha_2`` and ``alpha^(0)_1`` come from :func:`equations.sequence.deep_linearisation` with its
default rules (graded below ``c = 0.5``; six digits or better), the staircase threshold ``alpha_1``
of the first layer from :func:`equations.sequence.deep_staircase` with its default rules (the outer
rule in ``z_1*`` in softmax coordinates; below ``c = 0.5`` the inner rule in ``z_1`` is graded,
with 8 ``eta`` nodes per axis, and an evaluation is several times dearer than at ``c = 1``), one
``c`` per call: on two cores under 10 s at ``c >= 0.5``, 20 to 35 s for ``0.01 <= c < 0.5``, 30 to
50 s below (the lighter rules in ``z_2*`` there, ``equations.sequence._STAIR_LIGHT_Z2``;
``benchmarks/README.md``). The staircase rows keep the other rows of the file, and record their
rules (``--rules`` passes other fine rules).
"""

from __future__ import annotations

import json
import pathlib
import sys
import time

from equations.sequence import deep_linearisation, deep_staircase

HERE = pathlib.Path(__file__).parent
PATH = HERE / "deep_attention_thresholds.json"
SKIPS = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0,
         3.0, 4.0)


def linear_rows():
    rows = []
    for c in SKIPS:
        lin = deep_linearisation(c)
        rows.append({"c": c, "alpha_2": lin["alpha_2"], "alpha_1_zero": lin["alpha_1"], "alpha_12": lin["alpha_12"]})
    return rows


def staircase_row(c, fine=None):
    """The staircase threshold at ``c`` with the default rules of :func:`deep_staircase` (``fine``:
    other fine rules ``(n_teacher, n_gl, n_eta, n_z)``)."""
    kw = {"xtol": 1e-5}
    if fine is not None:
        kw.update(zip(("n_teacher", "n_gl", "n_eta", "n_z"), fine))
    t, w = time.process_time(), time.perf_counter()
    r = deep_staircase(c, **kw)
    return {"c": c, "alpha_1": r["alpha_1"], "q": r["q"], "lambda_12": r["lambda_12"],
            "alpha_1_direct": r["alpha_1_direct"], "growth_direct": r["growth_direct"],
            "rules": kw, "cpu_s": time.process_time() - t, "wall_s": time.perf_counter() - w}


def main(argv):
    table = json.loads(PATH.read_text()) if PATH.exists() else {"linear": [], "staircase": []}
    if "--staircase" in argv:
        c = float(argv[argv.index("--staircase") + 1])
        fine = None
        if "--rules" in argv:
            fine = tuple(int(v) for v in argv[argv.index("--rules") + 1].split(","))
        row = staircase_row(c, fine)
        table["staircase"] = sorted([r for r in table["staircase"] if r["c"] != c] + [row], key=lambda r: r["c"])
    else:
        table["linear"] = linear_rows()
    PATH.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
