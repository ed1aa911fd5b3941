"""Benchmark of the GLM ERM family (issue 6), side by side with a quad-based implementation.

1. The hat integrals of logistic ERM (sign teacher) at one state: the Numba panel-Gauss-Legendre
   kernel vs ``scipy.integrate.quad`` over ``xi`` with the proximal operator found by a scalar
   solver at every integrand call (what public research code does). Main baseline: the prox by
   ``scipy.optimize.minimize_scalar`` (Brent, tol 1e-12; "quad plus scalar minimisation", agreeing
   with the kernel to ~1e-9); second, faster and more accurate baseline: ``scipy.optimize.brentq``
   on the prox's optimality condition (agrees to rounding).
2. The full solve, logistic ERM at alpha=2, reg=0.1, sign teacher, tolerance 1e-10: the model
   through ``fixedpoint.solve`` (warm = compiled) vs the same engine driving each quad baseline.
3. A 100-point alpha sweep of Huber regression (noise 0.5, reg 0.1, delta 1), with the time spent
   inside the model's ``update`` reported separately from the engine's.
4. A warm single solve (tolerance 1e-10) for each teacher and loss added after the first
   version: the logit teacher, random labels with a margin, the teacher offset with a fitted
   bias, the outlier channel (Huber, absolute), Tukey's loss; the target is 5 ms each.

Prints a table and writes ``benchmarks/results/glm_erm.json``. Run:
``/work/venv/bin/python benchmarks/bench_glm_erm.py`` (takes about a minute: the baselines are slow).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time

import numpy as np
from scipy import integrate, optimize
from scipy.special import ndtr

import fixedpoint
from equations import glm_erm  # noqa: F401  (registers the model)
from equations._registry import get
from equations.glm_erm import _legendre, _sign_integrals


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def prox_logistic_minimize(y, omega, V):
    res = optimize.minimize_scalar(
        lambda z: (z - omega) ** 2 / (2 * V) + (math.log1p(math.exp(-y * z)) if -y * z < 30 else -y * z),
        bracket=(omega, omega + V * y), method="brent", tol=1e-12)
    return res.x


def prox_logistic_brentq(y, omega, V):
    end = omega + V * y * _sigmoid(-y * omega)
    lo, hi = min(omega, end), max(omega, end)
    g = lambda z: z - omega - V * y * _sigmoid(-y * z)  # noqa: E731
    glo, ghi = g(lo), g(hi)
    if glo * ghi >= 0.0:  # the root sits on a bracket end to rounding
        return lo if abs(glo) <= abs(ghi) else hi
    return optimize.brentq(g, lo, hi, xtol=1e-15, rtol=1e-15)


def quad_hats(m, q, V, alpha, rho=1.0, noise=0.0, prox=prox_logistic_brentq, eps=1e-12):
    """(m_hat, q_hat, V_hat) of logistic ERM with a sign teacher by adaptive quad over xi."""
    sq = math.sqrt(q)
    s = max(rho - m * m / q, 1e-300) + noise
    c = (m / sq) / math.sqrt(s)

    def pieces(xi):
        out = np.zeros(3)
        for y in (1.0, -1.0):
            z = prox(y, sq * xi, V)
            sm = _sigmoid(-y * z)
            f = y * sm
            df = -sm * (1 - sm) / (1 + V * sm * (1 - sm))
            P = ndtr(y * c * xi)
            dens = y * math.exp(-0.5 * (c * xi) ** 2) / math.sqrt(2 * math.pi * s)
            out += (dens * f, P * f * f, -P * df)
        return out * math.exp(-0.5 * xi * xi) / math.sqrt(2 * math.pi)

    res = [integrate.quad(lambda t, k=k: pieces(t)[k], -10, 10, points=[0.0], epsabs=eps, epsrel=eps, limit=200)[0]
           for k in range(3)]
    return alpha * np.array(res)


def quad_update(x, alpha=2.0, reg=0.1, rho=1.0, noise=0.0, prox=prox_logistic_brentq, eps=1e-12):
    m, q, V = x
    if not (q > 0 and V > 0):
        return np.full(3, np.nan)
    m_hat, q_hat, V_hat = quad_hats(m, q, V, alpha, rho, noise, prox, eps)
    Vn = 1.0 / (reg + V_hat)
    return np.array([m_hat * rho * Vn, (m_hat ** 2 * rho + q_hat) * Vn ** 2, Vn])


def timeit(fn, repeat):
    best = math.inf
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    best = times[0]
    return best, times[len(times) // 2]


def main(cases_only=False):
    rows = []
    results = {"machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count()}
    if cases_only:  # only part 4 (the newer teachers and losses)
        t_minimize = t_kernel = t_brentq = agree = agree_min = math.nan
        baselines = {}

    if not cases_only:
        # ---- 1. hat integrals at one state
        model = get("glm_erm", loss="logistic", alpha=2.0, reg=0.1, channel="sign")
        sol = fixedpoint.solve(model, atol=1e-10, rtol=1e-10)
        x = sol.x
        glx, glw = _legendre()
        kernel = lambda: _sign_integrals(1, x[0], x[1], x[2], 1.0, 0.0, 1.0, glx, glw)  # noqa: E731
        kernel()
        t_kernel, t_kernel_med = timeit(kernel, 200)
        hats_kernel = 2.0 * kernel()[:3]
        t0 = time.perf_counter()
        hats_brentq = quad_hats(*x, alpha=2.0)
        t_brentq = time.perf_counter() - t0
        t0 = time.perf_counter()
        hats_minimize = quad_hats(*x, alpha=2.0, prox=prox_logistic_minimize)
        t_minimize = time.perf_counter() - t0
        agree = float(np.max(np.abs(hats_kernel - hats_brentq) / np.abs(hats_brentq)))
        agree_min = float(np.max(np.abs(hats_kernel - hats_minimize) / np.abs(hats_minimize)))
        rows += [
            ("hat integrals, Numba kernel (best of 200)", t_kernel, "-"),
            ("hat integrals, quad + brentq prox", t_brentq, f"rel. diff {agree:.1e}"),
            ("hat integrals, quad + minimize_scalar prox", t_minimize, f"rel. diff {agree_min:.1e}"),
        ]
        results["hats"] = dict(kernel_s=t_kernel, kernel_median_s=t_kernel_med, quad_brentq_s=t_brentq,
                               quad_minimize_scalar_s=t_minimize, ratio_brentq=t_brentq / t_kernel,
                               ratio_minimize_scalar=t_minimize / t_kernel, rel_diff_brentq=agree,
                               rel_diff_minimize_scalar=agree_min)

        # ---- 2. full solve at tolerance 1e-10
        solve = lambda: fixedpoint.solve(model, atol=1e-10, rtol=1e-10)  # noqa: E731
        solve()
        t_solve, t_solve_med = timeit(solve, 50)
        baselines = {}
        for label, prox in (("minimize_scalar", prox_logistic_minimize), ("brentq", prox_logistic_brentq)):
            t0 = time.perf_counter()
            base = fixedpoint.solve(lambda x, prox=prox: quad_update(x, prox=prox), model.initial_state("uninformed"),
                                    atol=1e-10, rtol=1e-10, bounds=model.bounds(), names=model.state_names)
            t_base = time.perf_counter() - t0
            diff = float(np.max(np.abs(base.x - sol.x) / np.abs(sol.x)))
            baselines[label] = dict(seconds=t_base, evaluations=base.evaluations, converged=bool(base.converged),
                                    rel_diff=diff, ratio=t_base / t_solve)
            rows.append((f"logistic solve, quad + {label} baseline", t_base,
                         f"{base.evaluations} evaluations, converged={base.converged}, rel. diff {diff:.1e}"))
        rows.insert(len(rows) - 2, ("logistic solve (alpha=2, reg=0.1), model, warm", t_solve,
                                    f"{sol.evaluations} evaluations"))
        results["solve"] = dict(model_s=t_solve, model_median_s=t_solve_med, model_evaluations=sol.evaluations,
                                baselines=baselines, target_s=5e-3)

        # ---- 3. 100-point sweep of Huber regression
        huber = get("glm_erm", loss="huber", delta=1.0, channel="linear", noise=0.5, alpha=2.0, reg=0.1)
        alphas = np.linspace(0.1, 10.0, 100)
        sweep = lambda: fixedpoint.sweep(huber, "alpha", alphas)  # noqa: E731
        sw = sweep()
        t_sweep, t_sweep_med = timeit(sweep, 10)
        # the model's share: time spent inside update() during one sweep
        from equations.glm_erm import GLMERM

        spent = [0.0, 0]
        original = GLMERM.update

        def timed(self, x):
            t = time.perf_counter()
            out = original(self, x)
            spent[0] += time.perf_counter() - t
            spent[1] += 1
            return out

        GLMERM.update = timed
        try:
            sweep()
        finally:
            GLMERM.update = original
        rows.append(("huber 100-point alpha sweep, warm", t_sweep,
                     f"all converged={bool(sw.converged.all())}; {spent[1]} update calls taking "
                     f"{spent[0] * 1e3:.1f} ms, the rest is the engine"))
        results["huber_sweep"] = dict(seconds=t_sweep, median_s=t_sweep_med, points=len(alphas),
                                      converged=bool(sw.converged.all()), target_s=65e-3,
                                      update_calls=spent[1], update_seconds=spent[0])

    # ---- 4. the newer teachers and losses, warm
    cases = {
        "logit teacher, logistic (gamma=2)": dict(loss="logistic", alpha=3.0, reg=0.1, channel="logit", gamma=2.0),
        "logit teacher, hinge (gamma=1)": dict(loss="hinge", alpha=3.0, reg=0.1, channel="logit"),
        "logit teacher, logistic, beta0=0.5, fitted bias": dict(loss="logistic", alpha=3.0, reg=0.1, channel="logit",
                                                               gamma=2.0, beta0=0.5, bias=True),
        "logit teacher, logistic (gamma=20)": dict(loss="logistic", alpha=3.0, reg=0.1, channel="logit", gamma=20.0),
        "random labels, hinge margin 0.5": dict(loss="hinge", alpha=0.5, reg=0.01, channel="random", margin=0.5),
        "sign teacher, beta0=0.5, fitted bias": dict(loss="logistic", alpha=3.0, reg=0.1, channel="sign", beta0=0.5,
                                                     bias=True),
        "outliers, huber": dict(loss="huber", alpha=10.0, reg=0.1, channel="outliers", eps=0.3, beta=0.0,
                                noise_in=1.0, noise_out=5.0),
        "outliers, absolute": dict(loss="absolute", alpha=10.0, reg=0.1, channel="outliers", eps=0.3, beta=0.0,
                                   noise_in=1.0, noise_out=5.0),
        "tukey (tau=2), linear teacher": dict(loss="tukey", delta=2.0, alpha=4.0, reg=0.1, channel="linear",
                                             noise=0.5),
    }
    results["new_cases"] = {}
    for label, params in cases.items():
        m = get("glm_erm", **params)
        solve_m = lambda m=m: fixedpoint.solve(m, atol=1e-10, rtol=1e-10)  # noqa: E731
        t0 = time.perf_counter()
        s_m = solve_m()  # first call: compiles (or loads) the kernels, builds the logit teacher's table boxes
        t_first = time.perf_counter() - t0
        t_m, t_m_med = timeit(solve_m, 20)
        rows.append((f"{label}, warm", t_m, f"{s_m.evaluations} evaluations, converged={s_m.converged}, "
                                            f"median {t_m_med * 1e3:.2f} ms, first call {t_first * 1e3:.0f} ms"))
        results["new_cases"][label] = dict(seconds=t_m, median_s=t_m_med, evaluations=s_m.evaluations,
                                           converged=bool(s_m.converged), target_s=5e-3, first_s=t_first)

    print(f"{'benchmark':52s} {'time':>12s}  notes")
    for name, t, note in rows:
        print(f"{name:52s} {t * 1e3:10.3f} ms  {note}")
    if cases_only:
        return results
    print(f"\nhat integrals, quad+minimize_scalar / kernel: {t_minimize / t_kernel:,.0f}x (agreement {agree_min:.1e}); "
          f"quad+brentq / kernel: {t_brentq / t_kernel:,.0f}x (agreement {agree:.1e})")
    for label, b in baselines.items():
        print(f"full solve, quad+{label} / model: {b['ratio']:,.0f}x")

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "glm_erm.json"), "w") as fh:
        json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    import sys

    main(cases_only="--cases-only" in sys.argv[1:])
