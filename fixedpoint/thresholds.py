"""``threshold`` and ``threshold_line``: locating phase transitions in a parameter.

Kinds (the engine's words; the physics in brackets):

``"stability"``  [weak recovery, BBP]
    The spectral radius of the Jacobian of the map at the trivial fixed point
    (``model.trivial_state()``, or ``start`` when it is an array) crosses 1. Root of
    ``rho(J) - 1`` by Brent's method; the model's ``jacobian(x)`` is used when it has one,
    otherwise second-order finite differences (one-sided at a boundary of the domain).
``"spinodal"``  [algorithmic threshold from "uninformed"; lower spinodal from "informed"]
    The branch followed from ``start`` ends and the solution jumps. Bisection on which branch
    the solve from ``start`` lands on isolates the jump; then the fold is located from the
    branch side, where the eigenvalue ``lambda`` of the Jacobian nearest 1 behaves as
    ``1 - lambda ~ sqrt(|p - p_c|)``: ``(1 - lambda)^2`` is smooth in ``p`` and its root is
    extrapolated from points on the branch (critical slowing down makes a blind bisection to
    1e-6 needlessly slow and noisy).
``"first_order"``  [information-theoretic threshold]
    The free entropies of the branches from "uninformed" and "informed" are equal (where the
    two branches coexist).
``"level"``
    ``observable`` along the branch from ``start`` crosses ``level``.

Probes solve from ``start`` (the definition of the branch), except for models declaring
``unique_fixed_point``, whose probes warm-start from the nearest probe already solved.

A bracket that does not contain the event raises ``ValueError`` with what was found at its
ends; everything else is reported in the returned ``Threshold``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize as _opt

from . import _validate
from .continuation import at
from .results import Status, Threshold
from .solvers import spectral_radius as _radius
from .solvers import model_bounds, numerical_jacobian, solve

__all__ = ["threshold", "threshold_line", "ThresholdLine", "jacobian", "KINDS"]

KINDS = ("stability", "spinodal", "first_order", "level")
_DEFAULT_TOL = {"stability": 1e-8, "first_order": 1e-8, "level": 1e-8, "spinodal": 1e-6}


def jacobian(model, x) -> np.ndarray:
    """Jacobian of ``model.update`` at ``x``: the model's own, else second-order finite differences."""
    x = np.asarray(x, dtype=float)
    own = getattr(model, "jacobian", None)
    if own is not None:
        return np.atleast_2d(np.asarray(own(x), dtype=float))
    lo, hi = model_bounds(model, x.size)
    return numerical_jacobian(model.update, x, lo, hi, order=2)[0]


def _spectral_radius(model, x) -> float:
    return _radius(jacobian(model, x))


def threshold(model, param: str, bracket, kind: str = "stability", *, start="uninformed", observable=None,
              level=None, tol=None, solver=None, atol: float = 1e-10, rtol: float = 1e-10,
              max_iter: int = 10_000) -> Threshold:
    """Locate a threshold of ``kind`` in ``param`` inside ``bracket``.

    Parameters
    ----------
    model : Model
    param : str
        The parameter to vary (a field of the model).
    bracket : (lo, hi)
        Must contain exactly the event sought (a sign change).
    kind : {"stability", "spinodal", "first_order", "level"}
    start : {"uninformed", "informed"} or array
        Branch to follow (``spinodal``, ``level``), or the fixed point whose stability is
        tested (``stability``, when an array).
    observable, level
        For ``kind="level"``: the observable (or state entry) and the level it crosses.
    tol : float, optional
        Absolute tolerance on the parameter (default 1e-8; 1e-6 for spinodals).
    solver, atol, rtol, max_iter
        Passed to every solve.

    Returns
    -------
    Threshold

    Raises
    ------
    ValueError
        For an invalid argument (before anything is solved), or a bracket that does not contain
        the event.
    """
    _validate.param(model, param)
    a, b = _validate.bracket(bracket)
    opts = _options(model, kind, start=start, observable=observable, level=level, tol=tol, solver=solver,
                    atol=atol, rtol=rtol, max_iter=max_iter)
    return _locate(model, param, a, b, kind, **opts)


