"""Build notebooks/glm_erm.ipynb (outputs cleared). Run: /work/venv/bin/python notebooks/_build_glm_erm.py
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
# Empirical risk minimisation in the teacher-student GLM

`equations.get("glm_erm", ...)`: replica equations of
$\min_w \sum_\mu \ell(y_\mu, x_\mu\cdot w/\sqrt d) + \frac{\lambda}{2}\|w\|^2$ with Gaussian inputs, a
Gaussian teacher $w^*\sim N(0,\rho I)$ and labels $y = z^* + \sqrt{\Delta}\xi$ (`linear`) or
$y=\mathrm{sign}(z^*+\sqrt\Delta \xi)$ (`sign`); state $(m, q, V)$
(Aubin et al. 2020; Loureiro et al. 2021). This notebook checks:

1. ridge double descent: replica theory = Marchenko-Pastur closed form = finite-size simulation;
2. logistic and hinge learning curves against the Bayes-optimal error (its own state evolution below);
3. optimal regularisation with `fixedpoint.optimize`;
4. Huber and absolute loss against the square loss under heavy-tailed (outlier) noise.

Every claim is asserted.
""")

code(r"""
import math, time
import numpy as np
import matplotlib.pyplot as plt
from scipy import integrate
from scipy.special import log_ndtr

import fixedpoint
import equations
from equations import glm_erm
from equations.glm_erm import ridge_closed_form, separability_threshold
from equations.losses import loss_value
from fixedpoint.plotting import FIGSIZE

LABELS = glm_erm.GLMERM.labels  # physics names for the axes
get = equations.get
""")

md(r"""
## 1. Ridge: the interpolation peak

At vanishing `reg` the square loss interpolates for $\alpha<1$ and its error diverges at $\alpha=1$.
The closed form uses the Marchenko-Pastur resolvent $g = \mathrm{tr}(X^TX/d + \lambda)^{-1}/d$, computed
independently of the replica equations.
""")

code(r"""
noise, rho = 0.1, 1.0
alphas = np.linspace(0.2, 3.0, 57)
curves = {}
for reg in (1e-3, 0.1, 1.0):
    sw = fixedpoint.sweep(get("glm_erm", loss="square", reg=reg, noise=noise), "alpha", alphas)
    assert sw.converged.all()
    closed = np.array([ridge_closed_form(a, reg, rho, noise)["gen_error"] for a in alphas])
    assert np.allclose(sw["gen_error"], closed, rtol=1e-8), np.abs(sw["gen_error"] / closed - 1).max()
    curves[reg] = sw["gen_error"]
peak = alphas[np.argmax(curves[1e-3])]
assert abs(peak - 1.0) < 0.06, peak
assert np.all(np.diff(curves[1.0]) < 0)   # strong regularisation removes the peak: monotone curve
assert curves[1e-3][np.argmin(abs(alphas - 1))] > 1.5 * curves[1.0][np.argmin(abs(alphas - 1))]

# finite size: d = 300, a few seeds at a few alphas
sim_alphas = [0.5, 1.0, 2.0]
sims = {a: [get("glm_erm", loss="square", reg=1e-3, noise=noise, alpha=a).simulate(300, s)["gen_error"]
            for s in range(4)] for a in sim_alphas}
for a in sim_alphas:
    th = ridge_closed_form(a, 1e-3, rho, noise)["gen_error"]
    v = np.array(sims[a]); se = v.std(ddof=1) / 2
    print(f"alpha={a}: theory {th:.4f}  simulation {v.mean():.4f} +- {se:.4f}")
    assert abs(v.mean() - th) < 3 * se + 0.02 * th

fig, ax = plt.subplots(figsize=FIGSIZE["single"])
for reg, c in curves.items():
    ax.semilogy(alphas, c, label=f"{LABELS['reg']} = {reg:g}")
ax.errorbar(sim_alphas, [np.mean(sims[a]) for a in sim_alphas], [np.std(sims[a]) / 2 for a in sim_alphas],
            fmt="o", ms=4, color="k", label=f"simulation, d = 300 ({LABELS['reg']} = 0.001)")
ax.set_xlabel(LABELS["alpha"], fontsize=8); ax.set_ylabel(r"test error $E(y - \hat y)^2$", fontsize=8)
ax.set_ylim(top=20)  # headroom above the interpolation peak for the legend
ax.tick_params(which="both", labelsize=7); ax.legend(fontsize=7, frameon=False, loc="upper right")
fig.tight_layout(); plt.show()
""")

