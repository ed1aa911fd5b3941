"""Gauss-Hermite rules for the standard normal measure and stable scalar kernels.

Replica and state-evolution equations are made of low-dimensional Gaussian integrals,
``E_{z ~ N(0,1)} f(z)``. A Gauss-Hermite rule of order ``n`` integrates ``f`` exactly when it is a
polynomial of degree ``<= 2n - 1`` and converges exponentially for entire integrands, which is
what smooth state-evolution integrands are. The rule here is numpy's probabilists' Hermite-E
rule (weight ``exp(-z^2/2)``), renormalised so that the weights sum to one: then

    E f(z) ~= sum_i w_i f(z_i).

Integrands with kinks (hinge, ReLU, absolute value) or with a width much smaller than one (high
signal-to-noise ratios) need the integration variable rescaled or the line split by the model;
the helpers here take a mean and a standard deviation for that purpose.

The ``@njit(cache=True)`` kernels are the numerically delicate scalars every family needs:
``log1pexp``, ``sigmoid``, the Gaussian tail ``H(x) = P(z > x)`` and ``log H`` (accurate to
relative 1e-15 up to ``x = 1e8``), the inverse Mills ratio ``phi(x)/H(x)``, ``logsumexp``, and
``sorted_copy`` (the panel ends of composite rules).
Numba rules (DESIGN.md): nodes and weights are arguments, never globals; one kernel per integral.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from fixedpoint._jit import njit

__all__ = [
    "gauss_hermite",
    "expect",
    "expect2",
    "log1pexp",
    "sigmoid",
    "H",
    "logH",
    "mills",
    "log_phi",
    "phi",
    "logsumexp",
    "sorted_copy",
    "mp_expect",
    "mp_expect2",
]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@functools.lru_cache(maxsize=64)
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``n``-point Gauss-Hermite rule for ``N(0, 1)``.

    Parameters
    ----------
    n : int
        Number of nodes, ``1 <= n <= 400`` (beyond that numpy's rule loses accuracy).

    Returns
    -------
    nodes, weights : numpy.ndarray
        Read-only float64 arrays of length ``n``; ``sum(weights) == 1`` and
        ``sum(weights * f(nodes))`` is ``E f(z)`` for ``z ~ N(0, 1)``, exact for polynomials of
        degree up to ``2n - 1``. Cached per ``n``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValueError(f"n must be an integer number of nodes, got {n!r}")
    if not 1 <= n <= 400:
        raise ValueError(f"n must be between 1 and 400, got {n}")
    nodes, weights = np.polynomial.hermite_e.hermegauss(int(n))
    weights = weights / weights.sum()  # sum is sqrt(2 pi) up to rounding: normalise exactly
    nodes = np.ascontiguousarray(nodes, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def expect(f, mean=0.0, std=1.0, n: int = 80) -> float:
    """``E f(X)`` for ``X ~ N(mean, std^2)`` with an ``n``-point Gauss-Hermite rule.

    ``f`` is called once, on the array of nodes (it must be vectorised). For checks and
    notebooks; the hot paths of the models use their own compiled kernels.
    """
    if not std >= 0:
        raise ValueError(f"std must be non-negative, got {std}")
    z, w = gauss_hermite(n)
    return float(np.dot(w, f(mean + std * z)))


def expect2(f, cov, mean=(0.0, 0.0), n: int = 60) -> float:
    """``E f(X, Y)`` for a correlated Gaussian pair with covariance ``cov`` (2x2).

    Uses the tensor-product rule on ``(X, Y) = mean + L (z1, z2)`` with ``L`` the Cholesky factor
    (computed by hand so that a singular, rank-one covariance is allowed). ``f(x, y)`` is called
    once on ``n x n`` arrays.
    """
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (2, 2) or not np.allclose(cov, cov.T) or cov[0, 0] < 0:
        raise ValueError(f"cov must be a symmetric positive semi-definite 2x2 matrix, got {cov!r}")
    a = math.sqrt(cov[0, 0])
    b = cov[0, 1] / a if a > 0 else 0.0
    c2 = cov[1, 1] - b * b
    if c2 < -1e-12 * max(1.0, cov[1, 1]):
        raise ValueError(f"cov must be positive semi-definite, got {cov!r}")
    c = math.sqrt(max(c2, 0.0))
    z, w = gauss_hermite(n)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    ww = np.outer(w, w)
    x = mean[0] + a * z1
    y = mean[1] + b * z1 + c * z2
    return float(np.sum(ww * f(x, y)))


# ----------------------------------------------------------------------------- stable scalars


@njit(cache=True)
def log1pexp(x):
    """``log(1 + exp(x))`` without overflow or loss of precision for any float ``x``."""
    if x > 33.3:
        return x + math.exp(-x)
    if x > -37.0:
        return math.log1p(math.exp(x))
    return math.exp(x)


@njit(cache=True)
def sigmoid(x):
    """``1 / (1 + exp(-x))`` without overflow."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def phi(x):
    """The standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def log_phi(x):
    """Log of the standard normal density."""
    return -0.5 * x * x - _LOG_SQRT_2PI


@njit(cache=True)
def _mills_tail(x):
    # H(x) / phi(x) for x >= 30 by its continued fraction 1/(x+ 1/(x+ 2/(x+ 3/(x+ ...))))
    # evaluated bottom-up; 40 terms give full double precision for x >= 30.
    t = x
    for k in range(40, 0, -1):
        t = x + k / t
    return 1.0 / t


@njit(cache=True)
def H(x):
    """Gaussian tail ``H(x) = P(z > x) = erfc(x / sqrt 2) / 2``, relative accuracy in both tails."""
    return 0.5 * math.erfc(x / _SQRT2)


@njit(cache=True)
def logH(x):
    """``log H(x)``, accurate to relative ~1e-15 for ``x`` from ``-1e8`` to ``1e8``.

    For ``x < 0``, ``log H(x) = log1p(-H(-x))`` keeps the tiny deficit of ``H`` from one; for
    ``x > 30`` (where ``erfc`` underflows soon after) the continued fraction of the Mills ratio
    is used: ``log H(x) = log phi(x) + log(H(x)/phi(x))``.
    """
    if x < 0.0:
        return math.log1p(-0.5 * math.erfc(-x / _SQRT2))
    if x < 30.0:
        return math.log(0.5 * math.erfc(x / _SQRT2))
    return log_phi(x) + math.log(_mills_tail(x))


@njit(cache=True)
def mills(x):
    """Inverse Mills ratio ``phi(x) / H(x)``, stable for large positive ``x`` (where it ~ ``x``)."""
    if x < 30.0:
        return math.exp(log_phi(x) - logH(x))
    return 1.0 / _mills_tail(x)


@njit(cache=True)
def logsumexp(a):
    """``log(sum(exp(a)))`` of a 1-D array, shifted by its maximum."""
    m = -math.inf
    for v in a:
        if v > m:
            m = v
    if m == -math.inf:
        return -math.inf
    s = 0.0
    for v in a:
        s += math.exp(v - m)
    return m + math.log(s)


@njit(cache=True)
def sorted_copy(a):
    """A sorted copy of the 1-D float array ``a``, NaNs last: the values ``np.sort(a)`` returns.

    Shell sort with Knuth's gaps ``1, 4, 13, 40, ...`` (plain insertion sort below 5 entries).
    Inside a kernel ``np.sort`` compiles Numba's generic quicksort, about 1.5 s of a first solve
    with an empty cache; this compiles in a tenth of that, and the vectors sorted here (panel
    ends, at most a few hundred) are as fast to sort either way.
    """
    out = a.copy()
    n = out.shape[0]
    gap = 1
    while 3 * gap + 1 < n:
        gap = 3 * gap + 1
    while gap >= 1:
        for i in range(gap, n):
            v = out[i]
            j = i
            # shift the entries that sort after v: larger, or NaN when v is not
            while j >= gap and (out[j - gap] > v or (math.isnan(out[j - gap]) and not math.isnan(v))):
                out[j] = out[j - gap]
                j -= gap
            out[j] = v
        gap //= 3
    return out


# ----------------------------------------------------------------------------- mpmath references


def mp_expect(f, mean=0, var=1, dps: int = 30):
    """High-precision reference ``E f(X)``, ``X ~ N(mean, var)``, by mpmath's adaptive quadrature.

    ``f`` takes and returns ``mpmath.mpf``. The integration line is split at the mean and one
    standard deviation either side so that tanh-sinh quadrature sees the bulk. For tests and
    notebooks only: slow by design.
    """
    import mpmath as mp

    with mp.workdps(dps):
        mean = mp.mpf(mean)
        var = mp.mpf(var)
        if var == 0:
            return f(mean)
        s = mp.sqrt(var)
        norm = 1 / mp.sqrt(2 * mp.pi * var)

        def g(x):
            return f(x) * norm * mp.exp(-((x - mean) ** 2) / (2 * var))

        return mp.quad(g, [-mp.inf, mean - 8 * s, mean - s, mean, mean + s, mean + 8 * s, mp.inf])


def mp_expect2(f, cov, dps: int = 20):
    """High-precision ``E f(X, Y)`` for a centred Gaussian pair with non-singular covariance.

    Written as nested 1-D integrals, ``Y | X ~ N(c X / a, b - c^2 / a)`` with
    ``cov = [[a, c], [c, b]]``.
    """
    import mpmath as mp

    with mp.workdps(dps):
        a, c, b = (mp.mpf(cov[0][0]), mp.mpf(cov[0][1]), mp.mpf(cov[1][1]))
        cond_var = b - c * c / a

        def inner(x):
            return mp_expect(lambda y: f(x, y), mean=c * x / a, var=cond_var, dps=dps)

        return mp_expect(inner, mean=0, var=a, dps=dps)
