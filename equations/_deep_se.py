"""The full state evolution of ``deep_attention`` (two tied attention layers, ``p = L = 2``) at any
overlap ``Q`` (2 x 2): the kernel and its outer rule, for :mod:`equations.sequence`.

Equations (Troiani, Cui, Dandi, Krzakala, Zdeborova 2025, Sec. 4; the channel as in the module
docstring of :mod:`equations.sequence`). Per token ``l`` the pair ``Z_l = (z_1l, z_2l)`` (layer 1,
layer 2) has the prior ``N(0, I_2)``; at overlap ``Q`` and ``V = I - Q``, ``omega_l ~ N(0, Q)`` and
``Z_l | omega_l ~ N(omega_l, V)``. The label reveals ``h = A(z_1) z_2`` up to its sign, ``A(z) =
softmax(z z^T) + c I``. With ``g_l = V^{-1} (E[Z_l | y, omega] - omega_l)``::

    Q_hat = alpha E sum_l g_l g_l^T,      Q = Q_hat (I + Q_hat)^{-1},
    Psi_out = E log Z_out,   Z_out = int dz_1 N(z_1; omega_1, V_11 I) sum_{+-} N(+-A(z_1)^{-1} h;
              m_2(z_1), s_22 I) / |det A(z_1)|,

``m_2 = omega_2 + (V_12 / V_11)(z_1 - omega_1)``, ``s_22 = V_22 - V_12^2 / V_11`` (the density of
``h`` given ``omega``, folded over its sign).

The outer average is over the teacher: ``Z*_l ~ N(0, I_2)`` and ``omega_l = Q Z*_l + S xi_l``,
``S = (Q V)^{1/2}``, ``xi_l ~ N(0, I_2)`` (the joint law of the teacher and ``omega``), 8 standard
normal coordinates, on a scrambled Sobol point set with a fixed seed (deterministic) mapped
through the normal quantile, each point taken with its antithetic image ``xi_l[0] -> -xi_l[0]``
(the coordinate that enters ``omega_1`` through ``S_11``). The image makes the sampled map even in
``S_11 = (Q_11 (1 - Q_11))^{1/2}`` at ``Q_12 = 0``: without it the point set's odd moments leave a
term in ``Q_11^{1/2}``, the size of the sampling error, which at ``Q_11 = 1e-6`` is as large as
``Q_11`` itself and would move ``Q_11`` off zero by itself. The inner average over ``z_1 =
omega_1 + V_11^{1/2} u`` is a tensor Gauss-Hermite rule in ``u``, in log space with a running
maximum (the folded density can be far below ``exp(-700)`` at a label far from ``omega``).

``Q_hat`` is taken in the direct form ``E g g^T``: on the invariant subspace ``Q_11 = Q_12 = 0``
(``omega_1 = 0``, the inner rule symmetric under ``z_1 -> -z_1``) it gives ``Q_hat_11 = Q_hat_12 =
0`` exactly, as the true map does. The Nishimori form ``L V^{-1} - V^{-1} E[sum_l Cov(Z_l | y,
omega)] V^{-1}`` is returned too: the two agree in expectation, and their difference measures the
outer rule's error.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from fixedpoint._jit import njit_compiled

from .sequence import _softmax_weights, _tensor_nodes

#: log of the smallest inner weight kept, relative to the largest (tails of the Gauss-Hermite rule)
_LOG_KEEP = math.log(1e-18)


@njit_compiled(cache=True, inline="always")
def _add_outer_g(out, x1, x2, i11, i12, i22):
    """``out[0:3] += (g g^T)_(11, 12, 22)`` with ``g = V^{-1} x`` (``V^{-1}`` given as ``i11, i12, i22``)."""
    g1 = i11 * x1 + i12 * x2
    g2 = i12 * x1 + i22 * x2
    out[0] += g1 * g1
    out[1] += g1 * g2
    out[2] += g2 * g2


@njit_compiled(cache=True, nogil=True)
def _deep_se_kernel(Q11, Q12, Q22, S11, S12, S22, V11, V12, V22, c, X, lwu, U, out):
    """Sums over the outer points ``X`` (``n x 8``: ``z*_1 (2 tokens), z*_2 (2 tokens), xi_1 (layer
    1, 2), xi_2 (layer 1, 2)``) and their antithetic images into ``out``: ``[0:3]`` ``sum_l g_l
    g_l^T`` (11, 12, 22), ``[3:6]`` ``sum_l Cov(Z_l | y, omega)``, ``[6]`` ``log Z_out``, ``[7]``
    the number of terms, ``[8]`` the largest inner node's share of ``Z_out`` (a resolution check:
    near one, the inner rule sees a single node)."""
    sv = math.sqrt(V11)
    beta = V12 / V11
    s22 = V22 - V12 * V12 / V11
    det = V11 * V22 - V12 * V12
    i11 = V22 / det
    i12 = -V12 / det
    i22 = V11 / det
    lnorm = math.log(2.0 * math.pi * s22)
    m = U.shape[0]
    for a in range(X.shape[0]):
        a1 = X[a, 0]
        a2 = X[a, 1]
        b1 = X[a, 2]
        b2 = X[a, 3]
        # the teacher's label: h = A(z*_1) z*_2
        t1, t2 = _softmax_weights(a1, a2)
        h1 = (1.0 - t1 + c) * b1 + t1 * b2
        h2 = t2 * b1 + (1.0 - t2 + c) * b2
        for image in range(2):
            sg = 1.0 - 2.0 * image  # the antithetic image flips xi_l[0]
            x4 = sg * X[a, 4]
            x6 = sg * X[a, 6]
            o11 = Q11 * a1 + Q12 * b1 + S11 * x4 + S12 * X[a, 5]
            o21 = Q12 * a1 + Q22 * b1 + S12 * x4 + S22 * X[a, 5]
            o12 = Q11 * a2 + Q12 * b2 + S11 * x6 + S12 * X[a, 7]
            o22 = Q12 * a2 + Q22 * b2 + S12 * x6 + S22 * X[a, 7]
            M = -1e300
            P = 0.0
            top_f = 0.0
            e11 = 0.0
            e12 = 0.0
            e21 = 0.0
            e22 = 0.0
            # second moments of Z_l per token l (a = token 1, b = token 2): layers (1, 1), (1, 2), (2, 2)
            a11 = 0.0
            a12 = 0.0
            a22 = 0.0
            b11 = 0.0
            b12 = 0.0
            b22 = 0.0
            for t in range(m):
                u1 = U[t, 0]
                u2 = U[t, 1]
                z11 = o11 + sv * u1
                z12 = o12 + sv * u2
                s1, s2 = _softmax_weights(z11, z12)
                A11 = 1.0 - s1 + c
                A22 = 1.0 - s2 + c
                dA = A11 * A22 - s1 * s2
                p1 = (A22 * h1 - s1 * h2) / dA
                p2 = (-s2 * h1 + A11 * h2) / dA
                m1 = o21 + beta * sv * u1
                m2 = o22 + beta * sv * u2
                ep = 0.5 * ((p1 - m1) ** 2 + (p2 - m2) ** 2) / s22
                em = 0.5 * ((p1 + m1) ** 2 + (p2 + m2) ** 2) / s22
                base = lwu[t] - math.log(abs(dA))
                lp = base - ep
                lm = base - em
                hi = lp if lp > lm else lm
                if hi > M:
                    # a new running maximum: rescale what has been summed
                    sc = math.exp(M - hi)
                    P *= sc
                    top_f *= sc
                    e11 *= sc
                    e12 *= sc
                    e21 *= sc
                    e22 *= sc
                    a11 *= sc
                    a12 *= sc
                    a22 *= sc
                    b11 *= sc
                    b12 *= sc
                    b22 *= sc
                    M = hi
                fp = math.exp(lp - M)
                fm = math.exp(lm - M)
                f = fp + fm
                fd = fp - fm
                P += f
                if f > top_f:
                    top_f = f
                e11 += f * z11
                e12 += f * z12
                e21 += fd * p1
                e22 += fd * p2
                # (z_2 = +-A^{-1} h: odd moments in z_2 take the signed weight fd)
                a11 += f * z11 * z11
                a12 += fd * z11 * p1
                a22 += f * p1 * p1
                b11 += f * z12 * z12
                b12 += fd * z12 * p2
                b22 += f * p2 * p2
            E11 = e11 / P
            E12 = e12 / P
            E21 = e21 / P
            E22 = e22 / P
            # g_l = V^{-1} (E[Z_l] - omega_l), token 1 then token 2
            _add_outer_g(out, E11 - o11, E21 - o21, i11, i12, i22)
            _add_outer_g(out, E12 - o12, E22 - o22, i11, i12, i22)
            out[3] += a11 / P - E11 * E11 + b11 / P - E12 * E12
            out[4] += a12 / P - E11 * E21 + b12 / P - E12 * E22
            out[5] += a22 / P - E21 * E21 + b22 / P - E22 * E22
            out[6] += M + math.log(P) - lnorm
            out[7] += 1.0
            if top_f / P > out[8]:
                out[8] = top_f / P


@functools.lru_cache(maxsize=8)
def outer_points(log2_points: int, seed: int) -> np.ndarray:
    """``2^log2_points`` points of ``N(0, I_8)``: a scrambled Sobol set (``scipy.stats.qmc``, the given
    seed) through the normal quantile (read-only)."""
    from scipy.stats import norm, qmc

    u = qmc.Sobol(8, scramble=True, seed=seed).random_base2(log2_points)
    X = np.ascontiguousarray(norm.ppf(np.clip(u, 1e-16, 1.0 - 1e-16)))
    X.flags.writeable = False
    return X


@functools.lru_cache(maxsize=8)
def inner_nodes(n: int):
    """The tensor Gauss-Hermite rule of ``N(0, I_2)`` (:func:`equations.sequence._tensor_nodes`) as
    ``(log weights, nodes)``, nodes of weight below ``1e-18`` of the largest dropped (read-only)."""
    U, w = _tensor_nodes(n)
    lw = np.log(w)
    keep = lw > lw.max() + _LOG_KEEP
    lw, U = np.ascontiguousarray(lw[keep]), np.ascontiguousarray(U[keep])
    lw.flags.writeable = False
    U.flags.writeable = False
    return lw, U


def deep_state_evolution(Q, skip: float, log2_points: int, nodes: int, seed: int = 0, workers: int = 2) -> dict:
    """``E sum_l g_l g_l^T`` (direct and Nishimori forms), ``Psi_out`` and the inner resolution check
    at the overlap ``Q`` (2 x 2, ``0 < V = I - Q``), module docstring. ``workers`` threads share the
    outer points."""
    Q = 0.5 * (np.asarray(Q, dtype=float) + np.asarray(Q, dtype=float).T)
    V = np.eye(2) - Q
    lam, R = np.linalg.eigh(Q)
    S = (R * np.sqrt(np.clip(lam * (1.0 - lam), 0.0, None))) @ R.T
    X = outer_points(log2_points, seed)
    lw, U = inner_nodes(nodes)
    args = (Q[0, 0], Q[0, 1], Q[1, 1], S[0, 0], S[0, 1], S[1, 1], V[0, 0], V[0, 1], V[1, 1], float(skip))
    workers = max(1, min(int(workers), X.shape[0]))
    outs = [np.zeros(9) for _ in range(workers)]
    if workers == 1:
        _deep_se_kernel(*args, X, lw, U, outs[0])
    else:
        from concurrent.futures import ThreadPoolExecutor

        parts = [np.ascontiguousarray(X[i::workers]) for i in range(workers)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda i: _deep_se_kernel(*args, parts[i], lw, U, outs[i]), range(workers)))
    total = np.sum(outs, axis=0)
    n = total[7]
    G = np.array([[total[0], total[1]], [total[1], total[2]]]) / n
    C = np.array([[total[3], total[4]], [total[4], total[5]]]) / n
    Vi = np.linalg.inv(V)
    return {"A": G, "A_nishimori": 2.0 * Vi - Vi @ C @ Vi, "psi": total[6] / n,
            "top_share": max(o[8] for o in outs)}
