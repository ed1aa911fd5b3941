"""Lazily built piecewise-Chebyshev tables of expensive smooth functions of one variable.

State-evolution maps often call one expensive but smooth function of a single variable many
times: e.g. the channel integrals of a Bayes-optimal GLM depend on the overlap ``q`` only
(through ``V = rho - q``), not on the sample ratio ``alpha`` swept in a phase diagram, and each
evaluation is a two-dimensional integral. :class:`LazyChebyshev` replaces such a function by a
piecewise Chebyshev interpolant that is

* **accurate to a stated tolerance**: a piece of degree ``n`` is accepted when its last Chebyshev
  coefficients are below ``atol + rtol * max |f|`` on the piece (coefficients of an analytic
  function decay geometrically, so the tail bounds the interpolation error up to a modest
  factor; the approach of Chebfun, Trefethen, *Approximation Theory and Approximation Practice*,
  SIAM 2013, ch. 8 and 18); otherwise the degree doubles (nested Chebyshev-Lobatto points reuse
  every value) and then the piece is bisected;
* **lazy**: a piece is built the first time a query falls in it, so a single fixed-point solve
  pays only for the pieces its iterates visit;
* **deterministic**: the partition depends only on the function and the initial breakpoints,
  never on the order of the queries, so two runs that visit the same points in a different
  order return bit-identical values (a sweep run forwards or backwards, serial or in parallel).

A piece whose values are not all finite, or that still misses the tolerance after
``max_depth`` bisections, is not interpolated: queries there call ``f`` directly (and
:attr:`LazyChebyshev.direct_pieces` counts them), so the table is never less accurate than
``f`` itself.
"""

from __future__ import annotations

import bisect
import math
import threading

import numpy as np
from fixedpoint._jit import njit
from numpy.polynomial import chebyshev as _cheb

__all__ = ["LazyChebyshev", "lobatto_points"]


def lobatto_points(n: int) -> np.ndarray:
    """Chebyshev-Lobatto points ``cos(pi k / n)``, ``k = 0..n``, on ``[-1, 1]`` (decreasing);
    those of degree ``n`` are every other point of degree ``2 n``."""
    return np.cos(np.pi * np.arange(n + 1) / n)


@njit(cache=True)
def _clenshaw(t, coef):
    """``sum_k coef[k] T_k(t)`` for each column of ``coef`` (Clenshaw's recurrence)."""
    n, m = coef.shape
    out = np.empty(m)
    for j in range(m):
        b1 = 0.0
        b2 = 0.0
        for k in range(n - 1, 0, -1):
            b1, b2 = 2.0 * t * b1 - b2 + coef[k, j], b1
        out[j] = t * b1 - b2 + coef[0, j]
    return out


class _Piece:
    __slots__ = ("lo", "hi", "coef", "children", "direct", "depth", "tail")

    def __init__(self, lo, hi, depth):
        self.lo = lo
        self.hi = hi
        self.depth = depth
        self.coef = None  # (n + 1, m) Chebyshev coefficients once built
        self.children = None  # (left, right) once split
        self.direct = False  # f is called directly in this piece
        self.tail = math.nan


