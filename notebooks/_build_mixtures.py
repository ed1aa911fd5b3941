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
# Gaussian mixtures: classification, universality, clustering

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
3. on imbalanced clusters, the fitted bias: what it does to each cluster's error;
4. a universality example where one Gaussian is enough, and one where it is not
   (`mixture_single_index` against its `gaussian_equivalent()`);
5. structured per-cluster covariances (`gmm_erm` with `spectrum_plus`, `spectrum_minus`,
   `mean_coefficients`);
6. unsupervised: the `(rho, lambda)` phase diagram of subspace clustering, its three lines and
   their tricritical point (`subspace_clustering`, `fixedpoint.phase_lines`).

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

md(r"""
## 4. Universality: one Gaussian is enough, or it is not

`mixture_single_index`: two clouds with labels $y = \mathrm{sign}(\theta^*\cdot x/\sqrt d + \sqrt\Delta\,\xi)$
from one teacher whatever the cloud (Pesce, Krzakala, Loureiro, Stephan, ICML 2023).
`model.gaussian_equivalent()` is the single Gaussian with the mixture's mean and covariance.
Logistic regression, $\Delta = 0.1$, $\lambda = 0.05$; points: fits at $d = 200$, three seeds, of
the mixture (circles) and of its Gaussian equivalent (squares), drawn side by side.

* means $\pm 1.5\,u$ orthogonal to the teacher, equal covariances: the means carry no
  information on the label, the optimal $m_\perp$ is 0, and the two curves are the same to the
  last digit: **one Gaussian is enough**;
* means $\pm\theta^*/\sqrt d$ along the teacher: the teacher's field is bimodal in the
  mixture, Gaussian in the equivalent, and the mixture is easier: **it is not**;
* means 0, variances $0.2$ and $1.8$ along the teacher (average 1, so the Gaussian equivalent is
  the isotropic Gaussian): the mixture is harder.
""")

code(r"""
import dataclasses
from matplotlib.ticker import NullFormatter

alphas_u = np.geomspace(0.3, 8, 14)
base = dict(loss="logistic", channel="sign", noise=0.1, reg=0.05, alpha=1.0)
cases = {
    "means orthogonal to the teacher": dict(mean_par=(0.0, 0.0), mean_perp=(1.5, -1.5), var=(1.0, 1.0)),
    "means along the teacher": dict(mean_par=(1.0, -1.0), mean_perp=(0.0, 0.0), var=(1.0, 1.0)),
    "unequal variances along the teacher": dict(mean_par=(0.0, 0.0), mean_perp=(0.0, 0.0), var=(1.0, 1.0),
                                                cov_par=(-0.8, 0.8)),
}
uni = {}
for title, kw in cases.items():
    mix = get("mixture_single_index", **base, **kw)
    eq = mix.gaussian_equivalent()
    uni[title] = (fixedpoint.sweep(mix, "alpha", alphas_u), fixedpoint.sweep(eq, "alpha", alphas_u))
    assert uni[title][0].converged.all() and uni[title][1].converged.all(), title

gap = {t: np.abs(s.observables["gen_error"] - g.observables["gen_error"]) for t, (s, g) in uni.items()}
assert gap["means orthogonal to the teacher"].max() < 1e-9                 # one Gaussian is enough
assert gap["means along the teacher"].min() > 5e-3                         # it is not
assert gap["unequal variances along the teacher"][alphas_u > 1].min() > 1e-3
# simulations at d = 200, three seeds, of the mixture and of its Gaussian equivalent
d_sim, seeds, a_sim = 200, 3, (1.0, 4.0)
usims = {}
for title, kw in cases.items():
    for which in ("mixture", "Gaussian"):
        model = get("mixture_single_index", **base, **kw)
        model = model if which == "mixture" else model.gaussian_equivalent()
        for a in a_sim:
            m = dataclasses.replace(model, alpha=a)
            errs = np.array([m.simulate(d_sim, s)["gen_error"] for s in range(seeds)])
            usims[title, which, a] = (errs.mean(), errs.std(ddof=1) / math.sqrt(seeds))
            th = fixedpoint.solve(m)["gen_error"]
            print(f"{title:36s} {which:8s} alpha={a:3.1f}  theory {th:.4f}   simulation {errs.mean():.4f} "
                  f"+- {usims[title, which, a][1]:.4f}")
            assert abs(errs.mean() - th) < 4 * usims[title, which, a][1] + 0.01""")

