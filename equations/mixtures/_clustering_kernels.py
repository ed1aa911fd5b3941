"""Compiled integrals of the subspace-clustering state evolution (:mod:`equations.mixtures.clustering`).

Two families, one kernel each (DESIGN.md numba rules: Gauss-Legendre nodes and weights are
arguments).

Labels (one-hot prior over ``k`` clusters, channel of signal-to-noise ``a`` on the ``k - 1``
between-cluster directions). With ``l = a e_1 + sqrt(a) xi`` (``xi ~ N(0, I_k)``) the posterior
probability of the true cluster is ``softmax_1(l)``. By the Gumbel-max identity, with ``g_c``
i.i.d. standard Gumbel, ``softmax_1(l) = P(argmax_c (l_c + g_c) = 1 | l)``, so with ``Y = sqrt(a)
xi + g`` (CDF ``F``, density ``F'``)::

    p(a) = E softmax_1 = int F'(y) F(y + a)^{k-1} dy,
    k p - 1 = k int F'(y) [F(y + a)^{k-1} - F(y)^{k-1}] dy,

one-dimensional integrals of the one-dimensional convolutions ``F(y) = E_{t ~ N(y, a)} Lambda(t)``
(``Lambda(t) = exp(-e^{-t})`` the Gumbel CDF), for every ``k``. The difference ``F(y + a) -
F(y) = E_{t ~ N(y, a)} Lambda(t) expm1(t - y - a/2)`` is integrated as such, so that ``k p - 1``
(of order ``a``) keeps its relative accuracy as ``a -> 0``. Every integral is a composite
8-node Gauss-Legendre rule on panels no wider than ``min(1, sqrt(a))`` (the scales of ``Lambda``
and of the Gaussian), on ``t in [-4, 40]`` (``Lambda < 2e-24`` below, ``1 - Lambda < 5e-18``
above; the Gaussian mass beyond 40 is added in closed form) within 12 standard deviations.

Centroids (row prior ``rho N(0, I_k) + (1 - rho) delta_0``, channel ``B = A v + A^{1/2} xi`` with
``A`` of eigenvalue ``a1`` on the mean direction ``1/sqrt(k)`` and ``a`` on its ``n = k - 1``
dimensional complement). In the eigenbasis, with ``z1 ~ N(0, 1)`` and ``R ~ chi^2_n``, the
posterior probability that the row is in the support is ``pi(q) = sigmoid(q/2 - c0)``, ``c0 =
log(1 + a1)/2 + n log(1 + a)/2 + log((1 - rho)/rho)``, where ``q = a1 z1^2 + a R`` on the support
and ``q = a1 z1^2/(1 + a1) + a R/(1 + a)`` off it. The double integrals over ``(z1, r = sqrt R)``
are nested composite 6-node Gauss-Legendre rules whose panel ends include, besides a uniform
grid of step 0.5, the points where the argument of the sigmoid crosses ``-12, -10, ..., 12``: the
transition is resolved however sharp it is.
"""

from __future__ import annotations

import math

import numpy as np
from fixedpoint._jit import njit_compiled

from fixedpoint.quadrature import H, sorted_copy

#: Gumbel window: Lambda(t) < 2e-24 for t < _T_LO, 1 - Lambda(t) < 5e-18 for t > _T_HI
_T_LO = -4.0
_T_HI = 40.0
#: Gaussian windows: +-12 standard deviations (mass outside 3.6e-33)
_NSD = 12.0


@njit_compiled(cache=True)
def _gauss(t, y, a):
    d = t - y
    return math.exp(-0.5 * d * d / a) / math.sqrt(2.0 * math.pi * a)


