"""``threshold`` and ``threshold_line``: locating phase transitions in a parameter.

Kinds (the engine's words; the physics in brackets):

``"stability"``  [weak recovery, BBP]
    The spectral radius of the Jacobian of the map at the trivial fixed point
    (``model.trivial_state()``, or ``start`` when it is an array) crosses 1. Root of
    ``rho(J) - 1`` by Brent's method; the model's ``jacobian(x)`` is used when it has one,
    otherwise second-order finite differences (one-sided at a boundary of the domain).
``"spinodal"``  [algorithmic threshold from "uninformed"; lower spinodal from "informed"]
    The branch reached from ``start`` ends. The branch found from ``start`` at an end of the
    bracket is followed by pseudo-arclength continuation (Keller's method) until the parameter
    turns back (a fold: the Jacobian has the eigenvalue 1) or the spectral radius of the Jacobian
    crosses 1 along it; the event is located by Brent's method along the arclength, so the
    answer does not depend on how far the branch drifts across the bracket. A loss of stability
    to a continuous bifurcation (the new solution grows out of the old one, as at BBP above the
    tricritical point) is not a spinodal: the branch growing out of it is followed on. The
    uninformed branch is followed up the bracket first, the informed one down it first. A
    bracket in which no branch from ``start`` ends raises ``ValueError`` saying what was found.
``"first_order"``  [information-theoretic threshold]
    The free entropies of the branches from "uninformed" and "informed" are equal (where the
    two branches coexist). Branches are compared by the coefficient of a diverging free entropy
    first (``model.free_entropy_divergence``, e.g. perfect recovery with noiseless continuous
    labels), then by the finite free entropies. A coexistence window narrower than the probe
    grid is looked for between the spinodals of the two branches.
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
from .branches import follow
from .results import Threshold
from .solvers import spectral_radius as _radius
from .solvers import model_jacobian, solve
from .symmetry import same_fixed_point

__all__ = ["threshold", "threshold_line", "ThresholdLine", "jacobian", "KINDS"]

KINDS = ("stability", "spinodal", "first_order", "level")
_DEFAULT_TOL = {"stability": 1e-8, "first_order": 1e-8, "level": 1e-8, "spinodal": 1e-6}


def jacobian(model, x) -> np.ndarray:
    """Jacobian of ``model.update`` at ``x``: the model's own, else second-order finite differences."""
    return model_jacobian(model, x)


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
        return _stability(model, param, a, b, start, tol, kw)
    if kind == "level":
        return _level(model, param, a, b, start, observable, level, tol, kw)
    if kind == "first_order":
        return _first_order(model, param, a, b, tol, kw)
    return _spinodal(model, param, a, b, start, tol, kw)


# ----------------------------------------------------------------------------- stability


def _stability(model, param, a, b, start, tol, kw):
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
    below, above = solve(m_lo, start=x_lo, **kw), solve(m_hi, start=x_hi, **kw)
    msg = (f"spectral radius of the Jacobian at the trivial fixed point crosses 1 at {param} = {v:.12g}"
           if r.converged else f"Brent's method did not converge: {r.flag}")
    m_v = at(model, **{param: v})
    direction = _unstable_direction(jacobian(m_v, point(m_v)))
    names = getattr(model, "state_names", None)
    if names is not None and direction is not None:
        big = np.argsort(-np.abs(direction))[:4]
        msg += "; unstable direction " + ", ".join(f"{names[i]}: {direction[i]:.3g}" for i in sorted(big)
                                                   if abs(direction[i]) > 1e-8)
    return Threshold("stability", param, float(v), (float(v - tol), float(v + tol)), bool(r.converged), msg,
                     below=below, above=above, solves=counter[0] + 2, direction=direction)


