"""Compute the table of deep-attention layer thresholds over the skip strength ``c`` that
``notebooks/sequence.ipynb`` plots (``notebooks/deep_attention_thresholds.json``).

    python notebooks/_deep_attention_table.py                 # alpha_2, alpha^(0)_1 at every c (a minute)
    python notebooks/_deep_attention_table.py --staircase 0.01 # add / replace the staircase alpha_1 at c
    python notebooks/_deep_attention_table.py --staircase 0.25 --rules 12,4,3,32   # lighter fine rules

``alpha_2`` and ``alpha^(0)_1`` come from :func:`equations.sequence.deep_linearisation` with its
default rules (graded below ``c = 0.5``; six digits or better), the staircase threshold ``alpha_1``
of the first layer from :func:`equations.sequence.deep_staircase` (:func:`staircase_row`: the
default rules for ``c >= 0.5``; below, the lighter fine rules 16 / 6 / 4 / 48 and coarse rules 6 /
3 / 3 / 24, each evaluation 10 to 25 times dearer than at ``c = 1``), one ``c`` per call: 10 to 30
minutes of CPU each below ``c = 0.5``. The staircase rows keep the other rows of the file, and
record their rules. The stored rows were computed one ``c`` at a time with these calls (at ``c =
0.01`` and ``1e-4`` with ``bracket=(0.7, 0.8)`` passed, which only saves the coarse scan for the
bracket; at ``c = 0.25`` with ``--rules 12,4,3,32``, for time).
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
#: rules (n_teacher, n_gl, n_eta, n_z) and coarse rules of the staircase below c = 0.5
SMALL_C_FINE = (16, 6, 4, 48)
SMALL_C_COARSE = (6, 3, 3, 24)


def linear_rows():
    rows = []
    for c in SKIPS:
        lin = deep_linearisation(c)
        rows.append({"c": c, "alpha_2": lin["alpha_2"], "alpha_1_zero": lin["alpha_1"], "alpha_12": lin["alpha_12"]})
    return rows


def staircase_row(c, fine=None):
    """The staircase threshold at ``c`` with the rules stated in the module docstring (``fine``:
    other fine rules below ``c = 0.5``)."""
    kw = {"workers": 1, "xtol": 1e-4}
    if c < 0.5:
        n_teacher, n_gl, n_eta, n_z = fine or SMALL_C_FINE
        kw.update(n_teacher=n_teacher, n_gl=n_gl, n_eta=n_eta, n_z=n_z, coarse=SMALL_C_COARSE)
    t = time.process_time()
    r = deep_staircase(c, **kw)
    return {"c": c, "alpha_1": r["alpha_1"], "q": r["q"], "lambda_12": r["lambda_12"],
            "alpha_1_direct": r["alpha_1_direct"], "growth_direct": r["growth_direct"],
            "rules": {k: v for k, v in kw.items() if k not in ("workers",)}, "cpu_s": time.process_time() - t}


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
