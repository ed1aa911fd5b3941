"""Multi-dimensional Gaussian expectations ``E f(x)``, ``x ~ N(mean, cov)`` in ``R^p``.

The state evolution of a model with ``p`` hidden directions (multi-index models, committee
machines) averages over ``p``-dimensional correlated Gaussians. A rule here is a set of nodes
``z_k`` and weights ``w_k`` for the standard normal ``N(0, I_p)`` with ``sum_k w_k = 1``; the
correlated nodes are ``x_k = mean + L z_k`` with ``L L^T = cov`` (:func:`factor`, an
eigen-factor, so that singular covariances, e.g. a rank-one overlap matrix, are allowed), and

    E f(x) ~= sum_k w_k f(mean + L z_k).

Rules
-----
:func:`tensor_rule` ``(p, n)``
    The tensor product of ``n``-point Gauss-Hermite rules (:func:`fixedpoint.quadrature.gauss_hermite`):
    ``n^p`` nodes, exact for polynomials of degree ``<= 2n - 1`` in each variable. The choice
    for ``p <= 3``.
:func:`sparse_rule` ``(p, level)``
    Smolyak's sparse grid on Gauss-Hermite rules with ``1, 3, 5, ...`` points (the combination
    technique; equal nodes merged, some weights negative): exact for every polynomial of total
    degree ``<= 2 level + 1`` (at least). The choice for ``p >= 4``. Measured on the analytic integrand
    ``exp(a.z) cos(a'.z)`` (unit random ``a``; the test suite checks the same kind of integrand):

    ===  ===========================  ===========================
    p    sparse: level, nodes, error  tensor: n, nodes, error
    ===  ===========================  ===========================
    4    6, 5 257, 2e-11              8, 4 096, 2e-9
    5    7, 37 433, 1e-11             8, 32 768, 1e-9
    6    7, 94 601, 2e-11             7, 117 649, 2e-10
    ===  ===========================  ===========================

    Quasi-Monte Carlo (scrambled Sobol' points through the normal quantile) is at 3e-3 with
    4 096 points on ``E exp(a.z)`` in ``p = 4``: its ``N^{-1}`` rate cannot compete on smooth
    integrands, so it is not offered.

Integrands with kinks (``sign``, ``relu``) converge only algebraically under any of these rules:
split them, or use exact Gaussian orthant or rectangle probabilities for the inner integrals:
:func:`orthant_probability` (centred, ``p <= 3``, Sheppard's formulas) and
:func:`rectangle_probability` (``p = 2``, any means and limits), built on the compiled kernels
:func:`owens_t` and :func:`bivariate_upper` (Owen's T function, 1956) that hot paths call with the
rule of :func:`legendre_rule`.

Numba rules (DESIGN.md): rules are cached numpy arrays passed to kernels as arguments;
:func:`correlated_nodes` is the compiled map ``z -> mean + L z`` that hot paths use.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from fixedpoint._jit import njit

from .quadrature import H, gauss_hermite

__all__ = ["factor", "tensor_rule", "sparse_rule", "correlated_nodes", "expect_nd", "orthant_probability",
           "owens_t", "bivariate_upper", "rectangle_probability", "legendre_rule"]


def factor(cov, tol: float = 1e-12) -> np.ndarray:
    """A square root ``L`` of the covariance, ``L L^T = cov``, by eigen-decomposition.

    Eigenvalues within ``tol`` (relative to the largest) below zero are rounding and set to 0,
    so that positive semi-definite singular covariances are allowed.

    Raises
    ------
    ValueError
        When ``cov`` is not a symmetric positive semi-definite square matrix.
    """
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"cov must be a square matrix, got shape {cov.shape}")
    scale = max(float(np.max(np.abs(cov), initial=0.0)), 1e-300)
    if not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T, rtol=0, atol=1e-12 * scale):
        raise ValueError("cov must be a finite symmetric matrix")
    lam, U = np.linalg.eigh(0.5 * (cov + cov.T))
    if lam[0] < -tol * max(float(lam[-1]), 1e-300):
        raise ValueError(f"cov must be positive semi-definite, its smallest eigenvalue is {lam[0]:.6g}")
    return np.ascontiguousarray(U * np.sqrt(np.clip(lam, 0.0, None)))


def _frozen(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=64)
def tensor_rule(p: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n^p``-node tensor-product Gauss-Hermite rule for ``N(0, I_p)``.

    Returns
    -------
    nodes : ndarray, shape (n**p, p)
    weights : ndarray, shape (n**p,)
        Read-only, cached per ``(p, n)``; the weights sum to 1.
    """
    p, n = _check_int(p, "p", 1, 8), _check_int(n, "n", 1, 400)
    if n ** p > 5_000_000:
        raise ValueError(f"a tensor rule with n={n} in p={p} dimensions has {n ** p:,} nodes: use sparse_rule")
    z, w = gauss_hermite(n)
    grids = np.meshgrid(*([z] * p), indexing="ij")
    nodes = np.ascontiguousarray(np.stack([g.ravel() for g in grids], axis=1))
    weights = functools.reduce(np.multiply.outer, [w] * p).ravel().copy()
    return _frozen(nodes, weights)


