"""Numba kernels of :mod:`equations.attention` (the channel of a two-token dot-product attention).

Kept apart from the model so that the registry imports stay light; every rule (nodes, weights)
is an argument, never a global, and nothing recurses.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _sig(u):
    # guarded logistic function
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


@njit(cache=True)
def _loss_grad_hess(h1, h2, t1, t2, sigma2, out):
    """The per-sample loss ``sigma^2 [(S11 - t1)^2 + (S22 - t2)^2]`` of the student attention
    ``S = softmax_rows(h h^T)`` (``S11 = sig(h1 (h1 - h2))``, ``S22 = sig(h2 (h2 - h1))``), with its
    gradient ``out[0:2]`` and Hessian ``out[2:5]`` (``H11, H12, H22``) in ``h``; returns the loss."""
    u1 = h1 * (h1 - h2)
    u2 = h2 * (h2 - h1)
    s1 = _sig(u1)
    s2 = _sig(u2)
    r1 = s1 - t1
    r2 = s2 - t2
    d1 = s1 * (1.0 - s1)
    d2 = s2 * (1.0 - s2)
    # dl/du and d2l/du2 (the two u's enter separately)
    l1 = 2.0 * sigma2 * r1 * d1
    l2 = 2.0 * sigma2 * r2 * d2
    l11 = 2.0 * sigma2 * (d1 * d1 + r1 * d1 * (1.0 - 2.0 * s1))
    l22 = 2.0 * sigma2 * (d2 * d2 + r2 * d2 * (1.0 - 2.0 * s2))
    # grad u1 = (2 h1 - h2, -h1), grad u2 = (-h2, 2 h2 - h1); Hess u1 = [[2, -1], [-1, 0]],
    # Hess u2 = [[0, -1], [-1, 2]]
    a1 = 2.0 * h1 - h2
    b1 = -h1
    a2 = -h2
    b2 = 2.0 * h2 - h1
    out[0] = l1 * a1 + l2 * a2
    out[1] = l1 * b1 + l2 * b2
    out[2] = l11 * a1 * a1 + l22 * a2 * a2 + 2.0 * l1
    out[3] = l11 * a1 * b1 + l22 * a2 * b2 - l1 - l2
    out[4] = l11 * b1 * b1 + l22 * b2 * b2 + 2.0 * l2
    return sigma2 * (r1 * r1 + r2 * r2)


@njit(cache=True)
def _newton(h1, h2, w1, w2, V, t1, t2, sigma2, buf, res):
    """Local minimum of ``g(h) = |h - w|^2 / (2V) + loss(h)`` by Newton's method with a
    Levenberg shift (the Hessian made positive definite) and backtracking from ``(h1, h2)``.
    Writes ``res = (h1, h2, g, loss)``."""
    g = ((h1 - w1) ** 2 + (h2 - w2) ** 2) / (2.0 * V) + _loss_grad_hess(h1, h2, t1, t2, sigma2, buf)
    for _ in range(100):
        g1 = (h1 - w1) / V + buf[0]
        g2 = (h2 - w2) / V + buf[1]
        if abs(g1) + abs(g2) < 1e-15 * (1.0 + (abs(h1) + abs(h2) + abs(w1) + abs(w2)) / V):
            break
        a = buf[2] + 1.0 / V
        b = buf[3]
        c = buf[4] + 1.0 / V
        # smallest eigenvalue of [[a, b], [b, c]]; shift it up to a positive floor
        lmin = 0.5 * (a + c) - math.sqrt(0.25 * (a - c) ** 2 + b * b)
        # pure Newton where the Hessian is positive definite (quadratic convergence at a strict
        # minimum); a Levenberg shift to 0.1/V above zero where it is not
        shift = 0.0
        if lmin <= 0.0:
            shift = 0.1 / V - lmin
        a += shift
        c += shift
        det = a * c - b * b
        p1 = -(c * g1 - b * g2) / det
        p2 = -(a * g2 - b * g1) / det
        slope = g1 * p1 + g2 * p2
        step = 1.0
        accepted = False
        if shift == 0.0 and abs(p1) + abs(p2) < 1e-6 * (1.0 + abs(h1) + abs(h2)):
            # the last Newton steps at a strict minimum: g changes there below its own rounding,
            # so an Armijo test would stop the descent ~1e-9 short; take the full step
            h1 += p1
            h2 += p2
            g = ((h1 - w1) ** 2 + (h2 - w2) ** 2) / (2.0 * V) + _loss_grad_hess(h1, h2, t1, t2, sigma2, buf)
            if abs(p1) + abs(p2) < 1e-15 * (1.0 + abs(h1) + abs(h2)):
                break
            continue
        for _k in range(40):
            n1 = h1 + step * p1
            n2 = h2 + step * p2
            gn = ((n1 - w1) ** 2 + (n2 - w2) ** 2) / (2.0 * V) + _loss_grad_hess(n1, n2, t1, t2, sigma2, buf)
            if gn <= g + 1e-4 * step * slope:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            _loss_grad_hess(h1, h2, t1, t2, sigma2, buf)
            break
        dh = abs(n1 - h1) + abs(n2 - h2)
        h1 = n1
        h2 = n2
        g = gn
        if dh < 1e-14 * (1.0 + abs(h1) + abs(h2)):
            break
    res[0] = h1
    res[1] = h2
    res[2] = g
    res[3] = _loss_grad_hess(h1, h2, t1, t2, sigma2, buf)


@njit(cache=True)
def _prox_from(p1, p2, m1, m2, w1, w2, V, t1, t2, sigma2, buf, res, out):
    """The better of the Newton descents from ``(p1, p2)`` and ``(m1, m2)``; ``out = (h1, h2, g,
    loss, hp1, hp2, hm1, hm2)`` with the two local minima found (the next warm starts)."""
    _newton(p1, p2, w1, w2, V, t1, t2, sigma2, buf, res)
    out[4] = res[0]
    out[5] = res[1]
    g = res[2]
    out[0] = res[0]
    out[1] = res[1]
    out[2] = res[2]
    out[3] = res[3]
    _newton(m1, m2, w1, w2, V, t1, t2, sigma2, buf, res)
    out[6] = res[0]
    out[7] = res[1]
    if res[2] < g:
        out[0] = res[0]
        out[1] = res[1]
        out[2] = res[2]
        out[3] = res[3]


@njit(cache=True)
def prox(w1, w2, V, t1, t2, sigma2, out):
    """Global minimiser of ``|h - w|^2 / (2V) + loss(h; t)``, the better of the Newton descents
    from ``w`` and ``-w``: the loss is even in ``h`` (it depends on ``h h^T``), so its minima come
    in mirror pairs ``+-h`` and the penalty selects between the basin on the side of ``w`` and the
    mirror one. ``out`` (length 8) ``= (h1, h2, g, loss, ...)``. Checked against a brute-force grid
    search in the tests."""
    buf = np.empty(5)
    res = np.empty(4)
    _prox_from(w1, w2, -w1, -w2, w1, w2, V, t1, t2, sigma2, buf, res, out)


@njit(cache=True)
def channel(q, m, theta, V, rho, sigma2, omega, A11, A22, x, wx, out):
    """Channel averages over ``xi, y ~ N(0, I_2)`` (tensor Gauss-Hermite rule ``x, wx`` on each
    of the four axes) of the prox of a two-token sample.

    Student pre-activations ``w_l = sqrt(q) xi_l +- m`` (``+`` for token 1), teacher's
    ``s_l = theta / sqrt(q) xi_l + sqrt(rho - theta^2 / q) y_l``, target
    ``T_ll = (1 - omega) sig(s_l (s_l - s_l')) + omega A_ll``; ``f = (h* - w) / V``.
    ``out = (E[f1 - f2], E[f1^2 + f2^2], E[f1 y1 + f2 y2], E[f1 xi1 + f2 xi2], E[M], E[loss(h*)])``
    with ``M`` the Moreau envelope (the minimum).
    """
    n = x.shape[0]
    sq = math.sqrt(q)
    a = theta / sq
    b = math.sqrt(max(rho - theta * theta / q, 0.0))
    for k in range(6):
        out[k] = 0.0
    r = np.empty(8)
    buf = np.empty(5)
    res = np.empty(4)
    for i in range(n):
        w1 = sq * x[i] + m
        for j in range(n):
            w2 = sq * x[j] - m
            wij = wx[i] * wx[j]
            for k in range(n):
                s1 = a * x[i] + b * x[k]
                # the prox moves little from one teacher node to the next: each of the two
                # basins (the side of w and the mirror one) is warm-started from its minimum at
                # the previous node, and both restart cold from +-w when they have merged
                hp1, hp2, hm1, hm2 = w1, w2, -w1, -w2
                for l in range(n):
                    s2 = a * x[j] + b * x[l]
                    t1 = (1.0 - omega) * _sig(s1 * (s1 - s2)) + omega * A11
                    t2 = (1.0 - omega) * _sig(s2 * (s2 - s1)) + omega * A22
                    if abs(hp1 - hm1) + abs(hp2 - hm2) < 1e-6 * (1.0 + abs(hp1) + abs(hp2)):
                        hp1, hp2, hm1, hm2 = w1, w2, -w1, -w2
                    _prox_from(hp1, hp2, hm1, hm2, w1, w2, V, t1, t2, sigma2, buf, res, r)
                    hp1, hp2, hm1, hm2 = r[4], r[5], r[6], r[7]
                    f1 = (r[0] - w1) / V
                    f2 = (r[1] - w2) / V
                    wt = wij * wx[k] * wx[l]
                    out[0] += wt * (f1 - f2)
                    out[1] += wt * (f1 * f1 + f2 * f2)
                    out[2] += wt * (f1 * x[k] + f2 * x[l])
                    out[3] += wt * (f1 * x[i] + f2 * x[j])
                    out[4] += wt * r[2]
                    out[5] += wt * r[3]


@njit(cache=True)
def test_error(q, m, theta, rho, sigma2, omega, A11, A22, x, wx):
    """``sigma^2 E[(S11(w) - T11(s))^2 + (S22(w) - T22(s))^2]`` (half the squared Frobenius
    distance of the attention matrices, times ``sigma^2``) over the same 4-d rule."""
    n = x.shape[0]
    sq = math.sqrt(q)
    a = theta / sq if sq > 0.0 else 0.0
    b = math.sqrt(max(rho - (theta * theta / q if q > 0.0 else 0.0), 0.0))
    tot = 0.0
    for i in range(n):
        w1 = sq * x[i] + m
        for j in range(n):
            w2 = sq * x[j] - m
            S1 = _sig(w1 * (w1 - w2))
            S2 = _sig(w2 * (w2 - w1))
            for k in range(n):
                s1 = a * x[i] + b * x[k]
                for l in range(n):
                    s2 = a * x[j] + b * x[l]
                    t1 = (1.0 - omega) * _sig(s1 * (s1 - s2)) + omega * A11
                    t2 = (1.0 - omega) * _sig(s2 * (s2 - s1)) + omega * A22
                    tot += wx[i] * wx[j] * wx[k] * wx[l] * ((S1 - t1) ** 2 + (S2 - t2) ** 2)
    return sigma2 * tot


@njit(cache=True)
def target_variance(rho, x, wx):
    """``Var[sig(s1 (s1 - s2))]`` for ``s1, s2 ~ N(0, rho)`` independent (2-d rule)."""
    n = x.shape[0]
    sr = math.sqrt(rho)
    e1 = 0.0
    e2 = 0.0
    for i in range(n):
        s1 = sr * x[i]
        for j in range(n):
            s2 = sr * x[j]
            v = _sig(s1 * (s1 - s2))
            e1 += wx[i] * wx[j] * v
            e2 += wx[i] * wx[j] * v * v
    return e2 - e1 * e1
