"""Build notebooks/mixtures.ipynb (outputs cleared). Run: python notebooks/_build_mixtures.py
Add --execute to run it with nbclient as a check (the committed notebook has no outputs)."""

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

from _nbbuild import execute, write

cells = []


def md(s):
    cells.append(new_markdown_cell(s.strip()))


def code(s):
    cells.append(new_code_cell(s.strip()))


md(r"""
# Classifying two Gaussian clouds

Data $x = y\,\mu/\sqrt d + \sqrt\Delta\, z$ with $\mu \sim N(0, I_d)$, labels $y=\pm1$,
$P(y=+1) = $ `balance`, $n = \alpha d$ samples (Mignacco, Krzakala, Lu, Zdeborová, ICML 2020).

* `gmm_bayes`: the Bayes-optimal classifier, in closed form for every balance;
* `gmm_erm`: $\min_{w,b} \sum_\nu \ell(y_\nu, x_\nu\cdot w/\sqrt d + b) + \frac\lambda2\|w\|^2$,
  replica equations of $(m, q, V, b)$ with the bias $b$ solved jointly as an order parameter.

This notebook checks:

1. learning curves of square, logistic and hinge losses against the Bayes-optimal error, with
   finite-size fits;
2. ridge with a large penalty reaches the Bayes-optimal error (balanced clusters), with
   `fixedpoint.optimize`;
3. on imbalanced clusters, the fitted bias: what it does to each cluster's error.

Every claim is asserted.
""")

code(r"""
import math
import numpy as np
import matplotlib.pyplot as plt

import fixedpoint
import equations
from equations.mixtures import GMMERM
from fixedpoint.plotting import FIGSIZE

get = equations.get
LABELS = GMMERM.labels
""")

md(r"""
## 1. Learning curves

Balanced clusters, $\Delta = 1$, $\lambda = 0.1$, no bias (by symmetry the fitted bias is 0).
The sweeps use warm starts (the problem is convex); each point is also fitted on instances of
size $d = 300$ (scikit-learn's exact SVM and L-BFGS), three seeds.
""")

code(r"""
alphas = np.geomspace(0.3, 10, 25)
noise, reg = 1.0, 0.1
curves = {loss: fixedpoint.sweep(get("gmm_erm", loss=loss, alpha=1.0, reg=reg, noise=noise), "alpha", alphas)
          for loss in ("square", "logistic", "hinge")}
bayes = fixedpoint.sweep(get("gmm_bayes", alpha=1.0, noise=noise), "alpha", alphas)
for loss, sw in curves.items():
    assert sw.converged.all(), loss
    # no estimator beats the Bayes-optimal one
    assert np.all(sw.observables["gen_error"] >= bayes.observables["gen_error"] - 1e-12), loss

sims = {}
for loss in curves:
    for a in (0.5, 2.0, 6.0):
        m = get("gmm_erm", loss=loss, alpha=a, reg=reg, noise=noise)
        errs = np.array([m.simulate(300, s)["gen_error"] for s in range(3)])
        sims[loss, a] = (errs.mean(), errs.std(ddof=1) / math.sqrt(3))
        th = fixedpoint.solve(m)["gen_error"]
        print(f"{loss:8s} alpha={a:4.1f}  theory {th:.4f}   simulation {errs.mean():.4f} +- {sims[loss, a][1]:.4f}")
        assert abs(errs.mean() - th) < 4 * sims[loss, a][1] + 0.01
""")

code(r"""
fig, ax = plt.subplots(figsize=FIGSIZE["single"])
styles = {"square": "C0-", "logistic": "C1--", "hinge": "C2-."}
for loss, sw in curves.items():
    ax.plot(alphas, sw.observables["gen_error"], styles[loss], label=loss)
    pts = [(a, *sims[loss, a]) for a in (0.5, 2.0, 6.0)]
    ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], fmt=styles[loss][:2] + "o",
                ms=3, capsize=2)
ax.plot(alphas, bayes.observables["gen_error"], "k:", label="Bayes-optimal")
ax.set_xscale("log")
ax.set_xlabel(LABELS["alpha"])
ax.set_ylabel(LABELS["gen_error"])
ax.set_title(rf"$\Delta = {noise:g}$, $\lambda = {reg:g}$ (points: $d = 300$)", fontsize=8)
ax.legend(fontsize=7, frameon=False)
fig.tight_layout()
""")