code(r"""
fig, axes = plt.subplots(1, 3, figsize=(7.0, 2.6), sharey=True)
for ax, (title, (s, g)) in zip(axes, uni.items()):
    ax.plot(alphas_u, s.observables["gen_error"], "C0-", label="mixture")
    ax.plot(alphas_u, g.observables["gen_error"], "C3--", label="Gaussian equivalent")
    for which, fmt in (("mixture", "C0o"), ("Gaussian", "C3s")):
        pts = [usims[title, which, a] for a in a_sim]
        shift = 0.92 if which == "mixture" else 1.08     # side by side where the curves coincide
        ax.errorbar([a * shift for a in a_sim], [p[0] for p in pts], yerr=[p[1] for p in pts], fmt=fmt, ms=3,
                    capsize=2, mfc="none")
    ax.set_xscale("log")
    ax.set_xticks([0.3, 1, 3], ["0.3", "1", "3"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(LABELS["alpha"])
    ax.set_title(title, fontsize=8)
axes[0].set_ylabel("test error")
axes[0].legend(fontsize=7, frameon=False)
fig.tight_layout()""")

md(r"""
## 5. Structured covariances

`gmm_erm(..., spectrum_plus=s_plus, spectrum_minus=s_minus, mean_coefficients=c)`: cluster $c$ has
the covariance $\Delta\,\mathrm{diag}(s_c)$ over $K$ modes (each $d/K$ coordinates) and the
mean's coordinates have the root-mean-square $c_k$ per mode (Loureiro, Sicuro, Gerbelot, Pacco,
Krzakala, Zdeborová, NeurIPS 2021); the state becomes $(m, q_+, q_-, V_+, V_-, b)$. Left: two
modes, 80% of $|\mu|^2$ in mode 1, balanced, no bias; the same average variance 1 put in the quiet
or the loud mode. Right: a narrow cluster $y=+1$ (covariance $0.3\,I$) against a wide one
$y=-1$ ($1.7\,I$), with a fitted bias. Points: fits at $d = 300$, three seeds (where the points
sit above a curve, by up to two error bars, it is the finite-size correction of order $1/d$: it
shrinks at larger $d$).
""")

code(r"""
alphas_s = np.geomspace(0.3, 8, 14)
c = (math.sqrt(1.6), math.sqrt(0.4))      # |mu|^2/d = 1, 80% of it in mode 1
spectra = {"isotropic": dict(spectrum_plus=(1.0, 1.0), mean_coefficients=c),
           "mean in the quiet modes": dict(spectrum_plus=(0.3, 1.7), mean_coefficients=c),
           "mean in the loud modes": dict(spectrum_plus=(1.7, 0.3), mean_coefficients=c)}
kw = dict(loss="logistic", alpha=1.0, reg=0.05)
struct = {k: fixedpoint.sweep(get("gmm_erm", **kw, **v), "alpha", alphas_s) for k, v in spectra.items()}
iso = fixedpoint.sweep(get("gmm_erm", **kw), "alpha", alphas_s)
for sw in (*struct.values(), iso):
    assert sw.converged.all()
e = {k: sw.observables["gen_error"] for k, sw in struct.items()}
# spectra of ones are the isotropic model (the mean's split between modes does not matter then)
assert np.allclose(e["isotropic"], iso.observables["gen_error"], rtol=1e-9, atol=0)
assert np.all(e["mean in the quiet modes"] < e["isotropic"])
# the mean in the loud modes is harder at first; with enough samples the 20% of it in the quiet
# mode is learned well and that beats the isotropic clusters
assert np.all(e["mean in the loud modes"][alphas_s < 1.5] > e["isotropic"][alphas_s < 1.5])
assert e["mean in the loud modes"][-1] < e["isotropic"][-1]
# clusters of different shapes: cluster + narrow, cluster - wide; fitted bias, balanced
two = get("gmm_erm", loss="logistic", alpha=1.0, reg=0.05, bias=True, spectrum_plus=(0.3, 0.3),
          spectrum_minus=(1.7, 1.7), mean_coefficients=c)
two_sw = fixedpoint.sweep(two, "alpha", alphas_s)
assert two_sw.converged.all()
assert np.all(two_sw.observables["gen_error_minus"] > two_sw.observables["gen_error_plus"])
d_sim, seeds, a_sim = 300, 3, (1.0, 4.0)
ssims = {}
for name, model in (("mean in the quiet modes", get("gmm_erm", **kw, **spectra["mean in the quiet modes"])),
                    ("mean in the loud modes", get("gmm_erm", **kw, **spectra["mean in the loud modes"])),
                    ("two shapes", two)):
    for a in a_sim:
        m = dataclasses.replace(model, alpha=a)
        runs = [m.simulate(d_sim, s) for s in range(seeds)]
        th = fixedpoint.solve(m).observables
        for key in ("gen_error", "gen_error_plus", "gen_error_minus"):
            vals = np.array([r[key] for r in runs])
            ssims[name, key, a] = (vals.mean(), vals.std(ddof=1) / math.sqrt(seeds))
            assert abs(vals.mean() - th[key]) < 4 * ssims[name, key, a][1] + 0.01, (name, key, a)
        print(f"{name:24s} alpha={a:3.1f}  theory {th['gen_error']:.4f}  simulation "
              f"{ssims[name, 'gen_error', a][0]:.4f} +- {ssims[name, 'gen_error', a][1]:.4f}")""")

