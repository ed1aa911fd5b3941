"""Following a branch of fixed points in a parameter: pseudo-arclength continuation.

``follow(model, param, v0, x0, v_end, tol)`` traces the fixed points ``x = F_v(x)`` through
``(v0, x0)`` toward ``v_end`` (Keller's pseudo-arclength method: a tangent predictor, then
Newton's method on ``F_v(x) - x = 0`` together with the arclength condition) and stops at the
first of:

* ``"fold"``: the parameter turns back along the branch (the tangent's parameter component
  changes sign; the Jacobian of ``F`` has the eigenvalue 1 there): the branch ends;
* ``"unstable"``: the spectral radius of the Jacobian crosses 1 while the branch goes on
  (plain iteration leaves it there, e.g. the trivial point at BBP);
* ``"end"``: the far end ``v_end`` is reached; ``"boundary"``: the branch runs into a
  boundary of the domain; ``"lost"``: the corrector failed.

Folds and losses of stability are located by Brent's method along the arclength, so their
value is accurate to ``tol`` however much the branch drifts in the state. The thresholds module
builds spinodals on it (:mod:`fixedpoint.thresholds`).

Reference: H. B. Keller, "Numerical solution of bifurcation and nonlinear eigenvalue
problems", in Applications of Bifurcation Theory (1977); the step control (halving on a failed
or wandering corrector, growth after a success, a bound on the turn of the tangent) is the usual
one of continuation codes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize as _opt

from .continuation import at
from .solvers import model_bounds, model_jacobian, solve

__all__ = ["Path", "follow"]


@dataclasses.dataclass
class Path:
    """Where a followed branch ended.

    ``how`` is "fold", "unstable", "end", "boundary" or "lost" (module docstring); ``value``
    the parameter there and ``x`` the state; ``points`` the corrected ``(v, x)`` along the way.
    """

    how: str
    value: float
    x: np.ndarray
    points: list
    evaluations: int


class _Coordinates:
    """The coordinates a branch is followed in: ``z_i = log(distance to the bound)`` for an
    entry whose ``residual_scale`` is its distance to a finite bound (an absorbing boundary such
    as ``q -> rho``), ``z_i = x_i`` otherwise. Near such a boundary ``F`` contracts the distance
    by a ratio close to 1 over decades of it (a fold can sit at ``rho - q = 3e-4``); in
    ``log(rho - q)`` that fold is an ordinary one, far from the boundary, which ``z`` never
    reaches (so no step can land on the degenerate fixed point ``q = rho``)."""

    def __init__(self, model, x0, lo, hi):
        n = np.size(x0)
        self.sign = np.zeros(n)  # +1: distance to the upper bound, -1: to the lower one, 0: none
        self.bound = np.zeros(n)
        scale = getattr(model, "residual_scale", None)
        if scale is not None:
            s = np.abs(np.asarray(scale(x0), float).reshape(n))
            for i in range(n):
                for sign, b in ((1.0, hi[i]), (-1.0, lo[i])):
                    if math.isfinite(b) and s[i] > 0 and abs(s[i] - sign * (b - x0[i])) <= 1e-9 * s[i]:
                        self.sign[i], self.bound[i] = sign, b
                        break
        self.log = self.sign != 0
        self.lo, self.hi = lo.copy(), hi.copy()
        for i in np.flatnonzero(self.log):
            other = lo[i] if self.sign[i] > 0 else hi[i]
            self.lo[i] = -np.inf
            self.hi[i] = math.log(abs(self.bound[i] - other)) if math.isfinite(other) else np.inf

    def to_z(self, x):
        z = np.array(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z[self.log] = np.log(self.sign[self.log] * (self.bound[self.log] - z[self.log]))
        return z

    def to_x(self, z):
        x = np.array(z, dtype=float)
        x[self.log] = self.bound[self.log] - self.sign[self.log] * np.exp(x[self.log])
        return x

    def dx_dz(self, z):
        d = np.ones(np.size(z))
        d[self.log] = -self.sign[self.log] * np.exp(z[self.log])
        return d


class _Branch:
    """The pieces of the continuation: the map in continuation coordinates ``y = (z, u)``
    (``u`` the parameter scaled to ``[0, 1]`` over ``v0 -> v_end``), its derivatives, the
    tangent, and the corrector."""

    def __init__(self, model, param, v0, x0, v_end):
        self.model, self.param = model, param
        self.v0, self.span = v0, abs(v_end - v0)
        self.direction = 1.0 if v_end > v0 else -1.0
        self.lo, self.hi = model_bounds(model, np.size(x0))
        self.c = _Coordinates(model, np.asarray(x0, float), self.lo, self.hi)
        self.zlo, self.zhi = self.c.lo, self.c.hi
        # Newton may overshoot a boundary the branch lies on (m = 0) by a little: projected back
        self.slack_lo = 1e-6 * (1.0 + np.abs(np.where(np.isfinite(self.zlo), self.zlo, 0.0)))
        self.slack_hi = 1e-6 * (1.0 + np.abs(np.where(np.isfinite(self.zhi), self.zhi, 0.0)))
        self.evaluations = 0
        self._models = {}

    # -- the map
    def v_of(self, u):
        return self.v0 + self.direction * self.span * u

    def model_at(self, u):
        # the corrector and the derivatives ask for the same few values of u over and over, and
        # rebuilding (and re-validating) a model costs more than evaluating its map
        m = self._models.get(u)
        if m is None:
            if len(self._models) > 16:
                self._models.clear()
            m = self._models[u] = at(self.model, **{self.param: self.v_of(u)})
        return m

    def image(self, z, u):
        """``F_v(x)`` at the state of ``z``."""
        self.evaluations += 1
        return np.asarray(self.model_at(u).update(self.c.to_x(z)), dtype=float)

    def residual(self, z, u):
        """``G(z, u) = z(F(x(z))) - z``: zero on the branch."""
        return self.c.to_z(self.image(z, u)) - z

    def derivatives(self, z, u):
        """``dG/dz`` (the map's Jacobian in ``z``, similar to the one in ``x`` at a fixed point,
        minus the identity) and ``dG/du`` by central differences."""
        x = self.c.to_x(z)
        fx = self.image(z, u)
        Jx = model_jacobian(self.model_at(u), x)
        Jz = (Jx * self.c.dx_dz(z)[None, :]) / self.c.dx_dz(self.c.to_z(fx))[:, None] - np.eye(z.size)
        h = 1e-6
        up, down = min(u + h, 1.0 + 2 * h), u - h
        Ju = (self.residual(z, up) - self.residual(z, down)) / (up - down)
        return Jz, Ju

    def tangent(self, y, previous):
        """The unit tangent at ``y`` (oriented along ``previous``, or toward ``v_end``) and the
        spectral radius of the map's Jacobian there (the stability of plain iteration)."""
        z, u = y[:-1], y[-1]
        Jz, Ju = self.derivatives(z, u)
        _, sv, vt = np.linalg.svd(np.hstack([Jz, Ju[:, None]]))
        t = vt[-1]
        if previous is not None and sv[-1] <= 1e-6 * (1.0 + sv[0]):
            # next to a branch point (the trivial branch crossing another one at BBP) the null
            # space is two-dimensional and its basis arbitrary: keep going the way we came
            t = previous
        if previous is None:
            t = t if t[-1] >= 0 else -t
        elif t @ previous < 0:
            t = -t
        if not np.all(np.isfinite(Jz)):
            return t / np.linalg.norm(t), math.nan
        return t / np.linalg.norm(t), float(np.max(np.abs(np.linalg.eigvals(Jz + np.eye(z.size)))))

    # -- the corrector
    def on_bound(self, z):
        return (np.abs(z - self.zlo) <= self.slack_lo) | (np.abs(self.zhi - z) <= self.slack_hi)

    def inside(self, z):
        return bool(np.all(z >= self.zlo - self.slack_lo) and np.all(z <= self.zhi + self.slack_hi))

    def newton(self, y_pred, t):
        """Newton's method on ``G = 0`` and ``t . (y - y_pred) = 0`` from ``y_pred``."""
        y = y_pred.copy()
        for _ in range(12):
            if not (np.all(np.isfinite(y)) and self.inside(y[:-1])):
                return None
            # a branch on a boundary of the domain (the trivial point m = 0) stays on it: an
            # overshoot by rounding is projected back
            y[:-1] = np.clip(y[:-1], self.zlo, self.zhi)
            z, u = y[:-1], y[-1]
            g = self.residual(z, u)
            Jz, Ju = self.derivatives(z, u)
            A = np.vstack([np.hstack([Jz, Ju[:, None]]), t[None, :]])
            rhs = -np.concatenate([g, [t @ (y - y_pred)]])
            if not (np.all(np.isfinite(A)) and np.all(np.isfinite(rhs))):
                return None
            # at and next to a branch point the extended system is (nearly) singular: the
            # truncated minimum-norm solution stays on the branch instead of shooting along the
            # null direction
            dy = np.linalg.lstsq(A, rhs, rcond=1e-10)[0]
            y = y + dy
            if np.max(np.abs(dy)) <= 1e-12 * (1.0 + np.max(np.abs(y))):
                break
        return y

    @staticmethod
    def wandered(y, y_pred, y_from):
        """Whether the corrected point is farther from the prediction than half the step: the
        corrector went to another branch, and a shorter step is needed."""
        return np.max(np.abs(y - y_pred)) > 0.5 * np.max(np.abs(y_pred - y_from)) + 1e-8 * (1 + np.max(np.abs(y)))

    def correct(self, y_pred, t, y_from):
        """The point of the branch next to the prediction ``y_pred`` (made from ``y_from``
        along ``t``), or ``None`` when the step must be shortened."""
        y = self.newton(y_pred, t)
        if y is None or not (np.all(np.isfinite(y)) and self.inside(y[:-1])):
            return None
        y[:-1] = np.clip(y[:-1], self.zlo, self.zhi)
        if np.any(self.on_bound(y[:-1]) & ~self.on_bound(y_from[:-1])):
            return None  # landed on a boundary the branch was not on: a jump to another branch
        if self.wandered(y, y_pred, y_from):
            return None
        x = self.c.to_x(y[:-1])
        if not np.all(np.abs(self.image(y[:-1], y[-1]) - x) <= 1e-9 + 1e-9 * np.abs(x)):
            # Newton stalled (an inaccurate Jacobian where the map is steep): polish at this
            # parameter value with the fixed-point solver, which converges on the stable side of
            # a fold, and keep the point if it neither jumped to the boundary nor wandered
            sol = solve(self.model_at(y[-1]), start=x, max_iter=300)  # (a polish, not a search)
            self.evaluations += sol.evaluations
            if not sol.converged or np.any(((sol.x == self.lo) | (sol.x == self.hi)) & ~self.on_bound(y_from[:-1])):
                return None
            y[:-1] = self.c.to_z(sol.x)
            if self.wandered(y, y_pred, y_from):
                return None
        return y

    def path(self, how, y, points, value=None):
        return Path(how, self.v_of(y[-1]) if value is None else value, self.c.to_x(y[:-1]), points,
                    self.evaluations)

    def ran_into_boundary(self, y, points):
        """Whether a branch the corrector lost has run into a boundary of the domain (merging
        with the trivial point there): it ends within a thousandth of how far from the boundary
        the path has been."""
        xs = np.array([p[1] for p in points])
        x = self.c.to_x(y[:-1])
        near = [np.abs(x - b) <= 1e-3 * np.max(np.abs(xs - b), axis=0) for b in (self.lo, self.hi)]
        return bool((near[0] | near[1]).any())