def _options(model, kind, *, start="uninformed", observable=None, level=None, tol=None, solver=None,
             atol: float = 1e-10, rtol: float = 1e-10, max_iter: int = 10_000) -> dict:
    """Check ``kind`` and the keyword arguments of :func:`threshold` (defaults as there).

    Returns
    -------
    dict
        The keyword arguments of :func:`_locate`: ``start``, ``observable``, ``level``, ``tol``
        (the kind's default when not given) and ``kw`` (the options of every solve).
    """
    kind = _validate.kind(kind, KINDS)
    start = _validate.start(model, start)
    if kind == "level" and (observable is None or level is None):
        raise _validate.ArgumentError("kind='level' needs observable= and level=")
    # checked whenever given, even where the kind ignores them: a wrong one is a mistake anyway
    if observable is not None:
        observable = _validate.observable(model, observable)
    if level is not None:
        level = float(_validate.level(level))
    tol = _DEFAULT_TOL[kind] if tol is None else _validate.positive(tol, "tol")
    solver = _validate.solver(solver)
    atol, rtol = _validate.tolerances(atol, rtol)
    max_iter = _validate.max_iter(max_iter)
    if kind == "first_order" and getattr(model, "free_entropy", None) is None:
        raise _validate.ArgumentError(f"{type(model).__name__} has no free_entropy(): first-order thresholds "
                                      "need one (kind='first_order')")
    return dict(start=start, observable=observable, level=level, tol=tol,
                kw=dict(solver=solver, atol=atol, rtol=rtol, max_iter=max_iter))


def _locate(model, param, a, b, kind, *, start, observable, level, tol, kw) -> Threshold:
    """:func:`threshold` with its arguments checked (by :func:`_options`)."""
    if kind == "stability":
        return _stability(model, param, a, b, start, tol)
    if kind == "level":
        return _level(model, param, a, b, start, observable, level, tol, kw)
    if kind == "first_order":
        return _first_order(model, param, a, b, tol, kw)
    return _spinodal(model, param, a, b, start, tol, kw)


# ----------------------------------------------------------------------------- stability


def _stability(model, param, a, b, start, tol):
    counter = [0]

    def point(m):
        if isinstance(start, str):
            x = getattr(m, "trivial_state", lambda: None)()
            if x is None:
                raise ValueError(f"{type(m).__name__} has no trivial fixed point at {param}={getattr(m, param)!r}: "
                                 "pass the fixed point to test as start=array")
        else:
            x = start
        return np.asarray(x, dtype=float)

    def f(v):
        counter[0] += 1
        m = at(model, **{param: v})
        return _spectral_radius(m, point(m)) - 1.0

    fa, fb = f(a), f(b)
    if not (np.isfinite(fa) and np.isfinite(fb)) or fa * fb > 0:
        raise ValueError(f"bracket ({a:g}, {b:g}) does not contain a stability threshold: the spectral radius at the "
                         f"trivial fixed point is {fa + 1:.6g} and {fb + 1:.6g} at its ends (one must be < 1, the "
                         "other > 1)")
    if fa == 0 or fb == 0:
        v = a if fa == 0 else b
        return Threshold("stability", param, v, (v, v), True, "the spectral radius is 1 at an end of the bracket",
                         solves=counter[0])
    v, r = _opt.brentq(f, a, b, xtol=tol, rtol=4 * np.finfo(float).eps, full_output=True, disp=False)
    m_lo, m_hi = at(model, **{param: v - tol}), at(model, **{param: v + tol})
    x_lo, x_hi = point(m_lo), point(m_hi)
    below, above = solve(m_lo, start=x_lo), solve(m_hi, start=x_hi)
    msg = (f"spectral radius of the Jacobian at the trivial fixed point crosses 1 at {param} = {v:.12g}"
           if r.converged else f"Brent's method did not converge: {r.flag}")
    return Threshold("stability", param, float(v), (float(v - tol), float(v + tol)), bool(r.converged), msg,
                     below=below, above=above, solves=counter[0] + 2)


# ----------------------------------------------------------------------------- level