@njit_compiled(cache=True)
def _smoothed_gumbel(y, a, gx, gw):
    """``(F(y), F'(y), F(y + a) - F(y))`` for ``Y = sqrt(a) xi + g`` (``a > 0``)."""
    sa = math.sqrt(a)
    width = min(1.0, sa)
    nn = gx.shape[0]
    # F and F' on the window of N(y, a)
    lo = max(_T_LO, y - _NSD * sa)
    hi = min(_T_HI, y + _NSD * sa)
    F = 0.0
    dF = 0.0
    if y - _NSD * sa >= _T_HI:
        F = 1.0
    elif lo < hi:
        if hi >= _T_HI:
            F = H((_T_HI - y) / sa)
        npan = max(1, int(math.ceil((hi - lo) / width)))
        h = (hi - lo) / npan
        for p in range(npan):
            left = lo + p * h
            for j in range(nn):
                t = left + 0.5 * h * (gx[j] + 1.0)
                e = math.exp(-t)
                lam = math.exp(-e)
                w = 0.5 * h * gw[j] * _gauss(t, y, a)
                F += w * lam
                dF += w * e * lam
    # D = F(y + a) - F(y): the window of N(y, a) and N(y + a, a) together
    lo = max(_T_LO, y - _NSD * sa)
    hi = min(_T_HI, y + a + _NSD * sa)
    D = 0.0
    if lo < hi:
        if hi >= _T_HI:
            D = H((_T_HI - y - a) / sa) - H((_T_HI - y) / sa)
        npan = max(1, int(math.ceil((hi - lo) / width)))
        h = (hi - lo) / npan
        for p in range(npan):
            left = lo + p * h
            for j in range(nn):
                t = left + 0.5 * h * (gx[j] + 1.0)
                x = t - y - 0.5 * a
                if x > 1.0:
                    diff = _gauss(t, y + a, a) - _gauss(t, y, a)
                else:
                    diff = _gauss(t, y, a) * math.expm1(x)
                D += 0.5 * h * gw[j] * math.exp(-math.exp(-t)) * diff
    elif y - _NSD * sa >= _T_HI:
        D = 0.0
    return F, dF, D


@njit_compiled(cache=True)
def label_ratio(a, k, gx, gw):
    """``m_u(a) / a`` with ``m_u = (k p - 1) / (k (k - 1))`` (``1 / k^2`` at ``a = 0``)."""
    if a <= 0.0:
        return 1.0 / (k * k)
    sa = math.sqrt(a)
    lo = _T_LO - _NSD * sa
    hi = _T_HI + _NSD * sa
    width = max(1.0, 0.5 * sa)
    npan = max(1, int(math.ceil((hi - lo) / width)))
    h = (hi - lo) / npan
    acc = 0.0
    for p in range(npan):
        left = lo + p * h
        for j in range(gx.shape[0]):
            y = left + 0.5 * h * (gx[j] + 1.0)
            F, dF, D = _smoothed_gumbel(y, a, gx, gw)
            if dF == 0.0 or D == 0.0:
                continue
            Fa = F + D
            # F(y+a)^{k-1} - F(y)^{k-1} = D sum_{i=0}^{k-2} F(y+a)^i F(y)^{k-2-i}
            s = 0.0
            for i in range(k - 1):
                s += Fa ** i * F ** (k - 2 - i)
            acc += 0.5 * h * gw[j] * dF * D * s
    return acc / (a * (k - 1))


@njit_compiled(cache=True)
def label_accuracy(a, k, gx, gw):
    """``P(argmax_c l_c = 1) = E_x Phi(x + sqrt(a))^{k-1}``: the MAP label is the true cluster."""
    sa = math.sqrt(max(a, 0.0))
    lo, hi = -12.0, 12.0
    npan = 48
    h = (hi - lo) / npan
    acc = 0.0
    for p in range(npan):
        left = lo + p * h
        for j in range(gx.shape[0]):
            x = left + 0.5 * h * (gx[j] + 1.0)
            acc += 0.5 * h * gw[j] * math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi) * (1.0 - H(x + sa)) ** (k - 1)
    return acc


@njit_compiled(cache=True)
def _breaks(lo, hi, step, b, c):
    """Panel ends on ``[lo, hi]``: a uniform grid of ``step`` and the points ``x >= 0`` where
    ``b x^2 / 2 - c`` crosses ``-12, -10, ..., 12`` (``b > 0``)."""
    nu = int(math.ceil((hi - lo) / step))
    out = np.empty(nu + 1 + 13)
    m = 0
    for i in range(nu + 1):
        out[m] = min(lo + i * step, hi)
        m += 1
    if b > 0.0:
        for j in range(-6, 7):
            s = c + 2.0 * j
            if s > 0.0:
                x = math.sqrt(2.0 * s / b)
                if lo < x < hi:
                    out[m] = x
                    m += 1
    # np.unique's values (sorted, each once) without it: it would compile Numba's quicksort, ~1.5 s
    # of a first solve
    ends = sorted_copy(out[:m])
    k = min(m, 1)
    for i in range(1, m):
        if ends[i] != ends[k - 1]:
            ends[k] = ends[i]
            k += 1
    return ends[:k].copy()


@njit_compiled(cache=True)
def _chi_log_norm(n):
    """``log`` of the normalisation of the chi density ``r^{n-1} e^{-r^2/2}``."""
    return (0.5 * n - 1.0) * math.log(2.0) + math.lgamma(0.5 * n)


