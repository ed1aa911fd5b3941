"""Build notebooks/custom_channel.ipynb (without outputs) and optionally execute it to check it runs.

    /work/venv/bin/python notebooks/_build_custom_channel.py          # build + execute check
    /work/venv/bin/python notebooks/_build_custom_channel.py --no-run # build only
"""

from __future__ import annotations

import pathlib
import sys

from _nbbuild import execute, write
from nbformat.v4 import new_code_cell, new_markdown_cell

HERE = pathlib.Path(__file__).parent
PATH = HERE / "custom_channel.ipynb"

cells = [
    new_markdown_cell("""# Your own channel: a noisy sign with label flips

A paper needs an output channel that is not built in. `equations.custom` lets you add one
without editing the package: you write the likelihood `P_out(y | z)` as a scalar Numba **cfunc**
with a fixed signature; the toolkit supplies the Gaussian integrals `Z_out`, `g_out`, the state
evolution, the free entropy, the thresholds and the GAMP simulator.

Our channel: the teacher's pre-activation is blurred by Gaussian noise of variance `Delta`, its
sign is taken, and the label is then flipped with probability `f`:

    P_out(y | z) = f + (1 - 2 f) H(-y z / sqrt(Delta)),      y = +-1.

We (1) write it, (2) check it against the built-in probit channel at `f = 0`, (3) solve its state
evolution and compare with GAMP on finite instances, and (4) look at what the cfunc pattern costs."""),
    new_code_cell("""import math, time
import numpy as np
import matplotlib.pyplot as plt
import equations, fixedpoint
from equations import custom

t_start = time.perf_counter()"""),
    new_markdown_cell("""## 1. The likelihood, as a cfunc

`@custom.likelihood` is `numba.cfunc("float64(float64, float64, float64, float64)", cache=True)`:
the arguments are `(y, z, noise, theta)`, where `noise` is the model's `noise` parameter and
`theta` one free parameter of the channel (here the flip probability `f`). The toolkit's kernels
take it as a *first-class function* argument: they are compiled once for that signature and
cached on disk, whatever function you pass (a plain Python function or an `njit` function is
refused with a message that says why). For parallel phase diagrams put the cfunc in a module of
yours: the model pickles it by reference (module and name)."""),
    new_code_cell("""@custom.likelihood
def flip_probit(y, z, noise, theta):
    return theta + (1.0 - 2.0 * theta) * 0.5 * math.erfc(-y * z / math.sqrt(2.0 * noise))

noise, f = 0.1, 0.1
# width: the scale in z on which P_out varies, here sqrt(noise); the integrals then use
# Gauss-Legendre panels on that scale (without it, Gauss-Hermite rules of n_nodes points)
channel = custom.CustomChannel(likelihood=flip_probit, labels="binary", theta=f, width=math.sqrt(noise))
model = equations.get("glm_bayes", prior="gaussian", channel=channel, noise=noise, alpha=3.0)
print(model)"""),
    new_markdown_cell("""## 2. Check: at `f = 0` it is the built-in probit channel

The built-in `sign` channel reduces its integrals analytically to one smooth Gauss-Hermite
integral; ours integrates the likelihood numerically. They must agree to rounding."""),
    new_code_cell("""probit = equations.get("glm_bayes", channel=custom.CustomChannel(likelihood=flip_probit, theta=0.0,
                                                                 width=math.sqrt(noise)), noise=noise)
builtin = equations.get("glm_bayes", channel="sign", noise=noise)
worst = 0.0
for q in (0.0, 0.3, 0.9, 0.999):
    a, b = probit._channel.se_bayes(q, 1.0), builtin._channel.se_bayes(q, 1.0)
    worst = max(worst, abs(a[0] / b[0] - 1), abs(a[1] - b[1]))
print(f"largest relative difference of (E g_out^2, Psi_out) over q: {worst:.1e}")
assert worst < 1e-10
sa = fixedpoint.solve(equations.get("glm_bayes", channel=probit.channel, noise=noise, alpha=2.0))
sb = fixedpoint.solve(equations.get("glm_bayes", channel="sign", noise=noise, alpha=2.0))
print("fixed point q:", sa["q"], "built-in:", sb["q"])
assert abs(sa["q"] - sb["q"]) < 1e-10"""),
    new_markdown_cell("""## 3. Learning curve with flips, against GAMP

State evolution over `alpha` (a sweep, continued from point to point), and GAMP
(`model.simulate`, which uses the channel's `z_out` for the output function and samples the
labels from `P_out(+1 | z)`) on instances of dimension `d = 1000`. Label flips leave a floor
under the generalisation error of the Bayes classifier: `f` itself."""),
    new_code_cell("""alphas = np.linspace(0.5, 6.0, 12)
sw = fixedpoint.sweep(model, "alpha", alphas, start="uninformed")
assert sw.converged.all()
sims = {a: model_a.simulate(d=1000, seed=0) for a, model_a in
        ((a, equations.get("glm_bayes", channel=channel, noise=noise, alpha=a)) for a in (1.5, 4.0))}
fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
ax[0].plot(alphas, sw["overlap"], label="state evolution")
ax[1].plot(alphas, sw["gen_error"], label="Bayes-optimal (state evolution)")
for a, r in sims.items():
    ax[0].plot(a, r["overlap"], "o", c="C1")
    ax[1].plot(a, r["gen_error"], "o", c="C1")
ax[0].plot([], [], "o", c="C1", label="GAMP, d = 1000")
ax[1].axhline(f, ls="--", c="k", label="flip rate f")
ax[0].set_xlabel(r"$\\alpha$"); ax[0].set_ylabel("overlap q"); ax[0].legend()
ax[1].set_xlabel(r"$\\alpha$"); ax[1].set_ylabel("generalisation error"); ax[1].legend()
plt.tight_layout(); plt.show()
for a, r in sims.items():
    se = fixedpoint.solve(equations.get("glm_bayes", channel=channel, noise=noise, alpha=a))
    print(f"alpha = {a}: overlap SE {se['overlap']:.4f}  GAMP {r['overlap']:.4f};  "
          f"error SE {se['gen_error']:.4f}  GAMP {r['gen_error']:.4f}")
    # finite-size fluctuations are ~ 1/sqrt(d) = 0.03
    assert abs(se["overlap"] - r["overlap"]) < 0.06 and abs(se["gen_error"] - r["gen_error"]) < 0.04"""),
    new_markdown_cell("""## 4. What the pattern costs

A second model with the same channel (or any other cfunc of the same signature) reuses the
compiled kernels: only the first call in a process with an empty Numba cache compiles them, and a
new process loads them from disk (`benchmarks/bench_custom.py` measures both in fresh processes).
Each state-evolution evaluation integrates the likelihood numerically: milliseconds, against
microseconds for the analytic reduction of a built-in channel."""),
    new_code_cell("""def timed(fn, n=5):
    ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return float(np.median(ts))

ch_custom, ch_sign = probit._channel, builtin._channel
print(f"one state-evolution call: custom {1e3 * timed(lambda: ch_custom.se_integrals(0.5, 0.5)):.2f} ms, "
      f"built-in {1e3 * timed(lambda: ch_sign.se_integrals(0.5, 0.5)):.3f} ms")
print(f"one solve at alpha = 3:   custom {timed(lambda: fixedpoint.solve(model), 2):.2f} s")
print(f"notebook ran in {time.perf_counter() - t_start:.0f} s")"""),
]

write(cells, PATH, "custom")
if "--no-run" not in sys.argv:
    execute(PATH, timeout=600)
