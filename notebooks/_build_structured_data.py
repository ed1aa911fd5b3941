"""Build notebooks/structured_data.ipynb (outputs cleared). Run: python notebooks/_build_structured_data.py
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
# Structured data: random features, kernel spectra, deep random targets

`gcm_erm` is empirical risk minimisation in the Gaussian covariate model (Loureiro, Gerbelot, Cui,
Goldt, Krzakala, Mézard, Zdeborová, NeurIPS 2021): the student fits $w$ on features $v$ of
dimension $p$, $\min_w \sum_\mu \ell(y_\mu, w\cdot v_\mu/\sqrt p) + \frac\lambda2\|w\|^2$, and
the replica equations of $(m, q, V)$ only need the spectrum of the features' covariance and the
teacher's coefficients in its eigenbasis.

* `features="random_features"`: $v = \sigma(Fx/\sqrt d)$, $F$ Gaussian $p\times d$, in the
  Marchenko–Pastur limit, through the Gaussian equivalence (Gerace et al., ICML 2020);
* `features="spectra"`: a given spectrum, e.g. the power laws of kernel methods (`power_law`);
* `target_activations`: a deep random target network (Cui, Krzakala, Zdeborová, ICML 2023).

This notebook checks, with assertions:

1. the double descent of random-features ridge regression in $p/d$ and in $n/d$, against
   finite-size fits;
2. logistic regression on random features against the Gaussian-equivalent prediction;
3. the decay exponent of a power-law kernel learning curve against its known value;
4. on a deep random target, optimally regularised ridge regression reaches the Bayes-optimal error
   (and fits on instances of the actual network agree);
5. the improvement of one large gradient step (spiked random features) over plain random
   features, against fits on the spiked features and on the network after its step.
""")

code(r"""
import math
import numpy as np
import matplotlib.pyplot as plt

import fixedpoint
import equations
from equations import gcm
from equations.gcm import GCMERM
from fixedpoint.plotting import FIGSIZE

LABELS = GCMERM.labels


def simulate(model, d, seeds):
    runs = [model.simulate(d, 7919 * s + d) for s in range(seeds)]
    return runs


def mean_se(runs, key):
    v = np.array([r[key] for r in runs])
    return v.mean(), v.std(ddof=1) / math.sqrt(len(v))
""")

md(r"""
## 1. Double descent of random-features ridge regression

Ridge ($\ell = (y-z)^2/2$) on $v = \mathrm{erf}(Fx/\sqrt d)$, linear teacher with noise
$\Delta = 0.1$, a small penalty $\lambda = 10^{-3}$. The test error peaks at the interpolation
threshold $p = n$ — in $p/d$ at fixed $n/d$, and in $n/d$ at fixed $p/d$ — and decreases on
both sides (Mei & Montanari 2019; Gerace et al. 2020). Points: fits at $d = 100$, three seeds.
""")

code(r"""
noise, reg = 0.1, 1e-3
base = GCMERM(loss="square", activation="erf", alpha=1.0, p_over_d=1.0, reg=reg, noise=noise)

psis = np.geomspace(0.1, 10, 41)
in_p = fixedpoint.sweep(base.with_params(alpha=1.0), "p_over_d", psis)
alphas = np.geomspace(0.1, 10, 41)
in_n = fixedpoint.sweep(base.with_params(p_over_d=1.5), "alpha", alphas)
assert in_p.converged.all() and in_n.converged.all()
e_p, e_n = in_p.observables["gen_error"], in_n.observables["gen_error"]
# the peaks sit at the interpolation threshold p = n
assert abs(psis[np.argmax(e_p)] - 1.0) < 0.1 and abs(alphas[np.argmax(e_n)] - 1.5) < 0.15
# and the error comes down on the far side of it
assert e_p[-1] < e_p.max() / 3 and e_n[-1] < e_n.max() / 3

d, seeds = 100, 3
pts_p, pts_n = {}, {}
for psi in (0.5, 2.0, 5.0):
    m = base.with_params(alpha=1.0, p_over_d=psi)
    pts_p[psi] = mean_se(simulate(m, d, seeds), "gen_error")
for a in (0.5, 2.5, 6.0):
    m = base.with_params(alpha=a, p_over_d=1.5)
    pts_n[a] = mean_se(simulate(m, d, seeds), "gen_error")
for pts, sw, grid, name in ((pts_p, in_p, psis, "p/d"), (pts_n, in_n, alphas, "n/d")):
    for x, (mu, se) in pts.items():
        m = base.with_params(alpha=1.0, p_over_d=x) if name == "p/d" else base.with_params(alpha=x, p_over_d=1.5)
        th = fixedpoint.solve(m)["gen_error"]
        print(f"{name} = {x:4.1f}: theory {th:.4f}   simulation {mu:.4f} +- {se:.4f}")
        # finite d = 100: 4 standard errors plus a 5% finite-size allowance
        assert abs(mu - th) < 4 * se + 0.05 * th
""")

