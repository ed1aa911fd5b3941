"""Build notebooks/spiked_wigner.ipynb (without outputs).

    /work/venv/bin/python notebooks/_build_spiked_wigner.py            # write the notebook
    /work/venv/bin/python notebooks/_build_spiked_wigner.py --execute  # and check it runs
"""

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

from _nbbuild import execute, write

HERE = Path(__file__).resolve().parent
PATH = HERE / "spiked_wigner.ipynb"

cells = [
    new_markdown_cell(r"""# The spiked Wigner model: phase diagram, thresholds, AMP

$Y = \sqrt{\mathrm{snr}/n}\, x x^\top + W$, $W$ symmetric with $N(0,1)$ entries, $x_i$ i.i.d. with
unit second moment (DESIGN.md conventions). The Bayes-optimal overlap $m = E[x \hat x]$ solves the
state evolution $m = \mathrm{overlap}(\mathrm{snr}\, m)$ of the scalar channel
$y = \sqrt{g}\,x + z$, and the replica free entropy is
$\phi(m) = -\mathrm{snr}\, m^2/4 + \psi(\mathrm{snr}\, m)$ (Lesieur, Krzakala, Zdeborová,
J. Stat. Mech. 2017). This notebook

1. checks the Gaussian-prior closed form $m = 1 - 1/\mathrm{snr}$;
2. draws the $(\rho, \mathrm{snr})$ phase diagram of the sparse Rademacher prior with its three lines
   (lower spinodal, information-theoretic, algorithmic) and the tricritical sparsity, using the
   engine's `threshold_line` and `phase_diagram`;
3. puts AMP on finite instances over the theory curves;
4. solves an inhomogeneous two-block noise profile and checks its spectral threshold.

Every claim is asserted."""),
    new_code_cell("""import tempfile
import time
from pathlib import Path

import numpy as np
import matplotlib.pyplot as plt

import fixedpoint
import equations
from fixedpoint import PhaseLine, PhaseLines
from fixedpoint.plotting import FIGSIZE, plot_diagram, save_figure
from equations.spiked_wigner import (SpikedWigner, SpikedWignerInhomogeneous, tricritical_rho,
                                     fold_of_uninformed_branch, spectral_overlap_theory)

plt.rcParams["figure.dpi"] = 150  # the figures are one paper column wide (3.4 in): enlarge on screen
LABELS = SpikedWigner.labels

T0 = time.perf_counter()"""),
    new_markdown_cell("""## 1. Gaussian prior: $m = \\max(0, 1 - 1/\\mathrm{snr})$

With $x \\sim N(0,1)$ the scalar overlap is $g/(1+g)$, so the non-trivial fixed point is
$m = 1 - 1/\\mathrm{snr}$ (the BBP transition at $\\mathrm{snr} = 1$); the matrix MMSE is $1 - m^2$."""),
    new_code_cell("""model = equations.get("spiked_wigner", prior="gaussian", snr=1.0)
snrs = np.linspace(0.1, 5.0, 80)
sw = fixedpoint.sweep(model, "snr", snrs, start="uninformed", atol=1e-13, rtol=1e-13)
m_exact = np.maximum(0.0, 1.0 - 1.0 / snrs)
assert sw.converged.all()
assert np.max(np.abs(sw["m"] - m_exact)) < 1e-9, np.max(np.abs(sw["m"] - m_exact))
assert np.allclose(sw["mmse"], 1 - m_exact**2, atol=1e-9)
print("max |m - (1 - 1/snr)| =", np.max(np.abs(sw["m"] - m_exact)))"""),
    new_markdown_cell("""## 2. Sparse Rademacher prior: the phase diagram

$x = 0$ with probability $1-\\rho$, $\\pm 1/\\sqrt{\\rho}$ with probability $\\rho/2$ each.
For every symmetric prior the trivial point $m=0$ loses stability at $\\mathrm{snr} = 1$ (weak
recovery / BBP). Below the tricritical sparsity $\\rho_c$ the state-evolution curve
$R(u) = \\mathrm{overlap}(u)/u$ is not monotone and the transition is first order:

* **lower spinodal** — the informative branch (start "informed") ends: `spinodal` from "informed";
* **information-theoretic threshold** — the two branches have equal free entropy: `first_order`;
* **algorithmic threshold** — the branch of AMP started at random (start "uninformed") jumps:
  `spinodal` from "uninformed", i.e. the fold of the small branch, at $\\mathrm{snr}$ just above 1.

The tricritical sparsity is where $\\max_u R'(u)$ changes sign (`tricritical_rho`)."""),
    new_code_cell("""rho_c = tricritical_rho("sparse_rademacher")
print(f"tricritical sparsity rho_c = {rho_c:.6f}")
assert 0.09 < rho_c < 0.1

base = SpikedWigner(prior="sparse_rademacher", rho=0.05, snr=1.0)
rhos = np.linspace(0.02, 0.085, 8)
low = fixedpoint.threshold_line(base, "snr", (0.05, 0.999), over={"rho": rhos}, kind="spinodal", start="informed")
it = fixedpoint.threshold_line(base, "snr", (0.05, 0.999), over={"rho": rhos}, kind="first_order")
# the algorithmic line is the fold of the uninformed branch; for rho < 0.06 it sits within 3e-3 of
# snr = 1, where solving *at* the fold is critically slow: compute it from R(u) and check it against
# the engine's spinodal where the fold is farther from 1
alg = np.array([fold_of_uninformed_branch("sparse_rademacher", r) for r in rhos])
check_rhos = rhos[rhos > 0.06]
alg_engine = fixedpoint.threshold_line(base, "snr", (0.99, 1.3), over={"rho": check_rhos}, kind="spinodal",
                                       start="uninformed", solver=fixedpoint.Anderson(memory=2))
print(np.c_[rhos, low.values, it.values, alg])
assert low.converged.all() and it.converged.all()
assert np.all(low.values < it.values) and np.all(it.values < 1.0) and np.all(alg > 1.0)
assert np.allclose(alg_engine.values, alg[rhos > 0.06], atol=1e-4), (alg_engine.values, alg[rhos > 0.06])
# all three lines increase with rho (denser signals are harder to detect at fixed snr)
assert np.all(np.diff(low.values) > 0) and np.all(np.diff(it.values) > 0) and np.all(np.diff(alg) > 0)
# above rho_c there is no fold: the algorithmic threshold is BBP
assert fold_of_uninformed_branch("sparse_rademacher", 1.05 * rho_c) == 1.0"""),
    new_markdown_cell("""The background is the overlap reached from the uninformed start (`phase_diagram`),
i.e. what AMP from a random initialisation achieves; between the lower spinodal and the
algorithmic line the informed branch coexists with it. The regions are named from the lines
(`PhaseLines.regions`): recovery is impossible below the IT line (and below weak recovery), hard
between the IT and the algorithmic lines (the Bayes-optimal estimator is informative, AMP from
a random start is not), easy above."""),
    new_code_cell("""grid_rho = np.linspace(0.02, 0.3, 24)
grid_snr = np.linspace(0.2, 1.8, 33)
diag_u = fixedpoint.phase_diagram(base, {"rho": grid_rho, "snr": grid_snr}, start="uninformed")
diag_i = fixedpoint.phase_diagram(base, {"rho": grid_rho, "snr": grid_snr}, start="informed")
mu, mi = diag_u["m"], diag_i["m"]
assert np.isfinite(mu).all() and np.isfinite(mi).all()
# below snr = 1 the uninformed branch is the trivial point; the informed one is >= it everywhere
# (up to 1e-4 on the critical line snr = 1 itself, where m -> 0 only like 1/iterations)
assert np.all(mu[:, grid_snr < 0.99] < 1e-6)
assert np.all(mi >= mu - 1e-4)
# the informed branch is well above the uninformed one exactly in the coexistence region
gap = (mi - mu) > 0.1
for k, r in enumerate(grid_rho):
    if gap[k].any():
        lo_k = fixedpoint.threshold(SpikedWigner(prior="sparse_rademacher", rho=r), "snr", (0.05, 0.999),
                                    kind="spinodal", start="informed").value
        s_gap = grid_snr[gap[k]]
        assert s_gap.min() >= lo_k - 0.06 and s_gap.max() <= 1.0, (r, s_gap, lo_k)

# the lines above as a PhaseLines (what fixedpoint.phase_lines returns), so that the plot can name
# the regions: the three first-order lines end at the tricritical point (rho_c, snr = 1), where the
# coexistence closes; weak recovery (the trivial point turns unstable) is snr = 1 for every rho
def phase_line(kind, start, name, over, values):
    return PhaseLine(kind=kind, start=start, name=name, param="snr", over="rho", over_values=over, values=values,
                     converged=np.isfinite(values), intervals=((over[0], over[-1]),))

ends = lambda v: (np.r_[rhos, rho_c], np.r_[v, 1.0])
lines = PhaseLines(param="snr", over="rho", points=({"kind": "tricritical", "rho": rho_c, "snr": 1.0},), lines=(
    phase_line("stability", None, "weak recovery", grid_rho, np.ones_like(grid_rho)),
    phase_line("spinodal", "uninformed", "algorithmic", *ends(alg)),
    phase_line("spinodal", "informed", "lower spinodal", *ends(low.values)),
    phase_line("first_order", None, "IT", *ends(it.values))))
assert lines.region(0.05, 0.5) == "impossible" and lines.region(0.05, 0.95) == "hard"
assert lines.region(0.05, 1.2) == "easy" and lines.region(0.2, 0.95) == "impossible"
ax = plot_diagram(diag_u, "m", lines=lines, labels=base.labels)
ax.set_title("sparse Rademacher prior, uninformed start", fontsize=8)
# a paper's copy: PNG and PDF (here in a temporary folder)
files = save_figure(ax.figure, Path(tempfile.mkdtemp()) / "spiked_wigner_phase_diagram", formats=("png", "pdf"))
assert [f.suffix for f in files] == [".png", ".pdf"] and all(f.stat().st_size > 0 for f in files)"""),
    new_markdown_cell("""## 3. AMP on finite instances over the theory curves

`simulate(d, seed)` runs Bayes-optimal AMP with the Onsager term on one instance (sparse priors:
support of size exactly $\\rho d$) from a small random overlap. The overlap and the matrix MMSE
must sit on the state-evolution curve within the seed-to-seed error, and the Nishimori identity
$E[x\\hat x] = E[\\hat x^2]$ must hold on the instance."""),
    new_code_cell("""d, seeds = 1200, (0, 1, 2)
fig, ax = plt.subplots(figsize=FIGSIZE["single"])
for prior, rho, color, name in (("rademacher", 1.0, "C0", "Rademacher"),
                                ("sparse_rademacher", 0.2, "C1", r"sparse Rademacher, $\\rho = 0.2$")):
    model = SpikedWigner(prior=prior, rho=rho)
    curve = fixedpoint.sweep(model, "snr", np.linspace(0.3, 3.0, 60), start="uninformed")
    ax.plot(curve.values, curve["m"], color=color, label=f"{name} (SE)")
    for snr in (1.5, 2.5):
        m_theory = fixedpoint.solve(SpikedWigner(prior=prior, rho=rho, snr=snr))["m"]
        runs = [SpikedWigner(prior=prior, rho=rho, snr=snr).simulate(d, s) for s in seeds]
        ov = np.array([r["overlap"] for r in runs])
        self_ov = np.array([r["self_overlap"] for r in runs])
        se = ov.std(ddof=1) / np.sqrt(len(ov))
        ax.errorbar(snr, ov.mean(), yerr=se, fmt="o", ms=4, color=color)
        print(f"{prior:18s} snr={snr}: AMP {ov.mean():.4f} +- {se:.4f}   SE {m_theory:.4f}")
        assert abs(ov.mean() - m_theory) < 3 * se + 0.01
        assert abs(ov.mean() - self_ov.mean()) < 3 * se + 0.01  # Nishimori on the instance
spec = [SpikedWigner(prior="rademacher", snr=2.5).simulate_spectral(d, s)["spectral_overlap2"] for s in seeds]
print("spectral overlap^2 at snr=2.5:", np.mean(spec), " BBP:", spectral_overlap_theory(2.5))
assert abs(np.mean(spec) - spectral_overlap_theory(2.5)) < 0.05
ax.plot([], [], "o", ms=4, color="0.4", label="AMP, d = 1200 (3 seeds)")
ax.set_xlabel(LABELS["snr"], fontsize=8); ax.set_ylabel(LABELS["m"], fontsize=8); ax.tick_params(labelsize=7)
ax.legend(fontsize=7, frameon=False, loc="upper left"); fig.tight_layout();"""),
    new_markdown_cell("""## 4. Inhomogeneous noise: two blocks

Groups of fractions $c = (0.3, 0.7)$ with noise profile $\\Delta$; group $a$ sees the effective
signal-to-noise $g_a = \\mathrm{snr} \\sum_b c_b m_b / \\Delta_{ab}$. Linearising at $m = 0$, the
trivial point loses stability when $\\mathrm{snr}\\,\\lambda_{\\max}(c_b/\\Delta_{ab}) = 1$
(Guionnet, Ko, Krzakala, Zdeborová 2022; Pak, Ko, Krzakala 2023). The engine's `stability`
threshold must find that closed form."""),
    new_code_cell("""inh = equations.get("spiked_wigner_inhomogeneous", prior="rademacher", fractions=(0.3, 0.7),
                    profile=((0.5, 1.5), (1.5, 3.0)), snr=1.0)
snr_c = inh.spectral_threshold()
thr = fixedpoint.threshold(inh, "snr", (0.2, 3.0), kind="stability")
print(f"closed form {snr_c:.10f}   engine {thr.value:.10f}")
assert abs(thr.value - snr_c) < 1e-7
sw2 = fixedpoint.sweep(inh, "snr", np.linspace(0.2, 3.0, 57), start="uninformed")
assert np.all(sw2["m_1"][sw2.values < 0.98 * snr_c] < 1e-6)
assert np.all(sw2["m_1"][sw2.values > 1.05 * snr_c] > 1e-3)
# the less noisy group (Delta_11 = 0.5) is recovered better
assert np.all(sw2["m_1"][sw2.values > 1.05 * snr_c] > sw2["m_2"][sw2.values > 1.05 * snr_c])
amp = [equations.get("spiked_wigner_inhomogeneous", prior="rademacher", fractions=(0.3, 0.7),
                     profile=((0.5, 1.5), (1.5, 3.0)), snr=2.0).simulate(1200, s) for s in (0, 1, 2)]
th2 = fixedpoint.solve(equations.get("spiked_wigner_inhomogeneous", prior="rademacher", fractions=(0.3, 0.7),
                                     profile=((0.5, 1.5), (1.5, 3.0)), snr=2.0)).observables
fig, ax = plt.subplots(figsize=FIGSIZE["single"])
for key, color in (("m_1", "C0"), ("m_2", "C3")):
    ax.plot(sw2.values, sw2[key], color=color, label=f"{inh.labels[key]} (SE)")
    vals = np.array([r[key] for r in amp])
    se = vals.std(ddof=1) / np.sqrt(len(vals))
    ax.errorbar(2.0, vals.mean(), yerr=se, fmt="o", ms=4, color=color, label=f"{inh.labels[key]} (AMP, d = 1200)")
    assert abs(vals.mean() - th2[key]) < 3 * se + 0.02, (key, vals.mean(), th2[key])
ax.axvline(snr_c, color="k", ls=":", lw=1, label="spectral threshold")
ax.set_xlabel(LABELS["snr"], fontsize=8); ax.set_ylabel("group overlap", fontsize=8); ax.tick_params(labelsize=7)
ax.legend(fontsize=7, frameon=False); fig.tight_layout()
print(f"total {time.perf_counter() - T0:.1f} s")"""),
]

for i, cell in enumerate(cells):  # stable ids: rebuilding does not change the file
    cell.id = f"spiked-wigner-{i:02d}"
write(cells, PATH)
if "--execute" in sys.argv:
    execute(PATH)
