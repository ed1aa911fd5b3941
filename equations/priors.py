"""Scalar priors and their Bayes-optimal denoisers for the Gaussian channel.

The scalar channel shared by every Bayes-optimal family is::

    y = sqrt(g) x + z,    z ~ N(0, 1),    x ~ P_x,    g >= 0,

with ``g`` the effective signal-to-noise ratio (spiked Wigner: ``g = snr m``; Bayes-optimal GLM:
``g = q_hat``). For each prior this module gives the posterior mean and variance of ``x`` given
``y`` (the denoiser), and the averages the replica / state-evolution equations need:

* ``overlap(g) = E[x E[x|y]] = E[E[x|y]^2]`` (Nishimori),
* ``mmse(g) = E[Var(x|y)] = E[x^2] - overlap(g)``,
* ``free_entropy(g) = psi(g) = E_{x,z} log E_{x'} exp(sqrt(g) y x' - g x'^2 / 2)``,
* ``mutual_information(g) = I(x; y) = g E[x^2] / 2 - psi(g)``,
* ``overlap_derivative(g) = d overlap / dg = E[Var(x|y)^2]`` (the derivative of the MMSE of a
  Gaussian channel is ``-E[Var(x|y)^2]``: Guo, Wu, Shamai, Verdu, IEEE Trans. Inf. Theory 57,
  2371 (2011)); ``psi'(g) = overlap(g) / 2`` is the I-MMSE relation.

Priors (``rho`` is the probability of the non-zero component, ``s = scale``):

``gaussian``           ``N(0, s^2)``                                    (``rho = 1``)
``rademacher``         ``+-s`` with probability 1/2 each                (``rho = 1``)
``sparse_rademacher``  ``0`` w.p. ``1 - rho``, ``+-s`` w.p. ``rho / 2`` each
``gauss_bernoulli``    ``0`` w.p. ``1 - rho``, ``N(0, s^2)`` w.p. ``rho``

The spiked Wigner model uses ``s = 1/sqrt(rho)`` (unit second moment, DESIGN.md); the GLM uses
``s = 1`` (second moment ``rho``). :func:`make_prior` builds either.

Numerics
--------
Every average is an integral over ``y`` split by the component of the prior that generated it,
in a variable scaled to that component: the field ``h = sqrt(g) s y`` for the Rademacher types
(``h ~ N(0, a)`` when ``x = 0`` and ``N(a, a)`` when ``x = s``, ``a = g s^2``), and
``u = sqrt(v) y``, ``v = a / (1 + a)``, for the Gaussian types (``u ~ N(0, v)`` when ``x = 0``,
``N(0, a)`` when ``x`` is Gaussian). The posterior is then a function of ``h`` (or ``u``) alone,
with features of width O(1) at known places (``h = 0``; the point ``h*`` where the posterior
weight of ``x != 0`` crosses 1/2). Each integral is a trapezoid rule, spectrally accurate for
these analytic integrands, on the union of the component's Gaussian window (+-10 standard
deviations, kept when it is not too wide) and windows around the features, with a step below a
sixth of the analyticity half-width of the integrand and a third of the Gaussian's width.
Integrands are written without cancellation: ``Var(x|y) = s^2 [pi (1 - pi) tanh^2 h +
pi sech^2 h]`` with ``pi`` the posterior weight of ``x != 0``, so that the MMSE keeps its relative
accuracy when it is tiny (``g`` large); the mutual information is integrated with the leading
``g E[x^2] / 2`` removed analytically. The Gaussian prior is in closed form. Accuracy (tests):
about 1e-12 absolute for overlap, free entropy and mutual information and 1e-9 relative for the
MMSE and ``E[Var^2]`` down to MMSE ~ 1e-100 (1e-8 below that, to the smallest normal float), for
``0 <= g <= 1e8`` and ``rho >= 1e-8``.

The state-evolution hot path, :meth:`Prior.overlap` with ``g scale^2 <= 625``, uses a separate
single-integral kernel (the Nishimori form ``E[x E[x|y]]`` over the component ``x != 0`` only,
one exponential per node): 1-5 us per call, agreeing with the full kernel to ~1e-14.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from fixedpoint._jit import njit

from fixedpoint.quadrature import log1pexp, sigmoid

__all__ = ["Prior", "make_prior", "PRIOR_KINDS"]

#: prior names understood by :class:`Prior`
PRIOR_KINDS = ("gaussian", "rademacher", "sparse_rademacher", "gauss_bernoulli")

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG2 = math.log(2.0)

# Windows and steps of the trapezoid rules (see the module docstring).
_BULK_SIGMAS = 10.0  # Gaussian window: +-10 standard deviations (mass outside: 1.5e-23)
_FAR_SIGMAS = 40.0  # nothing farther than this from the centre can matter (exp(-800) = 0)
_MAX_BULK_SIGMA = 25.0  # beyond, the bulk of the Gaussian carries no feature (see docstring)
_FEATURE_HALF_WIDTH_H = 60.0  # Rademacher types: integrands decay at least like exp(-|h-f|/2)


# ----------------------------------------------------------------------------- stable scalars
#
# The small helpers of the averages kernels are inlined into their callers by Numba
# (``inline="always"``: the same operations, the same results) instead of being compiled as
# kernels of their own: a first solve with an empty cache compiles the sparse Rademacher averages
# in 1.6 s of CPU instead of 2.4 s (each separate kernel has its own wrappers, optimisation and
# machine code, and its code is optimised again inside every caller).


@njit(cache=True, inline="always")
def _log_cosh(h):
    ah = abs(h)
    return ah + math.log1p(math.exp(-2.0 * ah)) - _LOG2


@njit(cache=True, inline="always")
def _sech2(h):
    e = math.exp(-2.0 * abs(h))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


# ----------------------------------------------------------------------------- trapezoid windows


@njit(cache=True, inline="always")
def _merge_windows(lo, hi, n):
    """Sort the intervals ``[lo[i], hi[i]]`` (i < n) and merge the overlapping ones, in place.

    Returns the number of merged intervals (stored in the first entries of ``lo``, ``hi``).
    """
    # insertion sort: n is tiny (<= 4)
    for i in range(1, n):
        a, b = lo[i], hi[i]
        j = i - 1
        while j >= 0 and lo[j] > a:
            lo[j + 1] = lo[j]
            hi[j + 1] = hi[j]
            j -= 1
        lo[j + 1] = a
        hi[j + 1] = b
    k = 0
    for i in range(n):
        if hi[i] <= lo[i]:
            continue
        if k > 0 and lo[i] <= hi[k - 1]:
            if hi[i] > hi[k - 1]:
                hi[k - 1] = hi[i]
        else:
            lo[k] = lo[i]
            hi[k] = hi[i]
            k += 1
    return k


@njit(cache=True, inline="always")
def _windows(mu, sigma, features, n_features, half_width, lo, hi):
    """Integration windows of ``N(mu, sigma^2) f`` for ``f`` with features at ``features``.

    The Gaussian window ``mu +- 10 sigma`` is kept when ``sigma <= 25``; each feature ``f`` gets
    ``f +- min(half_width, 10 sigma)``; everything is clipped to ``mu +- 40 sigma``.
    """
    far_lo = mu - _FAR_SIGMAS * sigma
    far_hi = mu + _FAR_SIGMAS * sigma
    n = 0
    if sigma <= _MAX_BULK_SIGMA:
        lo[n] = mu - _BULK_SIGMAS * sigma
        hi[n] = mu + _BULK_SIGMAS * sigma
        n += 1
    w = min(half_width, _BULK_SIGMAS * sigma)
    for i in range(n_features):
        f = features[i]
        lo[n] = max(f - w, far_lo)
        hi[n] = min(f + w, far_hi)
        n += 1
    return _merge_windows(lo, hi, n)


@njit(cache=True, inline="always")
def _n_steps(lo, hi, delta):
    return max(int(math.ceil((hi - lo) / delta)), 2)


# ----------------------------------------------------------------------------- sparse Rademacher


@njit(cache=True, inline="always")
def _sr_posterior(h, a, log_odds, s):
    """Posterior of ``x in {0, +-s}`` at the field ``h = sqrt(g) s y``: (pi, mean, var).

    ``log_odds = log(rho / (1 - rho))`` (``+inf`` for ``rho = 1``). Returns ``pi`` = P(x != 0 | y),
    the posterior mean and the posterior variance, the latter as a sum of non-negative terms.
    """
    if log_odds == math.inf:
        p = 1.0
        q = 0.0
    else:
        L = log_odds - 0.5 * a + _log_cosh(h)
        p = sigmoid(L)
        q = sigmoid(-L)
    t = math.tanh(h)
    mean = s * p * t
    var = s * s * (p * q * t * t + p * _sech2(h))
    return p, mean, var


@njit(cache=True)
def _sr_component(mu, sigma, a, rho, s, log_odds, log_k, feats, n_feats, which, acc):
    """Accumulate, for ``h ~ N(mu, sigma^2)``: E var, E mean^2, E var^2 and E L_c (see below).

    ``which = 1``: the component ``x = +s`` (h ~ N(a, a)), where the log-partition is
    ``log Z = log(rho/2) - a/2 + h + L1(h)``, ``L1 = log(1 + e^{-2h} + K e^{a/2 - h})``.
    ``which = 0``: the component ``x = 0`` (h ~ N(0, a)), ``log Z = log(1 - rho) + L0(h)``,
    ``L0 = log(1 + e^{|h| - a/2 - log K} (1 + e^{-2|h|}))``. ``K = 2 (1 - rho) / rho``.
    """
    lo = np.empty(4)
    hi = np.empty(4)
    nw = _windows(mu, sigma, feats, n_feats, _FEATURE_HALF_WIDTH_H, lo, hi)
    delta = min(0.25, sigma / 3.0)
    inv = 1.0 / (sigma * math.sqrt(2.0 * math.pi))
    e_var = 0.0
    e_mean2 = 0.0
    e_var2 = 0.0
    e_l = 0.0
    for k in range(nw):
        n = _n_steps(lo[k], hi[k], delta)
        d = (hi[k] - lo[k]) / n
        for i in range(n + 1):
            h = lo[k] + i * d
            z = (h - mu) / sigma
            w = d * inv * math.exp(-0.5 * z * z)
            if i == 0 or i == n:
                w *= 0.5
            if w == 0.0:
                continue
            p, mean, var = _sr_posterior(h, a, log_odds, s)
            e_var += w * var
            e_mean2 += w * mean * mean
            e_var2 += w * var * var
            if which == 1:
                # log(1 + e^{-2h} + K e^{a/2 - h}) by log-sum-exp
                u1 = -2.0 * h
                u2 = log_k + 0.5 * a - h
                m = max(0.0, u1, u2)
                e_l += w * (m + math.log(math.exp(-m) + math.exp(u1 - m) + math.exp(u2 - m)))
            else:
                ah = abs(h)
                e_l += w * log1pexp(ah - 0.5 * a - log_k + math.log1p(math.exp(-2.0 * ah)))
    acc[0] = e_var
    acc[1] = e_mean2
    acc[2] = e_var2
    acc[3] = e_l


@njit(cache=True)
def _sr_averages(g, rho, s, out):
    """(mmse, overlap, d overlap/dg, mutual information) of the sparse Rademacher prior.

    ``rho = 1`` is the Rademacher prior. ``out`` receives the four numbers.
    """
    ex2 = rho * s * s
    if g == 0.0:
        out[0] = ex2
        out[1] = 0.0
        out[2] = ex2 * ex2
        out[3] = 0.0
        return
    a = g * s * s
    sigma = math.sqrt(a)
    if rho < 1.0:
        log_odds = math.log(rho) - math.log1p(-rho)
        log_k = _LOG2 + math.log1p(-rho) - math.log(rho)
    else:
        log_odds = math.inf
        log_k = -math.inf
    # features: h = 0 (tanh, sech) and +-h* where P(x != 0 | h) = 1/2,
    # cosh h* = (1 - rho) e^{a/2} / rho, i.e. h* = arccosh(e^lam)
    feats = np.zeros(3)
    n_feats = 1
    if rho < 1.0:
        lam = 0.5 * a - log_odds
        if lam > 0.0:
            hstar = lam + math.log1p(math.sqrt(-math.expm1(-2.0 * lam)))
            feats[1] = hstar
            feats[2] = -hstar
            n_feats = 3
    # the component flags are int64 values, not the literals 1 and 0, which would compile
    # _sr_component twice (once per literal)
    acc1 = np.zeros(4)
    _sr_component(a, sigma, a, rho, s, log_odds, log_k, feats, n_feats, np.int64(1), acc1)
    acc0 = np.zeros(4)
    if rho < 1.0:
        _sr_component(0.0, sigma, a, rho, s, log_odds, log_k, feats, n_feats, np.int64(0), acc0)
    mmse = rho * acc1[0] + (1.0 - rho) * acc0[0]
    out[0] = mmse
    if sigma <= _MAX_BULK_SIGMA:
        out[1] = rho * acc1[1] + (1.0 - rho) * acc0[1]
    else:  # the bulk (where mean^2 ~ s^2) is not in the windows: use overlap = E x^2 - mmse
        out[1] = ex2 - mmse
    out[2] = rho * acc1[2] + (1.0 - rho) * acc0[2]
    # I = rho [-log(rho/2) - E_1 L1] + (1 - rho) [-log(1 - rho) - E_0 L0]
    mi = rho * (-math.log(0.5 * rho) - acc1[3])
    if rho < 1.0:
        mi += (1.0 - rho) * (-math.log1p(-rho) - acc0[3])
    out[3] = mi


@njit(cache=True)
def _sr_denoise(y, g, rho, s, mean, var):
    if rho < 1.0:
        log_odds = math.log(rho) - math.log1p(-rho)
    else:
        log_odds = math.inf
    a = g * s * s
    c = math.sqrt(g) * s
    for i in range(y.size):
        p, m, v = _sr_posterior(c * y[i], a, log_odds, s)
        mean[i] = m
        var[i] = v


@njit(cache=True)
def _sr_overlap_fast(g, rho, s):
    """Overlap of the sparse Rademacher prior through the Nishimori form (hot path).

    ``overlap = rho s^2 E_{h ~ N(a, a)}[pi(h) tanh h]``: one component, one bounded integrand
    (``E[x E[x|y]]`` with ``x = +s``; ``x = -s`` is its mirror image and ``x = 0`` contributes 0),
    ``pi = 1 / (1 + 2 (1-rho)/rho e^{a/2} e^{-|h|} / (1 + e^{-2|h|}))``. Only absolute accuracy
    is needed here, so the rule covers ``a +- 8.5 sqrt(a)`` (mass outside: 2e-17) with step
    ``min(0.3, sqrt(a)/3)`` (error ~ exp(-pi^2/0.3) = 5e-15); the Gaussian weights follow a
    two-multiplication recurrence, so each node costs one exponential. Valid for
    ``sqrt(a) <= 25`` (``e^{a/2}`` finite); the caller checks.
    """
    if g == 0.0:
        return 0.0
    a = g * s * s
    sigma = math.sqrt(a)
    c = 0.0
    if rho < 1.0:
        c = 2.0 * (1.0 - rho) / rho * math.exp(0.5 * a)
    lo = a - 8.5 * sigma
    hi = a + 8.5 * sigma
    n = _n_steps(lo, hi, min(0.3, sigma / 3.0))
    d = (hi - lo) / n
    dz = d / sigma
    z = (lo - a) / sigma
    w = math.exp(-0.5 * z * z)
    r = math.exp(-z * dz - 0.5 * dz * dz)  # w_{i+1} / w_i
    rr = math.exp(-dz * dz)  # r_{i+1} / r_i
    acc = 0.0
    for i in range(n + 1):
        h = lo + i * d
        q = math.exp(-abs(h))
        e = q * q
        t = (1.0 - e) / (1.0 + e)
        if h < 0.0:
            t = -t
        p = 1.0 / (1.0 + c * q / (1.0 + e))
        term = w * p * t
        if i == 0 or i == n:
            term *= 0.5
        acc += term
        if (i + 1) % 32 == 0:  # re-seed the recurrence: its rounding error grows like i^2
            z = (lo + (i + 1) * d - a) / sigma
            w = math.exp(-0.5 * z * z)
            r = math.exp(-z * dz - 0.5 * dz * dz)
        else:
            w *= r
            r *= rr
    return rho * s * s * acc * dz / math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------- Gauss-Bernoulli


@njit(cache=True)
def _gb_posterior(u, c_star, v1):
    """Posterior of the Gauss-Bernoulli prior at ``u = sqrt(v) y``.

    ``pi = sigmoid(u^2/2 - c*)`` is P(x != 0 | y), ``c* = log((1-rho)/rho) + log(1+a)/2``;
    given ``x != 0`` the posterior is ``N(u sqrt(v1)... )`` with mean^2 ``v1 u^2`` and variance
    ``v1 = s^2 / (1 + a)``. Returns (pi, 1 - pi, mean^2, var) with
    ``var = v1 pi (1 + (1 - pi) u^2)`` (no cancellation).
    """
    L = 0.5 * u * u - c_star
    p = sigmoid(L)
    q = sigmoid(-L)
    mean2 = v1 * p * p * u * u
    var = v1 * p * (1.0 + q * u * u)
    return p, q, mean2, var


@njit(cache=True)
def _gb_averages(g, rho, s, out):
    """(mmse, overlap, d overlap/dg, mutual information) of the Gauss-Bernoulli prior, rho < 1."""
    ex2 = rho * s * s
    if g == 0.0:
        out[0] = ex2
        out[1] = 0.0
        out[2] = ex2 * ex2
        out[3] = 0.0
        return
    a = g * s * s
    v = a / (1.0 + a)
    v1 = s * s / (1.0 + a)
    half_log1pa = 0.5 * math.log1p(a)
    c_star = math.log1p(-rho) - math.log(rho) + half_log1pa
    # features at u = +-u*, u*^2 = 2 c*; the posterior weight is analytic in a strip of
    # half-width Im sqrt(2 (c* + i pi)) around the real axis (poles of the sigmoid)
    feats = np.zeros(3)
    n_feats = 1
    if c_star > 0.0:
        ustar = math.sqrt(2.0 * c_star)
        feats[1] = ustar
        feats[2] = -ustar
        n_feats = 3
    zr = 2.0 * c_star
    zi = 2.0 * math.pi
    strip = math.sqrt(0.5 * (math.hypot(zr, zi) - zr))  # Im sqrt(zr + i zi)
    # beyond u* + 10 the weight of x = 0 is below exp(-(10 u* + 50)): the features are narrow
    half_width = 10.0 + 10.0 / max(1.0, feats[1])
    lo = np.empty(4)
    hi = np.empty(4)

    # component x = 0: u ~ N(0, v), v < 1: the Gaussian window holds everything
    sig0 = math.sqrt(v)
    nw = _windows(0.0, sig0, feats, n_feats, half_width, lo, hi)
    delta = min(strip / 6.0, sig0 / 3.0)
    inv = 1.0 / (sig0 * math.sqrt(2.0 * math.pi))
    e0 = np.zeros(4)
    for k in range(nw):
        n = _n_steps(lo[k], hi[k], delta)
        d = (hi[k] - lo[k]) / n
        for i in range(n + 1):
            u = lo[k] + i * d
            z = u / sig0
            w = d * inv * math.exp(-0.5 * z * z)
            if i == 0 or i == n:
                w *= 0.5
            if w == 0.0:
                continue
            p, q, mean2, var = _gb_posterior(u, c_star, v1)
            e0[0] += w * var
            e0[1] += w * mean2
            e0[2] += w * var * var
            e0[3] += w * log1pexp(0.5 * u * u - c_star)

    # component x != 0: u ~ N(0, a). If the Gaussian is wide, its bulk (pi ~ 1, var ~ v1) is
    # integrated analytically and only the localised corrections numerically:
    # var = v1 - v1 (1 - pi)(1 - pi u^2),  var^2 = v1^2 - v1^2 (1-pi)(1 - pi u^2)(1 + pi + pi (1-pi) u^2)
    sig1 = math.sqrt(a)
    bulk = sig1 <= _MAX_BULK_SIGMA
    nw = _windows(0.0, sig1, feats, n_feats, half_width, lo, hi)
    delta = min(strip / 6.0, sig1 / 3.0)
    inv = 1.0 / (sig1 * math.sqrt(2.0 * math.pi))
    e1 = np.zeros(4)
    for k in range(nw):
        n = _n_steps(lo[k], hi[k], delta)
        d = (hi[k] - lo[k]) / n
        for i in range(n + 1):
            u = lo[k] + i * d
            z = u / sig1
            w = d * inv * math.exp(-0.5 * z * z)
            if i == 0 or i == n:
                w *= 0.5
            if w == 0.0:
                continue
            p, q, mean2, var = _gb_posterior(u, c_star, v1)
            if bulk:
                e1[0] += w * var
                e1[1] += w * mean2
                e1[2] += w * var * var
            else:
                corr = q * (1.0 - p * u * u)
                e1[0] += w * corr
                e1[2] += w * corr * (1.0 + p + p * q * u * u)
            # log Z = log rho - log(1+a)/2 + u^2/2 + softplus(c* - u^2/2)
            e1[3] += w * log1pexp(c_star - 0.5 * u * u)
    if not bulk:
        e1[0] = v1 - v1 * e1[0]
        e1[2] = v1 * v1 - v1 * v1 * e1[2]
    mmse = rho * e1[0] + (1.0 - rho) * e0[0]
    out[0] = mmse
    if bulk:
        out[1] = rho * e1[1] + (1.0 - rho) * e0[1]
    else:
        out[1] = ex2 - mmse
    out[2] = rho * e1[2] + (1.0 - rho) * e0[2]
    out[3] = rho * (-math.log(rho) + half_log1pa - e1[3]) + (1.0 - rho) * (-math.log1p(-rho) - e0[3])


@njit(cache=True)
def _gb_denoise(y, g, rho, s, mean, var):
    a = g * s * s
    v = a / (1.0 + a)
    v1 = s * s / (1.0 + a)
    sv = math.sqrt(v)
    c_star = math.log1p(-rho) - math.log(rho) + 0.5 * math.log1p(a)
    for i in range(y.size):
        u = sv * y[i]
        p, q, mean2, vr = _gb_posterior(u, c_star, v1)
        # E[x | y, x != 0] = sqrt(g) s^2 y / (1 + a) = sqrt(v1) u
        mean[i] = p * math.sqrt(v1) * u
        var[i] = vr


@njit(cache=True)
def _gb_overlap_fast(g, rho, s):
    """Overlap of the Gauss-Bernoulli prior through the Nishimori form (hot path).

    ``overlap = rho v1 E_{u ~ N(0, a)}[pi(u) u^2]`` (``E[x E[x|y]]`` restricted to the Gaussian
    component, where ``E[x | y, x != 0] = sqrt(v1) u``), ``pi = 1/(1 + e^{c* - u^2/2})``. Rule
    on ``+- 8.5 sqrt(a)`` with step ``min(strip/4.5, sqrt(a)/3)`` (absolute accuracy, see
    :func:`_sr_overlap_fast`). Valid for ``sqrt(a) <= 25``.
    """
    if g == 0.0:
        return 0.0
    a = g * s * s
    v1 = s * s / (1.0 + a)
    c_star = math.log1p(-rho) - math.log(rho) + 0.5 * math.log1p(a)
    zr = 2.0 * c_star
    zi = 2.0 * math.pi
    strip = math.sqrt(0.5 * (math.hypot(zr, zi) - zr))  # Im sqrt(2 (c* + i pi))
    sigma = math.sqrt(a)
    lo = -8.5 * sigma
    hi = 8.5 * sigma
    n = _n_steps(lo, hi, min(strip / 4.5, sigma / 3.0))
    d = (hi - lo) / n
    dz = d / sigma
    z = lo / sigma
    w = math.exp(-0.5 * z * z)
    r = math.exp(-z * dz - 0.5 * dz * dz)
    rr = math.exp(-dz * dz)
    acc = 0.0
    for i in range(n + 1):
        u = lo + i * d
        x = c_star - 0.5 * u * u
        p = 1.0 / (1.0 + math.exp(x)) if x < 700.0 else 0.0
        term = w * p * u * u
        if i == 0 or i == n:
            term *= 0.5
        acc += term
        if (i + 1) % 32 == 0:
            z = (lo + (i + 1) * d) / sigma
            w = math.exp(-0.5 * z * z)
            r = math.exp(-z * dz - 0.5 * dz * dz)
        else:
            w *= r
            r *= rr
    return rho * v1 * acc * dz / math.sqrt(2.0 * math.pi)


# ----------------------------------------------------------------------------- public class


def _check_g(g):
    g = float(g)
    if not (g >= 0.0 and math.isfinite(g)):
        raise ValueError(f"g (the signal-to-noise ratio of the scalar channel) must be finite and >= 0, got {g}")
    return g


@dataclass(frozen=True)
class Prior:
    """A scalar prior ``P_x`` and its Bayes-optimal denoiser for ``y = sqrt(g) x + z``.

    Parameters
    ----------
    kind : {"gaussian", "rademacher", "sparse_rademacher", "gauss_bernoulli"}
        The family (see the module docstring).
    rho : float, default 1.0
        Probability of the non-zero component, in ``(0, 1]``; must be 1 for ``"gaussian"`` and
        ``"rademacher"``. Accuracy is tested down to ``rho = 1e-8``.
    scale : float, default 1.0
        ``s > 0``: the non-zero values are ``+-s`` (Rademacher types) or ``N(0, s^2)`` (Gaussian
        types), so that ``E x^2 = rho s^2``.

    Examples
    --------
    >>> p = Prior("sparse_rademacher", rho=0.1, scale=10 ** 0.5)   # unit second moment
    >>> round(p.second_moment, 12)
    1.0
    """

    kind: str
    rho: float = 1.0
    scale: float = 1.0

    def __post_init__(self):
        if not isinstance(self.kind, str) or self.kind not in PRIOR_KINDS:
            raise ValueError(f"prior kind must be one of {', '.join(PRIOR_KINDS)}; got {self.kind!r}")
        for field in ("rho", "scale"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"{field} must be a real number, got {value!r}")
            object.__setattr__(self, field, float(value))
        if not (0.0 < self.rho <= 1.0):
            raise ValueError(f"rho must be in (0, 1], got {self.rho}")
        if self.kind in ("gaussian", "rademacher") and self.rho != 1.0:
            raise ValueError(f"rho must be 1 for the {self.kind} prior (use sparse_rademacher or gauss_bernoulli), got {self.rho}")
        if not (0.0 < self.scale < math.inf):
            raise ValueError(f"scale must be finite and > 0, got {self.scale}")
        # the single-integral overlap is used while sqrt(g) scale <= 25 (see overlap)
        object.__setattr__(self, "_fast_g_max", 625.0 / self.scale**2)

    # ------------------------------------------------------------------ moments
    @property
    def second_moment(self) -> float:
        """``E x^2 = rho scale^2``."""
        return self.rho * self.scale**2

    @property
    def symmetric(self) -> bool:
        """Whether ``P_x`` is even (all four kinds are; ``m = 0`` is then a fixed point)."""
        return True

    # ------------------------------------------------------------------ averages
    def _averages(self, g: float) -> np.ndarray:
        out = np.empty(4)
        s = self.scale
        if self.kind == "gaussian":
            a = g * s * s
            out[0] = s * s / (1.0 + a)
            out[1] = a * s * s / (1.0 + a)
            out[2] = (s * s / (1.0 + a)) ** 2
            out[3] = 0.5 * math.log1p(a)
        elif self.kind == "gauss_bernoulli" and self.rho < 1.0:
            _gb_averages(g, self.rho, s, out)
        elif self.kind == "gauss_bernoulli":  # rho = 1 is the Gaussian prior
            return Prior("gaussian", 1.0, s)._averages(g)
        else:
            _sr_averages(g, self.rho, s, out)
        return out

    def _vectorised(self, g, index):
        if np.ndim(g) == 0:
            return float(self._averages(_check_g(g))[index])
        g = np.asarray(g, dtype=float)
        return np.array([self._averages(_check_g(x))[index] for x in g.ravel()]).reshape(g.shape)

    def mmse(self, g):
        """Minimum mean squared error ``E[Var(x|y)]`` at signal-to-noise ``g`` (relative ~1e-9)."""
        return self._vectorised(g, 0)

    def overlap(self, g):
        """``E[x E[x|y]] = E[E[x|y]^2] = E x^2 - mmse(g)`` (absolute ~1e-12).

        The hot path of state evolutions: a single Nishimori-form integral when the Gaussian
        window is narrow enough (``g scale^2 <= 625``), else ``E x^2 - mmse``.
        """
        if type(g) is float or np.ndim(g) == 0:
            g = float(g)
            if not (g >= 0.0 and g <= self._fast_g_max):
                return self._vectorised(g, 1)  # validation, closed forms and the wide case
            kind = self.kind
            if kind == "gaussian" or (kind == "gauss_bernoulli" and self.rho == 1.0):
                a = g * self.scale**2
                return a * self.scale**2 / (1.0 + a)
            if kind == "gauss_bernoulli":
                return _gb_overlap_fast(g, self.rho, self.scale)
            return _sr_overlap_fast(g, self.rho, self.scale)
        g = np.asarray(g, dtype=float)
        return np.array([self.overlap(float(v)) for v in g.ravel()]).reshape(g.shape)

    def overlap_derivative(self, g):
        """``d overlap / dg = E[Var(x|y)^2]`` (exact identity, integrated directly)."""
        return self._vectorised(g, 2)

    def mutual_information(self, g):
        """``I(x; y) = g E[x^2] / 2 - free_entropy(g)``, in nats."""
        return self._vectorised(g, 3)

    def free_entropy(self, g):
        """``psi(g) = E_{x,z} log E_{x'} exp(sqrt(g) y x' - g x'^2 / 2)`` with ``y = sqrt(g) x + z``."""
        if np.ndim(g) == 0:
            g = _check_g(g)
            return 0.5 * g * self.second_moment - self.mutual_information(g)
        g = np.asarray(g, dtype=float)
        return 0.5 * g * self.second_moment - self.mutual_information(g)

    def averages(self, g) -> dict[str, float]:
        """All four averages at once (one integration): ``mmse``, ``overlap``,
        ``overlap_derivative``, ``mutual_information``, and ``free_entropy``."""
        g = _check_g(g)
        out = self._averages(g)
        return {
            "mmse": float(out[0]),
            "overlap": float(out[1]),
            "overlap_derivative": float(out[2]),
            "mutual_information": float(out[3]),
            "free_entropy": float(0.5 * g * self.second_moment - out[3]),
        }

    # ------------------------------------------------------------------ denoiser
    def denoise(self, y, g):
        """Posterior mean and variance of ``x`` given ``y = sqrt(g) x + z`` (vectorised).

        Parameters
        ----------
        y : array_like
            Observations.
        g : float
            Signal-to-noise ratio, ``>= 0``.

        Returns
        -------
        mean, var : numpy.ndarray
            Same shape as ``y``.
        """
        g = _check_g(g)
        y = np.asarray(y, dtype=float)
        flat = np.ascontiguousarray(y.ravel())
        mean = np.empty_like(flat)
        var = np.empty_like(flat)
        s = self.scale
        if self.kind == "gaussian" or (self.kind == "gauss_bernoulli" and self.rho == 1.0):
            mean[:] = math.sqrt(g) * s * s * flat / (1.0 + g * s * s)
            var[:] = s * s / (1.0 + g * s * s)
        elif self.kind == "gauss_bernoulli":
            _gb_denoise(flat, g, self.rho, s, mean, var)
        else:
            _sr_denoise(flat, g, self.rho, s, mean, var)
        return mean.reshape(y.shape), var.reshape(y.shape)

    def sample(self, size, rng=None) -> np.ndarray:
        """Independent draws from the prior (``rng``: a numpy Generator or a seed)."""
        rng = np.random.default_rng(rng)
        s = self.scale
        if self.kind in ("gaussian", "gauss_bernoulli"):
            x = s * rng.standard_normal(size)
        else:
            x = s * rng.choice(np.array([-1.0, 1.0]), size=size)
        if self.rho < 1.0:
            x = x * (rng.random(size) < self.rho)
        return x


def make_prior(kind: str, rho: float = 1.0, *, second_moment: float | None = None) -> Prior:
    """Build a :class:`Prior`.

    Parameters
    ----------
    kind : str
        One of :data:`PRIOR_KINDS`.
    rho : float, default 1.0
        Probability of the non-zero component.
    second_moment : float, optional
        If given, choose ``scale`` so that ``E x^2 = second_moment`` (spiked Wigner:
        ``second_moment=1``, i.e. ``scale = 1/sqrt(rho)``); by default ``scale = 1`` (GLM
        convention, ``E x^2 = rho``).
    """
    if second_moment is None:
        return Prior(kind, rho, 1.0)
    second_moment = float(second_moment)
    if not (0.0 < second_moment < math.inf):
        raise ValueError(f"second_moment must be finite and > 0, got {second_moment}")
    if isinstance(rho, bool) or not isinstance(rho, (int, float, np.integer, np.floating)) or not (0.0 < rho <= 1.0):
        raise ValueError(f"rho must be in (0, 1], got {rho!r}")
    return Prior(kind, rho, math.sqrt(second_moment / rho))