md(r"""
## 2. Classification: logistic and hinge against Bayes-optimal

Bayes-optimal state evolution for the perceptron with Gaussian prior $N(0,\rho)$ and probit noise
(Barbier et al. 2019; Aubin et al. 2020): with $V=\rho-q$ and $x = \sqrt{q/(V+\Delta)}\,\xi$,

$$\hat q = \frac{\alpha}{V+\Delta} E_\xi \frac{\phi(x)^2}{\Phi(x)\Phi(-x)}, \qquad q = \frac{\rho^2\hat q}{1+\rho\hat q},
\qquad \varepsilon_g = \frac1\pi \arccos\sqrt{\frac{q}{\rho+\Delta}}.$$
""")

code(r"""
def bayes_error(alpha, noise=0.0, rho=1.0):
    def F(x):
        q = min(max(x[0], 0.0), rho * (1 - 1e-15))
        s = rho - q + noise
        k = math.sqrt(q / s)
        f = lambda xi: math.exp(-(k * xi) ** 2 - xi * xi / 2 - math.log(2 * math.pi) - log_ndtr(k * xi)
                                - log_ndtr(-k * xi)) / math.sqrt(2 * math.pi)
        qhat = alpha / s * integrate.quad(f, -12, 12, epsabs=1e-13, epsrel=1e-12)[0]
        return np.array([rho * rho * qhat / (1 + rho * qhat)])
    sol = fixedpoint.solve(F, np.array([0.01]), atol=1e-12, rtol=1e-12)
    assert sol.converged, sol.message
    return math.acos(math.sqrt(sol.x[0] / (rho + noise))) / math.pi

alphas = np.array([0.5, 1.0, 2.0, 3.0, 5.0, 8.0])
bayes = np.array([bayes_error(a) for a in alphas])
logi = fixedpoint.sweep(get("glm_erm", loss="logistic", channel="sign", reg=1e-2), "alpha", alphas)
hinge = fixedpoint.sweep(get("glm_erm", loss="hinge", channel="sign", reg=1e-2), "alpha", alphas)
assert logi.converged.all() and hinge.converged.all()
for a, b, l, h in zip(alphas, bayes, logi["gen_error"], hinge["gen_error"]):
    print(f"alpha={a:4.1f}  Bayes {b:.4f}  logistic {l:.4f}  hinge {h:.4f}")
# no estimator beats Bayes; both ERMs follow it within a factor 1.6 in this range
assert np.all(logi["gen_error"] >= bayes - 1e-9) and np.all(hinge["gen_error"] >= bayes - 1e-9)
assert np.all(logi["gen_error"] / bayes < 1.6) and np.all(hinge["gen_error"] / bayes < 1.6)
# Gardner / Opper: the Bayes error at large alpha decays like 0.4417/alpha
assert abs(bayes_error(40.0) * 40.0 - 0.4417) < 0.02

fig, ax = plt.subplots(figsize=FIGSIZE["single"])
ax.plot(alphas, bayes, "k-o", ms=4, label="Bayes-optimal")
ax.plot(alphas, logi["gen_error"], "-s", ms=3, label=f"logistic, {LABELS['reg']} = 0.01")
ax.plot(alphas, hinge["gen_error"], "-^", ms=3, label=f"hinge, {LABELS['reg']} = 0.01")
ax.set_xlabel(LABELS["alpha"], fontsize=8); ax.set_ylabel("classification error", fontsize=8)
ax.tick_params(labelsize=7); ax.legend(fontsize=7, frameon=False); fig.tight_layout(); plt.show()
""")

md(r"""
Simulation check at $d=400$ (two seeds) for logistic regression at $\alpha=2$, and the separability
threshold: with label noise, unregularised logistic regression has a finite minimiser only for
$\alpha > \alpha_{sep}$ (Candes-Sur); below it the solve reports the failure instead of numbers.
""")

code(r"""
m = get("glm_erm", loss="logistic", channel="sign", alpha=2.0, reg=0.1)
th = fixedpoint.solve(m).observables
sim = [m.simulate(400, s) for s in range(2)]
print("theory", {k: round(v, 4) for k, v in th.items()})
print("simulation", {k: round(np.mean([s[k] for s in sim]), 4) for k in th})
assert abs(np.mean([s["gen_error"] for s in sim]) - th["gen_error"]) < 0.01

a_sep = separability_threshold(0.3)
print(f"alpha_sep(noise=0.3) = {a_sep:.4f}")
below = fixedpoint.solve(get("glm_erm", loss="logistic", channel="sign", noise=0.3, reg=0.0, alpha=0.95 * a_sep))
above = fixedpoint.solve(get("glm_erm", loss="logistic", channel="sign", noise=0.3, reg=0.0, alpha=1.2 * a_sep))
print(below.message[:160])
assert not below.converged and "separable" in below.message
assert above.converged and above["q"] < 1e4
""")

md(r"""
Hinge loss at vanishing `reg` on separable (noiseless) data is the max-margin SVM (Aubin et al. 2020):
the limit is reached (the overlaps stop changing, `V` grows like `1/reg`), and a hard-margin SVM solved on
finite instances agrees with it.
""")