code(r"""
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(6.4, 2.8))
styles = {"isotropic": "k:", "mean in the quiet modes": "C0-", "mean in the loud modes": "C3--"}
for k, sw in struct.items():
    ax1.plot(alphas_s, sw.observables["gen_error"], styles[k], label=k)
    if k != "isotropic":
        pts = [ssims[k, "gen_error", a] for a in a_sim]
        ax1.errorbar(a_sim, [p[0] for p in pts], yerr=[p[1] for p in pts], fmt=styles[k][:2] + "o", ms=3, capsize=2)
ax1.set_title(r"spectra $(0.3, 1.7)$: 80% of $|\mu|^2$ in mode 1", fontsize=8)
ax1.set_ylabel("test error")
ax1.legend(fontsize=7, frameon=False)
for key, style, lab in (("gen_error_plus", "C0-", r"narrow cluster $y=+1$"),
                        ("gen_error_minus", "C3-", r"wide cluster $y=-1$"), ("gen_error", "k-", "overall")):
    ax2.plot(alphas_s, two_sw.observables[key], style, lw=1.0 if key == "gen_error" else 0.9, label=lab)
    pts = [ssims["two shapes", key, a] for a in a_sim]
    ax2.errorbar(a_sim, [p[0] for p in pts], yerr=[p[1] for p in pts], fmt=style[:2] + "o", ms=3, capsize=2)
ax2.set_title(r"covariances $0.3\,I$ and $1.7\,I$, fitted bias", fontsize=8)
ax2.legend(fontsize=7, frameon=False)
for ax in (ax1, ax2):
    ax.set_xscale("log")
    ax.set_xticks([0.3, 1, 3], ["0.3", "1", "3"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(LABELS["alpha"])
fig.tight_layout()""")

md(r"""
## 6. Subspace clustering: the phase diagram

Unsupervised now: `Y = sqrt(snr/d) V (U - 1/k)^T + Z`, the one-hot labels `U` of `k` clusters and
centroids whose rows are `N(0, I_k)` with probability `rho` and zero otherwise (a shared sparse
support; `subspace_clustering`, Pesce, Loureiro, Krzakala, Zdeborová, NeurIPS 2022). In the
paper's `lambda = rho snr`, the uninformed fixed point is unstable above `lambda_alg = k /
sqrt(alpha)` (AMP succeeds); at small `rho` the information-theoretic threshold is lower, and
between the two lies a hard phase bounded below by AMP's spinodal. `fixedpoint.phase_lines`
finds the three lines over a range of `rho`, and where they meet: the tricritical point above
which the transition is continuous.""")

code(r"""
clu = equations.get("subspace_clustering", k=2, rho=0.1, alpha=2.0, snr=10.0)
rhos_c = np.linspace(0.03, 0.3, 28)
lines = fixedpoint.phase_lines(clu, "snr", over={"rho": rhos_c}, within=(0.5, 60.0))
(tri,) = lines.points
print(f"tricritical point: rho = {tri['rho']:.5f}, lambda = rho snr = {tri['rho'] * tri['snr']:.5f}")
lam_alg = 2 / np.sqrt(2.0)
wr = lines["weak recovery"]
assert np.allclose(wr.over_values * wr.values, lam_alg, rtol=1e-6)  # lambda_alg = k / sqrt(alpha)
it, low = lines["IT"], lines["lower spinodal"]
ok = np.isfinite(it.values) & np.isfinite(low.values)
assert np.all(low.values[ok] <= it.values[ok] + 1e-9) and np.all(it.values[ok] <= lines["algorithmic"].values[ok] + 1e-9)
assert 0.15 < tri["rho"] < 0.25

fig, ax = plt.subplots(figsize=(4.6, 3.3))
for name, style in (("weak recovery", "k:"), ("algorithmic", "k-"), ("IT", "C3-"), ("lower spinodal", "C0--")):
    line = lines[name]
    ax.plot(line.over_values, line.over_values * line.values, style, label=name)
ax.plot([tri["rho"]], [tri["rho"] * tri["snr"]], "ko", ms=4, label="tricritical point")
ax.text(0.05, 0.55, "impossible", fontsize=8)
ax.text(0.04, 1.15, "hard", fontsize=8)
ax.text(0.2, 1.8, "easy (AMP)", fontsize=8)
ax.set_xlabel(r"sparsity $\rho$")
ax.set_ylabel(r"$\lambda = \rho\,\mathrm{snr}$")
ax.set_ylim(0.4, 2.2)
ax.set_title(r"$k = 2$ clusters, $\alpha = 2$", fontsize=9)
ax.legend(fontsize=7, frameon=False, loc="lower right")
fig.tight_layout()""")

path = Path(__file__).resolve().parent / "mixtures.ipynb"
write(cells, path, "mixtures")
if "--execute" in sys.argv:
    execute(path)