@functools.lru_cache(maxsize=64)
def sparse_rule(p: int, level: int) -> tuple[np.ndarray, np.ndarray]:
    """Smolyak's sparse grid for ``N(0, I_p)`` on Gauss-Hermite rules with ``2 i - 1`` points.

    The combination technique: with ``q = p + level`` and ``s = i_1 + ... + i_p``::

        A(q, p) = sum over q - p + 1 <= s <= q of (-1)^(q - s) C(p - 1, q - s) U^{i_1} x ... x U^{i_p}

    ``U^i`` the ``(2 i - 1)``-point rule (``i >= 1``). Nodes that coincide (to 1e-13) are merged.
    Exact for polynomials of total degree ``<= 2 level + 1`` (at least: odd total degrees and
    some higher ones are integrated exactly too), and for ``z_k^d`` up to ``d = 4 level + 1``.

    Returns
    -------
    nodes : ndarray, shape (N, p)
    weights : ndarray, shape (N,)
        Read-only, cached per ``(p, level)``; the weights sum to 1 (some are negative).
    """
    p, level = _check_int(p, "p", 1, 12), _check_int(level, "level", 0, 30)
    q = p + level
    acc: dict[tuple, list] = {}
    for i in _multi_indices(p, max(p, q - p + 1), q):
        s = sum(i)
        coef = (-1) ** (q - s) * math.comb(p - 1, q - s)
        rules = [gauss_hermite(2 * k - 1) for k in i]
        for combo in itertools.product(*(range(len(r[0])) for r in rules)):
            x = tuple(float(rules[d][0][c]) for d, c in enumerate(combo))
            w = coef * math.prod(float(rules[d][1][c]) for d, c in enumerate(combo))
            key = tuple(round(v, 13) + 0.0 for v in x)  # + 0.0: -0.0 and 0.0 are one node
            if key in acc:
                acc[key][1] += w
            else:
                acc[key] = [x, w]
    kept = [(x, w) for x, w in acc.values() if w != 0.0]
    nodes = np.ascontiguousarray(np.array([x for x, _ in kept], dtype=float).reshape(-1, p))
    weights = np.array([w for _, w in kept], dtype=float)
    weights /= weights.sum()  # 1 up to rounding: exactly
    return _frozen(nodes, weights)


def _multi_indices(p, low, high):
    """Multi-indices ``i >= 1`` (componentwise) of length ``p`` with ``low <= |i| <= high``."""
    for s in range(low, high + 1):
        for cut in itertools.combinations(range(1, s), p - 1):  # compositions of s into p parts
            bounds = (0, *cut, s)
            yield tuple(bounds[k + 1] - bounds[k] for k in range(p))


