"""``phase_lines``: every transition line of a model over a range, found by the toolkit.

Given a line parameter ``s`` (the one that grows with the signal: ``snr``, ``alpha``) and a
range of a second parameter ``v`` (``rho``, ``noise``), it returns the weak-recovery
(stability) line, the two spinodals, the first-order (information-theoretic) line, the
intervals of ``v`` where each exists and the special points where they meet.

Method
------
At each ``v`` the fixed points of ``x = F(x; s)`` form a curve in ``(x, s)``. It is traced as a
graph over one state entry ``x_k``, the order parameter (the entry that changes most between
the fixed point reached from the uninformed start at the low end of the range and the
informed one at the high end): at each ``x_k`` of a grid the remaining entries and ``s`` are
solved for (a one-dimensional root in ``s`` for a scalar state). This is pseudo-arclength
continuation with the arclength replaced by ``x_k``, which is monotone along the branches of
the models of this field. In this parametrisation

* the curve leaves a trivial fixed point at the weak-recovery threshold ``s_WR`` (where the
  Jacobian there has spectral radius 1, located by :func:`fixedpoint.threshold`);
* a first-order transition is an ``s(x_k)`` that is not monotone: the algorithmic threshold
  (upper spinodal) is its local maximum on the uninformed side, the lower spinodal its local
  minimum on the informed side. Near the end of a coexistence region the two folds are
  ``~ (v_c - v)^{1/2}`` apart in ``x_k`` but only ``~ (v_c - v)^{3/2}`` in ``s``: they are
  resolved on the curve, where stepping in ``s`` would jump over them;
* the coexistence region ends where the smallest slope ``D(v) = min ds/dx_k`` (in units of
  the curve's span) crosses zero: a smooth function of ``v``, whose root (Brent's method) is the
  point where the spinodals and the first-order line meet, located to ``tol`` rather than to
  the grid spacing. At the end of a subcritical bifurcation from a trivial point (slope < 0
  at the trivial end) the same root is where a continuous transition turns first order;
* the information-theoretic threshold is the Maxwell construction on the curve: the ``s`` in
  the coexistence window at which the two stable parts of the curve (uninformed side, informed
  side) have equal free entropies. Models whose free entropy diverges on a branch
  (``free_entropy_divergence``) use :func:`fixedpoint.threshold` ``kind="first_order"`` instead.

Only the first-order transition with the deepest non-monotone part of the curve is traced at
each ``v``; a second one at the same ``v`` is noted in the column's message, not drawn as a line.
"""

from __future__ import annotations

import bisect
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import optimize as _opt

from . import _validate
from .continuation import at
from .results import LINE_NAMES, PhaseLine, PhaseLines
from .solvers import solve
from .thresholds import _locate, _options

__all__ = ["phase_lines"]

_KEYS = ("stability", "spinodal_uninformed", "spinodal_informed", "first_order")