code(r"""
fig, axes = plt.subplots(1, 2, figsize=FIGSIZE["double"], sharey=True)
for ax, grid, errs, pts, xlabel, title in (
        (axes[0], psis, e_p, pts_p, LABELS["p_over_d"], r"$n/d = 1$"),
        (axes[1], alphas, e_n, pts_n, LABELS["alpha"], r"$p/d = 1.5$")):
    ax.plot(grid, errs, "C0-", label="theory")
    ax.errorbar(list(pts), [v[0] for v in pts.values()], yerr=[v[1] for v in pts.values()], fmt="C3o", ms=3,
                capsize=2, label=f"simulation, $d = {d}$")
    ax.axvline(1.0 if grid is psis else 1.5, color="0.6", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(f"erf features, ridge $\\lambda = {reg:g}$, $\\Delta = {noise:g}$, " + title, fontsize=8)
axes[0].set_ylabel("test error $E(y - \\hat y)^2$")
axes[0].legend(fontsize=7, frameon=False)
fig.tight_layout()
""")

md(r"""
## 2. Logistic regression on random features

Sign teacher $y = \mathrm{sign}(\theta\cdot x/\sqrt d)$, ReLU features with $p/d = 2$ (not centred:
the features' mean acts as an unpenalised bias, which vanishes by symmetry), logistic loss with
$\lambda = 0.05$. The replica prediction uses only the Gaussian-equivalent features
$\kappa_0 + \kappa_1 Fx/\sqrt d + \kappa_* z$; the points fit the actual ReLU features ($d = 150$,
three seeds).
""")

code(r"""
logi = GCMERM(loss="logistic", activation="relu", p_over_d=2.0, alpha=1.0, reg=0.05)
alphas_l = np.geomspace(0.3, 8, 30)
sw_l = fixedpoint.sweep(logi, "alpha", alphas_l)
assert sw_l.converged.all()
assert np.all(np.diff(sw_l.observables["gen_error"]) < 0)  # more data, fewer errors
pts_l = {}
for a in (0.5, 1.5, 4.0):
    m = logi.with_params(alpha=a)
    runs = simulate(m, 150, 3)
    pts_l[a] = {k: mean_se(runs, k) for k in ("gen_error", "train_loss")}
    th = fixedpoint.solve(m).observables
    for k in ("gen_error", "train_loss"):
        mu, se = pts_l[a][k]
        print(f"alpha = {a}: {k:10s} theory {th[k]:.4f}   simulation {mu:.4f} +- {se:.4f}")
        assert abs(mu - th[k]) < 4 * se + 0.03 * th[k] + 0.005

fig, ax = plt.subplots(figsize=(3.4, 3.1))
for k, c, lab in (("gen_error", "C0", "test error (0/1)"), ("train_loss", "C1", "training loss")):
    ax.plot(alphas_l, sw_l.observables[k], c + "-", label=lab + ", theory")
    ax.errorbar(list(pts_l), [v[k][0] for v in pts_l.values()], yerr=[v[k][1] for v in pts_l.values()],
                fmt=c + "o", ms=3, capsize=2, label=lab + ", $d = 150$")
ax.set_xscale("log")
ax.set_xticks([0.5, 1, 2, 4, 8], ["0.5", "1", "2", "4", "8"])
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_xlabel(LABELS["alpha"])
ax.set_title(r"logistic on ReLU features, $p/d = 2$, $\lambda = 0.05$", fontsize=8)
ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False, columnspacing=0.8)
fig.tight_layout()
""")

md(r"""
## 3. A power-law kernel: the decay exponent of the learning curve

Kernel ridge regression in the eigenbasis of the kernel: eigenvalues $\omega_k \sim k^{-a}$
(capacity $a$) and teacher power $\omega_k\theta_k^2 \sim k^{-1-2ar}$ (source $r$), built by
`power_law` with $P = 2\cdot10^4$ modes. Noiseless, with a vanishing penalty, the excess error
$E(z^* - \lambda)^2$ decays as $n^{-2a\min(r, 1)}$ (Cui, Loureiro, Krzakala, Zdeborová,
"Generalization error rates in kernel regression: the crossover from the noiseless to noisy
regime", NeurIPS 2021, arXiv 2105.15004; the noiseless regime; also Spigler, Geiger, Wyart 2020).
We fit the slope over $n \in [100, 800]$ (where $n \ll P$).
""")

