"""Finite-size storage problems: exact counting for binary weights, the max margin for spherical ones.

``count_binary(A, kappa)`` enumerates all ``2^d`` vectors ``w in {-1, +1}^d`` in Gray-code order,
so that each step flips one coordinate and updates the ``n`` fields ``h = A w`` in ``O(n)``; it
returns the number of solutions of ``A w >= kappa`` and the sum of the solutions (from which
the mean overlap of two independent uniformly drawn solutions is ``|sum|^2 / (d count^2)``).
The fields are recomputed from scratch every ``2^12`` steps, so that rounding cannot drift.

``max_margin_spherical(A)`` is ``max_{|w_hat| = 1} min_mu (A w_hat)_mu``: with rows ``y_mu
x_mu`` this is the ``kappa_max`` of :mod:`equations.storage`, where ``|w|^2 = d`` and ``y x . w /
sqrt(d) = y x . w_hat``. The hard-margin SVM through the origin, ``min |v|`` subject to ``A v >=
1``, gives it as ``1 / |v|`` (``w_hat = v / |v|``). It is solved
exactly as a least-distance program by non-negative least squares (C. L. Lawson and R. J.
Hanson, *Solving Least Squares Problems*, SIAM 1995, ch. 23): with ``E = [A^T; 1^T]`` and ``f =
(0, ..., 0, 1)``, ``u = argmin_{u >= 0} |E u - f|``, ``r = E u - f``; the constraints are
infeasible when ``r = 0`` (not separable), else ``v = -r[:d] / r[d]``.
"""

from __future__ import annotations

import math

import numpy as np
from fixedpoint._jit import njit_compiled

__all__ = ["count_binary", "max_margin_spherical"]

#: recompute the fields from scratch every 2^_REFRESH_BITS Gray-code steps
_REFRESH_BITS = 12


@njit_compiled(cache=True)
def _count_binary_kernel(A, kappa, refresh_mask):
    n, d = A.shape
    w = -np.ones(d)
    h = np.empty(n)
    for mu in range(n):
        s = 0.0
        for i in range(d):
            s += A[mu, i] * w[i]
        h[mu] = s
    total = np.zeros(d)
    count = 0
    steps = 1 << d
    for k in range(steps):
        if k > 0:
            # Gray code: step k flips the coordinate of k's lowest set bit
            j = 0
            t = k
            while (t & 1) == 0:
                t >>= 1
                j += 1
            w[j] = -w[j]
            if (k & refresh_mask) == 0:
                for mu in range(n):
                    s = 0.0
                    for i in range(d):
                        s += A[mu, i] * w[i]
                    h[mu] = s
            else:
                two = 2.0 * w[j]
                for mu in range(n):
                    h[mu] += two * A[mu, j]
        ok = True
        for mu in range(n):
            if h[mu] < kappa:
                ok = False
                break
        if ok:
            count += 1
            for i in range(d):
                total[i] += w[i]
    return count, total


def count_binary(A, kappa: float) -> tuple[int, np.ndarray]:
    """``(#{w in {-1,1}^d : A w >= kappa}, sum of those w)`` by exhaustive enumeration.

    Parameters
    ----------
    A : (n, d) array
        The constraint rows (``y_mu x_mu / sqrt(d)`` for the storage problem); ``1 <= d <= 30``.
    kappa : float
        The margin.
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    if A.ndim != 2 or not 1 <= A.shape[1] <= 30 or A.shape[0] < 1:
        raise ValueError(f"A must be an (n, d) array with n >= 1 and 1 <= d <= 30, got shape {A.shape}")
    kappa = float(kappa)
    if not math.isfinite(kappa):
        raise ValueError(f"kappa must be finite, got {kappa}")
    count, total = _count_binary_kernel(A, kappa, (1 << _REFRESH_BITS) - 1)
    return int(count), total


def max_margin_spherical(A) -> float:
    """``max_{|w| = 1} min_mu (A w)_mu`` for rows ``A`` (NaN when no ``w`` has all ``(A w)_mu > 0``).

    With the rows ``y_mu x_mu`` this is the ``kappa_max`` of :mod:`equations.storage` for
    ``|w|^2 = d``. Solved as the least-distance program
    ``min |v|`` s.t. ``A v >= 1`` (``kappa_max = 1 / |v|``) by NNLS (module docstring).
    """
    from scipy.optimize import nnls

    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
        raise ValueError(f"A must be an (n, d) array, got shape {A.shape}")
    n, d = A.shape
    E = np.vstack([A.T, np.ones((1, n))])
    f = np.zeros(d + 1)
    f[d] = 1.0
    u, _ = nnls(E, f, maxiter=50 * (n + d))
    r = E @ u - f
    # r = 0 (up to rounding): f is in the cone of E's columns, i.e. A v >= 1 is infeasible
    if abs(r[d]) <= 1e-10:
        return math.nan
    v = -r[:d] / r[d]
    # the exact margin of the direction found (>= 1 / |v| up to rounding): a feasible margin
    margin = float(np.min(A @ v) / np.linalg.norm(v))
    return margin if margin > 0 else math.nan