code(r"""
mm = [fixedpoint.solve(get("glm_erm", loss="hinge", channel="sign", alpha=2.0, reg=r), atol=1e-12, rtol=1e-12)
      for r in (1e-5, 1e-7)]
assert all(s.converged for s in mm)
assert np.allclose(mm[0].x[:2], mm[1].x[:2], rtol=1e-8) and abs(mm[1]["V"] * 1e-7 / (mm[0]["V"] * 1e-5) - 1) < 1e-6
sims = [get("glm_erm", loss="hinge", channel="sign", alpha=2.0, reg=1e-7).simulate(300, s) for s in range(4)]
for key in ("m", "q", "gen_error"):
    v = np.array([r[key] for r in sims]); se = v.std(ddof=1) / 2
    print(f"max-margin {key}: theory {mm[1][key]:.4f}  simulation {v.mean():.4f} +- {se:.4f}")
    assert abs(v.mean() - mm[1][key]) < 3 * se
assert max(r["train_loss"] for r in sims) < 1e-10   # hard margin: every margin >= 1
""")

md(r"""
## 3. Optimal regularisation

`fixedpoint.optimize` minimises an observable over a parameter. For ridge on a linear teacher the optimum
is known, $\lambda^* = \Delta/\rho$ (the estimator is then the posterior mean); for logistic regression we
compare the optimally regularised error with Bayes.
""")

code(r"""
best = fixedpoint.optimize(get("glm_erm", loss="square", alpha=1.5, noise=0.3), "reg", observable="gen_error",
                           bounds=(1e-3, 10.0))
print("ridge optimal reg", best.value)
assert abs(best.value - 0.3) < 1e-3

for alpha in (1.0, 3.0):
    best = fixedpoint.optimize(get("glm_erm", loss="logistic", channel="sign", alpha=alpha), "reg",
                               observable="gen_error", bounds=(1e-4, 10.0))
    b = bayes_error(alpha)
    err = best.solution.observables["gen_error"]
    print(f"alpha={alpha}: optimal reg {best.value:.4g}, error {err:.4f} vs Bayes {b:.4f}")
    assert b <= err < 1.05 * b   # Aubin et al. 2020: optimally regularised logistic is close to Bayes
""")

md(r"""
## 4. Robust regression under outliers

Labels $y = (1-c)(z^* + \sqrt{\Delta_{in}}\,\xi) + c(\beta z^* + \sqrt{\Delta_{out}}\,\xi)$ with
$c \sim \mathrm{Bernoulli}(\epsilon)$ (Vilucchio, Troiani, Erba, Krzakala 2023): `channel="outliers"`.
With $\beta = 1$ the outliers are only noisier, $N(0, \Delta_2)$ instead of $N(0, \Delta_1)$. We compare
square, Huber and absolute losses on the estimation error $\|\hat w - w^*\|^2/d$, in theory and simulation.
""")

code(r"""
eps, d1, d2 = 0.1, 0.1, 25.0

def outlier_model(loss, alpha, reg, delta=1.0):
    return get("glm_erm", loss=loss, alpha=alpha, reg=reg, delta=delta, channel="outliers", eps=eps, beta=1.0,
               noise_in=d1, noise_out=d2)

alpha, reg = 2.0, 0.1
rows = {}
for loss in ("square", "huber", "absolute"):
    m = outlier_model(loss, alpha, reg)
    sol = fixedpoint.solve(m, atol=1e-12, rtol=1e-12)
    assert sol.converged, sol.message
    th = sol["estimation_error"]
    sims = np.array([m.simulate(300, s)["estimation_error"] for s in range(3)])
    se = sims.std(ddof=1) / math.sqrt(3)
    rows[loss] = th
    print(f"{loss:9s} theory {th:.4f}   simulation {sims.mean():.4f} +- {se:.4f}")
    assert abs(sims.mean() - th) < 3 * se + 0.03 * th
# with eps = 0 the outlier channel is the linear channel with noise noise_in
clean = get("glm_erm", loss="huber", alpha=alpha, reg=reg, channel="outliers", eps=0.0, beta=1.0, noise_in=d1,
            noise_out=d2)
assert abs(fixedpoint.solve(clean, atol=1e-12, rtol=1e-12)["estimation_error"] - fixedpoint.solve(
    get("glm_erm", loss="huber", alpha=alpha, reg=reg, noise=d1), atol=1e-12, rtol=1e-12)["estimation_error"]) < 1e-9
assert rows["huber"] < 0.5 * rows["square"] and rows["absolute"] < 0.5 * rows["square"]
""")

path = Path(__file__).resolve().parent / "glm_erm.ipynb"
write(cells, path, "glm-erm")
if "--execute" in sys.argv:
    execute(path)