def phase_lines(model, line_param: str, over: dict, *, start="uninformed", within=None, tol: float = 1e-8,
                solver=None, atol: float = 1e-10, rtol: float = 1e-10, max_iter: int = 10_000,
                workers: int = 1) -> PhaseLines:
    """Every transition line of ``model`` in ``line_param`` over a range of a second parameter.

    Parameters
    ----------
    model : Model
    line_param : str
        The parameter each line gives (signal grows with it: ``snr``, ``alpha``).
    over : dict
        ``{param: values}``: the second parameter and the values at which the lines are
        computed (the ends of each line are located between them, to ``tol``).
    start : {"uninformed"} or array
        The start that defines the algorithmic branch (as for ``kind="spinodal"``).
    within : (lo, hi), optional
        The range of ``line_param`` searched. Default: two decades either side of the model's
        current value of ``line_param``.
    tol : float
        Absolute tolerance on the ends of the lines and on the first-order line.
    solver, atol, rtol, max_iter
        Passed to every solve.
    workers : int
        Processes over which the values of ``over`` are shared.

    Returns
    -------
    PhaseLines
        The lines that exist somewhere in the range (``stability`` = weak recovery,
        ``spinodal_uninformed`` = algorithmic, ``spinodal_informed`` = lower spinodal,
        ``first_order`` = IT), each with its intervals, and the points where a coexistence
        region ends (``"tricritical"`` in a model with a trivial fixed point, ``"critical"``
        otherwise).

    Raises
    ------
    ValueError
        For an invalid argument, before anything is solved.
    """
    _validate.param(model, line_param, "line_param")
    p2, vals2 = _validate.over(model, over, line_param)
    if within is None:
        s0 = float(getattr(model, line_param))
        if not s0 > 0:
            raise _validate.ArgumentError(f"within= is needed: the model's {line_param} = {s0!r} is not positive")
        within = (s0 / 100.0, s0 * 100.0)
    lo, hi = _validate.bracket(within, "within")
    tol = _validate.positive(tol, "tol")
    workers = int(_validate.positive(workers, "workers"))
    opts = _options(model, "spinodal", start=start, tol=tol, solver=solver, atol=atol, rtol=rtol, max_iter=max_iter)
    job = _Job(model, line_param, p2, lo, hi, opts["start"], tol, opts["kw"])
    vals2 = np.unique(np.asarray(vals2, float))
    if workers > 1 and len(vals2) > 2:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            columns = list(pool.map(job.column, vals2, chunksize=max(1, len(vals2) // (4 * workers))))
    else:
        columns = [job.column(v) for v in vals2]
    return _assemble(job, vals2, columns)


# ----------------------------------------------------------------------------- one value of `over`


class _Job:
    """What every column shares (picklable, for the worker processes)."""

    def __init__(self, model, param, over, lo, hi, start, tol, kw):
        self.model, self.param, self.over, self.lo, self.hi = model, param, over, lo, hi
        self.start, self.tol, self.kw = start, tol, kw

    def column(self, v) -> dict:
        """The lines at ``over = v`` (see :func:`transitions`)."""
        try:
            m = at(self.model, **{self.over: float(v)})
        except ValueError as exc:
            return _empty(f"invalid parameter: {exc}")
        return transitions(m, self.param, self.lo, self.hi, self.start, self.tol, self.kw)


def transitions(m, param, lo, hi, start, tol, kw, first_order: bool = True) -> dict:
    """Every transition of ``m`` in ``param`` within ``(lo, hi)``, from its curve of fixed points.

    Returns
    -------
    dict
        ``stability``, ``spinodal_uninformed``, ``spinodal_informed``, ``first_order`` (NaN where
        absent; spinodals and the first-order point may lie outside ``(lo, hi)``), ``slope`` (the
        smallest slope ``D`` of the curve), ``s_min_slope`` (``param`` where it is),
        ``backward_runs`` (how many stretches of the curve go backward: first-order transitions),
        ``trivial`` and ``message``. ``first_order=False`` skips the Maxwell construction (NaN).
    """
    out = _empty("")
    notes = []
    out["trivial"] = getattr(m, "trivial_state", lambda: None)() is not None
    if out["trivial"]:
        try:
            thr = _locate(m, param, lo, hi, "stability", start="uninformed", observable=None, level=None, tol=tol,
                          kw=kw)
            out["stability"] = thr.value if thr.converged else math.nan
        except ValueError as exc:
            notes.append(f"weak recovery: {exc}")
    if getattr(m, "unique_fixed_point", False):
        out["message"] = "; ".join(notes + ["a unique fixed point: no coexistence, no spinodals"])
        return out
    try:
        curve = _Curve(m, param, lo, hi, start, kw, out["stability"], tol, first_order)
    except _NoCurve as exc:
        out["message"] = "; ".join(notes + [str(exc)])
        return out
    try:
        out.update(curve.transition())
    except (ArithmeticError, ValueError) as exc:  # a root finder met a point off the curve
        notes.append(f"the transition could not be located on the curve of fixed points: {exc}")
    if out["backward_runs"] > 1:
        notes.append(f"{out['backward_runs']} first-order transitions at this point: only the one where the "
                     "curve goes back most steeply is traced")
    out["message"] = "; ".join(n for n in notes + [curve.message] if n)
    return out


def _empty(message):
    return {"stability": math.nan, "spinodal_uninformed": math.nan, "spinodal_informed": math.nan,
            "first_order": math.nan, "slope": math.nan, "s_min_slope": math.nan, "backward_runs": 0, "trivial": False,
            "message": message}


class _NoCurve(Exception):
    pass


class _Diverging(Exception):
    """A free entropy on the curve diverges (``free_entropy_divergence`` is not 0)."""


class _Curve:
    """The curve of fixed points at one value of ``over``, as a graph ``s(x_k)``.

    The ends: the fixed point from ``start`` at ``lo`` (``x_U``) and the informed one at ``hi``
    (``x_I``). ``k`` is the entry with the largest relative change between them; the grid in
    ``x_k`` is geometric near a trivial end (where the curve leaves the trivial point, with
    ``s -> s_WR``) and even elsewhere.
    """

    n_geometric, n_even = 16, 40

    def __init__(self, model, param, lo, hi, start, kw, s_wr, tol, first_order=True):
        self.model, self.param, self.lo, self.hi, self.kw, self.tol = model, param, lo, hi, kw, tol
        self.with_first_order = first_order
        self.message = ""
        u = solve(at(model, **{param: lo}), start=start, **kw)
        i = solve(at(model, **{param: hi}), start="informed", **kw)
        if not (u.converged and i.converged):
            bad = u if not u.converged else i
            raise _NoCurve(f"no curve of fixed points: the solve at {param}={lo if bad is u else hi:g} did not "
                           f"converge ({bad.message})")
        xu, xi = np.asarray(u.x, float), np.asarray(i.x, float)
        scale = np.maximum(np.maximum(np.abs(xu), np.abs(xi)), 1e-300)
        self.k = int(np.argmax(np.abs(xi - xu) / scale))
        span = xi[self.k] - xu[self.k]
        if not abs(span) > 1e-9 * scale[self.k]:
            raise _NoCurve(f"no transition: the fixed points from {start!r} at {param}={lo:g} and 'informed' at "
                           f"{param}={hi:g} coincide")
        trivial = getattr(model, "trivial_state", lambda: None)()
        self.trivial = None
        if trivial is not None:
            trivial = np.asarray(trivial, float)
            # the solve from `start` stops within its tolerance of the trivial point, which is
            # slow to reach near s_WR: "at the trivial point" is judged against the curve's span
            if np.max(np.abs(xu - trivial)) <= 1e-6 * np.max(np.abs(xi - trivial)):
                self.trivial = xu = trivial
                span = xi[self.k] - xu[self.k]
        self.x_u, self.x_i, self.span, self.s_wr = xu, xi, span, s_wr
        self._cache: dict[float, tuple] = {}
        self._done: list[float] = []
        # grid in t = (x_k - x_U,k) / span: even in the middle, geometric toward the informed end
        # (an informed branch close to a boundary, e.g. q -> rho at small noise, lives within
        # 1e-4 of the end) and toward a trivial start (where the curve leaves it at s_WR)
        near_end = 1.0 - np.geomspace(0.1, 1e-7, self.n_geometric)
        start = np.geomspace(1e-7, 0.1, self.n_geometric, endpoint=False) if self.trivial is not None else [0.0]
        self.t = np.unique(np.concatenate([start, np.linspace(0.1 if self.trivial is not None else 0.0, 0.9,
                                                              self.n_even, endpoint=False), near_end, [1.0]]))
        self.s = np.array([self.s_at(t) for t in self.t])

    # -- the curve

    def s_at(self, t: float) -> float:
        """``s`` on the curve at ``x_k = x_U,k + t span`` (NaN where no fixed point has that ``x_k``)."""
        t = float(t)
        if t in self._cache:
            return self._cache[t][0]
        xk = self.x_u[self.k] + t * self.span
        guess = self._nearest(t)
        s, x = _solve_on_curve(self.model, self.param, self.k, xk, guess, self.lo, self.hi)
        self._cache[t] = (s, x)
        if np.isfinite(s):
            bisect.insort(self._done, t)  # sorted: the nearest points are found by bisection
        return s

    def state_at(self, t: float) -> np.ndarray:
        self.s_at(t)
        return self._cache[float(t)][1]

    def _nearest(self, t):
        """Starting guesses ``(x, s)``: extrapolated linearly from the two nearest points already
        on the curve, then the nearest one alone; or an end of the curve."""
        done = self._done
        i = bisect.bisect_left(done, t)
        near = sorted(done[max(i - 2, 0):i + 2], key=lambda u: abs(u - t))[:2]
        if near:
            s1, x1 = self._cache[near[0]]
            if len(near) == 1:
                return [(x1, s1)]
            s2, x2 = self._cache[near[1]]
            w = (t - near[0]) / (near[1] - near[0])
            return [(x1 + w * (x2 - x1), s1 + w * (s2 - s1)), (x1, s1)]
        if t < 0.5:
            s0 = self.s_wr if self.trivial is not None and np.isfinite(self.s_wr) else self.lo
            return [(self.x_u.copy(), s0)]
        return [(self.x_i.copy(), self.hi)]

    def slope(self, t: float) -> float:
        """``ds/dt`` by a central difference (one-sided at the ends of the grid)."""
        h = 1e-6 * max(t, 1e-3) if self.trivial is not None else 1e-6
        a, b = max(t - h, self.t[0]), min(t + h, 1.0)
        return (self.s_at(b) - self.s_at(a)) / (b - a)

    # -- the transition

    def transition(self) -> dict:
        """Spinodals, the first-order threshold and the smallest slope of the curve."""
        t, s = self.t, self.s
        ok = np.isfinite(s)
        if ok.sum() < 4:
            self.message = f"the curve of fixed points could not be traced ({int(ok.sum())} points)"
            return {}
        t, s = t[ok], s[ok]
        d = np.diff(s) / np.diff(t)
        j = int(np.argmin(d))
        a, b = t[max(j - 1, 0)], t[min(j + 2, len(t) - 1)]
        r = _opt.minimize_scalar(self.slope, bounds=(a, b), method="bounded", options={"xatol": 1e-10})
        t_min, d_min = float(r.x), float(r.fun)
        if not d_min < d[j]:
            t_min, d_min = 0.5 * (t[j] + t[j + 1]), float(d[j])
        d0 = self._slope_at_trivial()
        if d0 < d_min:  # the curve leaves the trivial point backwards (or least steeply)
            t_min, d_min = 0.0, d0
        # in units of the curve: the slope of a straight curve from (0, s(0)) to (1, s(1)) is ~1
        scale = max(abs(s[-1] - s[0]), 1e-12 * max(abs(s[-1]), 1.0))
        back = d < 0
        runs = int(back[0]) + int(np.sum(back[1:] & ~back[:-1]))  # backward stretches on the grid
        out = {"slope": d_min / scale, "s_min_slope": self.s_wr if t_min == 0.0 else self.s_at(t_min),
               "backward_runs": max(runs, int(d_min < 0))}
        if d_min >= 0:
            return out
        return {**out, **self._coexistence(t, s, d, t_min)}

    def _coexistence(self, t, s, d, t_min) -> dict:
        """The folds on both sides of the steepest backward part of the curve, and the IT point."""
        out = {}
        # uninformed side: the slope turns negative between the last grid point with a positive
        # slope before t_min and t_min (absent when the curve leaves a trivial point backwards)
        t_a = self._rising(t[t < t_min][::-1])
        if t_a is not None:
            t_u = _opt.brentq(self.slope, t_a, t_min, xtol=1e-12)
            out["spinodal_uninformed"] = self.s_at(t_u)
        elif self.trivial is not None:
            t_u = 0.0  # subcritical: the uninformed branch is the trivial point, lost at s_WR
            out["spinodal_uninformed"] = self.s_wr
        else:
            self.message = "the curve goes backwards from the uninformed end"
            return {}
        t_b = self._rising(t[t > t_min])
        if t_b is None:
            self.message = "the curve goes backwards up to the informed end: widen the range"
            return out
        t_back = t_min if t_min > 0 else self.t[0]
        # (a backward part shorter than the first step of the grid ends within it: s there is the
        # fold's value to second order in that step)
        t_l = t_back if self.slope(t_back) >= 0 else _opt.brentq(self.slope, t_back, t_b, xtol=1e-12)
        out["spinodal_informed"] = self.s_at(t_l)
        s_u, s_l = out["spinodal_uninformed"], out["spinodal_informed"]
        out["first_order"] = self._maxwell(t_u, t_l, s_u, s_l) if self.with_first_order else math.nan
        if self.with_first_order and not np.isfinite(out["first_order"]) and abs(s_u - s_l) <= self.tol:
            # a window narrower than the tolerance (next to its end): the free entropies differ by
            # less than their rounding, and any point of the window is the threshold to tol
            out["first_order"] = 0.5 * (s_u + s_l)
        return out

    def _slope_at_trivial(self) -> float:
        """``ds/dt`` where the curve leaves the trivial point (``s(0) = s_WR``): Richardson's
        extrapolation of the secants from ``s_WR`` to the two first points of the grid. Its sign
        tells a continuous (> 0) from a first-order (< 0) weak-recovery transition, and it
        crosses 0 at a tricritical point."""
        if self.trivial is None or not np.isfinite(self.s_wr):
            return math.inf
        h = 1e-3  # error O(h^3) ~ 1e-9, rounding ~ 1e-15 / h

        def secant(u):
            return (self.s_at(u) - self.s_wr) / u

        r1, r2 = 2 * secant(h) - secant(2 * h), 2 * secant(2 * h) - secant(4 * h)
        return (4 * r1 - r2) / 3

    def _rising(self, ts):
        """The first of ``ts`` at which the curve rises (positive slope), or ``None``."""
        for u in ts:
            if self.slope(u) > 0:
                return float(u)
        return None

    def _maxwell(self, t_u, t_l, s_u, s_l) -> float:
        """The ``s`` in ``(s_l, s_u)`` where the two stable parts of the curve have equal free entropies."""
        phi = getattr(self.model, "free_entropy", None)
        if phi is None or not (s_l < s_u):
            return math.nan

        def branch(s, ta, tb):
            """The state on the part of the curve between ta and tb where the curve has ``s``."""
            fa, fb = self.s_at(ta) - s, self.s_at(tb) - s
            if fa * fb > 0:
                # s at a fold of the curve (an end of the window), up to rounding
                t_end = ta if abs(fa) < abs(fb) else tb
                if min(abs(fa), abs(fb)) > 1e-12 * max(abs(s), 1.0):
                    raise ValueError(f"{self.param}={s!r} is not on this part of the curve")
                return self.state_at(t_end)
            tt = _opt.brentq(lambda u: self.s_at(u) - s, ta, tb, xtol=1e-14, rtol=1e-15)
            return self.state_at(tt)

        t0 = self.t[0]

        def delta(s):
            m = at(self.model, **{self.param: s})
            if self.trivial is not None and (t_u == 0.0 or s <= self.s_wr):
                # subcritical, or below weak recovery: the uninformed point is the trivial one
                xu = self.trivial
            else:
                xu = branch(s, t0, t_u)
            xi = branch(s, t_l, 1.0)
            diverges = getattr(m, "free_entropy_divergence", None)
            if diverges is not None and (diverges(xu) != 0 or diverges(xi) != 0):
                raise _Diverging
            return m.free_entropy(xu) - m.free_entropy(xi)

        try:
            da, db = delta(s_l), delta(s_u)
            if not (np.isfinite(da) and np.isfinite(db)) or da * db > 0:
                return math.nan
            return float(_opt.brentq(delta, s_l, s_u, xtol=1e-13, rtol=1e-15))
        except _Diverging:  # a branch whose free entropy diverges: compare the branches by solves
            return self._first_order_by_solves(s_l, s_u)
        except ValueError:
            return math.nan

    def _first_order_by_solves(self, s_l, s_u):
        w = 1e-9 * max(abs(s_u), 1.0)
        try:
            thr = _locate(self.model, self.param, s_l - w, s_u + w, "first_order", start="uninformed",
                          observable=None, level=None, tol=1e-10, kw=self.kw)
        except ValueError:
            return math.nan
        return thr.value if thr.converged else math.nan


def _solve_on_curve(model, param, k, xk, guesses, lo, hi):
    """The fixed point with entry ``k`` equal to ``xk``: ``(s, x)``, or ``(nan, None)``.

    ``guesses`` are starting points ``(x, s)``, tried in turn (an extrapolation along the curve,
    then the nearest point on it). Scalar state: the root in ``s`` of ``F(x; s) - x`` by the
    secant method (a few steps from a good guess), else bracketed outward from the last guess
    (:func:`_bracket_root`; ``lo, hi`` is the range of ``s``) and refined by Brent's method.
    Vector state: a hybrid Powell root in ``(other entries, s)``.
    """
    guesses = [(np.array(x, float), float(s)) for x, s in guesses
               if np.isfinite(s) and not (lo > 0 and s <= 0)]  # a positive parameter stays positive
    if not guesses:
        return math.nan, None
    for x, _ in guesses:
        x[k] = xk
    if guesses[0][0].size == 1:
        return _solve_scalar(model, param, xk, guesses, lo, hi)
    x0 = guesses[0][0]
    free = [i for i in range(x0.size) if i != k]

    def G(y):
        x = x0.copy()
        x[free] = y[:-1]
        try:
            m = at(model, **{param: float(y[-1])})
        except ValueError:
            return np.full(x0.size, 1e6)
        r = np.asarray(m.update(x), float) - x
        return np.where(np.isfinite(r), r, 1e6)

    for xg, sg in guesses:
        sol = _opt.root(G, np.append(xg[free], sg), method="hybr", options={"xtol": 1e-13})
        x = x0.copy()
        x[free] = sol.x[:-1]
        # judged on the residual relative to the state (MINPACK's flag reports slow progress
        # even at a residual of 1e-19 next to a trivial point, where the state is ~1e-7)
        if np.max(np.abs(sol.fun)) <= 1e-10 * np.max(np.abs(x)):
            return float(sol.x[-1]), x
    return math.nan, None


def _solve_scalar(model, param, xk, guesses, lo, hi):
    x0 = guesses[0][0]

    def g(s):
        try:
            m = at(model, **{param: s})
        except ValueError:
            return math.nan
        return float(m.update(x0)[0]) - xk

    for _, sg in guesses:
        s = _secant(g, sg)
        if s is not None:
            return s, x0
    br = _bracket_root(g, guesses[-1][1], lo, hi)
    if br is None:
        return math.nan, None
    if br[0] == br[1]:
        return float(br[0]), x0
    return float(_opt.brentq(g, *br, xtol=1e-15, rtol=1e-15)), x0


def _secant(g, s0, rtol=1e-14):
    """A root of ``g`` near ``s0`` by the secant method (converged: the last step is below
    ``rtol |s|``); ``None`` when it does not converge in 12 steps."""
    h = 1e-7 * max(abs(s0), 1e-3)
    a, b = s0, s0 + h
    ga, gb = g(a), g(b)
    for _ in range(12):
        if not (np.isfinite(ga) and np.isfinite(gb)) or gb == ga:
            return None
        c = b - gb * (b - a) / (gb - ga)
        if abs(c - b) <= rtol * max(abs(c), 1e-300):
            return float(c)
        a, ga, b, gb = b, gb, c, g(c)
    return None


def _bracket_root(g, s0, lo, hi, steps=60):
    """A sign change of ``g`` around ``s0`` (or ``None``), searched outward: by factors of 1.25
    for a positive range ``lo > 0`` (parameters such as ``snr``, ``alpha``), by doubling steps
    from ``(hi - lo) / 100`` otherwise."""
    g0 = g(s0)
    if g0 == 0:
        return (s0, s0)
    if not np.isfinite(g0):
        return None
    geometric = lo > 0 and s0 > 0

    def out(k, sign):
        if geometric:
            return s0 * 1.25 ** (sign * k)
        return s0 + sign * 0.01 * (hi - lo) * 2.0 ** (k - 1)

    prev = {1: s0, -1: s0}
    for k in range(1, steps + 1):
        for sign in (-1, 1):
            s = out(k, sign)
            gs = g(s)
            if np.isfinite(gs) and gs * g0 <= 0:
                return tuple(sorted((prev[sign], s)))
            if np.isfinite(gs):
                prev[sign] = s
    return None


# ----------------------------------------------------------------------------- the lines


def _assemble(job, vals, columns) -> PhaseLines:
    """Lines from the columns, with their ends located between the values of ``over``."""
    cols = {float(v): c for v, c in zip(vals, columns)}

    def column(v):
        v = float(v)
        if v not in cols:
            cols[v] = job.column(v)
        return cols[v]

    def inside(v, key):
        """The line's value at ``v`` when it lies in the range of ``line_param``, else NaN."""
        s = column(v)[key]
        return s if np.isfinite(s) and job.lo <= s <= job.hi else math.nan

    points, notes = [], []
    vals = [float(v) for v in vals]
    for a, b in zip(vals[:-1], vals[1:]):
        ca, cb = column(a), column(b)
        # the end of a coexistence region: the smallest slope of the curve crosses 0
        if np.isfinite(ca["slope"]) and np.isfinite(cb["slope"]) and (ca["slope"] < 0) != (cb["slope"] < 0):
            v_c = _opt.brentq(lambda v: column(v)["slope"], a, b, xtol=job.tol, rtol=4 * np.finfo(float).eps)
            s_c = column(v_c)["s_min_slope"]
            kind = "tricritical" if column(v_c)["trivial"] else "critical"
            points.append({"kind": kind, job.over: float(v_c), job.param: float(s_c)})
            for key in ("spinodal_uninformed", "spinodal_informed", "first_order"):
                cols[v_c][key] = s_c  # the three lines meet there
        # a line that leaves the range of line_param (or stops for another reason) between a and b
        for key in _KEYS:
            fa, fb = np.isfinite(inside(a, key)), np.isfinite(inside(b, key))
            if fa != fb and not any(a < p[job.over] < b for p in points):
                _locate_end(job, column, inside, key, a, b)
    lines = []
    for key in _KEYS:
        xs = np.array(sorted(cols))
        ys = np.array([inside(v, key) for v in xs])
        if not np.isfinite(ys).any():
            continue
        kind, branch = key.split("_") if key.startswith("spinodal") else (key, None)
        lines.append(PhaseLine(kind, branch, LINE_NAMES[key], job.param, job.over, xs, ys, np.isfinite(ys),
                               _intervals(xs, ys), tuple(cols[v]["message"] for v in xs)))
    missing = [k for k in _KEYS if k not in {l.key for l in lines}]
    if missing:
        notes.append("no " + ", ".join(LINE_NAMES[k] for k in missing) + f" line in {job.param} in "
                     f"[{job.lo:g}, {job.hi:g}]")
    return PhaseLines(job.param, job.over, tuple(lines), tuple(points), "; ".join(notes))


def _locate_end(job, column, inside, key, a, b):
    """Where the line ``key`` starts or stops between ``a`` and ``b``: Brent's method on its value
    minus the end of the range when it leaves the range, bisection on its existence otherwise."""
    raw_a, raw_b = column(a)[key], column(b)[key]
    if np.isfinite(raw_a) and np.isfinite(raw_b):
        bound = job.lo if min(raw_a, raw_b) < job.lo else job.hi
        v = _opt.brentq(lambda v: column(v)[key] - bound, a, b, xtol=job.tol, rtol=4 * np.finfo(float).eps)
        column(v)[key] = bound  # exactly at the end of the range
        return
    exists_a = np.isfinite(inside(a, key))
    while b - a > job.tol:
        mid = 0.5 * (a + b)
        if np.isfinite(inside(mid, key)) == exists_a:
            a = mid
        else:
            b = mid


def _intervals(xs, ys) -> tuple:
    """Maximal runs of finite values, as ``(first, last)`` values of ``over``."""
    ok = np.isfinite(ys)
    out, i = [], 0
    while i < len(xs):
        if ok[i]:
            j = i
            while j + 1 < len(xs) and ok[j + 1]:
                j += 1
            out.append((float(xs[i]), float(xs[j])))
            i = j + 1
        else:
            i += 1
    return tuple(out)
