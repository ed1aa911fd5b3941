#!/usr/bin/env python
"""Engine benchmarks: fixed-point solvers and Gauss-Hermite kernels against scipy baselines.

Run from the repository root (about 1-2 minutes)::

    python benchmarks/bench_engine.py            # full run, writes benchmarks/results/engine.json
    python benchmarks/bench_engine.py --quick    # fewer timing repeats (numbers noisier)

Part 1, solvers. Over a catalogue of fixed-point maps (linear contractions with spectral radius
0.99 and 0.999 in 2 to 50 dimensions, coupled nonlinear maps in 2 to 5 dimensions, state-evolution
maps of Bayes-optimal GLMs and spiked Wigner near their transitions, the 3-dimensional
logistic-regression ERM map), it counts map evaluations and measures wall time for

    fixedpoint.Anderson()        (default: memory 5, no damping, safeguards and stability check)
    fixedpoint.Damped(0)         plain iteration
    fixedpoint.Damped(0.5)
    scipy.optimize.fixed_point   method "del2" (Steffensen/Aitken) and "iteration"

all at the same tolerance: ours ``atol = rtol = 1e-10`` on the residual ``|F(x) - x|``; scipy's
``xtol = 1e-10`` on the relative step (scipy raises when it does not converge: recorded as not
converged). Evaluations of scipy's solver are counted by wrapping the map. Every converged answer
is compared with a reference fixed point (closed form for the linear maps, ``scipy.optimize.root``
on ``F(x) - x`` polished to 1e-14 otherwise) and judged against the error the tolerance allows,
``10 * |(I - J)^{-1}| (atol + rtol |x|)`` with ``J`` the Jacobian at the reference.

Part 2, quadrature. A ``@njit(cache=True)`` Gauss-Hermite kernel (nodes and weights passed as
arguments) against adaptive ``scipy.integrate.quad`` on the same integral, at equal accuracy
(both checked against an mpmath reference):

    (a) plain smooth expectations: ``E tanh(g + sqrt(g) z)^2`` and the sign-channel
        ``E_xi N(u) (N(u)/H(u) + N(u)/H(-u))``, ``u = sqrt(q/(1-q+noise)) xi``;
    (b) the logistic-loss ERM hat integral with a proximal solve at every node,
        ``E_xi sum_y P(y|xi) ((prox_y(omega) - omega) / V)^2``, ``omega = sqrt(q) xi``, the teacher
        ``y = sign(z)``, ``z | xi ~ N(m xi / sqrt(q), rho - m^2/q)`` so that
        ``P(y|xi) = H(-y (m/sqrt q) xi / sqrt(rho - m^2/q))``, at ``(m, q, V) = (0.5, 0.6, 1.2)``,
        ``rho = 1``. Baseline: ``quad`` over xi with ``scipy.optimize.minimize_scalar`` (Brent,
        ``tol=1e-10``) for every prox; a second, stronger baseline solves the stationarity
        condition with ``brentq`` instead.

Timings use ``time.perf_counter`` after a warm-up call (Numba compiled or loaded from its cache
first); each is repeated and the median and minimum are kept. Nothing is asserted: the script
prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import scipy.integrate
import scipy.optimize
import scipy.special
import numba
from numba import njit

import fixedpoint
from fixedpoint.quadrature import gauss_hermite, mills, sigmoid, H, mp_expect
from fixedpoint.solvers import numerical_jacobian

ATOL = 1e-10
RTOL = 1e-10
XTOL_SCIPY = 1e-10
MAX_ITER = 50_000  # every solver gets the same budget (Damped(0.5) at rho=0.999 needs ~30k here)
NODES_SE = 80  # Gauss-Hermite nodes inside the state-evolution maps of the catalogue

SQRT2PI = math.sqrt(2.0 * math.pi)


# =============================================================================================
# Numba kernels: one concrete kernel per integral family, nodes and weights are arguments
# =============================================================================================


@njit(cache=True)
def tanh_moments_kernel(g, z, w):
    """``(E tanh(g + sqrt(g) z), E tanh(g + sqrt(g) z)^2)`` for ``z ~ N(0, 1)``."""
    s = math.sqrt(g)
    m1 = 0.0
    m2 = 0.0
    for i in range(z.size):
        t = math.tanh(g + s * z[i])
        m1 += w[i] * t
        m2 += w[i] * t * t
    return m1, m2


@njit(cache=True)
def sign_channel_kernel(q, noise, z, w):
    """``E_xi sum_y Z_out g_out^2`` of the sign channel ``y = sign(x + sqrt(noise) eps)``, rho = 1.

    ``Z_out(y) = H(-y u)``, ``u = omega / s``, ``omega = sqrt(q) xi``, ``s^2 = 1 - q + noise``, so the
    sum over ``y`` is ``N(u) (mills(u) + mills(-u)) / s^2`` (mills = N/H, stable in the tails).
    """
    s2 = 1.0 - q + noise
    c = math.sqrt(q / s2)
    acc = 0.0
    for i in range(z.size):
        u = c * z[i]
        phi = math.exp(-0.5 * u * u) / SQRT2PI
        acc += w[i] * phi * (mills(u) + mills(-u))
    return acc / s2


@njit(cache=True)
def prox_logistic(y, omega, V):
    """``argmin_z log(1 + exp(-y z)) + (z - omega)^2 / (2 V)`` and ``l''`` there, ``y = +-1``.

    With ``t = y z`` the stationarity condition is ``t = y omega + V sigmoid(-t)``, increasing in
    ``t`` with its root in ``[y omega, y omega + V]``: Newton's method, safeguarded by bisection
    on that bracket.
    """
    a = y * omega
    lo = a
    hi = a + V
    t = a + V * sigmoid(-a)
    if t > hi:
        t = hi
    for _ in range(100):
        s = sigmoid(-t)
        f = t - a - V * s
        if f > 0.0:
            hi = t
        elif f < 0.0:
            lo = t
        else:
            break
        fp = 1.0 + V * s * (1.0 - s)
        tn = t - f / fp
        if not (lo <= tn <= hi):
            tn = 0.5 * (lo + hi)
        if abs(tn - t) <= 1e-15 * (1.0 + abs(t)):
            t = tn
            break
        t = tn
    s = sigmoid(-t)
    return y * t, s * (1.0 - s)


@njit(cache=True)
def logistic_qhat_kernel(m, q, V, rho, z, w):
    """``E_xi sum_y P(y|xi) ((prox_y(omega) - omega) / V)^2`` with ``omega = sqrt(q) xi``."""
    sq = math.sqrt(q)
    c = m / sq
    vs = rho - m * m / q
    if not (q > 0.0 and V > 0.0 and vs > 0.0):
        return math.nan
    svs = math.sqrt(vs)
    acc = 0.0
    for i in range(z.size):
        xi = z[i]
        omega = sq * xi
        ws = c * xi / svs
        for k in range(2):
            y = 2.0 * k - 1.0
            p = H(-y * ws)
            zp, _ = prox_logistic(y, omega, V)
            f = (zp - omega) / V
            acc += w[i] * p * f * f
    return acc


@njit(cache=True)
def logistic_hats_kernel(m, q, V, rho, z, w):
    """The three ERM hat integrals (per unit alpha) of logistic regression, sign teacher.

    Returns ``(mhat, qhat, vhat)``: ``E sum_y dZ*/domega* f_out``, ``E sum_y Z* f_out^2`` and
    ``E sum_y Z* l''/(1 + V l'')`` with ``f_out = (prox - omega) / V``.
    """
    sq = math.sqrt(q)
    vs = rho - m * m / q
    if not (q > 0.0 and V > 0.0 and vs > 0.0):
        return math.nan, math.nan, math.nan
    svs = math.sqrt(vs)
    c = m / sq / svs
    mh = 0.0
    qh = 0.0
    vh = 0.0
    for i in range(z.size):
        xi = z[i]
        omega = sq * xi
        u = c * xi
        dens = math.exp(-0.5 * u * u) / SQRT2PI / svs
        for k in range(2):
            y = 2.0 * k - 1.0
            p = H(-y * u)
            zp, l2 = prox_logistic(y, omega, V)
            f = (zp - omega) / V
            mh += w[i] * y * dens * f
            qh += w[i] * p * f * f
            vh += w[i] * p * l2 / (1.0 + V * l2)
    return mh, qh, vh


# =============================================================================================
# Part 1: the catalogue of maps
# =============================================================================================


class Case:
    """One fixed-point map with its start, domain and (when known) exact fixed point."""

    def __init__(self, name, kind, F, x0, *, exact=None, bounds=None, note=""):
        self.name, self.kind, self.F, self.note = name, kind, F, note
        self.x0 = np.asarray(x0, dtype=float)
        self.exact = None if exact is None else np.asarray(exact, dtype=float)
        self.bounds = bounds
        self.d = self.x0.size


def _linear(name, eigs, rng, *, rotation=None, note=""):
    """``F(x) = A x + b`` with a symmetric ``A`` of the given eigenvalues (plus optional 2x2
    rotation blocks ``r R(theta)``: complex eigenvalues ``r exp(+-i theta)``)."""
    eigs = list(eigs)
    blocks = []
    if rotation is not None:
        for r, th in rotation:
            blocks.append(r * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]]))
    d = len(eigs) + 2 * len(blocks)
    D = np.zeros((d, d))
    D[: len(eigs), : len(eigs)] = np.diag(eigs)
    k = len(eigs)
    for B in blocks:
        D[k : k + 2, k : k + 2] = B
        k += 2
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = Q @ D @ Q.T
    xstar = 1.0 + rng.uniform(0.0, 1.0, d)  # no entry near 0 (scipy's test is relative)
    b = xstar - A @ xstar

    def F(x):
        return A @ x + b

    rho = float(np.max(np.abs(np.linalg.eigvals(A))))
    return Case(name, "linear", F, np.zeros(d), exact=xstar, note=note or f"spectral radius {rho:.4g}")


def build_catalogue():
    rng = np.random.default_rng(20261122)
    cases = []
    # ---- linear contractions close to 1
    cases.append(_linear("lin_d2_r0.99", [0.99, 0.5], rng))
    cases.append(_linear("lin_d10_r0.99", np.linspace(0.0, 0.99, 10), rng))
    cases.append(_linear("lin_d10_r0.999", np.linspace(-0.5, 0.999, 10), rng))
    cases.append(_linear("lin_d50_r0.999", np.concatenate([np.linspace(-0.9, 0.9, 47), [0.99, 0.995, 0.999]]), rng))
    cases.append(_linear("lin_rot_d4_r0.99", [0.95, -0.3], rng, rotation=[(0.99, 0.3)],
                         note="complex pair 0.99 exp(+-0.3i)"))
    cases.append(_linear("lin_d3_flip1.5", [-1.5, 0.9, 0.5], rng,
                         note="eigenvalue -1.5: plain iteration diverges, Damped(0.5) contracts"))

    # ---- coupled nonlinear maps (2-5 dims)
    eta = 0.035

    def gd_rosen(x):  # gradient descent on (x-1)^2/2 + 5 (y - x^2)^2: Jacobian eigenvalues ~0.993, -0.78
        a, b = x
        return np.array([a - eta * ((a - 1.0) - 20.0 * a * (b - a * a)), b - eta * 10.0 * (b - a * a)])

    cases.append(Case("nl_gd_rosen_d2", "nonlinear", gd_rosen, [-0.5, 0.8],
                      note="gradient descent on a curved valley; contraction ~0.993"))

    W5 = rng.standard_normal((5, 5))
    W5 = 0.5 * (W5 + W5.T)
    W5 *= 1.05 / np.max(np.abs(np.linalg.eigvalsh(W5)))
    b5 = 0.1 * rng.standard_normal(5)

    def tanh_net(x):
        return np.tanh(W5 @ x + b5)

    cases.append(Case("nl_tanh_d5", "nonlinear", tanh_net, 0.5 * np.ones(5),
                      note="tanh(W x + b), |W| = 1.05"))

    W5s = W5 * (0.99 / 1.05)
    b5s = 0.2 * b5

    def tanh_net_slow(x):
        return np.tanh(W5s @ x + b5s)

    cases.append(Case("nl_tanh_d5_slow", "nonlinear", tanh_net_slow, 0.5 * np.ones(5),
                      note="tanh(W x + b), |W| = 0.99, small b: contraction ~0.99"))

    P4 = rng.uniform(0.2, 1.0, (4, 4))
    P4 /= P4.sum(axis=1, keepdims=True)
    b4 = np.array([0.3, -0.2, 0.1, 0.25])

    def stoch(x):
        return b4 + 0.98 * P4 @ np.tanh(x) + 0.05 * np.cos(x[::-1])

    cases.append(Case("nl_stoch_tanh_d4", "nonlinear", stoch, np.zeros(4),
                      note="b + 0.98 P tanh(x) + 0.05 cos(reversed x), P stochastic"))

    def trig3(x):
        a, b, c = x
        return np.array([0.6 * math.cos(b) + 0.39 * a + 0.1,
                         0.5 * math.sin(a + c) + 0.45 * b,
                         0.3 * math.cos(a - b) + 0.68 * c + 0.02 * a * b])

    cases.append(Case("nl_trig_d3", "nonlinear", trig3, np.zeros(3), note="trigonometric coupling"))

    # ---- state-evolution maps (Gauss-Hermite + Numba inside the map)
    z, w = gauss_hermite(NODES_SE)

    def glm_gauss_sign(alpha, noise):
        def F(x):
            q = x[0]
            qh = alpha * sign_channel_kernel(q, noise, z, w)
            return np.array([qh / (1.0 + qh)])
        return F

    cases.append(Case("se_glm_gauss_sign_a1", "state-evolution", glm_gauss_sign(1.0, 0.0), [0.0],
                      bounds=([0.0], [1.0]),
                      note="Bayes GLM, Gaussian prior, sign channel (spherical perceptron), alpha=1"))
    cases.append(Case("se_glm_gauss_sign_a3_n0.1", "state-evolution", glm_gauss_sign(3.0, 0.1), [0.0],
                      bounds=([0.0], [1.0]), note="same, alpha=3, noise 0.1"))

    def glm_rad_sign(alpha):
        def F(x):
            q = x[0]
            qh = alpha * sign_channel_kernel(q, 0.0, z, w)
            return np.array([tanh_moments_kernel(qh, z, w)[0]])
        return F

    cases.append(Case("se_perceptron_rad_a1.45", "state-evolution", glm_rad_sign(1.45), [0.0],
                      bounds=([0.0], [1.0]),
                      note="binary perceptron (Rademacher prior, sign channel), uninformed branch, alpha=1.45"))
    cases.append(Case("se_perceptron_rad_a1.492", "state-evolution", glm_rad_sign(1.492), [0.0],
                      bounds=([0.0], [1.0]),
                      note="same at alpha=1.492, just below the spinodal (1.492 < alpha_sp < 1.493 here)"))

    def wigner_rad(snr):
        def F(x):
            return np.array([tanh_moments_kernel(snr * x[0], z, w)[0]])
        return F

    cases.append(Case("se_wigner_rad_snr1.05", "state-evolution", wigner_rad(1.05), [1e-3],
                      bounds=([0.0], [1.0]),
                      note="spiked Wigner, Rademacher prior, 5% above the transition snr=1, "
                           "uninformed start m=1e-3 (escapes the unstable trivial point m=0)"))
    cases.append(Case("se_wigner_rad_snr1.05_inf", "state-evolution", wigner_rad(1.05), [1.0 - 1e-9],
                      bounds=([0.0], [1.0]), note="same map, informed start m=1-1e-9"))

    def erm_logistic(alpha, reg):
        def F(x):
            m, q, V = x
            mh, qh, vh = logistic_hats_kernel(m, q, V, 1.0, z, w)
            den = reg + alpha * vh
            return np.array([alpha * mh / den, (alpha * alpha * mh * mh + alpha * qh) / den ** 2, 1.0 / den])
        return F

    inf = np.inf
    cases.append(Case("se_erm_logistic_a2_l0.1", "state-evolution", erm_logistic(2.0, 0.1), [0.1, 0.5, 1.0],
                      bounds=([-inf, 0.0, 0.0], [inf, inf, inf]),
                      note="logistic regression ERM (m, q, V), sign teacher, alpha=2, reg=0.1"))
    cases.append(Case("se_erm_logistic_a5_l0.01", "state-evolution", erm_logistic(5.0, 0.01), [0.1, 0.5, 1.0],
                      bounds=([-inf, 0.0, 0.0], [inf, inf, inf]),
                      note="same, alpha=5, reg=0.01 (slower)"))
    return cases


# =============================================================================================
# timing helpers
# =============================================================================================


def time_call(fn, *, budget=0.5, max_repeat=7, min_repeat=2, long_single=1.5):
    """Run ``fn`` repeatedly; return ``(last_result, median_s, min_s, repeats)``.

    The caller warms up (compiles) beforehand. Repeats until ``budget`` seconds are spent
    (at least ``min_repeat`` runs unless one run already takes ``long_single`` seconds).
    """
    times = []
    out = None
    t_all = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        spent = time.perf_counter() - t_all
        if len(times) >= max_repeat:
            break
        if len(times) >= min_repeat and spent >= budget:
            break
        if len(times) == 1 and times[0] >= long_single:
            break
    return out, statistics.median(times), min(times), len(times)


def time_loop(fn, *, inner, trials):
    """Per-call seconds of a fast function: ``trials`` batches of ``inner`` calls; (median, min).

    Batches are short (a millisecond or two) so that, like a single quad call, the minimum can
    catch an uncontended time slice on a busy machine.
    """
    per = []
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        per.append((time.perf_counter() - t0) / inner)
    return statistics.median(per), min(per)


# =============================================================================================
# Part 1 runner
# =============================================================================================

SOLVERS = ("Anderson()", "Damped(0)", "Damped(0.5)", "scipy del2", "scipy iteration")


def run_solver(case, label):
    """One solve; returns a dict with converged, evaluations, x (or None), status."""
    if label.startswith("scipy"):
        method = label.split()[1]
        count = [0]

        def G(x):
            count[0] += 1
            return case.F(np.asarray(x, dtype=float))

        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                x = scipy.optimize.fixed_point(G, case.x0.copy(), xtol=XTOL_SCIPY, maxiter=MAX_ITER, method=method)
            x = np.asarray(x, dtype=float)
            ok = bool(np.all(np.isfinite(x)))
            status = "converged" if ok else "nonfinite"
        except RuntimeError as exc:  # scipy: "Failed to converge after %d iterations"
            x, ok, status = None, False, f"raised: {str(exc)[:60]}"
        except (ValueError, ArithmeticError) as exc:
            x, ok, status = None, False, f"raised {type(exc).__name__}"
        return dict(converged=ok, evaluations=count[0], iterations=None, x=x, status=status)
    solver = {"Anderson()": fixedpoint.Anderson(), "Damped(0)": fixedpoint.Damped(0.0),
              "Damped(0.5)": fixedpoint.Damped(0.5)}[label]
    with np.errstate(all="ignore"):
        sol = fixedpoint.solve(case.F, case.x0.copy(), solver=solver, atol=ATOL, rtol=RTOL, max_iter=MAX_ITER,
                               bounds=case.bounds)
    return dict(converged=bool(sol.converged), evaluations=int(sol.evaluations), iterations=int(sol.iterations),
                x=np.array(sol.x) if sol.converged else None, status=str(sol.status.value),
                message=sol.message if not sol.converged else "")


def reference_point(case, results):
    """Exact fixed point, or scipy.optimize.root on F(x) - x from a plain-iteration answer."""
    if case.exact is not None:
        return case.exact, "closed form"
    start, origin = None, "x0"
    for lab in ("Damped(0)", "Damped(0.5)", "scipy iteration", "Anderson()"):
        if results[lab]["converged"]:
            start, origin = results[lab]["x"], lab
            break
    if start is None:
        start = case.x0
    with np.errstate(all="ignore"):
        r = scipy.optimize.root(lambda x: case.F(x) - x, start, method="hybr", tol=1e-14)
    x = r.x
    # a few Newton polishing steps with a finite-difference Jacobian
    for _ in range(3):
        J, _ = numerical_jacobian(case.F, x)
        try:
            x = x - np.linalg.solve(J - np.eye(x.size), case.F(x) - x)
        except np.linalg.LinAlgError:
            break
    return x, f"scipy.optimize.root from the {origin} answer"


def run_part1(quick):
    cases = build_catalogue()
    rows = []
    budget = 0.25 if quick else 0.6
    for case in cases:
        with np.errstate(all="ignore"):
            case.F(case.x0.copy())  # warm-up: compile / load the Numba kernels
        res = {}
        for lab in SOLVERS:
            out, med, mn, reps = time_call(lambda: run_solver(case, lab), budget=budget)
            out.update(time_median_s=med, time_min_s=mn, repeats=reps)
            res[lab] = out
        xref, ref_how = reference_point(case, res)
        fref = case.F(xref)
        ref_res = float(np.max(np.abs(fref - xref)))
        J, _ = numerical_jacobian(case.F, xref)
        rho = float(np.max(np.abs(np.linalg.eigvals(J))))
        tolvec = ATOL + RTOL * np.abs(xref)
        try:
            K = np.linalg.inv(np.eye(case.d) - J)
            allowed = float(10.0 * np.max(np.abs(K) @ tolvec))
        except np.linalg.LinAlgError:
            allowed = math.inf
        for lab in SOLVERS:
            r = res[lab]
            if r["converged"]:
                dev = float(np.max(np.abs(r["x"] - xref)))
                r["max_dev"] = dev
                r["agrees"] = bool(dev <= allowed)
            else:
                r["max_dev"] = None
                r["agrees"] = None
        rows.append(dict(case=case, res=res, xref=xref, ref_how=ref_how, ref_residual=ref_res, rho=rho,
                         allowed_dev=allowed))
        a, p = res["Anderson()"], res["Damped(0)"]
        flag = ""
        if p["converged"] and not a["converged"]:
            flag = "  <-- ANDERSON FAILED WHERE PLAIN CONVERGED"
        print(f"  {case.name:<26s} rho={rho:.5f}  Anderson {a['evaluations']:>6d} ev "
              f"({'ok' if a['converged'] else a['status']})  plain {p['evaluations']:>6d} ev "
              f"({'ok' if p['converged'] else p['status']}){flag}", flush=True)
    return rows


def fmt_ev(r):
    if r["converged"]:
        s = str(r["evaluations"])
        if r.get("agrees") is False:
            s += "!"
        return s
    st = r["status"]
    short = "div" if "nonfinite" in st or "raised Value" in st or "raised Arith" in st else (
        "max" if ("max_iter" in st or "Failed to converge" in st) else st[:5])
    return f"x({short})"


def fmt_ms(r):
    return f"{1e3 * r['time_median_s']:.3g}"


def print_part1(rows):
    labs = SOLVERS
    short = ("Anderson", "Damped0", "Damped.5", "sp.del2", "sp.iter")
    print()
    print("Map evaluations to reach atol = rtol = 1e-10 (scipy: xtol = 1e-10 on the relative step).")
    print("x(div) diverged / non-finite, x(max) iteration budget exhausted, x(stagn) stagnated, "
          "'!' answer outside the tolerance-allowed error of the reference.")
    hdr = f"{'map':<26s} {'d':>3s} {'rho(J*)':>8s} " + " ".join(f"{s:>9s}" for s in short) + f" {'plain/AA':>9s} {'maxdev':>8s}"
    print(hdr)
    print("-" * len(hdr))
    for row in rows:
        c, res = row["case"], row["res"]
        a, p = res["Anderson()"], res["Damped(0)"]
        ratio = f"{p['evaluations'] / a['evaluations']:.1f}" if (a["converged"] and p["converged"]) else "-"
        devs = [res[l]["max_dev"] for l in labs if res[l]["converged"]]
        md = f"{max(devs):.1e}" if devs else "-"
        print(f"{c.name:<26s} {c.d:>3d} {row['rho']:>8.5f} " + " ".join(f"{fmt_ev(res[l]):>9s}" for l in labs)
              + f" {ratio:>9s} {md:>8s}")
    print()
    print("Wall time per solve, ms (median of repeats, after warm-up; not-converged runs are timed too).")
    hdr = f"{'map':<26s} " + " ".join(f"{s:>9s}" for s in short) + f" {'plain/AA':>9s}"
    print(hdr)
    print("-" * len(hdr))
    for row in rows:
        c, res = row["case"], row["res"]
        a, p = res["Anderson()"], res["Damped(0)"]
        ratio = f"{p['time_median_s'] / a['time_median_s']:.1f}" if (a["converged"] and p["converged"]) else "-"
        print(f"{c.name:<26s} " + " ".join(f"{fmt_ms(res[l]):>9s}" for l in labs) + f" {ratio:>9s}")


def summarise_part1(rows):
    ev_ratios, t_ratios, failures, mismatches, aa_only, slow = [], [], [], [], [], []
    for row in rows:
        res = row["res"]
        a, p = res["Anderson()"], res["Damped(0)"]
        if p["converged"]:
            if a["converged"]:
                ev_ratios.append(p["evaluations"] / a["evaluations"])
                t_ratios.append(p["time_median_s"] / a["time_median_s"])
                if row["rho"] >= 0.9:
                    slow.append(p["evaluations"] / a["evaluations"])
            else:
                failures.append(dict(map=row["case"].name, status=a["status"], message=a.get("message", "")))
        elif a["converged"]:
            aa_only.append(row["case"].name)
        for lab in SOLVERS:
            if res[lab]["converged"] and res[lab]["agrees"] is False:
                mismatches.append(dict(map=row["case"].name, solver=lab, max_dev=res[lab]["max_dev"],
                                       allowed=row["allowed_dev"]))
    n_plain = sum(1 for r in rows if r["res"]["Damped(0)"]["converged"])
    return dict(
        maps=len(rows),
        maps_where_plain_converges=n_plain,
        median_eval_ratio_plain_over_anderson=float(np.median(ev_ratios)) if ev_ratios else None,
        min_eval_ratio=float(min(ev_ratios)) if ev_ratios else None,
        median_time_ratio_plain_over_anderson=float(np.median(t_ratios)) if t_ratios else None,
        maps_both_converge=len(ev_ratios),
        median_eval_ratio_slow_maps=float(np.median(slow)) if slow else None,
        slow_maps_definition="spectral radius of the Jacobian at the fixed point >= 0.9",
        slow_maps=len(slow),
        anderson_converges_wherever_plain_converges=not failures,
        anderson_failures_where_plain_converged=failures,
        anderson_converged_where_plain_did_not=aa_only,
        answers_outside_tolerance=mismatches,
        target_eval_ratio=10.0,
        target_met=bool(ev_ratios and np.median(ev_ratios) >= 10.0 and not failures),
    )


# =============================================================================================
# Part 2: quadrature
# =============================================================================================


def _log1pexp_py(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def quad_gauss(f, epsabs, epsrel):
    """``E f(xi)``, ``xi ~ N(0, 1)``, by adaptive quad on the real line (QAGI)."""

    def integrand(xi):
        if abs(xi) > 38.0:  # the density underflows to 0 there
            return 0.0
        return f(xi) * math.exp(-0.5 * xi * xi) / SQRT2PI

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
        val, err = scipy.integrate.quad(integrand, -np.inf, np.inf, epsabs=epsabs, epsrel=epsrel, limit=500)
    return val, err


def gh_nodes_for(kernel_of_nodes, reference, tol, candidates=(10, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 200)):
    """Smallest Gauss-Hermite order in ``candidates`` whose result is within ``tol`` of ``reference``
    (and stays there for the next candidate)."""
    errs = {}
    for i, n in enumerate(candidates):
        z, w = gauss_hermite(n)
        errs[n] = abs(kernel_of_nodes(z, w) - reference)
    for i, n in enumerate(candidates[:-1]):
        if errs[n] <= tol and errs[candidates[i + 1]] <= tol:
            return n, errs
    return candidates[-1], errs


def bench_plain(name, formula, kernel_of_nodes, py_integrand, mp_integrand, *, tol, quick):
    """Both methods at their cheapest setting whose actual error (vs mpmath) is <= ``tol``."""
    ref = float(mp_expect(mp_integrand, dps=30))
    n, errs = gh_nodes_for(kernel_of_nodes, ref, tol)
    quad_eps = None
    for eps in (1e-6, 1e-8, 1e-10, 1e-12, 1e-13):
        if abs(quad_gauss(py_integrand, eps, eps)[0] - ref) <= tol:
            quad_eps = eps
            break
    quad_eps = quad_eps or 1e-13
    z, w = gauss_hermite(n)
    kernel_of_nodes(z, w)  # warm-up (compiled already, but be explicit)
    val_nb = kernel_of_nodes(z, w)
    t_nb_med, t_nb_min = time_loop(lambda: kernel_of_nodes(z, w), inner=200, trials=15 if quick else 41)
    (val_q, est), t_q_med, t_q_min, reps = time_call(lambda: quad_gauss(py_integrand, quad_eps, quad_eps),
                                                     budget=0.3 if quick else 0.8, max_repeat=15, min_repeat=3)
    return dict(
        name=name, integral=formula, reference_mpmath=ref, gh_nodes=n,
        gh_value=val_nb, gh_abs_error=abs(val_nb - ref), gh_errors_by_nodes={str(k): v for k, v in errs.items()},
        quad_value=val_q, quad_abs_error=abs(val_q - ref), quad_error_estimate=est, quad_epsabs=quad_eps,
        quad_epsrel=quad_eps, agreement=abs(val_nb - val_q),
        time_numba_s=t_nb_med, time_numba_min_s=t_nb_min, time_quad_s=t_q_med, time_quad_min_s=t_q_min,
        quad_repeats=reps, speed_ratio=t_q_med / t_nb_med, speed_ratio_min=t_q_min / t_nb_min,
    )


def run_part2(quick):
    import mpmath as mp

    out = []
    # ---- (a1) E tanh(g + sqrt(g) z)^2 at g = 1
    g = 1.0
    sg = math.sqrt(g)
    out.append(bench_plain(
        "tanh2_g1", "E tanh(g + sqrt(g) z)^2, g = 1",
        lambda z, w: tanh_moments_kernel(g, z, w)[1],
        lambda x: math.tanh(g + sg * x) ** 2,
        lambda x: mp.tanh(g + mp.sqrt(g) * x) ** 2,
        tol=1e-12, quick=quick))

    # ---- (a2) sign channel E_xi N(u) (N(u)/H(u) + N(u)/H(-u)) / s^2, q = 0.7, noise = 0
    q = 0.7
    s2 = 1.0 - q
    cq = math.sqrt(q / s2)

    def sign_py(x):
        u = cq * x
        lphi = -0.5 * u * u - math.log(SQRT2PI)
        # N(u)^2/H(u) + N(u)^2/H(-u), with log H(u) = log_ndtr(-u)
        return (math.exp(2 * lphi - scipy.special.log_ndtr(-u)) + math.exp(2 * lphi - scipy.special.log_ndtr(u))) / s2

    def sign_mp(x):
        u = mp.sqrt(mp.mpf(q) / (1 - mp.mpf(q))) * x
        return mp.npdf(u) ** 2 * (1 / mp.ncdf(-u) + 1 / mp.ncdf(u)) / (1 - mp.mpf(q))

    out.append(bench_plain(
        "sign_channel_q0.7", "E_xi sum_y Z_out g_out^2, sign channel, q = 0.7 (N(u)^2/H(+-u) integrand)",
        lambda z, w: sign_channel_kernel(q, 0.0, z, w), sign_py, sign_mp,
        tol=1e-12, quick=quick))

    # ---- (b) logistic hat integral with a prox at every node
    out.append(run_prox_bench(quick))
    return out


def run_prox_bench(quick):
    import mpmath as mp

    m, q, V, rho = 0.5, 0.6, 1.2, 1.0
    sq = math.sqrt(q)
    c = m / sq
    svs = math.sqrt(rho - m * m / q)
    ndtr = scipy.special.ndtr

    state = {"tol": 1.48e-8}  # minimize_scalar's Brent tolerance (1.48e-8 is scipy's default)

    def prox_minimize(y, om):
        def obj(zz):
            return _log1pexp_py(-y * zz) + (zz - om) ** 2 / (2.0 * V)

        return scipy.optimize.minimize_scalar(obj, bracket=(om, om + 0.5 * y * V), method="brent",
                                              tol=state["tol"]).x

    def prox_brentq(y, om):
        def grad(zz):
            t = y * zz
            sig = 1.0 / (1.0 + math.exp(t)) if t > -700 else 1.0  # sigmoid(-t)
            return (zz - om) / V - y * sig

        a, b = sorted((om, om + y * V))
        return scipy.optimize.brentq(grad, a, b, xtol=1e-15, rtol=1e-15)

    def make_integrand(prox):
        def f(xi):
            om = sq * xi
            ws = c * xi / svs
            tot = 0.0
            for y in (-1.0, 1.0):
                fo = (prox(y, om) - om) / V
                tot += ndtr(y * ws) * fo * fo  # P(y|xi) = H(-y ws) = ndtr(y ws)
            return tot
        return f

    # mpmath reference (dps 25): prox by Newton in high precision
    with mp.workdps(25):
        mV, mq, mm = mp.mpf(V), mp.mpf(q), mp.mpf(m)
        msq, msvs = mp.sqrt(mq), mp.sqrt(rho - mm * mm / mq)

        def mp_f(xi):
            om = msq * xi
            tot = 0
            for y in (-1, 1):
                zp = mp.findroot(lambda zz: (zz - om) / mV - y / (1 + mp.exp(y * zz)), om + y * mV / 2, verify=False)
                fo = (zp - om) / mV
                tot += mp.ncdf(y * (mm / msq) * xi / msvs) * fo * fo
            return tot

        t0 = time.perf_counter()
        ref = float(mp_expect(mp_f, dps=25))
        t_mp = time.perf_counter() - t0

    kern = lambda z, w: logistic_qhat_kernel(m, q, V, rho, z, w)  # noqa: E731
    n, errs = gh_nodes_for(kern, ref, 1e-12)
    z, w = gauss_hermite(n)
    kern(z, w)
    val_nb = kern(z, w)
    t_nb_med, t_nb_min = time_loop(lambda: kern(z, w), inner=100, trials=15 if quick else 41)

    f_min = make_integrand(prox_minimize)
    f_bq = make_integrand(prox_brentq)
    # the cheapest baseline setting (quad eps, minimize_scalar tol) whose error vs mpmath is <= 1e-9
    tried = []
    chosen = None
    for eps, mtol in ((1e-8, 1.48e-8), (1e-9, 1.48e-8), (1e-10, 1.48e-8), (1e-10, 1e-10), (1e-11, 1e-10),
                      (1e-12, 1e-12)):
        state["tol"] = mtol
        v = quad_gauss(f_min, eps, eps)[0]
        tried.append(dict(quad_eps=eps, minimize_tol=mtol, abs_error=abs(v - ref)))
        if abs(v - ref) <= 1e-9:
            chosen = (eps, mtol)
            break
    chosen = chosen or (1e-12, 1e-12)
    q_eps, state["tol"] = chosen
    (val_min, est_min), t_min_med, t_min_min, reps_min = time_call(lambda: quad_gauss(f_min, q_eps, q_eps),
                                                                    budget=0.5 if quick else 1.5, max_repeat=5,
                                                                    min_repeat=2)
    bq_eps = 1e-12
    for eps in (1e-8, 1e-9, 1e-10, 1e-11, 1e-12):
        if abs(quad_gauss(f_bq, eps, eps)[0] - ref) <= 1e-9:
            bq_eps = eps
            break
    (val_bq, est_bq), t_bq_med, t_bq_min, reps_bq = time_call(lambda: quad_gauss(f_bq, bq_eps, bq_eps),
                                                               budget=0.3 if quick else 0.8, max_repeat=25,
                                                               min_repeat=5)
    # count prox solves of the minimize_scalar baseline (one quad run)
    calls = [0]

    def counting(xi):
        calls[0] += 1
        return f_min(xi)

    quad_gauss(counting, q_eps, q_eps)
    return dict(
        name="logistic_qhat_prox",
        integral=("E_xi sum_y P(y|xi) ((prox_y(sqrt(q) xi) - sqrt(q) xi)/V)^2, logistic loss, "
                  "P(y|xi) = H(-y (m/sqrt q) xi / sqrt(rho - m^2/q))"),
        point=dict(m=m, q=q, V=V, rho=rho),
        reference_mpmath=ref, reference_time_s=t_mp,
        gh_nodes=n, gh_value=val_nb, gh_abs_error=abs(val_nb - ref),
        gh_errors_by_nodes={str(k): v for k, v in errs.items()},
        quad_minimize_value=val_min, quad_minimize_abs_error=abs(val_min - ref),
        quad_minimize_error_estimate=est_min, quad_minimize_eps=q_eps, minimize_scalar_tol=state["tol"],
        quad_minimize_settings_tried=tried,
        quad_minimize_integrand_calls=calls[0], quad_minimize_prox_solves=2 * calls[0],
        agreement_numba_vs_quad_minimize=abs(val_nb - val_min),
        agreement_target=1e-9,
        agreement_met=bool(abs(val_nb - val_min) <= 1e-9),
        quad_brentq_value=val_bq, quad_brentq_abs_error=abs(val_bq - ref), quad_brentq_eps=bq_eps,
        time_numba_s=t_nb_med, time_numba_min_s=t_nb_min,
        time_quad_minimize_s=t_min_med, time_quad_minimize_min_s=t_min_min, quad_minimize_repeats=reps_min,
        time_quad_brentq_s=t_bq_med, time_quad_brentq_min_s=t_bq_min, quad_brentq_repeats=reps_bq,
        speed_ratio_vs_quad_minimize=t_min_med / t_nb_med,
        speed_ratio_vs_quad_brentq=t_bq_med / t_nb_med,
        speed_ratio_vs_quad_minimize_min=t_min_min / t_nb_min,
        speed_ratio_vs_quad_brentq_min=t_bq_min / t_nb_min,
        target_speed_ratio=1000.0,
    )


def print_part2(rows):
    print()
    print("Quadrature: Numba Gauss-Hermite kernel vs adaptive scipy.integrate.quad (errors vs mpmath).")
    print("Each method at its cheapest setting (GH nodes; quad epsabs = epsrel; minimize_scalar tol) whose")
    print("actual error meets the target (1e-12 for the smooth expectations, 1e-9 for the prox integral;")
    print("the GH kernels are held to 1e-12 throughout). Times per call: medians; ratio = quad / GH on")
    print("medians, r(min) on minima (less sensitive to a loaded machine).")
    hdr = (f"{'integral':<34s} {'GH n':>5s} {'quad eps':>8s} {'GH err':>8s} {'quad err':>8s} {'|GH-quad|':>9s} "
           f"{'GH us':>8s} {'quad us':>10s} {'ratio':>7s} {'r(min)':>7s}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r["name"] == "logistic_qhat_prox":
            print(f"{'logistic hat, prox: minimize_scalar':<34s} {r['gh_nodes']:>5d} {r['quad_minimize_eps']:>8.0e} "
                  f"{r['gh_abs_error']:>8.1e} "
                  f"{r['quad_minimize_abs_error']:>8.1e} {r['agreement_numba_vs_quad_minimize']:>9.1e} "
                  f"{1e6 * r['time_numba_s']:>8.2f} {1e6 * r['time_quad_minimize_s']:>10.0f} "
                  f"{r['speed_ratio_vs_quad_minimize']:>7.0f} {r['speed_ratio_vs_quad_minimize_min']:>7.0f}")
            print(f"{'logistic hat, prox: brentq (FOC)':<34s} {r['gh_nodes']:>5d} {r['quad_brentq_eps']:>8.0e} "
                  f"{r['gh_abs_error']:>8.1e} "
                  f"{r['quad_brentq_abs_error']:>8.1e} {abs(r['gh_value'] - r['quad_brentq_value']):>9.1e} "
                  f"{1e6 * r['time_numba_s']:>8.2f} {1e6 * r['time_quad_brentq_s']:>10.0f} "
                  f"{r['speed_ratio_vs_quad_brentq']:>7.0f} {r['speed_ratio_vs_quad_brentq_min']:>7.0f}")
        else:
            print(f"{r['integral'][:34]:<34s} {r['gh_nodes']:>5d} {r['quad_epsabs']:>8.0e} {r['gh_abs_error']:>8.1e} "
                  f"{r['quad_abs_error']:>8.1e} {r['agreement']:>9.1e} {1e6 * r['time_numba_s']:>8.2f} "
                  f"{1e6 * r['time_quad_s']:>10.0f} {r['speed_ratio']:>7.0f} {r['speed_ratio_min']:>7.0f}")


# =============================================================================================
# main
# =============================================================================================


def _git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, timeout=5).stdout.strip() or None
    except Exception:  # pragma: no cover - informational only
        return None


def _engine_changes():
    """Engine files with uncommitted changes at run time (the numbers measure the working tree)."""
    try:
        out = subprocess.run(["git", "status", "--porcelain", "--", "fixedpoint"], capture_output=True, text=True,
                             cwd=Path(fixedpoint.__file__).resolve().parent, timeout=5).stdout
        return [line[3:] for line in out.splitlines() if line.strip()]
    except Exception:  # pragma: no cover - informational only
        return None


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, np.ndarray):
        return [float(t) for t in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer timing repeats (noisier, faster)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "engine.json"),
                    help="where to write the JSON results")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    print(f"fixedpoint engine benchmark  ({_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}, "
          f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"numba {numba.__version__}, {os.cpu_count()} CPUs)")
    t0 = time.perf_counter()
    z, w = gauss_hermite(20)  # compile (or load from the Numba cache) every kernel once
    tanh_moments_kernel(1.0, z, w)
    sign_channel_kernel(0.5, 0.0, z, w)
    logistic_qhat_kernel(0.5, 0.6, 1.2, 1.0, z, w)
    logistic_hats_kernel(0.5, 0.6, 1.2, 1.0, z, w)
    t_compile = time.perf_counter() - t0
    print(f"kernels compiled/loaded in {t_compile:.2f} s")
    dirty = _engine_changes()
    print(f"engine: {fixedpoint.__file__.rsplit('/', 2)[0]} at {(_git_commit() or '?')[:10]}"
          + (f", uncommitted changes in {', '.join(dirty)}" if dirty else "") + "\n")

    print("Part 1: solvers over the catalogue")
    rows = run_part1(args.quick)
    print_part1(rows)
    summ = summarise_part1(rows)
    print()
    print(f"median evaluation ratio Damped(0)/Anderson over the {len([1 for r in rows if r['res']['Damped(0)']['converged'] and r['res']['Anderson()']['converged']])} "
          f"maps where both converge: {summ['median_eval_ratio_plain_over_anderson']:.1f}x "
          f"(min {summ['min_eval_ratio']:.1f}x; target >= 10x); median time ratio "
          f"{summ['median_time_ratio_plain_over_anderson']:.1f}x")
    print(f"  on the {summ['slow_maps']} slow maps (rho(J*) >= 0.9): median evaluation ratio "
          f"{summ['median_eval_ratio_slow_maps']:.1f}x")
    print("Anderson converges on every map where plain iteration converges: "
          f"{'YES' if summ['anderson_converges_wherever_plain_converges'] else 'NO'}")
    for f in summ["anderson_failures_where_plain_converged"]:
        print(f"  ENGINE BUG? Anderson failed on {f['map']}: {f['status']}: {f['message']}")
    if summ["anderson_converged_where_plain_did_not"]:
        print("Anderson converged where plain iteration did not: "
              + ", ".join(summ["anderson_converged_where_plain_did_not"]))
    if summ["answers_outside_tolerance"]:
        for mm in summ["answers_outside_tolerance"]:
            print(f"  answer outside tolerance: {mm['map']} / {mm['solver']}: dev {mm['max_dev']:.2e} "
                  f"> allowed {mm['allowed']:.2e}")
    else:
        print("every converged answer agrees with the reference within the tolerance-allowed error")

    print("\nPart 2: quadrature")
    quad_rows = run_part2(args.quick)
    print_part2(quad_rows)
    pb = quad_rows[-1]
    print(f"\nprox integral: {pb['gh_nodes']} Gauss-Hermite nodes; |Numba - quad/minimize_scalar| = "
          f"{pb['agreement_numba_vs_quad_minimize']:.1e} (target 1e-9: {'met' if pb['agreement_met'] else 'NOT met'}); "
          f"speed ratio {pb['speed_ratio_vs_quad_minimize']:.0f}x (min-based {pb['speed_ratio_vs_quad_minimize_min']:.0f}x; target >= 1000x), "
          f"{pb['speed_ratio_vs_quad_brentq']:.0f}x against the brentq baseline; "
          f"quad/minimize_scalar made {pb['quad_minimize_prox_solves']} prox solves")
    total = time.perf_counter() - t_start
    print(f"\ntotal benchmark time {total:.1f} s")

    # ---- JSON
    p1 = []
    for row in rows:
        c = row["case"]
        p1.append(dict(
            map=c.name, kind=c.kind, dim=c.d, note=c.note, x0=_jsonable(c.x0),
            bounds=None if c.bounds is None else [_jsonable(np.asarray(b, float)) for b in c.bounds],
            reference=_jsonable(row["xref"]), reference_how=row["ref_how"],
            reference_residual=row["ref_residual"], spectral_radius_at_fixed_point=row["rho"],
            allowed_deviation=_jsonable(row["allowed_dev"]),
            solvers={lab: {k: _jsonable(v) for k, v in r.items() if k != "x"} | {"x": _jsonable(r["x"]) if r["x"] is not None else None}
                     for lab, r in row["res"].items()},
        ))
    doc = dict(
        benchmark="engine",
        created_utc=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        git_commit=_git_commit(),
        engine_uncommitted_changes=_engine_changes(),
        environment=dict(python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
                         numba=numba.__version__, platform=platform.platform(), cpus=os.cpu_count(),
                         numba_cache_dir=os.environ.get("NUMBA_CACHE_DIR")),
        settings=dict(atol=ATOL, rtol=RTOL, scipy_xtol=XTOL_SCIPY, max_iter=MAX_ITER, se_nodes=NODES_SE,
                      quick=args.quick, timing="time.perf_counter, warm-up first, median (and min) of repeats"),
        kernel_compile_or_load_s=t_compile,
        solvers=dict(maps=p1, summary=summ),
        quadrature=[{k: _jsonable(v) for k, v in r.items()} for r in quad_rows],
        total_time_s=total,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
