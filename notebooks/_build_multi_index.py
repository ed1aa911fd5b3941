"""Build notebooks/multi_index.ipynb (without outputs) and optionally execute it to check it runs.

    python notebooks/_build_multi_index.py          # build + execute check
    python notebooks/_build_multi_index.py --no-run # build only
"""

from __future__ import annotations

import pathlib
import sys
from nbformat.v4 import new_code_cell, new_markdown_cell

from _nbbuild import execute, write

HERE = pathlib.Path(__file__).parent
PATH = HERE / "multi_index.ipynb"

cells = [
    new_markdown_cell("""# Multi-index models and the committee machine

Teacher `W* in R^{p x d}`, `n = alpha d` samples `x ~ N(0, I_d)`, labels `y = g(W* x / sqrt(d))`.
The Bayes-optimal errors are given by the fixed point of a map on the `p x p` overlap `Q`
(Aubin et al., NeurIPS 2018; Troiani et al. 2024; module `equations.multi_index`). This notebook
**asserts** what it shows:

1. the committee machine with two hidden units: the specialisation of the hidden units with
   Gaussian weights (a continuous transition), and the first-order transition with binary
   weights, with GAMP on finite instances;
2. weak-learnability thresholds `alpha_c` of built-in targets against their closed forms;
3. a target whose directions are trivial, easy and hard (`subspaces`);
4. `|z|^2` with three and four directions: the state evolution against GAMP."""),
    new_code_cell("""import math, time
import numpy as np
import matplotlib.pyplot as plt
import pathlib
import equations
import fixedpoint
from equations.multi_index import MultiIndex, subspaces

LABELS = MultiIndex.labels
t_start = time.perf_counter()"""),
    new_markdown_cell("""## 1. Committee machine, K = 2, Gaussian weights: specialisation

`y = sign(sign(z_1) + sign(z_2))` takes the values -1, 0, +1. The direction `(1, 1)` is trivial
(`E[z | y] != 0`): both student units learn the teacher's mean direction at any `alpha`, with the
same overlap with both teacher units (`Q` proportional to `1 1^T`, *non-specialised*). Above
`alpha_spec` each student unit picks one teacher unit: the *specialisation* `Q_00 - Q_01` leaves
zero continuously. The non-specialised subspace (`Q` proportional to `1 1^T`) is invariant under
the map; `alpha_spec` is where the fixed point in it becomes unstable, along `(1, -1, 1)` in the
packed entries `(Q_00, Q_01, Q_11)`: the diagonal up, the off-diagonal down."""),
    new_code_cell("""from fixedpoint.matrices import pack
from fixedpoint.solvers import model_jacobian
from scipy.optimize import brentq

com = MultiIndex(target="committee", p=2, alpha=1.0)
alphas = np.linspace(0.5, 4.0, 36)
sw = fixedpoint.sweep(com, "alpha", alphas, start="uninformed")
assert sw.converged.all()

def non_specialised_eigenvalue(alpha):
    m = MultiIndex(target="committee", p=2, alpha=alpha)
    # exactly rank one, and the map keeps it so up to rounding; above alpha_spec that rounding grows
    # along the unstable direction, and a solve follows plain iteration off the saddle: no stability check
    x = fixedpoint.solve(m, start=pack(1e-6 * np.ones((2, 2))), solver=fixedpoint.Anderson(check_stability=False)).x
    lam, vec = np.linalg.eig(model_jacobian(m, x))  # (central differences: Q is not 0)
    k = int(np.argmax(lam.real))
    return lam[k].real, vec[:, k].real

alpha_spec = brentq(lambda a: non_specialised_eigenvalue(a)[0] - 1.0, 1.5, 3.0, xtol=1e-7)
direction = non_specialised_eigenvalue(alpha_spec)[1]
print(f"specialisation at alpha = {alpha_spec:.5f}, unstable direction {np.round(direction / direction[0], 5)}")
assert np.allclose(direction / direction[0], [1, -1, 1], atol=1e-4)
spec = sw["specialisation"]
assert np.all(spec[alphas < alpha_spec - 0.1] < 1e-6) and np.all(spec[alphas > alpha_spec + 0.2] > 1e-3)
"""),
    new_markdown_cell("""GAMP on finite instances (`d = 1000`, three seeds) against the state evolution, at a few
`alpha` on both sides of the transition (`model.simulate` runs Bayes-optimal GAMP; the overlaps
are aligned over the exchange of the two hidden units). The runs are stored in
`notebooks/simulations.json`, written by `notebooks/_simulations.py` (about a minute of CPU for
these; the tests run GAMP against the state evolution themselves)."""),
    new_code_cell("""import json
sims = json.loads((pathlib.Path(equations.__file__).resolve().parent.parent / "notebooks"
                   / "simulations.json").read_text())
pts = []
for entry in sims["committee"]:
    a = entry["alpha"]
    m = MultiIndex(target="committee", p=2, alpha=a)
    e = np.array(entry["gen_error"])
    pts.append((a, e.mean(), e.std(ddof=1) / math.sqrt(len(e))))
    theory = fixedpoint.solve(m)["gen_error"]
    print(f"alpha = {a}: GAMP {e.mean():.4f} +- {pts[-1][2]:.4f}, state evolution {theory:.4f}")
    assert abs(e.mean() - theory) < 4 * pts[-1][2] + 0.01
a_, m_, s_ = np.array(pts).T
fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
ax[0].plot(alphas, sw["Q"][:, 0, 0], label=r"$Q_{00}$ (unit 0, teacher 0)")
ax[0].plot(alphas, sw["Q"][:, 0, 1], label=r"$Q_{01}$ (unit 0, teacher 1)")
ax[0].axvline(alpha_spec, c="k", ls=":", lw=1)
ax[0].set_xlabel(LABELS["alpha"]); ax[0].set_ylabel("overlap"); ax[0].legend(fontsize=8)
ax[1].plot(alphas, sw["gen_error"], label="Bayes-optimal")
ax[1].set_xlabel(LABELS["alpha"]); ax[1].set_ylabel("generalisation error (0/1)")
ax[1].axvline(alpha_spec, c="k", ls=":", lw=1)
ax[1].errorbar(a_, m_, yerr=s_, fmt="o", ms=4, label="GAMP, d = 1000")
ax[1].legend(fontsize=8); plt.tight_layout(); plt.show()"""),
    new_markdown_cell("""## 2. Binary weights: a first-order transition

With `+-1` weights perfect recovery (`Q = I`) is a fixed point with free entropy `-p log 2`. The
uninformed branch and it coexist: the information-theoretic threshold is where their free
entropies cross (`threshold(kind="first_order")`); the algorithmic one is where the uninformed
branch ends and the state evolution started uninformed jumps to perfect recovery. Along the way
the uninformed branch specialises (a pitchfork near `alpha = 1.6`). Here the algorithmic
threshold is read off a sweep on a grid of step 0.05; `threshold(kind="spinodal", start=
"uninformed")` locates the fold to `1e-8`, but the continuation through the critically slow
region takes minutes, too long for this page. The same sweep brackets the information-theoretic
threshold (the two grid points between which the uninformed branch's free entropy drops below
`-2 log 2`), so that Brent's method starts within 0.05 of it."""),
    new_code_cell("""bin2 = MultiIndex(target="committee", p=2, prior="rademacher", alpha=1.0)
alphas_b = np.linspace(1.0, 2.2, 25)
up = fixedpoint.sweep(bin2, "alpha", alphas_b, start="uninformed")
assert up.converged.all()
jump = np.flatnonzero(up["mse"] < 1e-9)[0]
print(f"algorithmic threshold between {alphas_b[jump - 1]:.3f} and {alphas_b[jump]:.3f}")
assert np.all(up["mse"][jump:] < 1e-9)
phi_informed = -2 * math.log(2)
below = np.flatnonzero(up["free_entropy"][:jump] < phi_informed)[0]
it = fixedpoint.threshold(bin2, "alpha", (alphas_b[below - 1], alphas_b[below]), kind="first_order")
print(it.message)
assert it.converged and it.value < alphas_b[jump - 1]
fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
ax[0].plot(alphas_b, up["mse"], label="from uninformed")
ax[0].axhline(0.0, ls="--", c="C1", label="perfect recovery (from informed)")
ax[0].set_xlabel(LABELS["alpha"]); ax[0].set_ylabel("MSE of the weights")
ax[1].plot(alphas_b, up["free_entropy"], label="from uninformed")
ax[1].axhline(phi_informed, ls="--", c="C1", label=r"perfect recovery, $-2\\log 2$")
ax[1].set_xlabel(LABELS["alpha"]); ax[1].set_ylabel(LABELS["free_entropy"])
for a in ax:
    a.axvline(it.value, c="k", ls=":", lw=1, label=r"$\\alpha_{IT}$")
    a.axvspan(alphas_b[jump - 1], alphas_b[jump], color="r", alpha=0.2, label=r"$\\alpha_{alg}$")
ax[0].legend(fontsize=7); plt.tight_layout(); plt.show()
assert abs(fixedpoint.solve(bin2, start="informed")["free_entropy"] - phi_informed) < 1e-9"""),
    new_markdown_cell("""## 3. Weak-learnability thresholds

When `E[z | y] = 0`, `Q = 0` is a fixed point; it becomes unstable at `alpha_c = 1 / ||F||`,
`F(M) = E_y[G(y) M G(y)]`, `G(y) = E[z z^T | y] - I`. Closed forms:

* `sign(z1 z2)` (and the parity of two signs): `G(y) = (2/pi) y [[0,1],[1,0]]`, so
  `alpha_c = pi^2 / 4`;
* `|z|^2` with `p` components and noise `Delta`: `alpha_c = 1 / E_y[(E[|z|^2 | y] / p - 1)^2]`, a
  one-dimensional integral over the chi-square law, `p / 2` without noise (the noiseless limit of
  the column below);
* `z_1 z_2`: the same operator as `sign(z1 z2)` with `E[z_1 z_2 | y]` in place of `2 y / pi`."""),
    new_code_cell("""from scipy import integrate

def norm2_closed(p, noise):
    # 1 / E_y[(E[r | y] / p - 1)^2], r ~ chi2(p), y = r + noise xi, by nested adaptive quadrature;
    # the inner integrals in t = sqrt(r) (where the chi-square law is smooth at the edge r = 0)
    # over the 9 standard deviations of the noise about y
    s = math.sqrt(noise)
    c = -0.5 * p * math.log(2.0) - math.lgamma(p / 2) - 0.5 * math.log(2 * math.pi * noise)
    def mom(y):
        f = lambda t, k: 2 * t ** (2 * k + p - 1) * math.exp(c - t * t / 2 - (y - t * t) ** 2 / (2 * noise))
        lo, hi = math.sqrt(max(y - 9 * s, 0.0)), math.sqrt(max(y + 9 * s, 0.0))
        return [integrate.quad(f, lo, hi, args=(k,), epsabs=0.0, epsrel=1e-12)[0] if hi > lo else 0.0 for k in (0, 1)]
    def integrand(y):
        z0, z1 = mom(y)
        return z0 * (z1 / z0 / p - 1) ** 2 if z0 > 1e-300 else 0.0
    return 1.0 / integrate.quad(integrand, -9 * s, 80, epsabs=1e-13, limit=200, points=[0.0, 1.0, 5.0])[0]

rows = []
for name, p, noise, closed in [("sign_z1z2", 2, 0.0, math.pi ** 2 / 4), ("parity", 2, 0.0, math.pi ** 2 / 4),
                               ("norm2", 1, 0.3, norm2_closed(1, 0.3)), ("norm2", 2, 0.3, norm2_closed(2, 0.3))]:
    m = MultiIndex(target=name, p=p, alpha=1.0, noise=noise)
    r = max(abs(np.linalg.eigvals(m.jacobian(np.zeros(len(m.state_names))))))
    rows.append((name, p, noise, 1.0 / r, closed))
print(f"{'target':10s} {'p':>2s} {'noise':>6s} {'alpha_c':>12s} {'closed form':>12s}")
for name, p, noise, a, c in rows:
    print(f"{name:10s} {p:2d} {noise:6.2f} {a:12.8f} {c:12.8f}")
    assert abs(a - c) < 1e-8 * c if noise == 0 else abs(a - c) < 1e-4 * c"""),
    new_markdown_cell("""## 4. Trivial, easy and hard directions

`subspaces` classifies the directions of a target: trivial (learned at any `alpha`), easy
(learned at a finite `alpha` by the state evolution started uninformed, by the instability of
`Q = 0` or by coupling to directions already learned) and hard. For the committee below its
specialisation the direction `(1, -1)` is hard; above, it is learned."""),
    new_code_cell("""found = {}
for target, p, amax in (("committee", 2, 2.0), ("committee", 2, 4.0), ("sign_z1z2", 2, 4.0)):
    out = found[target, amax] = subspaces(target, p, alpha_max=amax)
    print(f"{target} up to alpha = {amax}: trivial {np.round(out['trivial'], 3).tolist()}, "
          f"easy {np.round(out['easy'], 3).tolist()} at alpha {np.round(out['alpha'], 3).tolist()}, "
          f"hard {np.round(out['hard'], 3).tolist()}")
assert found["committee", 2.0]["hard"].shape == (1, 2) and found["committee", 4.0]["hard"].shape == (0, 2)
assert alpha_spec <= found["committee", 4.0]["alpha"][0]
assert all(math.pi ** 2 / 4 <= a for a in found["sign_z1z2", 4.0]["alpha"])"""),
    new_markdown_cell("""## 5. `|z|^2` with three and four directions: state evolution against GAMP

`y = |z|^2 + noise` is invariant under every rotation of `z`. Its state evolution is exact at any
`p`: the label's characteristic function is a closed form, one FFT per outer node gives `Z_out`
and its gradient on a grid of `y`, and the outer rule is three-dimensional, in the eigenspaces of
`Q` at `p >= 4` (each is one coordinate, its radius; the Gaussian prior's map keeps eigenvalues
equal that start equal). GAMP takes the same transforms at each sample's own label. GAMP is run
at `d = 2000` (four seeds; this target needs a larger `d` than the committee), its overlap aligned
by the best rotation, against the state evolution's fixed point (the same from both starts)."""),
    new_code_cell("""print(f"{'p':>2s} {'alpha':>5s} {'':10s} {'state evolution':>16s} {'GAMP (mean +- s.e.)':>22s}")
for entry in sims["norm2"]:
    m = MultiIndex(target="norm2", p=entry["p"], alpha=entry["alpha"], noise=entry["noise"])
    sol = fixedpoint.solve(m, start="informed")
    assert sol.converged and np.allclose(sol["Q"], sol["Q"][0, 0] * np.eye(m.p), atol=1e-9)
    for key in ("overlap", "mse", "label_mse"):
        runs = np.array(entry[key])
        mean, se = runs.mean(), runs.std(ddof=1) / math.sqrt(runs.size)
        print(f"{m.p:2d} {m.alpha:5.2f} {key:10s} {sol[key]:16.5f} {mean:15.4f} +- {se:.4f}")
        assert abs(mean - sol[key]) < 3 * se"""),
    new_code_cell("""elapsed = time.perf_counter() - t_start
print(f"notebook body ran in {elapsed:.1f} s")"""),
]

write(cells, PATH, "multi-index")
if "--no-run" not in sys.argv:
    execute(PATH, timeout=900)