def _unstable_direction(J):
    """The eigenvector of ``J`` for its eigenvalue of largest modulus: unit norm, largest entry
    positive (real part, for a complex pair); ``None`` when ``J`` is not finite."""
    if not np.all(np.isfinite(J)):
        return None
    lam, vecs = np.linalg.eig(J)
    # among the eigenvalues of largest modulus (to rounding), the one with the largest real
    # part: for a map on PSD matrices a degenerate pair +-r is common (sign(z1 z2)), and the
    # direction a positive solution grows along is the one of +r
    big = np.abs(lam) >= (1.0 - 1e-9) * float(np.max(np.abs(lam)))
    k = int(np.argmax(np.where(big, np.real(lam), -np.inf)))
    v = np.real(vecs[:, k])
    v = v / max(float(np.linalg.norm(v)), 1e-300)
    return v if v[int(np.argmax(np.abs(v)))] > 0 else -v


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
    """Where the free entropies of the branches from "uninformed" and "informed" cross.

    Each probe compares the two branches lexicographically: first by the coefficients of a
    diverging free entropy (``model.free_entropy_divergence``; a branch whose free entropy goes to
    ``+-inf``, such as perfect recovery with noiseless continuous labels, wins or loses by the
    sign of that coefficient, never by the finite value at wherever its solve stopped), then by
    the free entropies themselves. A crossing of finite differences is located by Brent's method;
    a switch of the diverging coefficient's sign by the root of that coefficient (a smooth
    function of the parameter), extrapolated from the side where the diverging branch exists
    when the other side has no such branch.
    """
    counter = [0]
    coef = {}
    closest = [math.inf, None]

    def branches(v):
        counter[0] += 2
        m = at(model, **{param: v})
        return m, solve(m, start="uninformed", **kw), solve(m, start="informed", **kw)

    memo = {}

    def delta(v):
        """``None`` where the branches coincide, NaN where a solve failed, ``+-inf`` where a
        diverging free entropy decides, else the finite difference (informed - uninformed).
        Memoised: the grids, the edge searches and the root finder revisit points."""
        v = float(v)
        if v not in memo:
            memo[v] = _delta(v)
        return memo[v]

    def _delta(v):
        m, lo, hi = branches(v)
        if not (lo.converged and hi.converged):
            return math.nan
        if _same_point(m, lo, hi, kw):
            return None
        div = getattr(m, "free_entropy_divergence", None)
        c_lo, c_hi = (float(div(lo.x)), float(div(hi.x))) if div is not None else (0.0, 0.0)
        if c_hi != c_lo:
            coef[v] = c_hi - c_lo
            return math.copysign(math.inf, c_hi - c_lo)
        if c_hi != 0.0:
            return math.nan  # both diverge alike: the finite parts would decide; not available
        d = m.free_entropy(hi.x) - m.free_entropy(lo.x)
        if abs(d) < closest[0]:
            closest[:] = [abs(d), v]
        return d

    grids = [np.linspace(a, b, 9), np.linspace(a, b, 49)]
    found = None
    for k, grid in enumerate(grids):
        vals = [delta(v) for v in grid]
        found = _sign_change(grid, vals) or _edge(grid, vals, delta, coef, tol)
        if found is not None:
            break
        if k == 0:
            # nothing on the coarse grid: a narrow coexistence window may sit between the
            # spinodals of the two branches; probe it before the finer uniform grid
            window = _coexistence_window(model, param, a, b, kw)
            if window is not None:
                grids.insert(1, np.linspace(window[0], window[1], 17))
    if found is None:
        where = (f"; the free entropies came closest ({closest[0]:.3g}) at {param} = {closest[1]:.10g}: narrow the "
                 "bracket around it" if closest[1] is not None else "")
        raise ValueError(f"bracket ({a:g}, {b:g}) contains no first-order transition found on a 49-point grid and "
                         f"between the spinodals: the branches from 'uninformed' and 'informed' coincide, fail, or "
                         f"keep the sign of their free-entropy difference at every probe{where}")
    how, v0, v1 = found
    if how == "coefficient":
        v, converged, msg = v0, v1, "the coefficient of the diverging free entropy changes sign"
    else:
        v, converged, msg = _refine(delta, v0, v1, tol)
    if not math.isfinite(v):
        return Threshold("first_order", param, math.nan, (v0, v1), False, msg, solves=counter[0])
    _, lo, hi = branches(v)
    msg = f"the free entropies of the uninformed and informed branches cross at {param} = {v:.12g} ({msg})"
    return Threshold("first_order", param, float(v), (v - tol, v + tol), converged, msg, below=lo, above=hi,
                     solves=counter[0])


def _same_point(model, lo, hi, kw):
    """Whether two converged solves are the same fixed point to their accuracy, up to a
    symmetry the model declares (:func:`fixedpoint.symmetry.same_fixed_point`). Next to a
    continuous transition (``rho -> 1``) two solves of one point can stop far apart, and must not
    be mistaken for coexisting branches, whose free-entropy difference would then be noise; nor
    must two mirror images of one solution."""
    return same_fixed_point(model, lo, hi, kw,
                            lambda s: min(_spectral_radius(model, s.x), 1.0 - 1e-12)) is not None


def _sign_change(grid, vals):
    """Adjacent coexisting probes with opposite signs: ``("bracket", v0, v1)`` or None."""
    coexist = [(v, d) for v, d in zip(grid, vals) if d is not None and not math.isnan(d)]
    for (v0, d0), (v1, d1) in zip(coexist, coexist[1:]):
        if d0 == 0 or d0 * d1 < 0:
            return ("bracket", v0, v1)
    return None