md(r"""
## 2. Ridge reaches the Bayes-optimal error

For balanced clusters the Bayes-optimal classifier is the direction of the posterior mean of $\mu$,
$\sum_\nu y_\nu x_\nu$ (Hebbian); ridge tends to it as $\lambda \to \infty$ (Mignacco et al.
2020). `fixedpoint.optimize` finds the optimal penalty on a bounded log range: the optimum is at
its upper end, and its error equals the closed form $H\big(\sqrt{\alpha/(\Delta(\alpha+\Delta))}\big)$.
""")

code(r"""
from scipy.stats import norm

for a in (0.5, 2.0):
    best = fixedpoint.optimize(get("gmm_erm", loss="square", alpha=a, reg=1.0, noise=noise), "reg", "gen_error",
                               (1e-2, 1e4), log=True)
    closed = norm.sf(math.sqrt(a / (noise * (a + noise))))
    print(f"alpha={a}: optimal reg {best.value:.4g}, error {best.minimum:.6f}; Bayes-optimal {closed:.6f}")
    assert best.value > 1e3 and abs(best.minimum - closed) < 1e-4
""")

md(r"""
## 3. Imbalanced clusters: the bias

With `balance = 0.2` the minority cluster is $y=+1$. Without a bias the classifier
$\mathrm{sign}(w\cdot x)$ treats the clusters alike; the fitted bias $b$ shifts the boundary
toward the minority cluster: its error grows, the majority's shrinks, and the overall error drops.
""")

code(r"""
balance = 0.2
with_b = fixedpoint.sweep(get("gmm_erm", loss="logistic", alpha=1.0, reg=reg, noise=noise, balance=balance,
                              bias=True), "alpha", alphas)
no_b = fixedpoint.sweep(get("gmm_erm", loss="logistic", alpha=1.0, reg=reg, noise=noise, balance=balance),
                        "alpha", alphas)
opt = fixedpoint.sweep(get("gmm_bayes", alpha=1.0, noise=noise, balance=balance), "alpha", alphas)
assert with_b.converged.all() and no_b.converged.all()
assert np.all(with_b.observables["gen_error"] < no_b.observables["gen_error"])
assert np.all(with_b.observables["b"] < 0)          # toward the minority cluster y = +1
assert np.all(with_b.observables["gen_error_plus"] > with_b.observables["gen_error_minus"])
m = get("gmm_erm", loss="logistic", alpha=2.0, reg=reg, noise=noise, balance=balance, bias=True)
sim = [m.simulate(400, s) for s in range(3)]
th = fixedpoint.solve(m).observables
for key in ("b", "gen_error_plus", "gen_error_minus"):
    vals = np.array([s[key] for s in sim])
    print(f"{key:16s} theory {th[key]:+.4f}   simulation {vals.mean():+.4f} +- {vals.std(ddof=1) / math.sqrt(3):.4f}")
    assert abs(vals.mean() - th[key]) < 4 * vals.std(ddof=1) / math.sqrt(3) + 0.02

fig, ax = plt.subplots(figsize=(3.4, 3.3))
ax.plot(alphas, no_b.observables["gen_error"], "C0--", label="no bias")
ax.plot(alphas, with_b.observables["gen_error"], "C0-", label="fitted bias")
ax.plot(alphas, with_b.observables["gen_error_plus"], "C3-", lw=0.8, label=r"fitted bias, cluster $y=+1$")
ax.plot(alphas, with_b.observables["gen_error_minus"], "C2-", lw=0.8, label=r"fitted bias, cluster $y=-1$")
ax.plot(alphas, opt.observables["gen_error"], "k:", label="Bayes-optimal")
ax.set_xscale("log")
ax.set_xlabel(LABELS["alpha"])
ax.set_ylabel("test error")
ax.set_title(rf"logistic, $P(y=+1) = {balance}$, $\lambda = {reg:g}$", fontsize=8)
ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
fig.tight_layout()
""")

path = Path(__file__).resolve().parent / "mixtures.ipynb"
write(cells, path, "mixtures")
if "--execute" in sys.argv:
    execute(path)
