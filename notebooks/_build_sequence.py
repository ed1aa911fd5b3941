"""Build notebooks/sequence.ipynb (without outputs) and optionally execute it to check it runs.

    python notebooks/_build_sequence.py          # build + execute check
    python notebooks/_build_sequence.py --no-run # build only
"""

from __future__ import annotations

import pathlib
import sys

from nbformat.v4 import new_code_cell, new_markdown_cell

from _nbbuild import execute, write

HERE = pathlib.Path(__file__).parent
PATH = HERE / "sequence.ipynb"

cells = [
    new_markdown_cell("""# Sequence multi-index models and attention

Tokens `X in R^{d x L}` with i.i.d. standard Gaussian entries, a teacher `W* in R^{p x d}`, `n =
alpha d` sequences, outputs `y = g(W* X / sqrt(d))` (Troiani, Cui, Dandi, Krzakala, Zdeborová,
2025; module `equations.sequence`). This notebook **asserts** what it shows:

1. one tied attention layer, `y = softmax(z z^T)` on `L = 2` tokens: the Bayes-optimal overlap,
   its weak-recovery threshold `(1 + noise)^2 / (L^2 + L)` and GAMP on finite instances;
2. two tied attention layers with a skip connection of strength `c`: the threshold of each layer
   by linearisation, and which layer is learned first;
3. positional versus semantic attention trained by empirical risk minimisation (Cui et al., 2024):
   the two branches, their crossing `alpha_c(omega)` and training on finite instances."""),
    new_code_cell("""import json, pathlib, time
import numpy as np
import matplotlib.pyplot as plt
import equations, fixedpoint
from equations.sequence import DeepAttention, layer_thresholds

t_start = time.perf_counter()"""),
    new_markdown_cell("""## 1. One tied attention layer

`z = W* X / sqrt(d)` holds one pre-activation per token; the output `softmax(z z^T)` (row-wise) of
two tokens depends on `z` through `z_1 (z_2 - z_1)` and `z_2 (z_1 - z_2)`, which reveal `z` up to
its global sign. `Q = 0` is a fixed point (the output is even in `z`) and loses its stability at
`alpha_WR = 1 / (L^2 + L) = 1/6` without noise; the overlap then grows continuously and reaches
perfect recovery at `alpha = 1/2` (the output has two numbers per sequence and the teacher one
unknown per input dimension). GAMP on instances of `d = 1000` (three seeds, 300 iterations) sits
on the curve (the runs are stored in `notebooks/simulations.json`, written by
`notebooks/_simulations.py`; the tests run GAMP against the state evolution themselves)."""),
    new_code_cell("""model = equations.get("sequence_multi_index", target="attention", alpha=0.3)
alphas = np.linspace(0.04, 0.48, 12)
sweep = fixedpoint.sweep(model, "alpha", alphas)
assert sweep.converged.all()
overlap = sweep["overlap"]

wr = fixedpoint.threshold(model, "alpha", (0.05, 0.3), kind="stability")
print(f"weak recovery: alpha = {wr.value:.10f} (closed form 1/6 = {1 / 6:.10f})")
assert abs(wr.value - 1 / 6) < 1e-6
assert np.all(overlap[alphas < 1 / 6 - 0.01] < 1e-6) and np.all(np.diff(overlap[alphas > 0.2]) > 0)

stored = json.loads((pathlib.Path(equations.__file__).resolve().parent.parent / "notebooks"
                     / "simulations.json").read_text())
sims = {e["alpha"]: e["overlap"] for e in stored["attention"]}
sim_alphas = sorted(sims)
for a in sim_alphas:
    theory = fixedpoint.solve(equations.get("sequence_multi_index", target="attention", alpha=a))["overlap"]
    mean, se = np.mean(sims[a]), np.std(sims[a], ddof=1) / np.sqrt(3)
    print(f"alpha = {a}: GAMP {mean:.4f} +- {se:.4f}, state evolution {theory:.4f}")
    assert abs(mean - theory) < 3 * se + 0.03  # d = 1000, GAMP capped at 300 iterations

fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.plot(alphas, overlap, "-", label="state evolution")
ax.errorbar(sim_alphas, [np.mean(sims[a]) for a in sim_alphas],
            yerr=[np.std(sims[a], ddof=1) / np.sqrt(3) for a in sim_alphas], fmt="o", label="GAMP, d = 1000")
ax.axvline(1 / 6, color="gray", ls=":", label=r"$\\alpha_{WR} = 1/6$")
ax.set_xlabel(r"$\\alpha = n/d$")
ax.set_ylabel(r"overlap $Q$")
ax.set_title("tied attention, L = 2")
ax.legend(frameon=False)
fig.tight_layout()
plt.show()"""),
    new_markdown_cell("""## 2. Two attention layers: which is learned first

`A(z_1) = softmax(z_1 z_1^T) + c I` (skip strength `c`), `y = softmax(A_1 A_1^T)` with `A_1 = A(z_1)
z_2` and two teacher vectors, one per layer. At `Q = 0` the state evolution's Jacobian splits into
blocks: the first layer's overlap `Q_11` would leave zero at `alpha^(0)_1`, the second's `Q_22` at
`alpha_2` (`deep_linearisation`, or `layer_thresholds(..., staircase=False)`). The second layer is learned first at every `c`, and as
`c` grows it is revealed more and more directly (`alpha_2 -> 1/6`, the single-layer value, which
is also a lower bound by Jensen's inequality), while the first layer hides behind the skip
connection (`alpha_1` grows).

These `alpha^(0)_1` are the thresholds of the first layer at `Q = 0`. Once the second layer is learned
(`Q_22 = q > 0`), the first one starts earlier, where the growth rate of `Q_11` on that branch
reaches one (the staircase): `equations.sequence.deep_staircase(c)` finds it by averaging over
the teacher, `alpha_1 = 0.71965` (to 3e-5) at `Q_22 = 0.97365` for `c = 1` (0.71897 at `c = 0.5`,
0.72052 at `c = 2`; about 9 s of computation each, so not run here:
`layer_thresholds(DeepAttention(skip=c))` returns it as layer 1's threshold; the authors list
0.7936)."""),
    new_markdown_cell("""Over the whole range `c` in `[1e-4, 4]` the thresholds come from a stored table,
`notebooks/deep_attention_thresholds.json`, written by `notebooks/_deep_attention_table.py` with
this package's code: `alpha_2` and `alpha^(0)_1` from `deep_linearisation(c)` (six digits; below
`c = 0.5` on rules graded toward the line `z_11 = z_12`, where `A(z_1)` is nearly singular), the
staircase `alpha_1` from `deep_staircase(c)` (20 to 50 s per `c` below `c = 0.5`, under 10 s
above, hence stored; rules and accuracy in the module docstring of `equations.sequence`). Two entries of
the table are recomputed here. As `c -> 0`, `alpha_2` tends to 0.276555 (its value at `c = 0`, where
`A` is singular only on a null set) like `sqrt(c)`."""),
    new_code_cell("""import json, pathlib
from equations.sequence import deep_linearisation

# (found from the package, so that the notebook runs from any folder, e.g. the docs' gallery)
table = json.loads((pathlib.Path(equations.__file__).resolve().parent.parent / "notebooks"
                    / "deep_attention_thresholds.json").read_text())
lin = table["linear"]
skips = np.array([r["c"] for r in lin])
a2 = np.array([r["alpha_2"] for r in lin])
a1_zero = np.array([r["alpha_1_zero"] for r in lin])
stair = table["staircase"]
for c in (1e-3, 1.0):                                     # the table is this package's output
    row = next(r for r in lin if r["c"] == c)
    assert abs(deep_linearisation(c)["alpha_2"] - row["alpha_2"]) < 1e-9
print("    c      alpha_2   alpha^(0)_1")
for c, x, y in zip(skips, a2, a1_zero):
    print(f"{c:8.4g}  {x:.6f}  {y:10.5f}")
print("staircase alpha_1 (first layer, on the Q_22 branch):")
for r in stair:   # "refined": one evaluation of finer rules at the root (c = 0.25)
    a1 = r.get("refined", r)["alpha_1"]
    print(f"c = {r['c']:6.4g}: alpha_1 = {a1:.4f} at Q_22 = {r['q']:.4f}, Q_12 rate {r['lambda_12']:.3f}")
assert np.all(a2 < a1_zero)                              # the second layer first
assert np.all(a2 >= 1 / 6 - 1e-9) and np.all(np.diff(a2) < 0) and a2[0] < 0.276555
assert np.all(np.diff(a1_zero) > 0)
assert all(r["alpha_1"] > next(x for c, x in zip(skips, a2) if c == r["c"]) for r in stair)

fig, ax = plt.subplots(figsize=(4.8, 3.4))
ax.loglog(skips, a1_zero, "o-", ms=3, label=r"$\\alpha^{(0)}_1$ (first layer at $Q = 0$)")
ax.plot([r["c"] for r in stair], [r.get("refined", r)["alpha_1"] for r in stair], "D", label=r"$\\alpha_1$ (staircase)")
ax.loglog(skips, a2, "s-", ms=3, label=r"$\\alpha_2$ (second layer, $Q_{22}$)")
ax.axhline(1 / 6, color="gray", ls=":", label="1/6")
ax.axhline(0.276555, color="gray", ls="--", lw=0.8, label=r"$\\alpha_2(c = 0)$")
ax.set_xlabel("skip strength $c$")
ax.set_ylabel(r"threshold in $\\alpha$")
ax.legend(frameon=False, fontsize=7)
fig.tight_layout()
plt.show()"""),
    new_markdown_cell("""### Layer by layer: GAMP and the state evolution's sub-branch

Bayes-optimal GAMP on finite instances (`DeepAttention(skip=c, alpha=alpha).simulate(d, seed)`,
module `equations._simulate.gamp_deep_attention`: the two tokens of a sample denoised jointly, the
posterior of `z_1` integrated on an adaptive grid, started at random) against the state evolution
at `c = 1`. Below the staircase `alpha_1` the state evolution sits on the invariant sub-branch
`Q_11 = Q_12 = 0`, on which `deep_subbranch(c, q)["alpha_q"]` is the `alpha` at which `Q_22 = q`:
the second layer's learning curve, leaving zero at `alpha_2 = 0.1855`, while the first layer's
`Q_11` stays zero. The GAMP points (`d = 400`, three seeds per `alpha`, at most 120 iterations,
mean and standard error; each row's sign is unidentifiable and flipped so that `Q_kk >= 0`) and
the sub-branch at nine `q` are stored in `notebooks/deep_attention_gamp.json`, written by
`notebooks/_deep_attention_gamp.py` (about 15 minutes of CPU); one point is recomputed below at `d
= 200`. GAMP follows the sub-branch: `Q_22` on the curve (close to `alpha_2` the finite-size runs
spread, as the growth rate out of the start is close to one), `Q_11` at zero up to `alpha_1`. Past
it GAMP learns the first layer too, slowly where the growth rate of `Q_11` is close to one: at `alpha
= 0.8` it crawls (one seed took off, the others reached 0.01-0.03 in 120 iterations), at 0.9 it
leaves zero after about 30 iterations and reaches about 0.5 within 50 (none of the runs meets the
stopping rule in 120 iterations: the estimate keeps fluctuating), at 1.1 both layers are
recovered (`Q_kk` at the teacher's `|w*_k|^2 / d`). Near perfect recovery GAMP is not stable at
this size: at `alpha = 1.0` one run diverged after reaching `Q_22 = 1.03` (its variance collapsed
to 0) and another lost a learned first layer (`Q_11` from 0.98 to 0.05), which is why that point
scatters; the asserts use the points below `alpha = 1`."""),
    new_code_cell("""from equations.sequence import DeepAttention

gdata = json.loads((pathlib.Path(equations.__file__).resolve().parent.parent / "notebooks"
                    / "deep_attention_gamp.json").read_text())
alpha_2, alpha_1 = gdata["alpha_2"], gdata["alpha_1_staircase"]
assert abs(alpha_2 - next(r["alpha_2"] for r in lin if r["c"] == 1.0)) < 1e-9
assert abs(alpha_1 - next(r["alpha_1"] for r in stair if r["c"] == 1.0)) < 1e-9
# the sub-branch: alpha_q(q), increasing from alpha_2 at q -> 0 to about alpha_1 at q = 0.97
a_se = np.array([r["alpha_q"] for r in gdata["se"]])
q_se = np.array([r["q"] for r in gdata["se"]])
assert np.all(np.diff(a_se) > 0) and alpha_2 < a_se[0] and a_se[-1] < alpha_1
pts = gdata["gamp"]
d_g = gdata["gamp_options"]["d"]
ga = np.array([p["alpha"] for p in pts])
Q11, Q11e = np.array([p["Q_11"] for p in pts]), np.array([p["Q_11_sem"] for p in pts])
Q22, Q22e = np.array([p["Q_22"] for p in pts]), np.array([p["Q_22_sem"] for p in pts])
print(" alpha   Q_11 (GAMP)       Q_22 (GAMP)       Q_22 (SE)   iterations")
for p in pts:
    se_q = np.interp(p["alpha"], a_se, q_se) if a_se[0] <= p["alpha"] <= a_se[-1] else np.nan
    print(f"{p['alpha']:5.2f}  {p['Q_11']:.3f} +- {p['Q_11_sem']:.3f}   {p['Q_22']:.3f} +- {p['Q_22_sem']:.3f}   "
          f"{se_q:8.3f}   {p['iterations']:.0f}")
# GAMP's Q_22 on the sub-branch where both exist (3 standard errors plus a finite-size allowance of
# 0.05: at d = 400 the teacher's own |w*_2|^2 / d varies by sqrt(2 / d) = 0.07 between seeds)
both = (ga >= a_se[0]) & (ga <= a_se[-1])
assert both.sum() >= 4
assert np.all(np.abs(Q22[both] - np.interp(ga[both], a_se, q_se)) < 3 * Q22e[both] + 0.05)
# below alpha_2 nothing is learned; below alpha_1 the first layer is not (noise level 1/sqrt(d))
assert np.all(Q22[ga < alpha_2] < 3 / np.sqrt(d_g))
assert np.all(np.abs(Q11[ga < alpha_1]) < 3 / np.sqrt(d_g))
# Nishimori: W_hat W_hat^T / d = Q on average (below alpha = 1, where the runs are stable)
assert all(abs(p["q_22"] - p["Q_22"]) < 3 * p["Q_22_sem"] + 0.05 for p in pts if p["alpha"] < 1.0)
# past alpha_1 the first layer is learned: Q_11 well above its noise level at alpha = 0.9
assert Q11[ga == 0.9][0] > 0.3 and Q11[ga == 1.1][0] > 0.8

# one point recomputed live at d = 200 (a few seconds): within the spread of single runs, which at
# d = 200 is sqrt(2) times that at d = 400 (sqrt(3) sem per run)
live_alpha = 0.5
row = next(p for p in pts if p["alpha"] == live_alpha)
opts = gdata["gamp_options"]
live = DeepAttention(skip=1.0, alpha=live_alpha).simulate(200, 7, max_iter=opts["max_iter"], tol=opts["tol"])
spread = np.sqrt(2 * 3) * row["Q_22_sem"]
print(f"live, d = 200: Q_22 = {live['Q_22']:.3f} (stored {row['Q_22']:.3f} +- {row['Q_22_sem']:.3f}), Q_11 = {live['Q_11']:.3f}")
assert abs(live["Q_22"] - row["Q_22"]) < 3 * spread + 0.05 and abs(live["Q_11"]) < 3 / np.sqrt(200)

fig, ax = plt.subplots(figsize=(5.2, 3.6))
ax.plot(np.r_[alpha_2, a_se], np.r_[0.0, q_se], "-", color="C1", label=r"$Q_{22}$, state evolution (sub-branch)")
ax.plot([0.0, alpha_1], [0.0, 0.0], "-", color="C0", lw=1, label=r"$Q_{11} = 0$ (sub-branch)")
ax.errorbar(ga, Q22, yerr=Q22e, fmt="s", ms=4, color="C1", capsize=2, label=rf"$Q_{{22}}$, GAMP ($d = {d_g}$)")
ax.errorbar(ga, Q11, yerr=Q11e, fmt="o", ms=4, color="C0", capsize=2, label=rf"$Q_{{11}}$, GAMP ($d = {d_g}$)")
ax.axvline(alpha_2, color="gray", ls=":", lw=1)
ax.axvline(alpha_1, color="gray", ls="--", lw=1)
ax.text(alpha_2, 1.02, r" $\\alpha_2$", fontsize=8)
ax.text(alpha_1, 1.02, r" $\\alpha_1$ (staircase)", fontsize=8)
ax.set_xlabel(r"$\\alpha = n / d$")
ax.set_ylabel("overlap")
ax.set_title("two tied attention layers, c = 1", fontsize=9)
ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.88))
fig.tight_layout()
plt.show()"""),
    new_markdown_cell("""### The full state evolution, both layers

The registered target `equations.get("sequence_multi_index", target="deep_attention", skip=c,
alpha=...)` iterates the whole `2 x 2` overlap with the quasi-Monte Carlo map
`deep_state_evolution` (three digits in `A`, about 0.5% in a threshold read off it; here `2^12`
points, 0.4 s an evaluation). Its sweeps along
`alpha` from both starts, and the first layer's threshold read off it (where the eigenvalue of
`Q_11` on the sub-branch reaches one: the map's Jacobian by the engine's central differences, root
by Brent's method), are stored in `notebooks/deep_attention_curve.json` by
`python notebooks/_deep_attention_curve.py` (about ten minutes). From the uninformed start the
state evolution follows the sub-branch: `Q_11` decays to 1e-32 while `Q_22` is small, and past
`alpha_1` the sub-branch is a saddle whose unstable direction (`Q_11`) the tolerance is met before
it grows; the solver says so (spectral radius above one in its message) rather than call it
stable. From the informed start the first layer is learned past `alpha_1`, continuously. Near
perfect recovery (`I - Q` below 0.01) the map is not evaluated (its inner rule is not measured
there): those points are reported as outside the domain."""),
    new_code_cell("""curve = json.loads((pathlib.Path(equations.__file__).resolve().parent.parent / "notebooks"
                    / "deep_attention_curve.json").read_text())
ca = np.array(curve["alpha"])
xu, xi = np.array(curve["uninformed"]["x"]), np.array(curve["informed"]["x"])
cu, ci = np.array(curve["uninformed"]["converged"]), np.array(curve["informed"]["converged"])
a1_map = curve["alpha_1_map"]["value"]
print(f"alpha_1 read off the map: {a1_map:.4f} (staircase, its own rules: {alpha_1:.4f})")
# the two routes to alpha_1: the map's quasi-Monte Carlo rate of Q_11 scatters by about 0.5% (0.7249
# with 2^12 points, 0.7173 with 2^14: the model's docstring)
assert abs(a1_map - alpha_1) < 1e-2 * alpha_1
# the map's sub-branch against deep_subbranch's teacher route (interpolated linearly between its
# nine points), where both are drawn
on = cu & (ca > a_se[0]) & (ca < a_se[-1])
assert on.sum() >= 6
assert np.all(np.abs(xu[on, 2] - np.interp(ca[on], a_se, q_se)) < 1e-2)
# alpha_2: Q_22 leaves zero between the grid points around it; Q_11 stays zero below alpha_1
assert xu[ca < alpha_2, 2].max() < 1e-6 and xu[(ca > alpha_2 + 0.01) & cu, 2].min() > 1e-3
assert np.all(xi[ci & (ca < alpha_1 - 0.01), 0] < 1e-6) and np.all(xi[ci & (ca > alpha_1 + 0.01), 0] > 1e-2)
print(" alpha   Q_11 (informed)   Q_22 (informed)   Q_22 (uninformed)")
for a, u, v, c1, c2 in zip(ca, xu, xi, cu, ci):
    print(f"{a:5.2f}   {v[0] if c2 else np.nan:12.4g}   {v[2] if c2 else np.nan:12.4f}   {u[2] if c1 else np.nan:12.4f}")

fig, ax = plt.subplots(figsize=(5.2, 3.6))
ax.plot(np.r_[alpha_2, a_se], np.r_[0.0, q_se], "-", color="C1", lw=3, alpha=0.3,
        label=r"$Q_{22}$, sub-branch (teacher route)")
ax.plot(ca[ci], xi[ci, 2], "-", color="C1", label=r"$Q_{22}$, full map (informed)")
ax.plot(ca[ci], xi[ci, 0], "-", color="C0", label=r"$Q_{11}$, full map (informed)")
ax.plot(ca[cu], xu[cu, 2], "o", ms=3, mfc="none", color="C1", label=r"$Q_{22}$, full map (uninformed)")
ax.plot(ca[cu], xu[cu, 0], "o", ms=3, mfc="none", color="C0", label=r"$Q_{11}$, full map (uninformed)")
ax.errorbar(ga, Q11, yerr=Q11e, fmt="s", ms=3, color="C0", alpha=0.5, capsize=2, label=rf"$Q_{{11}}$, GAMP ($d = {d_g}$)")
ax.axvline(alpha_2, color="gray", ls=":", lw=1)
ax.axvline(alpha_1, color="gray", ls="--", lw=1)
ax.text(alpha_2, 1.02, r" $\\alpha_2$", fontsize=8)
ax.text(alpha_1, 1.02, r" $\\alpha_1$", fontsize=8)
ax.set_xlim(0.0, 1.15)
ax.set_xlabel(r"$\\alpha = n / d$")
ax.set_ylabel("overlap")
ax.set_title("deep attention, c = 1: the second layer first", fontsize=9)
ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.9))
fig.tight_layout()
plt.show()"""),
    new_markdown_cell("""## 3. Positional versus semantic attention

A tied rank-one dot-product attention with positional encodings, `softmax(h h^T) (X + P)` with
`h_l = (x_l + p_l).Q / sqrt(d)`, trained by ridge-regularised square loss on two-token sequences
whose target mixes a semantic attention `softmax(s s^T)` (`s_l = x_l.Q* / sqrt(d)`) with weight
`1 - omega` and a fixed positional matrix `A` with weight `omega` (Cui, Behrens, Krzakala,
Zdeborová, NeurIPS 2024, arXiv:2402.03902; registry name `dot_product_attention`, token standard
deviation `sigma = 0.5`, `lambda = 0.01` as in the paper). The empirical loss has two branches of
minima: *positional* (`theta = 0`: the student attends by position, `m > 0`) and *semantic* (`m =
0`, `theta > 0`). Below `alpha_c(omega)` the positional one has the lower training objective,
above it the semantic one: a first-order transition of the global minimiser. The channel's
proximal map jumps between basins inside the integration domain; the model's rule locates the
jumps along lines of the student's field, and `alpha_c(0.3) = 1.2515 +- 1e-4` (module docstring).
A threshold takes a few minutes at the default 16 teacher nodes, so the table of `alpha_c(omega)`
below was computed by `python notebooks/_attention_table.py` (stored in
`notebooks/attention_alpha_c.csv`); this notebook checks its `omega = 0.3` entry (the sign of
the free-entropy difference on either side, at 8 nodes) and draws the branches at 8 nodes, whose
`alpha_c` is within 3e-3. The authors' CSVs cross at 1.263: their envelope's cubature is low by
0.36 % on the positional branch, and their states are 2-4 % from fixed points of the map (the
module docstring locates the difference)."""),
    new_code_cell("""import csv
import pathlib
table_path = pathlib.Path(equations.__file__).resolve().parent.parent / "notebooks" / "attention_alpha_c.csv"
with table_path.open() as fh:
    table = list(csv.DictReader(fh))
omegas = [float(r["omega"]) for r in table]
alpha_c = [float(r["alpha_c"]) for r in table]
for r in table:
    print(f"omega = {float(r['omega'])}: alpha_c = {float(r['alpha_c']):.5f} ({r['solves']} solves, {r['seconds']} s,"
          f" {r['nodes']} nodes)")
assert all(r["converged"] == "True" for r in table)
assert np.all(np.diff(alpha_c) > 0)                       # more positional target, later semantic

# the table's omega = 0.3 entry: the semantic branch's free entropy (minus the training objective)
# is below the positional one 0.01 below alpha_c and above it 0.01 above (8 nodes: 3e-3 from 16)
a03 = alpha_c[omegas.index(0.3)]
for a, side in ((a03 - 0.01, -1.0), (a03 + 0.01, 1.0)):
    m = equations.get("dot_product_attention", omega=0.3, alpha=a, nodes=8)
    dphi = m.free_entropy(fixedpoint.solve(m, start="semantic").x) - m.free_entropy(fixedpoint.solve(m, start="positional").x)
    print(f"alpha = {a:.4f}: Phi_sem - Phi_pos = {dphi:.3e}")
    assert np.sign(dphi) == side

# (the semantic branch ends between alpha = 0.8 and 0.9 at omega = 0.3: below, its start flows to
# the positional branch)
model = equations.get("dot_product_attention", omega=0.3, alpha=1.0, nodes=8)
alphas = np.linspace(0.9, 2.0, 12)[[0, 1, 3, 5, 7, 9, 11]]     # 0.9, 1.0, 1.2, ..., 2.0
branches = {s: fixedpoint.sweep(model, "alpha", alphas, start=s) for s in ("positional", "semantic")}
for s, sw in branches.items():
    assert sw.converged.all(), s
pos, sem = branches["positional"], branches["semantic"]
assert np.all(np.abs(pos["theta"]) < 1e-6) and np.all(np.abs(sem["m"]) < 1e-5)  # (the starts: 1e-6 off the planes)
below, above = alphas < a03, alphas > a03
assert np.all(pos["energy"][below] < sem["energy"][below]) and np.all(sem["energy"][above] < pos["energy"][above])

# finite-size training (full-batch L-BFGS, d = 300, 3 seeds) from each start (notebooks/simulations.json)
sims = {(e["start"], e["alpha"]): e["energy"] for e in stored["dot_product_attention"]}
sim_alphas = sorted({a for _, a in sims})
for (s, a), runs in sims.items():
    e = np.array(runs)
    theory = branches[s]["energy"][np.argmin(np.abs(alphas - a))]
    print(f"{s:10s} alpha = {a}: simulation {e.mean():.5f} +- {e.std(ddof=1) / np.sqrt(3):.5f}, theory {theory:.5f}")
    assert abs(e.mean() - theory) < 0.1 * theory         # finite-size corrections at d = 300: a few per cent

fig, axs = plt.subplots(1, 2, figsize=(9, 3.4))
ax = axs[0]
ax.plot(omegas, alpha_c, "o-")
# a zoom on omega = 0.3: this toolkit and the authors' CSVs
ins = ax.inset_axes([0.08, 0.55, 0.3, 0.38])
ins.plot([0, 1], [a03, 1.2631], "o", color="k")
ins.set_xticks([0, 1], ["here", "authors"], fontsize=7)
ins.tick_params(axis="y", labelsize=7)
ins.set_xlim(-0.5, 1.5)
ins.set_title(r"$\\alpha_c(0.3)$", fontsize=8)
ax.set_xlabel(r"$\\omega$ (weight of the positional target)")
ax.set_ylabel(r"$\\alpha_c$")
ax.set_title("semantic minimiser above the line")
ax = axs[1]
for s, c in (("positional", "C0"), ("semantic", "C1")):
    ax.plot(alphas, branches[s]["energy"], "-", color=c, label=f"{s} branch")
    ax.errorbar(sim_alphas, [np.mean(sims[s, a]) for a in sim_alphas],
                yerr=[np.std(sims[s, a], ddof=1) / np.sqrt(3) for a in sim_alphas],
                fmt="o", color=c, label=f"L-BFGS from the {s} start, d = 300")
ax.axvline(a03, color="gray", ls=":", label=rf"$\\alpha_c = {a03:.4f}$")
ax.set_xlabel(r"$\\alpha = n/d$")
ax.set_ylabel("training objective / d")
ax.set_title(r"$\\omega = 0.3$")
ax.legend(frameon=False, fontsize=8)
fig.tight_layout()
plt.show()"""),
    new_markdown_cell("""The `(omega, alpha)` phase diagram, from both starts at every point of a 30 x 30 grid
(`fixedpoint.phase_diagram` per start, both on one pool of workers, 8 teacher nodes; stored in
`notebooks/attention_diagram.npz` by `python notebooks/_attention_diagram.py`, about ten minutes on
two workers: most points are
warm-started along their row at 7 to 9 evaluations, while a solve whose start's branch does not
exist, or is unstable, escapes it by plain iteration, hundreds of evaluations). A state and its
mirror image (`Q -> -Q`: `m, theta -> -m, -theta`; the token swap: `m -> -m`) are one solution,
so the branches are told apart by `|m|` and `|theta|`.
Where both branches exist the global minimiser is the one of larger free entropy; the first-order
line is where they cross, interpolated along `alpha` in each row, against the stored thresholds
(16 nodes). Below the dashed line the semantic start does not find the semantic branch; at `omega =
0` the positional branch is unstable from `alpha = 0.8` on and its start flows to the semantic one."""),
    new_code_cell("""dia = np.load(pathlib.Path(equations.__file__).resolve().parent.parent / "notebooks" / "attention_diagram.npz")
om, al = dia["omega"], dia["alpha"]
names = list(dia["names"])
im, it = names.index("m"), names.index("theta")
assert dia["positional_converged"].all() and dia["semantic_converged"].all()

def on_semantic(x):             # m = 0 (the starts are 1e-6 off the planes), theta != 0
    return (np.abs(x[..., im]) < 1e-5) & (np.abs(x[..., it]) > 1e-4)

def on_positional(x):
    return (np.abs(x[..., it]) < 1e-5) & (np.abs(x[..., im]) > 1e-4)

sem_exists = on_semantic(dia["semantic_x"]) | on_semantic(dia["positional_x"])
pos_exists = on_positional(dia["positional_x"]) | on_positional(dia["semantic_x"])
assert np.all(sem_exists | pos_exists)
dphi = dia["semantic_free_entropy"] - dia["positional_free_entropy"]
both = sem_exists & pos_exists
# 0: positional only, 1: both, positional global, 2: both, semantic global, 3: semantic only
phase = np.where(both, np.where(dphi > 0, 2, 1), np.where(sem_exists, 3, 0))

line = []                        # the first-order line: dphi = 0 along alpha, in each row
for i, w in enumerate(om):
    k = np.flatnonzero(both[i, :-1] & both[i, 1:] & (np.sign(dphi[i, :-1]) != np.sign(dphi[i, 1:])))
    if k.size:
        j = k[0]
        line.append((w, al[j] - dphi[i, j] * (al[j + 1] - al[j]) / (dphi[i, j + 1] - dphi[i, j])))
line = np.array(line)
for w, a in zip(omegas, alpha_c):
    a_line = np.interp(w, line[:, 0], line[:, 1])
    print(f"omega = {w}: first-order line of the diagram {a_line:.3f}, threshold {a:.4f}")
    assert abs(a_line - a) < 0.03                        # 8 nodes (3e-3) and the interpolation over 0.2
assert np.all(np.diff(line[:, 1]) > 0)
print("evaluations:", int(dia["positional_evaluations"].sum()), "(positional),", int(dia["semantic_evaluations"].sum()),
      f"(semantic); the stored run of both phase_diagrams: {float(dia['seconds']):.0f} s on one pool of 2 workers (a resumed run: rows read from its checkpoint not counted)")

fig, ax = plt.subplots(figsize=(7.8, 3.8))
from matplotlib.colors import ListedColormap
cmap = ListedColormap(["#9ecae1", "#c6dbef", "#fdd0a2", "#fdae6b"])
dw, da = om[1] - om[0], al[1] - al[0]
ax.pcolormesh(np.append(om, om[-1] + dw) - dw / 2, np.append(al, al[-1] + da) - da / 2, phase.T, cmap=cmap,
              vmin=-0.5, vmax=3.5, shading="flat")
ax.plot(line[:, 0], line[:, 1], "k-", label="first-order line (grid, 8 nodes)")
ax.plot(omegas, alpha_c, "kD", ms=5, label=r"threshold $\\alpha_c$ (16 nodes)")
edge = [(w, al[np.flatnonzero(sem_exists[i])[0]] - da / 2) for i, w in enumerate(om) if sem_exists[i].any()]
ax.plot(*np.array(edge).T, "k--", lw=0.8, label="semantic branch found above")
for code, text in ((0, "positional"), (1, "positional, semantic metastable"), (2, "semantic, positional metastable"),
                   (3, "semantic; the positional start flows to it")):
    ax.plot([], [], "s", color=cmap(code), ms=8, label=text)
ax.set_xlabel(r"$\\omega$ (weight of the positional target)")
ax.set_ylabel(r"$\\alpha = n/d$")
ax.set_title("global minimiser of the empirical loss")
ax.legend(frameon=False, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.02, 1.0))
fig.tight_layout()
plt.show()
print(f"notebook ran in {time.perf_counter() - t_start:.1f} s")"""),
]

write(cells, PATH, "sequence")
if "--no-run" not in sys.argv:
    execute(PATH)