def follow(model, param, v0, x0, v_end, tol, max_steps=400) -> Path:
    """Follow the branch through ``(v0, x0)`` toward ``v_end`` (module docstring); ``tol`` is the
    accuracy of an event's parameter value."""
    b = _Branch(model, param, v0, x0, v_end)
    y = np.concatenate([b.c.to_z(np.asarray(x0, float)), [0.0]])
    # put the start on the branch: a solve stopped at its tolerance can sit visibly off it where
    # the map contracts slowly (next to BBP), and the corrector measures steps from it
    e_u = np.zeros(y.size)
    e_u[-1] = 1.0
    on = b.newton(y, e_u)
    if on is not None and np.all(np.isfinite(on)) and b.inside(on[:-1]):
        y = on
        y[:-1] = np.clip(y[:-1], b.zlo, b.zhi)
    t, radius = b.tangent(y, None)
    points = [(v0, b.c.to_x(y[:-1]))]
    ds, ds_min, ds_max = 0.02, 1e-9, 0.1
    for _ in range(max_steps):
        y_new = b.correct(y + ds * t, t, y)
        if y_new is None:
            ds *= 0.25
            if ds < ds_min:
                return b.path("boundary" if b.ran_into_boundary(y, points) else "lost", y, points)
            continue
        t_new, r_new = b.tangent(y_new, t)
        if t_new @ t < 0.9 and ds > 1e-6:
            # the tangent turned by more than 25 degrees in one step: the step may have jumped to
            # another branch (or over a fold); take a shorter one
            ds *= 0.25
            continue
        if t_new[-1] < 0 <= t[-1]:
            # the parameter turns back: a fold
            return _locate_event(b, y, t, radius, ds, points, tol / b.span, "fold")
        if r_new > 1.0 >= radius and y_new[-1] <= 1.0:
            # the branch goes on but plain iteration leaves it: an eigenvalue crosses the unit circle
            return _locate_event(b, y, t, radius, ds, points, tol / b.span, "unstable")
        if y_new[-1] >= 1.0:
            return b.path("end", y_new, points, v0 + b.direction * b.span)
        y, t, radius = y_new, t_new, r_new
        points.append((b.v_of(y[-1]), b.c.to_x(y[:-1])))
        ds = min(1.5 * ds, ds_max)
    return b.path("lost", y, points)


class _Lost(Exception):
    pass


def _locate_event(b, y, t, radius, ds, points, utol, how):
    """The event between ``y`` and the corrected point ``ds`` further along the tangent ``t``:
    a fold (root of the tangent's parameter component) or a loss of stability (root of the
    spectral radius minus 1), by Brent's method in the arclength step."""
    cache = {0.0: (y, t, radius)}  # the last point of the path, already on the branch

    def event(s):
        if s not in cache:
            z = b.correct(y + s * t, t, y)
            if z is None:
                raise _Lost(s)
            cache[s] = (z, *b.tangent(z, t))
        z, tz, rz = cache[s]
        return tz[-1] if how == "fold" else rz - 1.0

    try:
        f0 = event(0.0)
        s = ds if f0 == 0 else _opt.brentq(event, 0.0, ds, xtol=max(1e-3 * utol, 1e-15), rtol=1e-13)
        if s not in cache:
            event(s)
    except (_Lost, ValueError):
        return b.path("lost", y, points)
    return b.path(how, cache[s][0], points)