def _refine(delta, v0, v1, tol):
    """Brent's method on a finite difference; bisection on the sign where a diverging branch
    takes part (the difference jumps there). Returns ``(value, converged, how)``."""
    def f(v):
        d = delta(v)
        if d is None or math.isnan(d):
            raise _Lost(v)
        return d

    try:
        d0, d1 = f(v0), f(v1)
        if d0 == 0:
            return v0, True, "exactly at a probe"
        if math.isfinite(d0) and math.isfinite(d1):
            v, r = _opt.brentq(f, v0, v1, xtol=tol, rtol=4 * np.finfo(float).eps, full_output=True, disp=False)
            return v, bool(r.converged), "Brent's method on the free-entropy difference"
        while v1 - v0 > tol:
            c = 0.5 * (v0 + v1)
            if f(c) * d0 > 0:
                v0 = c
            else:
                v1 = c
        return 0.5 * (v0 + v1), True, "bisection on the sign, a diverging free entropy taking part"
    except _Lost as exc:
        return math.nan, False, (f"the two branches stopped coexisting (or a solve failed) at {exc.args[0]:.10g} "
                                 "inside the crossing bracket; narrow the bracket")


def _edge(grid, vals, delta, coef, tol):
    """A transition at an edge of the coexistence region, where a branch whose free entropy
    diverges appears: the root of its coefficient, extrapolated from inside the region (the
    branch does not exist outside, so the coefficient cannot be sampled there). For a finite
    difference, bisect on coexistence toward the edge looking for a sign change.
    """
    ok = [i for i, d in enumerate(vals) if d is not None and not math.isnan(d)]
    if not ok:
        return None
    for i, step in ((ok[0], -1), (ok[-1], +1)):
        j = i + step
        if not 0 <= j < len(grid) or (vals[j] is not None and not math.isnan(vals[j])):
            continue
        inside, outside = float(grid[i]), float(grid[j])
        if math.isinf(vals[i]):
            # bisect toward the edge while the diverging branch is found, then extrapolate
            for _ in range(30):
                if abs(inside - outside) <= max(tol, 1e-6 * abs(grid[-1] - grid[0])):
                    break
                mid = 0.5 * (inside + outside)
                d = delta(mid)
                if d is not None and math.isinf(d) and d * vals[i] > 0:
                    inside = mid
                elif d is None or math.isfinite(d):
                    outside = mid
                else:
                    break  # a solve failed (critical slowing down next to the edge): stop here
            h = float(grid[1] - grid[0]) / 4.0
            pts = [inside, inside - step * h, inside - 2 * step * h]
            cs = []
            for v in pts:
                if v not in coef:
                    delta(v)
                cs.append(coef.get(v, math.nan))
            if not np.all(np.isfinite(cs)):
                continue
            lin = np.polyfit(pts[:2], cs[:2], 1)
            quad = np.polyfit(pts, cs, 2)
            v_lin = -lin[1] / lin[0]
            roots = [r.real for r in np.roots(quad) if abs(r.imag) < 1e-12]
            v_quad = min(roots, key=lambda r: abs(r - v_lin)) if roots else math.nan
            # the root lies between the grid probe without the diverging branch and the last
            # probe with it (probes next to the edge can be misread: critical slowing down)
            lo_, hi_ = min(inside, float(grid[j])) - tol, max(inside, float(grid[j])) + tol
            if lo_ <= v_lin <= hi_:
                return ("coefficient", float(v_quad if math.isfinite(v_quad) else v_lin),
                        bool(abs(v_quad - v_lin) <= tol))
            continue
        pair = _crossing_at_edge(inside, outside, vals[i], delta, tol)
        if pair is not None:
            return ("bracket",) + pair
    return None


def _crossing_at_edge(inside, outside, d_in, delta, tol):
    """Bisect on coexistence from ``inside`` toward ``outside`` looking for a sign change of the
    free-entropy difference next to the edge (a metastable stretch next to a spinodal can be
    narrower than the grid step)."""
    for _ in range(60):
        if abs(inside - outside) <= tol:
            break
        mid = 0.5 * (inside + outside)
        d = delta(mid)
        if d is None or math.isnan(d):
            outside = mid
        elif d * d_in <= 0:
            return (min(mid, inside), max(mid, inside))
        else:
            inside = mid
    return None