class LazyChebyshev:
    """Piecewise Chebyshev interpolant of ``f: [a, b] -> R^m``, built piece by piece on demand.

    Parameters
    ----------
    f : callable
        ``f(x)`` for a float ``x`` returns a sequence of ``m`` floats; smooth (analytic) inside
        each initial piece.
    breakpoints : sequence of float
        Increasing, at least two: the domain ``[breakpoints[0], breakpoints[-1]]`` and the
        initial pieces. Put breakpoints where ``f`` changes scale (the table bisects further
        on its own, but a good start saves evaluations).
    rtol, atol : float
        A piece is accepted when, for every output, its tail coefficients are at most
        ``atol + rtol * max |f|`` over the piece.
    degrees : tuple of int
        Degrees tried on a piece before it is bisected, each double the previous one
        (nested points), e.g. ``(16, 32)``.
    max_depth : int
        At most this many bisections of an initial piece; beyond, ``f`` is called directly.

    Attributes
    ----------
    evaluations : int
        Calls of ``f`` made so far (building plus direct queries).
    pieces, direct_pieces : int
        Accepted interpolating pieces, and pieces where ``f`` is called directly.
    max_tail : float
        Largest accepted tail relative to its piece's scale (an estimate of the relative
        interpolation error).
    """

    def __init__(self, f, breakpoints, *, rtol=1e-10, atol=0.0, degrees=(16, 32), max_depth=12):
        bp = np.asarray(breakpoints, dtype=float)
        if bp.ndim != 1 or bp.size < 2 or not np.all(np.isfinite(bp)) or not np.all(np.diff(bp) > 0):
            raise ValueError(f"breakpoints must be at least two increasing finite numbers, got {breakpoints!r}")
        degrees = tuple(int(n) for n in degrees)
        if not degrees or degrees[0] < 4 or any(b != 2 * a for a, b in zip(degrees[:-1], degrees[1:])):
            raise ValueError(f"degrees must start at >= 4 and double, got {degrees!r}")
        if not (rtol >= 0 and atol >= 0 and rtol + atol > 0):
            raise ValueError(f"rtol and atol must be >= 0, not both 0 (got rtol={rtol}, atol={atol})")
        if int(max_depth) < 0:
            raise ValueError(f"max_depth must be >= 0, got {max_depth!r}")
        self._f = f
        self.rtol = float(rtol)
        self.atol = float(atol)
        self.degrees = degrees
        self.max_depth = int(max_depth)
        self._edges = [float(x) for x in bp]
        self._roots = [_Piece(a, b, 0) for a, b in zip(self._edges[:-1], self._edges[1:])]
        self.evaluations = 0
        self.pieces = 0
        self.direct_pieces = 0
        self.max_tail = 0.0
        self._lock = threading.Lock()  # one builder at a time (thread executors share tables)

    @property
    def domain(self) -> tuple[float, float]:
        return self._edges[0], self._edges[-1]

    # ------------------------------------------------------------------ queries
    def __call__(self, x: float) -> np.ndarray:
        """The interpolated ``f(x)`` (an array of ``m`` floats)."""
        x = float(x)
        piece = self._leaf(x)
        if piece.direct:
            return self._eval(x)
        t = (2.0 * x - piece.lo - piece.hi) / (piece.hi - piece.lo)
        return _clenshaw(t, piece.coef)

    def derivative(self, x: float) -> np.ndarray:
        """``f'(x)`` of the interpolant (central differences of ``f`` in a direct piece)."""
        x = float(x)
        piece = self._leaf(x)
        if piece.direct:
            h = 1e-6 * (piece.hi - piece.lo)
            lo, hi = max(x - h, piece.lo), min(x + h, piece.hi)
            return (self._eval(hi) - self._eval(lo)) / (hi - lo)
        t = (2.0 * x - piece.lo - piece.hi) / (piece.hi - piece.lo)
        return _cheb.chebval(t, _cheb.chebder(piece.coef)) * (2.0 / (piece.hi - piece.lo))

    def _leaf(self, x):
        a, b = self._edges[0], self._edges[-1]
        if not a <= x <= b:
            raise ValueError(f"x must be in the table's domain [{a}, {b}], got {x}")
        i = min(max(bisect.bisect_right(self._edges, x) - 1, 0), len(self._roots) - 1)
        piece = self._roots[i]
        while True:
            if piece.coef is None and piece.children is None and not piece.direct:
                with self._lock:
                    if piece.coef is None and piece.children is None and not piece.direct:
                        self._build(piece)
            if piece.children is None:
                return piece
            left, right = piece.children
            piece = left if x <= left.hi else right

    # ------------------------------------------------------------------ construction
    def _eval(self, x):
        self.evaluations += 1
        return np.asarray(self._f(x), dtype=float).ravel()

    def _build(self, piece):
        lo, hi = piece.lo, piece.hi
        values = None
        for n in self.degrees:
            t = lobatto_points(n)
            x = 0.5 * (lo + hi) + 0.5 * (hi - lo) * t
            if values is None:
                values = np.array([self._eval(xi) for xi in x])
            else:
                # the previous degree's points are the even-indexed ones: evaluate the odd ones
                new = np.empty((n + 1, values.shape[1]))
                new[0::2] = values
                new[1::2] = np.array([self._eval(xi) for xi in x[1::2]])
                values = new
            if not np.all(np.isfinite(values)):
                break  # not smooth here: queries call f directly
            coef = _cheb.chebfit(t, values, n)
            scale = np.max(np.abs(values), axis=0)
            tail = np.max(np.abs(coef[-3:]), axis=0)
            if np.all(tail <= self.atol + self.rtol * scale):
                piece.coef = np.ascontiguousarray(coef)
                piece.tail = float(np.max(tail / np.maximum(scale, np.finfo(float).tiny)))
                self.pieces += 1
                self.max_tail = max(self.max_tail, piece.tail)
                return
        if np.all(np.isfinite(values)) and piece.depth < self.max_depth:
            mid = 0.5 * (lo + hi)
            piece.children = (_Piece(lo, mid, piece.depth + 1), _Piece(mid, hi, piece.depth + 1))
            return
        piece.direct = True
        self.direct_pieces += 1