code(r"""
P, capacity, source = 20000, 2.0, 0.3
spectrum, teacher = gcm.power_law(P, capacity, source)
ns = np.geomspace(10, 800, 14)
kern = GCMERM(features="spectra", spectrum=spectrum, teacher=teacher, loss="square", alpha=ns[0] / P, reg=1e-9)
sw_k = fixedpoint.sweep(kern, "alpha", ns / P)
assert sw_k.converged.all()
excess = sw_k.observables["estimation_error"]
fit = ns >= 100
slope, intercept = np.polyfit(np.log(ns[fit]), np.log(excess[fit]), 1)
known = -2 * capacity * min(source, 1.0)
print(f"fitted exponent {slope:.4f}, known {known:.4f}")
assert abs(slope - known) < 0.02 * abs(known)

fig, ax = plt.subplots(figsize=FIGSIZE["single"])
ax.plot(ns, excess, "C0o-", ms=3, label="replica equations")
ax.plot(ns[fit], np.exp(intercept) * ns[fit] ** slope, "k--", lw=0.8, label=f"fit: slope {slope:.3f}")
ax.plot(ns, excess[-1] * (ns / ns[-1]) ** known, "C3:", label=rf"known: $n^{{-2a\,\min(r,1)}} = n^{{{known:g}}}$")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("number of samples $n$")
ax.set_ylabel(r"excess error $E(z^* - \lambda)^2$")
ax.set_title(rf"capacity $a = {capacity:g}$, source $r = {source:g}$, $P = {P}$ modes", fontsize=8)
ax.legend(fontsize=7, frameon=False)
fig.tight_layout()
""")

md(r"""
## 4. Deep random targets: ridge is Bayes-optimal

The target is a deep network with random Gaussian weights of widths $k_l \propto d$: $z =
a\cdot h_L/\sqrt{k_L}$, $h_l = \sigma_l(W_l h_{l-1}/\sqrt{k_{l-1}})$, $h_0 = x$ (Cui, Krzakala,
Zdeborová, "Bayes-optimal learning of deep random networks of extensive width", ICML 2023, arXiv
2302.00375). With $n = O(d)$ samples it acts as the noisy linear target $\sqrt\rho\,\theta\cdot
x/\sqrt d + \sqrt{\Delta_\mathrm{eff}}\,\xi$, with $\rho = \prod_l\kappa_1(r_l)^2$ and the
effective noise built from the layers' $\kappa_*$ (`gcm.deep_equivalent`), so the Bayes-optimal
error has a closed form (`gcm.deep_bayes_optimal`), reached by ridge regression at $\lambda =
\Delta_\mathrm{eff}/\rho$. Here three tanh layers, label noise $0.01$. `fixedpoint.optimize` finds
the optimal penalty of ridge on the inputs (`gcm.deep_ridge_model`) and of random-features ridge
($p/d = 2$, erf); points: ridge on instances of the actual network ($d = 150$, widths $1.5d, d,
0.7d$).
""")