def _level(model, param, a, b, start, observable, level, tol, kw):
    counter = [0]
    sols = {}

    warm = bool(getattr(model, "unique_fixed_point", False))

    def f(v):
        counter[0] += 1
        x0 = start
        if warm:
            # every start reaches the same point: start from the nearest converged probe
            done = [u for u, s in sols.items() if s.converged]
            if done:
                x0 = sols[min(done, key=lambda u: abs(u - v))].x
        s = solve(at(model, **{param: v}), start=x0, **kw)
        sols[v] = s
        if not s.converged:
            return math.nan
        return s[observable] - level

    fa, fb = f(a), f(b)
    if not (np.isfinite(fa) and np.isfinite(fb)):
        bad = sols[a] if not np.isfinite(fa) else sols[b]
        raise ValueError(f"the solve at an end of the bracket did not converge: {bad.message}")
    if fa * fb > 0:
        raise ValueError(f"bracket ({a:g}, {b:g}) does not contain a crossing of {observable} = {level:g}: it is "
                         f"{fa + level:.6g} and {fb + level:.6g} at the ends")
    def g(v):
        val = f(v)
        if not np.isfinite(val):
            raise _Lost(v)
        return val

    try:
        v, r = _opt.brentq(g, a, b, xtol=tol, rtol=4 * np.finfo(float).eps, full_output=True, disp=False)
    except _Lost as exc:
        bad = sols[exc.args[0]]
        return Threshold("level", param, math.nan, (a, b), False,
                         f"the solve from {start!r} at {param}={exc.args[0]:.10g} did not converge: {bad.message}",
                         below=sols[a], above=sols[b], solves=counter[0])
    ok = bool(r.converged) and all(s.converged for s in sols.values())
    lo, hi = max(a, v - tol), min(b, v + tol)
    msg = f"{observable} crosses {level:g} at {param} = {v:.12g}" if ok else "a solve failed or Brent's method did not converge"
    return Threshold("level", param, float(v), (lo, hi), ok, msg, below=sols.get(v), above=None, solves=counter[0])


# ----------------------------------------------------------------------------- first order


def _first_order(model, param, a, b, tol, kw):
    counter = [0]

    def branches(v):
        counter[0] += 2
        m = at(model, **{param: v})
        lo = solve(m, start="uninformed", **kw)
        hi = solve(m, start="informed", **kw)
        return m, lo, hi

    def delta(v):
        m, lo, hi = branches(v)
        if not (lo.converged and hi.converged):
            return math.nan, lo, hi
        scale = 1e-6 * (1.0 + float(np.max(np.abs(hi.x))))
        if float(np.max(np.abs(hi.x - lo.x))) <= scale:
            return None, lo, hi  # the branches coincide: no coexistence here
        return m.free_entropy(hi.x) - m.free_entropy(lo.x), lo, hi

    # scan for coexisting points with opposite signs of the free-entropy difference
    # (a coexistence region narrower than the finer grid's step is missed: narrow the bracket)
    for grid in (np.linspace(a, b, 9), np.linspace(a, b, 49)):
        vals = [delta(v)[0] for v in grid]
        coexist = [(v, d) for v, d in zip(grid, vals) if d is not None and np.isfinite(d)]
        pair = None
        for (v0, d0), (v1, d1) in zip(coexist, coexist[1:]):
            if d0 == 0 or d0 * d1 < 0:
                pair = (v0, v1, d0, d1)
                break
        if pair is not None:
            break
        pair = _crossing_at_edges(grid, vals, coexist, delta, tol)
        if pair is not None:
            break
    else:
        if not coexist:
            raise ValueError(f"bracket ({a:g}, {b:g}) contains no first-order transition: the branches from "
                             "'uninformed' and 'informed' coincide (or fail) at every probe")
        raise ValueError(f"bracket ({a:g}, {b:g}) contains no first-order crossing: where the two branches coexist "
                         f"the free-entropy difference (informed - uninformed) keeps the sign of {coexist[0][1]:.3g}")
    v0, v1, d0, d1 = pair
    if d0 == 0:
        v = v0
        converged = True
    else:
        def f(v):
            d = delta(v)[0]
            if d is None or not np.isfinite(d):
                raise _Lost(v)
            return d

        try:
            v, r = _opt.brentq(f, v0, v1, xtol=tol, rtol=4 * np.finfo(float).eps, full_output=True, disp=False)
            converged = bool(r.converged)
        except _Lost as exc:
            return Threshold("first_order", param, math.nan, (v0, v1), False,
                             f"the two branches stopped coexisting at {param}={exc.args[0]:.10g} inside the "
                             "crossing bracket; narrow the bracket", solves=counter[0])
    _, lo, hi = branches(v)
    msg = (f"the free entropies of the uninformed and informed branches cross at {param} = {v:.12g}"
           if converged else "Brent's method did not converge")
    return Threshold("first_order", param, float(v), (max(v0, v - tol), min(v1, v + tol)), converged, msg,
                     below=lo, above=hi, solves=counter[0])