@njit_compiled(cache=True)
def _branch(b1, b, c0, n, gx, gw):
    """``(E pi^2 z1^2, E pi^2 R, E log(1 + e^{q/2 - c0}), E pi^2)`` with ``q = b1 z1^2 + b R``,
    ``z1 ~ N(0, 1)``, ``R ~ chi^2_n``, ``pi = sigmoid(q/2 - c0)``."""
    nn = gx.shape[0]
    lnorm = _chi_log_norm(n)
    rmax = math.sqrt(float(n)) + 10.0
    rb = _breaks(0.0, rmax, 0.5, b, c0)
    e_z2 = 0.0
    e_R = 0.0
    e_log = 0.0
    e_1 = 0.0
    for pr in range(rb.shape[0] - 1):
        rl = rb[pr]
        hr = rb[pr + 1] - rl
        for jr in range(nn):
            r = rl + 0.5 * hr * (gx[jr] + 1.0)
            wr = 0.5 * hr * gw[jr] * math.exp((n - 1) * math.log(r) - 0.5 * r * r - lnorm) if r > 0.0 else 0.0
            if wr == 0.0:
                continue
            R = r * r
            base = 0.5 * b * R - c0
            if b1 == 0.0:
                # no mean direction (centred data): pi does not depend on z1, E z1^2 = 1
                if base > 0.0:
                    pi = 1.0 / (1.0 + math.exp(-base))
                    lg = base + math.log1p(math.exp(-base))
                else:
                    es = math.exp(base)
                    pi = es / (1.0 + es)
                    lg = math.log1p(es)
                e_1 += wr * pi * pi
                e_z2 += wr * pi * pi
                e_R += wr * pi * pi * R
                e_log += wr * lg
                continue
            # inner: z1 >= 0 with density 2 phi
            zb = _breaks(0.0, 9.0, 0.5, b1, -base)
            i_z2 = 0.0
            i_1 = 0.0
            i_log = 0.0
            for pz in range(zb.shape[0] - 1):
                zl = zb[pz]
                hz = zb[pz + 1] - zl
                for jz in range(nn):
                    z = zl + 0.5 * hz * (gx[jz] + 1.0)
                    wz = 0.5 * hz * gw[jz] * 2.0 * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
                    s = base + 0.5 * b1 * z * z
                    if s > 0.0:
                        pi = 1.0 / (1.0 + math.exp(-s))
                        lg = s + math.log1p(math.exp(-s))
                    else:
                        es = math.exp(s)
                        pi = es / (1.0 + es)
                        lg = math.log1p(es)
                    p2 = pi * pi
                    i_1 += wz * p2
                    i_z2 += wz * p2 * z * z
                    i_log += wz * lg
            e_1 += wr * i_1
            e_z2 += wr * i_z2
            e_R += wr * i_1 * R
            e_log += wr * i_log
    return e_z2, e_R, e_log, e_1


@njit_compiled(cache=True)
def centroid_side(rho, n, a1, a, gx, gw):
    """``(m_par, m_perp / a, psi_v)`` of the row prior ``rho N(0, I_k) + (1 - rho) delta_0``.

    ``m_par`` and ``m_perp`` are the eigenvalues of ``M_v = E[f f^T]`` on the mean direction and
    on its complement (``m_perp / a`` is returned: at ``a = 0`` it is ``E pi^2``, the slope of the
    trivial point); ``psi_v = E log Z`` with ``Z = int dP(v) exp(v.B - v.A v / 2)``.
    """
    if rho >= 1.0:
        return a1 / (1.0 + a1), 1.0 / (1.0 + a), 0.5 * (a1 - math.log1p(a1)) + 0.5 * n * (a - math.log1p(a))
    c0 = 0.5 * math.log1p(a1) + 0.5 * n * math.log1p(a) + math.log((1.0 - rho) / rho)
    s_z2, s_R, s_log, _ = _branch(a1, a, c0, n, gx, gw)
    o_z2, o_R, o_log, _ = _branch(a1 / (1.0 + a1), a / (1.0 + a), c0, n, gx, gw)
    m_par = a1 / (1.0 + a1) * (rho * s_z2 + (1.0 - rho) / (1.0 + a1) * o_z2)
    ratio = (rho * s_R + (1.0 - rho) / (1.0 + a) * o_R) / ((1.0 + a) * n)
    log1mr = math.log1p(-rho)
    psi = log1mr + rho * s_log + (1.0 - rho) * o_log
    return m_par, ratio, psi