def _coexistence_window(model, param, a, b, kw):
    """The interval between the spinodals of the uninformed and informed branches found inside
    ``(a, b)``, where the two coexist; None when neither branch ends in the bracket."""
    ends = []
    for start in ("uninformed", "informed"):
        try:
            thr = _spinodal(model, param, a, b, start, 1e-6 * (b - a), kw)
        except ValueError:
            continue
        if thr.converged:
            ends.append(thr.value)
    if not ends:
        return None
    lo, hi = (min(ends), max(ends)) if len(ends) == 2 else (max(a, ends[0] - 0.05 * (b - a)),
                                                            min(b, ends[0] + 0.05 * (b - a)))
    pad = 1e-6 * (b - a)
    return (lo + pad, hi - pad) if hi - lo > 2 * pad else None


class _Lost(Exception):
    pass


# ----------------------------------------------------------------------------- spinodal


def _spinodal(model, param, a, b, start, tol, kw):
    """The point where the branch reached from ``start`` ends (see the module docstring)."""
    # Continuation in the parameter can step over a fold that is narrow in it (next to the end
    # of a coexistence region, or just past a continuous bifurcation) and then report the other
    # branch's fold. On the curve of fixed points traced over the order parameter
    # (fixedpoint.phase_lines) folds are wide: with one first-order transition on the curve, its
    # fold is the answer; otherwise the branch is followed in the parameter.
    found = _on_the_curve(model, param, a, b, start, tol, kw)
    if found is not None:
        return found
    counter = [0]

    def cold(v):
        counter[0] += 1
        return solve(at(model, **{param: v}), start=start, **kw)

    ends = {a: cold(a), b: cold(b)}
    for v, s in ends.items():
        if not s.converged:
            raise ValueError(f"the solve from {start!r} at {param}={v:g} did not converge: {s.message}")
    report = []
    # the uninformed branch is followed up the bracket first and the informed one down it
    # first: with the parameter growing with the signal (snr, alpha) these are the algorithmic
    # and the lower spinodal when the bracket holds both folds
    order = ((a, b), (b, a)) if start != "informed" else ((b, a), (a, b))
    for v0, v_end in order:
        direction = 1.0 if v_end > v0 else -1.0
        span = abs(v_end - v0)
        v_from, x_from = v0, ends[v0].x
        for _ in range(4):  # a continuous bifurcation hands over to the branch growing out of it
            path = follow(model, param, v_from, x_from, v_end, tol)
            counter[0] += 1
            if path.how in ("end", "boundary"):
                report.append(f"the branch from {start!r} at {param}={v_from:g} "
                              + ("continues without a fold to " + f"{v_end:g}" if path.how == "end" else
                                 f"meets the boundary of the domain at {path.value:.10g} without a fold"))
                break
            if path.how == "lost":
                return Threshold("spinodal", param, math.nan, (a, b), False,
                                 "; ".join(report + [f"continuation of the branch from {start!r} at {param}={v_from:g} "
                                                     f"lost it at {param} = {path.value:.10g} (the corrector failed)"])
                                 + "; narrow the bracket around the jump", below=ends[a], above=ends[b],
                                 solves=counter[0])
            # the event must end the branch an algorithm started from `start` follows: next to it,
            # on the branch side, the solve from start lands on the followed branch
            v_k, x_k = path.points[-1]
            s_k = cold(v_k)
            if not (s_k.converged and np.max(np.abs(s_k.x - x_k)) <= 1e-5 * (1.0 + np.max(np.abs(x_k)))):
                report.append(f"the branch followed from {param}={v_from:g} ends at {path.value:.10g}, but it is "
                              f"not the branch reached from {start!r} there")
                break
            # where does the solve from start land just past the point? Steps relative to the
            # parameter's own scale (not the bracket's: a narrow bracket must not force steps so
            # small that the escape from the old branch outlasts the iteration budget)
            # These solves are tight (1e-14): next to a bifurcation the map contracts at the rate
            # 1 - rho ~ d, so a solve stopped at the residual r is off by r / (1 - rho), and only
            # a distance well above that error tells a continuous change from a jump.
            reach = max(span, 0.1 * abs(path.value))
            tight = dict(kw, atol=min(kw["atol"], 1e-14), rtol=min(kw["rtol"], 1e-14))
            past = []
            for d in (1e-3, 1e-4, 1e-5):
                if len(past) == 2 and (path.how == "fold" or past[1][2] >= 0.5 * past[0][2]):
                    break  # decided: a fold, or a jump that does not shrink with the distance
                counter[0] += 1
                m_d = at(model, **{param: path.value + direction * d * reach})
                p = solve(m_d, start=start, **tight)
                if not p.converged:
                    continue
                dist = float(np.max(np.abs(p.x - path.x)))
                err = 1e-14 * (1.0 + float(np.max(np.abs(p.x)))) / max(1.0 - _spectral_radius(m_d, p.x), 1e-300)
                if err <= 0.1 * dist:
                    past.append((d, p, dist))
            if path.how == "unstable" and len(past) < 2:
                return Threshold("spinodal", param, math.nan, (a, b), False,
                                 f"the branch from {start!r} loses stability at {param} = {path.value:.10g}, but the "
                                 "solves just past it did not converge, so whether the solution jumps there is not "
                                 "known; try a larger max_iter", below=ends[a], above=ends[b], solves=counter[0])
            if path.how == "unstable" and past[-1][2] < 0.5 * past[-2][2]:
                # the distance to the old branch shrinks with the distance past the point: the new
                # solution grows continuously out of it (a second-order transition); follow it on
                report.append(f"the branch from {start!r} loses stability at {param} = {path.value:.10g} to a "
                              "continuous bifurcation (no jump)")
                # restart on the new branch as far from the bifurcation as the scaling holds (next
                # to it the branches are too close for the tangent to tell them apart)
                i = len(past) - 1
                while i > 0 and past[i][2] < 0.5 * past[i - 1][2]:
                    i -= 1
                v_from, x_from = path.value + direction * past[i][0] * reach, past[i][1].x
                continue
            if not past:
                past = [(0.0, cold(path.value + direction * 1e-3 * reach), math.nan)]
            return _fold_result(param, path, v_from, direction, start, tol, counter, s_k, past[0][1], past[0][2])
        else:
            report.append("gave up after four continuous bifurcations")
    raise ValueError(f"bracket ({a:g}, {b:g}) contains no spinodal: " + "; ".join(report))