code(r"""
acts, widths, label_noise = ("tanh", "tanh", "tanh"), (1.5, 1.0, 0.7), 0.01
eq = gcm.deep_equivalent(acts)
print(f"rho = {eq['rho']:.6f}, effective noise = {eq['noise']:.6f}, preactivation variances {eq['variances']}")
alphas_d = np.geomspace(0.2, 10, 9)
bo = np.array([gcm.deep_bayes_optimal(a, acts, label_noise)["gen_error"] for a in alphas_d])
ridge_opt, rf_opt = [], []
for a in alphas_d:
    best = fixedpoint.optimize(gcm.deep_ridge_model(acts, alpha=a, reg=1.0, noise=label_noise), "reg", "gen_error",
                               (1e-3, 1e3), xtol=1e-8)
    assert best.converged, best.message
    ridge_opt.append(best.minimum)
    rf = GCMERM(loss="square", activation="erf", p_over_d=2.0, alpha=a, reg=1.0, noise=label_noise,
                target_activations=acts)
    best_rf = fixedpoint.optimize(rf, "reg", "gen_error", (1e-4, 1e3))
    assert best_rf.converged, best_rf.message
    rf_opt.append(best_rf.minimum)
ridge_opt, rf_opt = np.array(ridge_opt), np.array(rf_opt)
print("largest |optimal ridge - Bayes-optimal| =", np.max(abs(ridge_opt - bo)))
assert np.max(abs(ridge_opt - bo)) < 1e-8
assert np.all(rf_opt >= bo - 1e-12)  # nothing beats the Bayes-optimal error
fine = np.geomspace(0.2, 10, 60)
bo_fine = np.array([gcm.deep_bayes_optimal(a, acts, label_noise)["gen_error"] for a in fine])
fixed = fixedpoint.sweep(gcm.deep_ridge_model(acts, alpha=1.0, reg=1e-3, noise=label_noise), "alpha", fine)
assert fixed.converged.all() and np.all(fixed.observables["gen_error"] >= bo_fine - 1e-12)


def deep_ridge_fit(d, alpha, reg, seed, n_test=4000):
    # ridge on the inputs, labels from an actual deep random network
    rng = np.random.default_rng(seed)
    weights, k = [], d
    for r in widths:
        weights.append(rng.standard_normal((int(round(r * d)), k)))
        k = weights[-1].shape[0]
    a_out = rng.standard_normal(k)

    def target(x):
        h = x
        for W, act in zip(weights, acts):
            h = getattr(np, act)(h @ W.T / math.sqrt(h.shape[1]))
        return h @ a_out / math.sqrt(k) + math.sqrt(label_noise) * rng.standard_normal(x.shape[0])

    n = int(round(alpha * d))
    X = rng.standard_normal((n, d))
    w = np.linalg.solve(X.T @ X / d + reg * np.eye(d), X.T @ target(X) / math.sqrt(d))
    Xt = rng.standard_normal((n_test, d))
    return np.mean((target(Xt) - Xt @ w / math.sqrt(d)) ** 2)


pts_d = {}
for a in (0.5, 2.0, 6.0):
    opt = gcm.deep_bayes_optimal(a, acts, label_noise)
    errs = np.array([deep_ridge_fit(150, a, opt["reg"], s) for s in range(5)])
    pts_d[a] = (errs.mean(), errs.std(ddof=1) / math.sqrt(len(errs)))
    print(f"alpha = {a}: Bayes-optimal {opt['gen_error']:.4f}   ridge at reg = {opt['reg']:.3f} on the network "
          f"{pts_d[a][0]:.4f} +- {pts_d[a][1]:.4f}")
    assert abs(pts_d[a][0] - opt["gen_error"]) < 4 * pts_d[a][1] + 0.03 * opt["gen_error"]

fig, ax = plt.subplots(figsize=(3.4, 3.9))
ax.plot(fine, bo_fine, "k-", lw=2.5, alpha=0.35, label="Bayes-optimal (closed form)")
ax.plot(alphas_d, ridge_opt, "C0x", ms=5, label="ridge, optimal $\\lambda$ (fixedpoint.optimize)")
ax.plot(fine, fixed.observables["gen_error"], "C1-.", label="ridge, $\\lambda = 10^{-3}$")
ax.plot(alphas_d, rf_opt, "C2:", label="random features $p/d = 2$, optimal $\\lambda$")
ax.errorbar(list(pts_d), [v[0] for v in pts_d.values()], yerr=[v[1] for v in pts_d.values()], fmt="C3o", ms=3,
            capsize=2, label="ridge on the network, $d = 150$")
ax.axhline(eq["noise"] + label_noise, color="0.5", lw=0.6, ls=":")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel(LABELS["alpha"])
ax.set_ylabel("test error $E(y - \\hat y)^2$")
ax.set_title("deep random target: 3 tanh layers", fontsize=8)
ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)
fig.tight_layout()
""")

md(r"""
The dotted line is the effective noise $\Delta_\mathrm{eff} + \Delta$: with $n = O(d)$ samples no
method learns the deep target's nonlinear part, so the error tends to it as $n/d \to \infty$.
""")

