"""Tabulate alpha_c(omega) of ``dot_product_attention`` (the default rule: 16 teacher nodes) into
``notebooks/attention_alpha_c.csv``, which ``sequence.ipynb`` plots.

Each threshold takes a few minutes (28-30 solves from the two starts, of about 20 evaluations
each; the table's ``seconds`` were measured on two cores shared with other jobs), too long for a
notebook that the documentation build executes; the notebook
checks one entry of the table instead. Run from the repository's top folder::

    python notebooks/_attention_table.py [omega ...]

Rows already in the file are kept; the omegas given (default 0.2 0.3 0.4) are computed again.
"""

import csv
import sys
import time
from pathlib import Path

import equations
import fixedpoint

PATH = Path(__file__).resolve().parent / "attention_alpha_c.csv"
FIELDS = ("omega", "sigma", "reg", "nodes", "alpha_c", "bracket_lo", "bracket_hi", "converged", "solves", "seconds")
BRACKET = (0.8, 2.0)


def main(omegas):
    rows = {}
    if PATH.exists():
        with PATH.open() as fh:
            rows = {float(r["omega"]): r for r in csv.DictReader(fh)}
    for omega in omegas:
        model = equations.get("dot_product_attention", omega=omega, alpha=1.0)
        t = time.perf_counter()
        thr = fixedpoint.threshold(model, "alpha", BRACKET, kind="first_order")
        rows[omega] = {"omega": omega, "sigma": model.sigma, "reg": model.reg, "nodes": model.nodes,
                       "alpha_c": repr(thr.value), "bracket_lo": BRACKET[0], "bracket_hi": BRACKET[1],
                       "converged": thr.converged, "solves": thr.solves, "seconds": round(time.perf_counter() - t, 1)}
        print(rows[omega], flush=True)
        with PATH.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS)
            w.writeheader()
            for k in sorted(rows):
                w.writerow(rows[k])


if __name__ == "__main__":
    main([float(v) for v in sys.argv[1:]] or [0.2, 0.3, 0.4])