def _check_int(v, name, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError(f"{name} must be an integer between {lo} and {hi}, got {v!r}")
    return int(v)


@njit(cache=True)
def correlated_nodes(z, mean, L, out):
    """``out[k] = mean + L z[k]`` for the rows ``z[k]`` of a standard-normal rule."""
    n, p = z.shape
    for k in range(n):
        for a in range(p):
            acc = mean[a]
            for b in range(p):
                acc += L[a, b] * z[k, b]
            out[k, a] = acc


def expect_nd(f, mean, cov, *, n: int | None = None, level: int | None = None) -> float:
    """``E f(x)`` for ``x ~ N(mean, cov)`` in ``R^p``.

    ``f`` is called once on the ``(N, p)`` array of nodes and returns ``N`` values. The rule is
    the tensor rule with ``n`` points per axis (default 20) for ``p <= 3``, the sparse rule at
    ``level`` (default 7) for ``p >= 4``; giving one of ``n``, ``level`` chooses that rule. For
    checks and notebooks; hot paths pass the rule's arrays to their own kernels.
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    L = factor(cov)
    p = L.shape[0]
    if mean.shape != (p,):
        raise ValueError(f"mean must have {p} entries, got shape {mean.shape}")
    if n is not None and level is not None:
        raise ValueError("give n (tensor rule) or level (sparse rule), not both")
    if level is None and (n is not None or p <= 3):
        z, w = tensor_rule(p, 20 if n is None else n)
    else:
        z, w = sparse_rule(p, 7 if level is None else level)
    x = np.empty_like(z)
    correlated_nodes(z, mean, L, x)
    return float(np.dot(w, np.asarray(f(x), dtype=float)))


def orthant_probability(cov) -> float:
    """``P(x > 0)`` componentwise for ``x ~ N(0, cov)``, ``p <= 3``, in closed form.

    ``p = 1``: 1/2. ``p = 2``: ``1/4 + arcsin(r12) / (2 pi)``. ``p = 3``:
    ``1/8 + (arcsin r12 + arcsin r13 + arcsin r23) / (4 pi)`` (Sheppard's formulas; ``r`` the
    correlations). The exact inner integral of sign committees, where quadrature across the kink
    converges slowly.
    """
    cov = np.atleast_2d(np.asarray(cov, dtype=float))
    p = cov.shape[0]
    factor(cov)  # checks the matrix
    if p > 3:
        raise ValueError(f"orthant_probability is in closed form for p <= 3, got p = {p}")
    d = np.sqrt(np.diag(cov))
    if np.any(d == 0):
        raise ValueError("orthant_probability needs positive variances")
    r = np.clip(cov / np.outer(d, d), -1.0, 1.0)
    if p == 1:
        return 0.5
    if p == 2:
        return 0.25 + math.asin(r[0, 1]) / (2 * math.pi)
    return 0.125 + (math.asin(r[0, 1]) + math.asin(r[0, 2]) + math.asin(r[1, 2])) / (4 * math.pi)


# ----------------------------------------------------------------------------- exact 2-D probabilities


@functools.lru_cache(maxsize=8)
def legendre_rule(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``[0, 1]`` (numpy's rule, mapped), read-only, cached."""
    n = _check_int(n, "n", 2, 200)
    x, w = np.polynomial.legendre.leggauss(n)
    return _frozen(np.ascontiguousarray(0.5 * (x + 1.0)), np.ascontiguousarray(0.5 * w))


@njit(cache=True)
def owens_t(h, a, nodes, weights):
    """Owen's T function ``T(h, a) = (1/2 pi) int_0^a exp(-h^2 (1 + x^2) / 2) / (1 + x^2) dx``.

    ``T(-h, a) = T(h, a)`` and ``T(h, -a) = -T(h, a)``. For ``|a| <= 1`` the integral is taken by
    the Gauss-Legendre rule ``(nodes, weights)`` on ``[0, 1]`` (:func:`legendre_rule`), over
    ``[0, min(a, 9/h)]`` (beyond, the integrand is below ``e^{-40}`` of its value at 0), where it is
    smooth on the scale of the interval; for ``|a| > 1`` by the identity (Owen 1956)
    ``T(h, a) = Q(h)/2 + Q(ah)/2 - Q(h) Q(ah) - T(ah, 1/a)``, ``Q`` the upper Gaussian tail,
    written with tails so that no cancellation occurs for large ``h``.
    """
    # (no recursion: Numba's on-disk cache of recursive functions is unreliable)
    sign = 1.0
    if a < 0.0:
        sign, a = -1.0, -a
    h = abs(h)
    if a == 0.0:
        return 0.0
    if a <= 1.0:
        return sign * _owens_t_small(h, a, nodes, weights)
    qh = H(h)
    qah = H(a * h)
    return sign * (0.5 * qh + 0.5 * qah - qh * qah - _owens_t_small(a * h, 1.0 / a, nodes, weights))


@njit(cache=True)
def _owens_t_small(h, a, nodes, weights):
    """``T(h, a)`` for ``h >= 0``, ``0 < a <= 1`` by Gauss-Legendre on ``[0, min(a, 9/h)]``."""
    top = a
    if h > 0.0 and 9.0 / h < top:
        top = 9.0 / h
    acc = 0.0
    for i in range(nodes.size):
        x = top * nodes[i]
        y = 1.0 + x * x
        acc += weights[i] * math.exp(-0.5 * h * h * y) / y
    return acc * top / (2.0 * math.pi)


@njit(cache=True)
def bivariate_upper(h, k, r, nodes, weights):
    """``P(X > h, Y > k)`` for standard normals with correlation ``r`` (``|r| < 1``; infinite
    ``h``, ``k`` allowed), by Owen's T:

        L = Q(h)/2 + Q(k)/2 - T(h, a_h) - T(k, a_k) - delta,
        a_h = (k - r h) / (h sqrt(1 - r^2)),  a_k = (h - r k) / (k sqrt(1 - r^2)),

    ``delta = 1/2`` when ``h k < 0`` or (``h k = 0`` and ``h + k < 0``), else 0 (Owen 1956).
    ``T(0, +-inf) = +-1/4``; ``h = k = 0`` is Sheppard's ``1/4 + arcsin(r) / (2 pi)``.
    """
    if h == math.inf or k == math.inf:
        return 0.0
    if h == -math.inf:
        return H(k)
    if k == -math.inf:
        return H(h)
    if h == 0.0 and k == 0.0:
        return 0.25 + math.asin(r) / (2.0 * math.pi)
    s = math.sqrt((1.0 - r) * (1.0 + r))
    if h == 0.0:
        th = 0.25 if k - r * h > 0.0 else -0.25
    else:
        th = owens_t(h, (k - r * h) / (h * s), nodes, weights)
    if k == 0.0:
        tk = 0.25 if h - r * k > 0.0 else -0.25
    else:
        tk = owens_t(k, (h - r * k) / (k * s), nodes, weights)
    delta = 0.5 if (h * k < 0.0 or (h * k == 0.0 and h + k < 0.0)) else 0.0
    out = 0.5 * H(h) + 0.5 * H(k) - th - tk - delta
    return min(max(out, 0.0), 1.0)


def rectangle_probability(lower, upper, mean, cov, n: int = 48) -> float:
    """``P(lower < x < upper)`` componentwise for ``x ~ N(mean, cov)`` in two dimensions, exactly
    (Owen's T; no quadrature across the edges of the rectangle). Limits may be infinite.

    The inner integral of a committee of two sign units: ``P(sign(z_1) = s_1, sign(z_2) = s_2)``
    for correlated ``z`` with means is the probability of a quadrant.
    """
    lower, upper, mean = (np.asarray(v, dtype=float) for v in (lower, upper, mean))
    cov = np.asarray(cov, dtype=float)
    factor(cov)
    if cov.shape != (2, 2) or lower.shape != (2,) or upper.shape != (2,) or mean.shape != (2,):
        raise ValueError("rectangle_probability is for two dimensions: lower, upper, mean of length 2, cov 2x2")
    sd = np.sqrt(np.diag(cov))
    if np.any(sd == 0):
        raise ValueError("rectangle_probability needs positive variances")
    r = float(cov[0, 1] / (sd[0] * sd[1]))
    if not abs(r) < 1.0:
        raise ValueError("rectangle_probability needs |correlation| < 1")
    lo, hi = (lower - mean) / sd, (upper - mean) / sd
    nodes, weights = legendre_rule(n)

    def up(a, b):
        return bivariate_upper(float(a), float(b), r, nodes, weights)

    # inclusion-exclusion of upper orthants
    return float(up(lo[0], lo[1]) - up(hi[0], lo[1]) - up(lo[0], hi[1]) + up(hi[0], hi[1]))