md(r"""
## 5. The one-step improvement of spiked random features

One large gradient step on the first layer of a two-layer network, with $n_0 = \alpha_0 d$
samples and the normalised learning rate $\tilde\eta$, turns its random features into *spiked*
random features $\sigma(c\,Fx/\sqrt d + r\,v\cdot x)$: a rank-one spike along a direction $v$
aligned with the teacher, whose strength $r$ grows with the learning rate (Cui, Pesce, Dandi,
Krzakala, Lu, Zdeborová, Loureiro, ICML 2024, arXiv:2402.04980). Ridge regression of the readout
on $n = \alpha d$ fresh samples is then `spiked_random_features`; $\tilde\eta = 0$ is plain
random features. The authors' setting: tanh units, teacher $\sin(\theta\cdot x/\sqrt d)$,
$\alpha_0 = 20$, $p = d$, $\lambda = 0.1$. Random features learn only the teacher's linear part;
after the step the readout also fits the nonlinear function of the projection on the spike.
Points: ridge on sampled spiked features (circles) and on the actual network after its gradient
step (squares), $d = 300$, three seeds.
""")

code(r"""
from equations.gcm_spiked import SpikedRF, one_step_improvement
from equations._simulate.gcm_spiked import one_step_network

srf = SpikedRF(activation="tanh", target_activation="sin", alpha0=20.0, p_over_d=1.0, alpha=1.0, reg=0.1)
alphas_s = np.geomspace(0.2, 5.0, 25)
curves = {}
for eta in (0.0, 1.0, 3.0):
    sw = fixedpoint.sweep(srf.with_params(eta=eta), "alpha", alphas_s)
    assert sw.converged.all()
    curves[eta] = sw.observables["gen_error"]
# the step helps at every sample size, and a larger step more
assert np.all(curves[1.0] < curves[0.0]) and np.all(curves[3.0] < curves[1.0])
gain = one_step_improvement(srf.with_params(eta=3.0, alpha=2.0))
print(f"alpha = 2: random features {gain['rf_gen_error']:.4f}, after the step {gain['gen_error']:.4f}")
assert gain["gen_error"] < 0.25 * gain["rf_gen_error"]

d_s, seeds_s = 300, 3
pts_s, pts_net = {}, {}
for a in (0.5, 2.5):
    m = srf.with_params(eta=3.0, alpha=a)
    th = fixedpoint.solve(m)["gen_error"]
    pts_s[a] = mean_se([m.simulate(d_s, 7919 * s + d_s) for s in range(seeds_s)], "gen_error")
    pts_net[a] = mean_se([one_step_network(m, d_s, 7919 * s + d_s) for s in range(seeds_s)], "gen_error")
    print(f"alpha = {a}: theory {th:.4f}   spiked features {pts_s[a][0]:.4f} +- {pts_s[a][1]:.4f}   "
          f"network {pts_net[a][0]:.4f} +- {pts_net[a][1]:.4f}")
    # finite d = 300: 4 standard errors plus a 5% allowance (the network's step is spiked only in the limit)
    assert abs(pts_s[a][0] - th) < 4 * pts_s[a][1] + 0.05 * th
    assert abs(pts_net[a][0] - th) < 4 * pts_net[a][1] + 0.05 * th

fig, ax = plt.subplots(figsize=(3.4, 3.9))
for eta, ls in zip(curves, ("C0-", "C1--", "C2-")):
    ax.plot(alphas_s, curves[eta], ls, label=(r"random features, $\tilde\eta = 0$" if eta == 0
                                                else rf"spiked, $\tilde\eta = {eta:g}$"))
ax.errorbar(list(pts_s), [v[0] for v in pts_s.values()], yerr=[v[1] for v in pts_s.values()], fmt="C3o", ms=3,
            capsize=2, label=f"sampled spiked features, $d = {d_s}$")
ax.errorbar(list(pts_net), [v[0] for v in pts_net.values()], yerr=[v[1] for v in pts_net.values()], fmt="ks",
            ms=3, mfc="none", capsize=2, label=f"network after one step, $d = {d_s}$")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel(SpikedRF.labels["alpha"])
ax.set_ylabel("test error $E(y - \\hat y)^2$")
ax.set_xticks([0.2, 0.5, 1, 2, 5], ["0.2", "0.5", "1", "2", "5"])
ax.xaxis.set_minor_formatter(plt.NullFormatter())
ax.set_title(r"tanh units, $\sin$ teacher, $\alpha_0 = 20$, $\lambda = 0.1$", fontsize=8)
ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1, frameon=False)
fig.tight_layout()
""")

md(r"""
The random-features error stays above the variance of the teacher's nonlinear part however many
samples the readout gets; after the step it falls well below it, because the features now carry
nonlinear functions $\mu_0(v\cdot x)$ of the projection on the spike, which the readout combines
(the order parameter `m`).
""")

path = Path(__file__).resolve().parent / "structured_data.ipynb"
write(cells, path, "structured-data")
if "--execute" in sys.argv:
    execute(path)