def _on_the_curve(model, param, a, b, start, tol, kw):
    """The spinodal of the branch from ``start``, a fold of the curve of fixed points, or ``None``
    (an array start, a model with a unique fixed point, a curve that could not be traced, no fold
    of that branch in the bracket, or more than one first-order transition on the curve)."""
    if not isinstance(start, str) or getattr(model, "unique_fixed_point", False):
        return None
    from .phase_lines import transitions

    found = transitions(model, param, a, b, start, min(tol, 1e-8), kw, first_order=False)
    v = found[f"spinodal_{start}"]
    if found["backward_runs"] != 1 or not (np.isfinite(v) and a < v < b):
        return None
    end = "upper" if start != "informed" else "lower"
    msg = (f"the branch from {start!r} ends at {param} = {v:.10g}: the {end} fold of the curve of fixed points, "
           "traced over the order parameter (fixedpoint.phase_lines)")
    # the branch side of a fold: below it for the uninformed (upper) fold, above for the lower one;
    # past the fold the solve from start escapes through the fold's bottleneck in ~1/sqrt(distance)
    # iterations, so it is taken 1e-3 of the parameter's scale past it (as continuation does)
    side = -1.0 if start != "informed" else 1.0
    branch = solve(at(model, **{param: v + side * tol}), start=start, **kw)
    past = solve(at(model, **{param: v - side * 1e-3 * max(abs(v), b - a)}), start=start, **kw)
    jump = float(np.max(np.abs(past.x - branch.x)))
    msg += (f"; just past it the solve from {start!r} lands {jump:.3g} away" if past.converged else
            f"; just past it the solve from {start!r} did not converge ({past.status.value})")
    below, above = (branch, past) if side < 0 else (past, branch)
    return Threshold("spinodal", param, float(v), (v - tol, v + tol), True, msg, below=below, above=above)


def _fold_result(param, path, v_from, direction, start, tol, counter, s_branch, s_past, jump):
    v = path.value
    what = ("a fold (the parameter turns back along the branch; the Jacobian has the eigenvalue 1 there)"
            if path.how == "fold" else "a loss of stability (the spectral radius of the Jacobian reaches 1 along "
            "the branch, which goes on unstable)")
    msg = (f"the branch from {start!r} ends at {param} = {v:.10g}: {what}, located by pseudo-arclength "
           f"continuation from {param}={v_from:g}")
    if s_past.converged:
        msg += f"; just past it the solve from {start!r} lands {jump:.3g} away"
    else:
        msg += f"; just past it the solve from {start!r} did not converge ({s_past.status.value})"
    below, above = (s_branch, s_past) if direction > 0 else (s_past, s_branch)
    return Threshold("spinodal", param, float(v), (v - tol, v + tol), True, msg, below=below, above=above,
                     solves=counter[0])


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