def _crossing_at_edges(grid, vals, coexist, delta, tol):
    """Look for a sign change of the free-entropy difference between an edge of the sampled
    coexistence region and its non-coexisting neighbour on the grid (a metastable stretch next
    to a spinodal can be narrower than the grid step). Bisects on coexistence toward each edge."""
    if not coexist:
        return None
    index = {v: i for i, v in enumerate(grid)}
    for v_in, d_in in (coexist[0], coexist[-1]):
        i = index[v_in]
        for j in (i - 1, i + 1):
            if not 0 <= j < len(grid) or (vals[j] is not None and np.isfinite(vals[j])):
                continue
            inside, outside = v_in, grid[j]
            for _ in range(60):
                if abs(inside - outside) <= tol:
                    break
                mid = 0.5 * (inside + outside)
                d = delta(mid)[0]
                if d is None or not np.isfinite(d):
                    outside = mid
                elif d * d_in <= 0:
                    return (min(mid, inside), max(mid, inside)) + ((d, d_in) if mid < inside else (d_in, d))
                else:
                    inside = mid
    return None


class _Lost(Exception):
    pass


# ----------------------------------------------------------------------------- spinodal


def _leading_eigenvalue(model, x) -> float:
    """Real part of the Jacobian eigenvalue closest to +1 (the one that reaches 1 at a fold)."""
    ev = np.linalg.eigvals(jacobian(model, x))
    return float(ev[np.argmin(np.abs(ev - 1.0))].real)


def _spinodal(model, param, a, b, start, tol, kw):
    counter = [0]

    def cold(v):
        counter[0] += 1
        return solve(at(model, **{param: v}), start=start, **kw)

    sa, sb = cold(a), cold(b)
    for s, v in ((sa, a), (sb, b)):
        if not s.converged:
            raise ValueError(f"the solve from {start!r} at {param}={v:g} did not converge: {s.message}")
    jump = float(np.max(np.abs(sa.x - sb.x)))
    if jump <= 1e-6 * (1.0 + float(np.max(np.abs(sa.x)))):
        raise ValueError(f"bracket ({a:g}, {b:g}) contains no spinodal: the solution from {start!r} is the same branch "
                         f"at both ends ({sa.names[0]} = {sa.x[0]:.6g} and {sb.x[0]:.6g})")
    lo, hi, s_lo, s_hi = a, b, sa, sb
    ghosts = 0

    def bisect_once():
        # which branch does the solve from start land on at the midpoint?
        nonlocal lo, hi, s_lo, s_hi, ghosts
        c = 0.5 * (lo + hi)
        s_c = cold(c)
        if not s_c.converged:
            counter[0] += 1
            s_c = solve(at(model, **{param: c}), start=start, **{**kw, "max_iter": 10 * kw["max_iter"]})
        near_lo = np.max(np.abs(s_c.x - s_lo.x)) <= np.max(np.abs(s_c.x - s_hi.x))
        if not s_c.converged:
            if s_c.status is Status.NONFINITE or not np.all(np.isfinite(s_c.x)):
                return f"the solve from {start!r} at {param}={c:.10g} failed: {s_c.message}"
            # still crawling after 10x the budget: the ghost of the fold, just past it, where
            # the iterate lingers next to the branch that has ended; so c is on the other side
            ghosts += 1
            near_lo = not near_lo
        if near_lo:
            lo, s_lo = c, s_c
        else:
            hi, s_hi = c, s_c
        return None

    # 1. bisection on which branch the solve from start lands on, down to a small bracket
    width = max(10 * tol, 1e-5 * (b - a))
    while hi - lo > width:
        failure = bisect_once()
        if failure:
            return Threshold("spinodal", param, math.nan, (lo, hi), False, failure, below=s_lo, above=s_hi,
                             solves=counter[0])
    final_jump = float(np.max(np.abs(s_lo.x - s_hi.x)))
    if final_jump <= 1e-3 * jump:
        raise ValueError(f"bracket ({a:g}, {b:g}) contains no spinodal: the solution from {start!r} changes "
                         f"continuously across it (no jump left at {param} ~ {0.5 * (lo + hi):.6g})")
    # 2. which side is the branch that ends? its leading eigenvalue is close to 1
    m_lo, m_hi = at(model, **{param: lo}), at(model, **{param: hi})
    gap_lo = 1.0 - _leading_eigenvalue(m_lo, s_lo.x)
    gap_hi = 1.0 - _leading_eigenvalue(m_hi, s_hi.x)
    side, s_side, direction = (lo, s_lo, -1.0) if abs(gap_lo) < abs(gap_hi) else (hi, s_hi, +1.0)
    # 3. follow the branch away from the fold; along it p is a smooth function of
    #    s = 1 - lambda with p(s) = p_c + O(s^2): fit p(s) and read off p_c = p(0)
    h = hi - lo
    ps, ys = [], []
    x = s_side.x
    for k in range(5):
        p = side + direction * k * h
        mk = at(model, **{param: p})
        sk = solve(mk, start=x, **kw) if k else s_side
        counter[0] += 1 if k else 0
        if not sk.converged:
            break
        x = sk.x
        ps.append(p)
        ys.append(1.0 - _leading_eigenvalue(mk, sk.x))
    value, converged = math.nan, False
    if len(ps) >= 4 and np.all(np.diff(ys) * np.sign(ys[-1] - ys[0]) > 0):
        ys_arr = np.asarray(ys)
        scale = float(np.max(np.abs(ys_arr)))
        # fit in the scaled variable s / max|s| so that the Vandermonde system is well conditioned
        coef = np.polyfit(ys_arr / scale, np.asarray(ps) - side, deg=3)
        p_c = side + float(coef[-1])
        if lo - 1e-12 <= p_c <= hi + 1e-12 or abs(p_c - side) <= 2 * h:
            value, converged = p_c, True
    if not converged:
        # the extrapolation did not land inside the final bracket: bisect to the tolerance instead
        failure = None
        while hi - lo > tol and not failure:
            failure = bisect_once()
        value = 0.5 * (lo + hi)
        converged = not failure
        how = "by bisection (the fold extrapolation was inconsistent; the jump may not be a fold)"
    else:
        how = "by extrapolating the branch to where its leading eigenvalue reaches 1"
    msg = f"the branch from {start!r} ends at {param} = {value:.10g} ({how})"
    if ghosts:
        msg += (f"; {ghosts} probe(s) just past the fold were still crawling past its ghost after 10x the "
                "iteration budget and were counted as past it")
    return Threshold("spinodal", param, value, (lo, hi), converged, msg, below=s_lo, above=s_hi, solves=counter[0])


