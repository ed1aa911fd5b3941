"""Build notebooks/glm_bayes.ipynb (without outputs) and optionally execute it to check it runs.

    /work/venv/bin/python notebooks/_build_glm_bayes.py          # build + execute check
    /work/venv/bin/python notebooks/_build_glm_bayes.py --no-run # build only
"""

from __future__ import annotations

import pathlib
import sys
from nbformat.v4 import new_code_cell, new_markdown_cell

from _nbbuild import execute, write

HERE = pathlib.Path(__file__).parent
PATH = HERE / "glm_bayes.ipynb"

cells = [
    new_markdown_cell("""# Bayes-optimal generalised linear models

Teacher `w* ~ prior` in dimension `d`, `n = alpha d` samples `x ~ N(0, I_d)`, labels
`y ~ P_out(. | x.w*/sqrt(d))`. The replica formula of Barbier, Krzakala, Macris, Miolane and
Zdeborova (PNAS 2019) reduces the Bayes-optimal errors to the fixed point of a scalar map
`q -> prior.overlap(alpha E[g_out^2])` (module `equations.glm_bayes`). This notebook checks four
classic results and **asserts** them:

1. the spherical perceptron's learning curve and its `0.4417 / alpha` law;
2. the binary perceptron's information-theoretic (~1.245) and algorithmic (~1.493) thresholds;
3. phase retrieval's weak-recovery (1/2) and algorithmic (~1.13) thresholds;
4. the compressed-sensing algorithmic line, with GAMP on finite instances;
5. a noisy phase-retrieval phase diagram in `(noise, alpha)` with its weak-recovery line."""),
    new_code_cell("""import math, time
import numpy as np
import matplotlib
import matplotlib.pyplot as plt
import equations, fixedpoint
from equations.glm_bayes import GLMBayes, algorithmic_line
from fixedpoint.plotting import FIGSIZE, plot_sweep

LABELS = GLMBayes.labels  # physics names for the axes

t_start = time.perf_counter()"""),
    new_markdown_cell("""## 1. Spherical perceptron (Gaussian prior, sign channel)

The Bayes-optimal generalisation error is `arccos(sqrt(q)) / pi`; at large `alpha` it decays as
`0.4417 / alpha` (Engel and Van den Broeck, *Statistical Mechanics of Learning*, ch. 2)."""),
    new_code_cell("""sph = equations.get("glm_bayes", prior="gaussian", channel="sign", alpha=1.0)
alphas = np.geomspace(0.2, 400, 40)
sw = fixedpoint.sweep(sph, "alpha", alphas, start="uninformed")
assert sw.converged.all()
eps = sw["gen_error"]
fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
ax[0].loglog(alphas, eps, label="Bayes-optimal")
ax[0].loglog(alphas, 0.4417 / alphas, "--", label="0.4417 / alpha")
ax[0].set_xlabel(LABELS["alpha"]); ax[0].set_ylabel("generalisation error"); ax[0].legend()
ax[1].semilogx(alphas, alphas * eps); ax[1].axhline(0.4417, ls="--", c="k")
ax[1].set_xlabel(LABELS["alpha"]); ax[1].set_ylabel(r"$\\alpha\\,\\times$ generalisation error")
plt.tight_layout(); plt.show()
print("alpha * error at alpha = 400:", alphas[-1] * eps[-1])
assert abs(alphas[-1] * eps[-1] - 0.4417) < 2e-3
assert np.all(np.diff(eps) < 0)   # the error decreases monotonically"""),
    new_markdown_cell("""## 2. Binary perceptron (Rademacher prior, sign channel)

Perfect recovery (`q = 1`) is a fixed point with a finite free entropy `-log 2`. It becomes the
global maximum at the first-order (information-theoretic) threshold; the uninformed branch,
the one GAMP follows, survives up to the spinodal (algorithmic) threshold. The free entropy
crossing is at 1.2447 (Gyorgyi 1990 gives 1.245; Barbier et al. quote 1.249), the spinodal at
1.493."""),
    new_code_cell("""bp = equations.get("glm_bayes", prior="rademacher", channel="sign", alpha=1.0)
it = fixedpoint.threshold(bp, "alpha", bracket=(1.1, 1.4), kind="first_order")
alg = fixedpoint.threshold(bp, "alpha", bracket=(1.3, 1.7), kind="spinodal", start="uninformed")
print(it.message); print(alg.message)
assert it.converged and abs(it.value - 1.245) < 1e-3
assert alg.converged and abs(alg.value - 1.493) < 1e-3
a = np.linspace(0.6, 1.8, 41)
lo = fixedpoint.sweep(bp, "alpha", a, start="uninformed")
hi = fixedpoint.sweep(bp, "alpha", a, start="informed")
# stable branch (larger free entropy) solid, metastable dashed: GAMP follows the uninformed branch
# up to the algorithmic threshold, past the IT threshold where perfect recovery becomes optimal
fig, ax = plt.subplots(1, 2, figsize=FIGSIZE["double"])
plot_sweep([lo, hi], "gen_error", thresholds=[it, alg], labels=LABELS, ax=ax[0])
plot_sweep([lo, hi], "free_entropy", thresholds=[it], labels=LABELS, ax=ax[1])
fig.tight_layout(); plt.show()
# the informed branch is perfect recovery with free entropy -log 2 wherever it exists
perfect = hi["overlap"] == 1.0
assert perfect.sum() > 20
assert np.allclose(hi["free_entropy"][perfect], -math.log(2), atol=1e-9)
assert np.all(lo["overlap"][a > alg.value + 0.01] > 1 - 1e-9) and np.all(lo["overlap"][a < alg.value - 0.01] < 0.95)"""),
    new_markdown_cell("""## 3. Phase retrieval (Gaussian prior, `y = |z|`)

`q = 0` is a fixed point (the channel is even); it loses stability at
`alpha_WR = 1 / E_y[(E[z^2|y] - 1)^2] = 1/2` (here `E[z^2|y] = y^2`). Full recovery is reached by
GAMP above the algorithmic threshold ~1.13 (Barbier et al. 2019)."""),
    new_code_cell("""pr = equations.get("glm_bayes", prior="gaussian", channel="abs", alpha=1.0)
wr = fixedpoint.threshold(pr, "alpha", bracket=(0.3, 0.9), kind="stability")
pr_alg = fixedpoint.threshold(pr, "alpha", bracket=(1.0, 1.3), kind="spinodal", start="uninformed")
print(wr.message); print(pr_alg.message)
assert wr.converged and abs(wr.value - 0.5) < 1e-6
assert pr_alg.converged and abs(pr_alg.value - 1.13) < 5e-3
a = np.linspace(0.3, 1.5, 37)
sw = fixedpoint.sweep(pr, "alpha", a, start="uninformed")
ax = plot_sweep(sw, "mse", thresholds=[wr, pr_alg], labels=LABELS, label="state evolution")
ax.set_title("noiseless real phase retrieval", fontsize=8); plt.show()
assert np.all(sw["overlap"][a < 0.49] < 1e-6) and np.all(sw["overlap"][(a > 0.52) & (a < 1.1)] > 1e-3)"""),
    new_markdown_cell("""## 4. Compressed sensing (Gauss-Bernoulli prior, linear channel, noise 1e-8)

The information-theoretic threshold of noiseless compressed sensing is `alpha = rho`. GAMP
succeeds (MSE at the noise floor) only above an algorithmic line `alpha_alg(rho) > rho`
(Krzakala, Mezard, Sausset, Sun, Zdeborova, PRX 2012). Near it the uninformed MSE drops by many
orders of magnitude over a narrow window, so the line is traced where the uninformed MSE
crosses `1e-4` (`algorithmic_line(..., level=1e-4)`). GAMP on instances of size `d = 1000`
recovers the signal 0.06 above the line and fails 0.06 below it (closer to the line, finite-size
effects at `n = alpha d ~ 300` blur the transition)."""),
    new_code_cell("""cs = equations.get("glm_bayes", prior="gauss_bernoulli", channel="linear", noise=1e-8, rho=0.2, alpha=0.5)
rhos = np.array([0.05, 0.1, 0.2, 0.3])
_, line, ok = algorithmic_line(cs, "alpha", lambda r: (1.05 * r, 0.9), over={"rho": rhos}, level=1e-4, tol=1e-4)
assert ok.all() and np.all(line > rhos) and np.all(np.diff(line) > 0)
print(dict(zip(rhos, np.round(line, 4))))
gamp_pts = []
for r, a_c in zip(rhos[1:3], line[1:3]):
    for a in (a_c - 0.06, a_c + 0.06):
        m = equations.get("glm_bayes", prior="gauss_bernoulli", channel="linear", noise=1e-8, rho=float(r), alpha=float(a))
        sim = m.simulate(1000, seed=0)
        gamp_pts.append((r, a, sim["mse"], fixedpoint.solve(m, max_iter=100000)["mse"]))
plt.figure(figsize=FIGSIZE["single"])
plt.plot(rhos, line, "o-", ms=4, label="algorithmic (SE)")
plt.plot([0, 0.35], [0, 0.35], "--", label=r"$\\alpha = \\rho$ (IT)")
for r, a, mse_gamp, mse_se in gamp_pts:
    plt.scatter([r], [a], marker="s" if mse_gamp < 1e-4 else "x", c="g" if mse_gamp < 1e-4 else "r")
plt.scatter([], [], marker="s", c="g", label="GAMP succeeds")
plt.scatter([], [], marker="x", c="r", label="GAMP fails")
plt.xlabel(LABELS["rho"], fontsize=8); plt.ylabel(LABELS["alpha"], fontsize=8); plt.tick_params(labelsize=7)
plt.legend(fontsize=7, frameon=False, loc="upper left"); plt.tight_layout(); plt.show()
for r, a, mse_gamp, mse_se in gamp_pts:
    print(f"rho={r:.2f} alpha={a:.3f}: GAMP mse {mse_gamp:.2e}, state evolution {mse_se:.2e}")
    above = any(abs(a - (l + 0.06)) < 1e-12 for l in line)
    assert (mse_gamp < 1e-4) == above and (mse_se < 1e-4) == above"""),
    new_markdown_cell("""## 5. Noisy phase retrieval: a phase diagram

`y = |z| + sqrt(noise) xi`. The channel integrals are two-dimensional here (1-5 ms each), but
along the Bayes-optimal line they depend on `q` only, not on `alpha`: the model reads them from a
lazily built Chebyshev table per `(channel, noise, rho)` (`integrals="tabulated"`, the default),
so a diagram pays for them once per noise value. The weak-recovery line, where `q = 0` loses
stability, is `alpha_WR(noise) = 1 / E_y[(E[z^2|y] - 1)^2]` (`z ~ N(0, 1)`), a one-dimensional
integral checked here by plain nested `scipy.integrate.quad`."""),
    new_code_cell("""from scipy import integrate
from fixedpoint.plotting import plot_diagram

prn = equations.get("glm_bayes", prior="gaussian", channel="abs", noise=0.1, alpha=1.0)
noises = np.geomspace(0.01, 1.0, 12)
alphas = np.linspace(0.2, 3.0, 29)
t = time.perf_counter()
diag = fixedpoint.phase_diagram(prn, {"alpha": alphas, "noise": noises}, start="uninformed")
t_diag = time.perf_counter() - t
wr_line = fixedpoint.threshold_line(prn, "alpha", (0.3, 3.0), over={"noise": noises}, kind="stability")
print(f"{alphas.size} x {noises.size} diagram in {t_diag:.1f} s, {diag.converged.sum()} converged")
assert diag.converged.all() and np.isfinite(wr_line.values).all()

def alpha_wr(noise):
    npdf = lambda x, m, v: math.exp(-(x - m) ** 2 / (2 * v)) / math.sqrt(2 * math.pi * v)
    def moments(y):
        f = lambda z: npdf(z, 0, 1) * npdf(y, abs(z), noise)
        kw = dict(points=[0.0, y, -y], epsabs=0, epsrel=1e-12, limit=200)
        p0 = integrate.quad(f, -12, 12, **kw)[0]
        if p0 == 0.0:  # far in the tail (y < 0, small noise): no weight
            return 0.0, 1.0
        return p0, integrate.quad(lambda z: z * z * f(z), -12, 12, **kw)[0] / p0
    def integrand(y):
        p0, m2 = moments(y)
        return p0 * (m2 - 1) ** 2
    lim = 12 * math.sqrt(1 + noise)
    return 1 / integrate.quad(integrand, -lim, lim, points=[0.0], epsabs=0, epsrel=1e-11, limit=200)[0]

for k in (0, 6, 11):
    ref = alpha_wr(noises[k])
    print(f"noise {noises[k]:.3g}: alpha_WR = {wr_line.values[k]:.10f} (quad {ref:.10f})")
    assert abs(wr_line.values[k] / ref - 1) < 1e-7
fig, ax = plt.subplots(figsize=(3.4, 3.0), dpi=150)  # one paper column, enlarged on screen
plot_diagram(diag, "mse", lines=[wr_line], labels=prn.labels, ax=ax)  # noise on a log axis: a geometric grid
ax.set_title("noisy phase retrieval, uninformed start", fontsize=8); plt.show()
# no recovery below the line, some above it (one grid step away from it on either side)
mse = diag["mse"]
step = alphas[1] - alphas[0]
below = alphas[:, None] < wr_line.values[None, :] - step
above = alphas[:, None] > wr_line.values[None, :] + step
assert np.all(mse[below] > 1 - 1e-9) and np.all(mse[above] < 1 - 1e-4)
# the tabulated integrals against the direct ones at a few points of the diagram
for i, j in ((10, 0), (20, 6), (28, 11)):
    m = equations.get("glm_bayes", prior="gaussian", channel="abs", noise=float(noises[j]),
                      alpha=float(alphas[i]), integrals="direct")
    assert abs(fixedpoint.solve(m)["q"] - diag["overlap"][i, j]) < 1e-9"""),
    new_code_cell("""elapsed = time.perf_counter() - t_start
print(f"notebook body ran in {elapsed:.1f} s")"""),
]

write(cells, PATH, "glm-bayes")
if "--no-run" not in sys.argv:
    execute(PATH)
