"""Gaussian-mixture ERM (``gmm_erm``): our solve against the slow way the authors' code takes.

The slow way (the structure of IdePHICS/GaussMixtureProject, written here from the equations, not
copied): a damped fixed-point loop (damping 0.5) on ``(m, q, V)`` whose hats are nested adaptive
``scipy.integrate.quad`` integrals of a proximal operator found by ``minimize_scalar`` at every
node, and whose bias is a ``brentq`` root of its stationarity condition at every iteration (a
nested root search around the quadrature). Both solve the logistic loss with a bias on imbalanced
clusters at ``alpha = 2, reg = 0.1, noise = 1, balance = 0.3`` to a relative change of 1e-6 (the
slow loop cannot afford tighter), and the states are compared.

Structured covariances: a logistic solve with a bias on two clusters of ``K = 10^4`` modes
(power-law spectra, the clusters' in opposite orders), the time of one map step and of a solve.

    python benchmarks/bench_mixtures.py [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
from pathlib import Path

import numpy as np
from scipy import integrate, optimize
from scipy.stats import norm

import fixedpoint
from bench_continuation import timed  # (benchmarks/ is on the path)
import equations

ALPHA, REG, NOISE, BALANCE = 2.0, 0.1, 1.0, 0.3


def _prox_logistic(t, Vc):
    """``argmin_z log(1 + e^-z) + (z - t)^2 / (2 Vc)`` by a bounded scalar minimisation."""
    res = optimize.minimize_scalar(lambda z: np.logaddexp(0.0, -z) + (z - t) ** 2 / (2 * Vc),
                                   bounds=(t - 1e-9, t + Vc + 1e-9), method="bounded", options={"xatol": 1e-10})
    return res.x


def _moments(mean, sd, Vc):
    """``E f, E f^2, E f'`` over ``t ~ N(mean, sd^2)``, ``f = (prox - t) / Vc`` (adaptive quad)."""
    def f(t):
        return (_prox_logistic(t, Vc) - t) / Vc

    def df(t):
        z = _prox_logistic(t, Vc)
        c = 1.0 / (4.0 * math.cosh(z / 2) ** 2)
        return -c / (1.0 + Vc * c)

    def E(g):
        return integrate.quad(lambda t: g(t) * norm.pdf(t, mean, sd), mean - 10 * sd, mean + 10 * sd,
                              epsabs=1e-10, epsrel=1e-8, limit=100)[0]

    return E(f), E(lambda t: f(t) ** 2), E(df)


def slow_solve(tol=1e-6, max_iter=500):
    m, q, V, b = 0.01, 1.0, 1.0, 0.0
    for it in range(max_iter):
        sd, Vc = math.sqrt(NOISE * q), NOISE * V

        def bias_condition(bb):
            return BALANCE * _moments(m + bb, sd, Vc)[0] - (1 - BALANCE) * _moments(m - bb, sd, Vc)[0]

        b = optimize.brentq(bias_condition, -5.0, 5.0, xtol=1e-10)
        p, mi = _moments(m + b, sd, Vc), _moments(m - b, sd, Vc)
        Ef, Ef2, Edf = (BALANCE * x + (1 - BALANCE) * y for x, y in zip(p, mi))
        m_hat, q_hat, V_hat = ALPHA * Ef, ALPHA * NOISE * Ef2, -ALPHA * NOISE * Edf
        Vn = 1.0 / (REG + V_hat)
        new = np.array([m_hat * Vn, (m_hat ** 2 + q_hat) * Vn ** 2, Vn])
        old = np.array([m, q, V])
        step = 0.5 * old + 0.5 * new
        m, q, V = step
        if np.max(np.abs(new - old) / np.abs(old)) < tol:
            return np.array([m, q, V, b]), it + 1
    return np.array([m, q, V, b]), max_iter


def structured_point(K=10_000):
    """Time one step and one solve of ``gmm_erm`` with structured covariances over ``K`` modes."""
    k = np.arange(1, K + 1)
    s_plus = tuple(float(v) for v in k ** -0.5 / np.mean(k ** -0.5))
    model = equations.get("gmm_erm", loss="logistic", alpha=ALPHA, reg=REG, noise=NOISE, balance=BALANCE, bias=True,
                          spectrum_plus=s_plus, spectrum_minus=s_plus[::-1],
                          mean_coefficients=tuple(float(v) for v in np.sqrt(k ** -0.3 / np.mean(k ** -0.3))))
    sol = fixedpoint.solve(model)  # compile / load the kernels
    x = sol.x
    _, step, _ = timed(lambda: model.update(x), 20)
    sol, med, _ = timed(lambda: fixedpoint.solve(model, atol=1e-12, rtol=1e-12), 5)
    return {"modes": K, "step_median_s": step, "solve_median_s": med, "iterations": sol.iterations,
            "converged": bool(sol.converged), "state": [float(v) for v in sol.x]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "mixtures.json"))
    args = ap.parse_args(argv)
    res = {"machine": platform.platform(), "cpus": os.cpu_count()}
    model = equations.get("gmm_erm", loss="logistic", alpha=ALPHA, reg=REG, noise=NOISE, balance=BALANCE, bias=True)
    fixedpoint.solve(model)  # compile / load the kernels
    sol, med, mn = timed(lambda: fixedpoint.solve(model, atol=1e-12, rtol=1e-12), 5)
    (x_slow, its), slow, _ = timed(slow_solve, 1)
    res["gmm_erm_logistic_bias"] = {
        "ours_median_s": med, "ours_iterations": sol.iterations, "slow_s": slow, "slow_iterations": its,
        "ratio": slow / med, "max_rel_difference": float(np.max(np.abs(x_slow - sol.x) / np.abs(sol.x))),
        "state": [float(v) for v in sol.x]}
    alphas = np.geomspace(0.3, 10, 50)
    sw, t_sweep, _ = timed(lambda: fixedpoint.sweep(model, "alpha", alphas), 1)
    res["gmm_erm_sweep_50"] = {"s": t_sweep, "converged": int(sw.converged.sum())}
    res["gmm_erm_structured_1e4_modes"] = structured_point()
    for k, v in res.items():
        print(f"{k:24s} {v}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