# ----------------------------------------------------------------------------- lines


@dataclasses.dataclass(frozen=True, eq=False)
class ThresholdLine:
    """A threshold traced across a second parameter: ``values[i]`` at ``over_values[i]``."""

    kind: str
    param: str
    over: str
    over_values: np.ndarray
    values: np.ndarray
    converged: np.ndarray
    thresholds: tuple
    messages: tuple

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame({self.over: self.over_values, self.param: self.values, "converged": self.converged})


def threshold_line(model, param: str, bracket, over: dict, kind: str = "stability", **kwargs) -> ThresholdLine:
    """Trace ``threshold(model, param, bracket, kind, ...)`` across ``over = {p2: values}``.

    Each point first tries a narrow bracket around the previous threshold (extrapolated
    linearly from the two previous ones), which makes a line cost little more than its
    points; when the narrow bracket does not contain the event the full ``bracket`` is used. A
    point where the threshold does not exist, where the model rejects the value of ``p2`` or
    raises, is recorded as NaN with its message.

    Raises
    ------
    ValueError
        For an invalid argument, before anything is solved (``kind`` and the keyword arguments
        of :func:`threshold` are checked once, for all points).
    """
    _validate.param(model, param)
    a, b = _validate.bracket(bracket)
    p2, vals2 = _validate.over(model, over, param)
    opts = _options(model, kind, **kwargs)
    found, conv, items, msgs = [], [], [], []
    prev: list[float] = []
    for v2 in vals2:
        try:
            m = at(model, **{p2: v2})
        except ValueError as exc:  # the model rejects this value (a valid number): a failed point
            found.append(math.nan), conv.append(False), items.append(None), msgs.append(f"invalid parameter: {exc}")
            continue
        thr = None
        if prev:
            guess = prev[-1] if len(prev) < 2 else 2 * prev[-1] - prev[-2]
            w = max(0.02 * (b - a), 2 * abs(prev[-1] - prev[-2]) if len(prev) >= 2 else 0.05 * (b - a))
            narrow = (max(a, guess - w), min(b, guess + w))
            if narrow[0] < narrow[1]:
                try:
                    thr = _locate(m, param, *narrow, kind, **opts)
                except _validate.ArgumentError:
                    raise  # checked above: the engine passed a bad argument, a bug to surface
                except (ArithmeticError, ValueError):
                    thr = None
        if thr is None:
            try:
                thr = _locate(m, param, a, b, kind, **opts)
            except _validate.ArgumentError:
                raise
            except (ArithmeticError, ValueError) as exc:  # no event in the bracket, or the model raised
                found.append(math.nan), conv.append(False), items.append(None), msgs.append(str(exc))
                continue
        found.append(thr.value), conv.append(thr.converged), items.append(thr), msgs.append(thr.message)
        if np.isfinite(thr.value):
            prev.append(thr.value)
    return ThresholdLine(kind, param, p2, vals2, np.asarray(found, float), np.asarray(conv, bool),
                         tuple(items), tuple(msgs))
