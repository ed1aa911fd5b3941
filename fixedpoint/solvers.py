"""Fixed-point solvers: ``Damped``, ``Anderson`` and the one driver, :func:`solve`.

Convergence is judged on the true residual of the map at the current point,

    r(x) = max_i |F(x)_i - x_i| / w_i(x)  <=  1,   w_i = atol + rtol |x_i|

(or, for a model declaring ``residual_scale``, a tolerance that resolves the distance to an
absorbing boundary in relative terms: :func:`make_tolerance`),

never on the size of a damped or extrapolated step (a heavily damped iteration takes tiny
steps long before it is near a fixed point). After ``_SLOW_SOLVE`` (100) iterations a point that
meets it must be confirmed by the plain (damped) step from it, which must meet it too: a slow
solve is where a stiff or non-normal map can pass through a small residual far from its fixed
point (``tests/test_trust.py``: a residual of 0.74 tolerances at an error of 2214; a hinge loss
with a fitted bias whose next step was 50 tolerances); otherwise iteration goes on from there.

The residual is not the error: a map contracting at rate ``lam`` leaves an error ``1 / (1 - lam)``
times its residual. A converged point's error is estimated (:func:`_estimate_error`: the secant
model or the plain rate; the Newton step where the Jacobian is known) and, above the tolerance,
polished by Newton steps (:func:`_polish`); ``Solution.error_estimate`` reports it, and the
message says when it stays above 2 (``_ERROR_NOTE``).

Anderson mixing (type II, Walker and Ni, SIAM J. Numer. Anal. 49, 2011) with three safeguards:

1. the least-squares problem for the mixing coefficients is Tikhonov-regularised and the history
   is restarted when it is ill-conditioned;
2. an extrapolated iterate that leaves the model's domain (``bounds()``) or lands on its
   boundary, or that steps against the plain step (toward a point that repels along that
   direction, or pulls back toward 0 an entry the plain step pushes away from 0), is replaced
   by the plain damped step; an extrapolated step is never longer than
   a trust factor times the plain step (growing while extrapolation reduces the residual), and
   one whose residual grows by more than ``safeguard`` times is rejected in favour of the plain
   damped step from the previous point;
3. a point an accelerated solve converges to is checked for linear stability under plain
   (damped) iteration. Extrapolation is a secant method and, like Newton's method, also finds
   fixed points that plain iteration leaves (an unstable trivial point, the unstable middle
   branch of a bistable region). Such a point is escaped by plain iteration from the start,
   as an algorithm would, and acceleration resumes once it is left behind.

An escape by plain iteration from a saddle is slow where the map is heavily damped (growth 1.008
per step: ~1700 steps from 1e-6 to order one). While it is in the saddle's linear regime it is
fast-forwarded along the saddle's unstable direction, each jump checked against the linear model
at the new point and undone when that fails (:func:`_iterate`, :func:`_unstable_mode`).

Together these make the accelerated solve reach the same fixed point as plain iteration from
the same start (DESIGN.md), only with far fewer evaluations of the map. (Safeguard 2 includes an
entrywise rule, :func:`_along`: a secant step that cancelled a small seed plain iteration was
amplifying once carried solves into another basin.)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from fixedpoint._jit import njit

from . import _validate
from .results import Solution, Status

__all__ = ["Damped", "Anderson", "solve", "numerical_jacobian", "model_jacobian", "spectral_radius", "resolve_start",
           "model_bounds", "make_tolerance"]


@dataclass(frozen=True)
class Damped:
    """Plain damped iteration ``x <- damping * x + (1 - damping) * F(x)``.

    Parameters
    ----------
    damping : float in [0, 1)
        Weight of the *old* iterate (DESIGN.md convention); 0 is plain iteration.
    adaptive : bool
        Back off when the residual grows: the damping moves halfway toward 1 each time the
        residual increases, and relaxes back toward ``damping`` after 10 decreasing steps.
    """

    damping: float = 0.5
    adaptive: bool = False

    def __post_init__(self):
        # numpy scalars are stored as the equal Python number (equal objects, equal reprs)
        object.__setattr__(self, "damping", _validate.damping(self.damping))


@dataclass(frozen=True)
class Anderson:
    """Anderson mixing with safeguards (see the module docstring).

    Parameters
    ----------
    memory : int >= 0
        Number of past differences kept, at most the dimension ``n`` of the state (with more
        columns than equations the least-squares problem is underdetermined and its minimum-norm
        solution mixes in stale secants: for a scalar map Anderson is the secant method); 0
        gives exactly ``Damped(damping)``.
    damping : float in [0, 1)
        Weight of the old iterate inside the mixing (0: undamped Anderson).
    reg : float >= 0
        Tikhonov regularisation of the least-squares problem, relative to its scale.
    safeguard : float > 1
        An extrapolated iterate whose residual exceeds ``safeguard`` times the previous one is
        rejected and replaced by the plain damped step.
    check_stability : bool
        After converging through extrapolation, check (finite-difference Jacobian, ``n``
        extra evaluations) that plain iteration would not leave the point, and escape it if so.
    """

    memory: int = 5
    damping: float = 0.0
    reg: float = 1e-10
    safeguard: float = 2.0
    check_stability: bool = True

    def __post_init__(self):
        if isinstance(self.memory, bool) or not isinstance(self.memory, (int, np.integer)) or self.memory < 0:
            raise ValueError(f"memory must be a non-negative integer, got {self.memory!r}")
        # numpy scalars are stored as the equal Python number (equal objects, equal reprs)
        object.__setattr__(self, "memory", int(self.memory))
        object.__setattr__(self, "damping", _validate.damping(self.damping))
        object.__setattr__(self, "reg", _validate.real(self.reg, "reg", low=0.0))
        object.__setattr__(self, "safeguard", _validate.real(self.safeguard, "safeguard", low=1.0, low_open=True))


# ----------------------------------------------------------------------------- helpers


def model_bounds(model, n: int):
    """``(lower, upper)`` arrays from ``model.bounds()``, or infinite bounds."""
    b = getattr(model, "bounds", None)
    if b is None:
        return np.full(n, -np.inf), np.full(n, np.inf)
    lo, hi = b()
    lo = np.broadcast_to(np.asarray(lo, dtype=float), (n,)).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=float), (n,)).copy()
    return lo, hi


#: smallest tolerance of an entry, in units of its own rounding (``eps |x_i|``): below this no
#: iteration in floating point can resolve it
_ROUNDING = 4.0 * np.finfo(float).eps
#: floor of every tolerance weight: with ``atol = 0`` an entry that is exactly 0 would otherwise have
#: the weight 0, and the convergence test and the weighted least squares divide by it
_WEIGHT_FLOOR = 1e-300
#: widest ratio of two weights the weighted kernels (:func:`_anderson_mix`, :func:`_along`,
#: :func:`_within_trust`) resolve: beyond it the larger weight is capped (:func:`_relative_weights`)
_WEIGHT_RANGE = 1e100


@njit(cache=True)
def _relative_weights(wt):
    """``1 / wt``, or ``min(1, w0 / wt)`` with ``w0 = max(min wt, max wt / _WEIGHT_RANGE)``: the
    inverse tolerances up to a common factor (which leaves the mixing coefficients, the trust test and the sign of
    ``_along`` unchanged), their squares representable. Without the cap, ``atol = 0`` makes an entry
    that is exactly 0 weigh 1e290 times more than the rest, whose squared weights underflow to 0:
    the least-squares problem then sees that entry alone, and Anderson stalls into plain iteration
    (198 iterations on a three-entry affine map, against 5). Where the plain inverses are safe
    (every weight above 1e-150, within the range) they are returned as they are, so that ordinary
    solves keep their arithmetic bit for bit (an escape decided near a saddle at rounding level
    changed path when the weights were rescaled: 2269 evaluations at the attention point of
    ``tests/test_trust.py`` that takes fewer than 500)."""
    lo, hi = wt.min(), wt.max()
    out = np.empty(wt.size)
    if lo >= 1e-150 and hi <= lo * _WEIGHT_RANGE:
        for i in range(wt.size):
            out[i] = 1.0 / wt[i]
        return out
    w0 = max(lo, hi / _WEIGHT_RANGE)
    for i in range(wt.size):
        out[i] = min(1.0, w0 / wt[i])
    return out


def make_tolerance(atol, rtol, residual_scale=None):
    """The per-entry tolerance ``w(x)`` of the convergence test ``max_i |F(x)_i - x_i| / w_i <= 1``.

    By default ``w_i = atol + rtol |x_i|``. A model may declare ``residual_scale(x)``: for each
    entry the magnitude ``s_i >= 0`` it must be resolved against in relative terms, typically the
    distance to an absorbing boundary of the domain (``rho - q`` when ``q -> rho`` at perfect
    recovery, where the error ``rho - q`` is the observable). Then

        w_i = max(min(atol + rtol |x_i|, rtol s_i), 4 eps |x_i|),

    so that the distance ``s_i`` is resolved to ``rtol`` relative (not to ``atol`` absolute: an
    absolute criterion on ``q`` leaves ``rho - q = 2e-8`` with a 0.5% error), down to the
    rounding of ``x_i`` itself, the best any iteration on ``x`` can do. An entry whose fixed
    point lies on the boundary (``s_i = 0``) converges when it reaches it, or its rounding.
    """
    atol, rtol = float(atol), float(rtol)
    if residual_scale is None:
        def tolerance(x):
            return _plain_tolerance(x, atol, rtol)
        return tolerance

    def tolerance(x):
        s = np.asarray(residual_scale(x), dtype=float).reshape(x.shape)
        return _scaled_tolerance(x, s, atol, rtol)
    return tolerance


@njit(cache=True)
def _plain_tolerance(x, atol, rtol):
    """``max(atol + rtol |x|, _WEIGHT_FLOOR)`` (one small kernel: it runs at every iteration)."""
    w = np.empty(x.size)
    for i in range(x.size):
        w[i] = max(atol + rtol * abs(x[i]), _WEIGHT_FLOOR)
    return w


@njit(cache=True)
def _scaled_tolerance(x, s, atol, rtol):
    """``max(min(atol + rtol |x|, rtol |s|), 4 eps |x|)`` entrywise (see :func:`make_tolerance`);
    one kernel instead of a chain of numpy calls on a vector of a few entries (it runs at every
    iteration)."""
    w = np.empty(x.size)
    for i in range(x.size):
        ax = abs(x[i])
        v = atol + rtol * ax
        si = abs(s[i])
        if np.isfinite(si) and rtol * si < v:
            v = rtol * si
        w[i] = max(v, _ROUNDING * ax, _WEIGHT_FLOOR)
    return w


def resolve_start(model, start):
    """The start vector: a model's ``initial_state(start)`` or an explicit array."""
    if isinstance(start, str):
        if start not in ("uninformed", "informed") + tuple(getattr(model, "starts", ())):
            raise ValueError(f"start must be 'uninformed', 'informed', a start in the model's `starts` or an "
                             f"array, got {start!r}")
        return np.array(model.initial_state(start), dtype=float).ravel()
    x0 = np.array(start, dtype=float).ravel()
    return x0


def numerical_jacobian(F, x, lower=None, upper=None, f0=None, order=1, outside=None):
    """Finite-difference Jacobian of ``F`` at ``x`` that never steps outside the box (nor, with
    ``outside``, a model's ``domain_violation``: a step outside is taken the other way).

    ``order=1``: forward differences (toward the interior at a bound), step
    ``1e-7 max(|x_i|, 1e-2)``, relative accuracy about 1e-7: ample for stability decisions,
    ``n`` evaluations (``f0 = F(x)`` may be passed in). (Not the textbook ``1.5e-8 = sqrt(eps)``,
    which assumes a map accurate to rounding: the maps here are quadrature rules with internal
    tolerances near 1e-13, whose noise that step divides by 1.5e-10; attention's forward
    differences with it saw eigenvalues of 1.02 and 3.97 at a point of radius 0.9317, with
    ``1e-7`` 0.93161.) ``order=2``: central differences, or the
    one-sided three-point rule at a bound, step ``1e-5 max(|x_i|, 1e-2)``, accuracy about 1e-10:
    for thresholds located to 1e-8. Returns ``(J, evaluations)``.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    lower = np.full(n, -np.inf) if lower is None else lower
    upper = np.full(n, np.inf) if upper is None else upper
    nev = 0

    def at(j, h):
        nonlocal nev
        xs = x.copy()
        xs[j] += h
        nev += 1
        return np.asarray(F(xs), dtype=float)

    def base():
        nonlocal f0, nev
        if f0 is None:
            f0 = np.asarray(F(x), dtype=float)
            nev += 1
        return f0

    J = np.empty((n, n))
    for j in range(n):
        h = (1e-7 if order == 1 else 1e-5) * max(abs(x[j]), 1e-2)
        up, down = x[j] + h <= upper[j], x[j] - h >= lower[j]
        if outside is not None:
            up = up and _inside_after(outside, x, j, h * (2 if order == 2 and not down else 1))
            down = down and _inside_after(outside, x, j, -h * (2 if order == 2 and not up else 1))
        if order == 2 and up and down:
            J[:, j] = (at(j, h) - at(j, -h)) / (2 * h)
            continue
        s = 1.0 if up else -1.0  # step into the domain
        if order == 1:
            J[:, j] = s * (at(j, s * h) - base()) / h
        else:
            J[:, j] = s * (-3 * base() + 4 * at(j, s * h) - at(j, 2 * s * h)) / (2 * h)
    return J, nev


def _inside_after(outside, x, j, h):
    xs = x.copy()
    xs[j] += h
    return outside(xs) is None


def model_jacobian(model, x) -> np.ndarray:
    """Jacobian of ``model.update`` at ``x``: the model's own ``jacobian`` when it has one there
    (a model's ``jacobian(x)`` may return ``None`` where it has nothing better than finite
    differences), else second-order finite differences that never leave the domain."""
    x = np.asarray(x, dtype=float)
    J = _own_jacobian(getattr(model, "jacobian", None), x)
    if J is not None:
        return J
    lo, hi = model_bounds(model, x.size)
    return numerical_jacobian(model.update, x, lo, hi, order=2, outside=getattr(model, "domain_violation", None))[0]


def _own_jacobian(jac, x):
    """The model's own Jacobian at ``x`` as a 2-d array, or ``None`` (no ``jacobian``, or it
    returned ``None``: the model has no exact one there)."""
    if jac is None:
        return None
    J = jac(x)
    return None if J is None else np.atleast_2d(np.asarray(J, dtype=float))


def spectral_radius(J, damping=0.0):
    """Spectral radius of the damped map's Jacobian ``J``; NaN when ``J`` is not finite."""
    J = np.asarray(J, dtype=float)
    if not np.all(np.isfinite(J)):
        return math.nan
    mu = damping + (1.0 - damping) * np.linalg.eigvals(J)
    return float(np.max(np.abs(mu)))


_HINTS = {
    Status.MAX_ITER: ("Try more iterations (max_iter=), Anderson acceleration (solver=fixedpoint.Anderson()), "
                      "or more damping (fixedpoint.Damped(damping=0.8)); very slow convergence usually "
                      "means a phase transition (critical slowing down) is near."),
    Status.NONFINITE: ("Try more damping (fixedpoint.Damped(damping=0.8)), a start closer to the solution, "
                       "or check the parameters: the map may have no finite fixed point here."),
    Status.OUT_OF_DOMAIN: ("The map itself (not the solver) produced this value: check the parameters and the "
                           "quadrature accuracy of the model, or start closer to the solution."),
    Status.STAGNATED: ("The iteration may be cycling or the map may be noisy at this tolerance: try more "
                       "damping (fixedpoint.Damped(damping=0.8)), a smaller Anderson memory, or a looser "
                       "tolerance (atol=, rtol=)."),
}


class _Run:
    """State of one iteration run (kept small: the loop is plain Python)."""

    __slots__ = ("x", "fx", "r", "it", "nev", "residuals", "status", "info", "extrapolated", "jumped", "plain_end",
                 "unconfirmed", "error", "jacobian", "secant_point")

    def __init__(self):
        self.residuals = []
        self.nev = 0
        self.it = 0
        self.status = None
        self.info = ""
        self.extrapolated = False  # an Anderson step was taken
        self.jumped = False  # a fast-forward jump was tried (kept or undone)
        self.plain_end = None  # where a run begun by plain iteration alone first handed over
        self.unconfirmed = 0  # points that met the tolerance where the next plain step did not (_SLOW_SOLVE)
        self.error = math.nan  # estimated error of the converged point, in tolerances (_estimate_error)
        self.jacobian = None  # (x, J): the map's Jacobian at a point of this run, once computed
        self.secant_point = None  # the secant model's fixed point at convergence (_estimate_error)


def _iterate(F, x0, *, memory, damping, reg, safeguard, adaptive, tolerance, max_iter, lower, upper,
             names, patience, outside=None, run=None, taboo=None, fast_forward=None, plain_first=False,
             jacobian=None, saddle=None, chord=None):
    """The single driver loop.

    Iterates from ``x0`` until the scaled residual is <= 1 or the budget of ``max_iter``
    iterations (shared through ``run``) is spent.
    ``taboo = (center, direction)``: an extrapolated iterate is replaced by the plain step
    unless it keeps at least half of the current point's progress from ``center`` along
    ``direction`` (used to keep acceleration from jumping back to, or across, an unstable fixed
    point that plain iteration has escaped from); once plain steps grow (the escape),
    ``direction`` becomes the way plain iteration leaves ``center``. ``plain_first``: start with plain iteration
    and accelerate only once it converges steadily. ``outside(x)``: the model's
    ``domain_violation`` (why ``x`` is outside a domain that is not a box, e.g. an overlap
    matrix that is not positive semi-definite, or ``None``), checked like the bounds.

    With ``memory > 0`` five kinds of accelerated steps are tried, each checked when the map
    has been evaluated at the new point and undone (replaced by the plain step from the previous
    point) when the check fails:

    * Anderson extrapolation: undone when the residual grows more than ``safeguard`` times;
    * chord Newton steps with a guessed Jacobian ``chord`` (:func:`_solve_near`), from the
      first iteration on, in place of the extrapolation. Taken only when the guess describes an
      attracting point (its damped spectral radius below 1: the model-based form of the
      extrapolation's rule against stepping toward a point that repels), inside the domain, and
      without cancelling a seed (:func:`_keeps_seeds`); neither the trust region nor the inner
      product with the plain step applies (the guess is a model of the map, not a secant that
      has still to prove itself: a Newton step is ``1 / (1 - lam)`` plain steps long along a
      direction the map contracts at rate ``lam``, and where the map is far from normal it can
      point against the plain step: at attention's warm starts the row of ``V`` has entries of 4
      and -8). Undone like an extrapolation when the residual grows more than ``safeguard``
      times, and given up, for extrapolation from the secant pairs the chord steps have
      collected, as soon as one cuts the residual less than tenfold (``_CHORD_CUT``). Along a
      sweep of the attention diagram, whose warm starts otherwise need ``n + 1`` secant pairs
      before extrapolation hits, this takes a warm solve from the predictor to the tolerance in
      two or three evaluations instead of six to ten;
    * unstable-direction fast-forward (needs ``jacobian(x, fx) -> (J, evaluations, exact)``; the
      driver passes one for states of at most 64 entries: the model's own, or central
      differences, ``2 n`` evaluations): when plain steps have grown ``3 + n`` times in a row
      (three let the transient growth of a contraction's scaled residual, common after an
      Anderson stall, buy a Jacobian: 20 of the 82 evaluations of a 10-dimensional linear
      contraction, whose other 62 are the solve; a genuine escape grows for hundreds), the
      Jacobian ``J`` at the current point is taken, and if (:func:`_unstable_mode`) its
      eigenvalue of largest damped modulus is real, ``lam > 1``, with left and right
      eigenvectors ``l`` and ``v``, the last plain steps' components ``l.s`` grow by exactly the
      damped factor ``mu = 1 + (1 - damping)(lam - 1)`` (to 10 % of ``mu - 1``), and the stable
      part of the displacement from the linear model's saddle ``x_s = x - (J - I)^-1 g`` is no
      larger than its unstable part ``c v``, ``c = l.g / ((lam - 1) l.v)`` (in the weights of
      the convergence test), then this is plain iteration leaving a saddle along ``v``. (While
      only the last condition fails, ``J`` is kept for ``_MODE_KEEP + 2 n`` iterations and the
      conditions are checked again at each, without evaluations; otherwise another Jacobian is
      taken ``2 n + 10`` iterations later, at most ``_MODE_TRIES`` in a run.) The jump is the
      linear model's ``N`` plain steps at once, ``x_s + D^N (x - x_s)`` with ``D`` the damped
      Jacobian and ``N = round(log K / log mu)``: the unstable component is multiplied by the
      gain ``K``, the stable ones decay as those steps decay them. It is undone unless the
      component ``l.s`` of the plain step at the new point is the linear model's, ``(1 -
      damping)(lam - 1) l.(x_new - x_s)``, to 10 %: the growth there is still the saddle's,
      with the stable components where the skipped steps would have left them (a growth rate
      that depends on a component still far from rest fails this, as does a curved unstable
      manifold whose straight continuation enters another basin: ``tests/test_trust.py``).
      ``K`` starts at 16, is squared after each jump kept until one is undone (up to 65536), and
      square-rooted after each one undone or that would leave the domain; below 1.3 the escape has
      left this model's linear regime, and extrapolation resumes (kept on the side the iteration
      leaves the saddle by: without a ``taboo``, the saddle and ``sign(c) v`` become one), while
      plain steps that go on growing may take a new Jacobian ``2 n + 10`` iterations later (``8 n
      + 10`` after the third, so that a failed one, ``2 n + 3`` evaluations, costs at most a
      quarter of the plain steps it waited for; up to ``_MODE_TRIES`` in a run): past a weak
      saddle the growth rate creeps up, and the linear model at a point further along, whose fixed
      point ``x_s`` is no longer the saddle, holds for a gain of 1.4 to 4 where the saddle's held
      for 16 (a point of the attention diagram, ``omega = 0.114``, ``alpha = 1.131``, radius
      1.0012: the escape from the saddle went from 2460 evaluations to about 430; the crawl
      through a fold's ghost, ``tests/test_continuation.py``, from 10 000 iterations without
      convergence to 1360 that reach the one root left). Why not the geometric fast-forward below:
      it jumps along the whole plain step, which also moves the stable components the step still
      contains. In the escape of attention at 8 nodes (``omega = 0``, ``alpha = 0.8``, positional
      start, growth 1.008 per step) the stable ``V`` was still decaying; its ratios became steady
      only after ~90 steps, its first jump moved ``V`` off its fixed point and was undone, as were
      the next two, and it was given up: 1560 evaluations, 1400 of them plain steps. With this
      one: ~200 (the jumps take ``theta`` from 1e-7 to 8e-3 in about 20 evaluations; the rest is
      the nonlinear part of the escape, by plain steps, and the approach to the semantic branch);
    * geometric fast-forward: when the plain steps grow steadily by a constant factor
      ``rho > 1`` along a fixed direction, plain iteration is leaving an unstable fixed point
      along its unstable direction, ``x_k = x_u + rho^k d``; the jump to ``x_u + K (x - x_u)``
      skips ``log K / log rho`` plain steps along the same path, and is undone unless the plain
      step there is still ``K`` times the last one (the linear regime), with a smaller ``K``
      next time;
    * the approach to a known saddle (``saddle = (x_s, J)``, a fixed point and its Jacobian, given
      when plain iteration from the start is run to a saddle that acceleration found twice,
      :func:`_escape_unstable`): ``N`` plain steps by the saddle's linear model at once, ``x_s + D^N
      (x - x_s)``, undone unless the plain step at the new point is the model's, ``(D - I)(x_new -
      x_s)``, to 10 % (in the weights of the convergence test; where the new point meets the
      tolerance, its component along the left eigenvector of the unstable eigenvalue alone, which
      decides the side plain iteration leaves by). ``N`` starts at 16, is multiplied by 4 after each
      jump kept (up to 65536) and divided by 4 after each one undone (a jump is tried again ``2 n +
      10`` iterations later, none below 2), and is capped so that the unstable component, which the
      jump multiplies by ``mu^N``, stays below half the tolerance in the plain step: the jumps do
      what the slow stable decay would (attention at 8 nodes, ``omega = 0.1138``, ``alpha = 1.131``,
      positional row: a saddle of radius 1.0012, about 300 plain steps to meet the tolerance there)
      without deciding the side for it;
    * after a stall (no new best residual for ``2 memory + 5`` iterations, as at the ghost of
      a fold where secant steps are drawn to a local minimum of the residual), plain iteration
      until it converges steadily or the residual is ten times below its best. Three plain
      steps in a row with a growing residual (an escape) restart the count from there.
    """
    run = run or _Run()
    if chord is not None and not spectral_radius(chord, damping) < 1.0:
        chord = None  # (the guess's fixed point repels: a Newton step would aim at a point plain iteration leaves)
    if fast_forward is None:
        fast_forward = memory > 0
    # tolerance for rounding at the boundary of the domain (the map's values), and the margin
    # that makes an accelerated iterate count as "on the boundary" (infinite bounds stay infinite)
    outer_lo, outer_hi, inner_lo, inner_hi = _rounding_margins(lower, upper)

    def strictly_inside(c, keep_taboo=True, pinned=None):
        # (comparisons with NaN are False, so this also rejects non-finite iterates)
        inside = (c > inner_lo) & (c < inner_hi)
        if pinned is not None:
            inside |= pinned  # entries at the plain step's value, which the map put at a bound
        if not inside.all():
            return False
        if outside is not None and outside(c) is not None:
            return False  # e.g. an extrapolated overlap matrix that is not PSD: the plain step instead
        if taboo is not None and keep_taboo:
            return float(np.dot(c - taboo[0], taboo[1])) >= 0.5 * float(np.dot(x - taboo[0], taboo[1]))
        return True

    x = x0.copy()
    fx = np.asarray(F(x), dtype=float)
    run.nev += 1
    hist = _History(x.size, min(memory, x.size))
    plain_steps = deque(maxlen=3)  # consecutive plain steps, for the fast-forward
    prev = None  # (x, fx, g, r) of the previous accepted point
    # kind of the step that produced x: None (plain), "anderson", ("ff", predicted step) or ("mode",
    # predicted step)
    pending = None
    best, best_it = math.inf, run.it
    damp = damping
    calm = 0
    flips, rising, climb = 0, False, 0
    cooldown, wait = 0, 0
    # plain_first: begin by plain iteration, extrapolating only once it converges steadily
    plain_until = 0.0 if (plain_first and memory > 0) else None
    stall = 2 * memory + 5
    steady, last_ratio, needed = 0, math.inf, (memory + 3) // 2
    ff_gain = 16.0
    confirmed = False  # a slow solve's converged point checked by one more plain step (_SLOW_SOLVE)
    step_after = None  # the scaled residual after that plain step
    # the unstable-direction fast-forward: (lam, l, v, l.v) of the saddle being left, its gain, and
    # the Jacobians it may still compute (each costs n evaluations without the model's own)
    mode, mode_gain, mode_tries, mode_next, mode_J = None, _MODE_GAIN, 0, 0, None
    trust = 4.0  # longest extrapolated step, in units of the plain step
    if saddle is not None:
        # the approach to a known saddle: its damped linear model, its unstable mode, the steps a
        # jump takes and the iteration at which one is tried next
        x_sad, J_sad = saddle
        D_sad = damp * np.eye(x.size) + (1.0 - damp) * J_sad
        lead_sad = _leading_mode(J_sad, damp)
        sad_steps, sad_next = _SADDLE_STEPS, 0

    while True:
        # ---- judge the map's value at x
        if fx.shape != x.shape:
            raise ValueError(f"the map returned shape {fx.shape} for a state of shape {x.shape}")
        undo = False
        wt = tolerance(x)
        code, bad_i, r = _judge(x, fx, lower, upper, outer_lo, outer_hi, wt)
        why_outside = outside(fx) if outside is not None and code in (0, 3) else None
        if code == 1:
            if pending is not None and prev is not None:
                undo = True  # an accelerated point where the map fails: take the plain step instead
            else:
                bad = [names[i] for i in np.flatnonzero(~np.isfinite(fx))]
                run.status = Status.NONFINITE
                run.info = f"the map returned a non-finite value for {', '.join(bad)} at iteration {run.it}"
                run.x, run.fx, run.r = x, fx, math.nan
                return run
        elif code == 2:
            if pending is not None and prev is not None:
                undo = True
            else:
                i = bad_i
                run.status = Status.OUT_OF_DOMAIN
                run.info = (f"the map left its domain at iteration {run.it}: {names[i]} = {fx[i]:.6g} outside "
                            f"[{lower[i]:.6g}, {upper[i]:.6g}]")
                run.x, run.fx, run.r = x, fx, math.nan
                return run
        elif why_outside is not None:
            if pending is not None and prev is not None:
                undo = True
            else:
                run.status = Status.OUT_OF_DOMAIN
                run.info = f"the map left its domain at iteration {run.it}: {why_outside}"
                run.x, run.fx, run.r = x, fx, math.nan
                return run
        elif code == 3:
            fx = np.clip(fx, lower, upper)  # within rounding of the bounds
        if not undo:
            g = fx - x
            if pending == "anderson" and r > safeguard * prev[3]:
                undo = True
                # plain steps before extrapolating again, more after each consecutive rejection
                # (near a fold's ghost the secant keeps aiming at a root that does not exist)
                cooldown = min(2 * cooldown + 1, 64)
                wait = cooldown
                trust = max(1.0, 0.25 * trust)
            elif pending == "chord":
                if r > safeguard * prev[3]:
                    undo = True
                    chord = None
                elif r > _CHORD_CUT * prev[3]:
                    chord = None  # (the point is kept: a step of progress, by a guess no longer trusted)
            elif pending == "anderson":
                # widen the trust region only on real progress, judged in the previous point's
                # weights: the scaled residual also falls when |x| merely grows (the rtol term),
                # and a map without a fixed point (x + c) must not be chased to infinity
                if float(np.max(np.abs(g) / prev[4])) < prev[3]:
                    trust *= 2.0
            elif isinstance(pending, tuple) and pending[0] == "ff":
                predicted = pending[1]
                actual = (1.0 - damp) * g  # the plain step at the new point
                miss = actual - predicted
                if miss @ miss > 0.01 * (predicted @ predicted):
                    undo = True
                    ff_gain = math.sqrt(ff_gain)
            elif isinstance(pending, tuple) and pending[0] == "saddle":
                if _saddle_jump_missed(pending[1], (1.0 - damp) * g, wt, r <= 1.0, lead_sad):
                    undo = True
                    sad_steps //= 4
                    sad_next = run.it + 2 * x.size + 10
                else:
                    sad_steps = min(4 * sad_steps, _SADDLE_STEPS_MAX)
            elif isinstance(pending, tuple):
                # the unstable-direction fast-forward: the plain step's component along the
                # unstable direction (through the left eigenvector) at the new point must be the
                # linear model's to 10 %
                _, predicted, l = pending
                if abs((1.0 - damp) * float(l @ g) - predicted) > 0.1 * abs(predicted):
                    undo = True
                    mode_gain = -math.sqrt(abs(mode_gain))  # (negative: a jump has been undone)
                else:
                    if mode_gain > 0.0:  # (no jump undone yet: still far inside the linear regime)
                        mode_gain = min(mode_gain * mode_gain, _MODE_GAIN_MAX)
                    best, best_it = r, run.it  # (progress of the escape, as a climb is)
        if undo:
            x, fx, g, r, wt = prev
            hist.clear(); plain_steps.clear()
            pending = None
            x_new = damp * x + (1.0 - damp) * fx
            plain_steps.append(x_new - x)
            x, fx = x_new, np.asarray(F(x_new), dtype=float)
            run.nev += 1
            continue

        came_plain = pending is None
        run.residuals.append(r)
        run.x, run.fx, run.r = x, fx, r
        if r <= 1.0 and run.it >= _SLOW_SOLVE and not confirmed:
            # a slow solve: the point may meet the tolerance by a lucky cancellation of a stiff map
            # (the residual of a point is not its error). One plain (damped) step from it must meet
            # the tolerance too; if not, iterate on from there (see _SLOW_SOLVE)
            x1 = damp * x + (1.0 - damp) * fx
            f1 = np.asarray(F(x1), dtype=float)
            run.nev += 1
            if f1.shape == x1.shape and np.all(np.isfinite(f1)):
                r1 = float(np.max(np.abs(f1 - x1) / tolerance(x1)))
                if r1 <= 1.0:
                    confirmed = True
                    step_after = r1  # (its rate also estimates the error: _estimate_error)
                else:
                    run.unconfirmed += 1
                    hist.clear(); plain_steps.clear()
                    prev, pending = None, None
                    x, fx = x1, f1
                    run.it += 1
                    continue
            else:
                confirmed = True  # (the next step is judged by the loop: report this point)
        if r <= 1.0:
            run.status = Status.CONVERGED
            run.error, run.secant_point = _estimate_error(hist, prev, x, fx, wt, r, damp, reg, came_plain,
                                                          step_after)
            return run
        if run.it >= max_iter:
            run.status = Status.MAX_ITER
            run.info = f"no convergence in {max_iter} iterations (scaled residual {r:.3g} > 1)"
            if run.unconfirmed:
                run.info += (f"; {run.unconfirmed} point(s) met the tolerance but the plain step from them did not "
                             f"(a stiff or creeping map: the residual there is not the error)")
            return run
        if prev is not None:
            up = r > prev[3]
            if up != rising:
                flips += 1
            rising = up
            # an escape: the residual of plain steps has grown for three iterations in a row,
            # plain iteration leaving an unstable point (or a fold's ghost). Progress is
            # measured from here, so that the decay toward the attracting point that follows is
            # accelerated rather than taken for a stall against the tiny residual of the start
            climb = climb + 1 if (up and came_plain) else 0
            if climb >= 3:
                best, best_it, flips = r, run.it, 0
                if taboo is not None:
                    # progress away from the escaped point is measured along the way plain
                    # iteration leaves it, which need not be toward the start (a committee
                    # specialises away from its non-specialised point, not back toward Q = 0)
                    away = x - taboo[0]
                    size = float(np.linalg.norm(away))
                    if size > 0.0:
                        taboo = (taboo[0], away / size)
        if plain_until is not None:
            # accelerate again (fresh history) once well below the best residual, or once the
            # plain iteration converges steadily (a constant rate: the linear regime of the
            # attracting fixed point, where extrapolation is safe)
            ratio = r / prev[3] if prev is not None and prev[3] > 0 else math.inf
            if ratio < 1.0 and abs(ratio - last_ratio) <= 0.05 * (1.0 - ratio):
                steady += 1
            else:
                steady = 0
            last_ratio = ratio
            if r < plain_until or steady >= needed:
                plain_until = None
                hist.clear()
                best, best_it = r, run.it  # progress is measured from here on
                if run.plain_end is None and not (run.extrapolated or run.jumped):
                    run.plain_end = x.copy()  # (on plain iteration's own path from x0)
        if r < best:
            best, best_it, flips = r, run.it, 0
        elif memory > 0 and plain_until is None and run.it - best_it > stall and not _growing(plain_steps):
            # extrapolation has stopped making progress (typically the ghost of a fold, a local
            # minimum of |F(x) - x| that secant steps are drawn to): iterate plainly, as the
            # algorithm would
            plain_until = 0.1 * best
            steady, last_ratio = 0, math.inf
            needed *= 2  # each stall asks for a longer steady stretch before extrapolating again
            hist.clear()
        elif run.it - best_it > patience and flips > patience // 4:
            # no new best for long, and the residual keeps going up and down (a cycle or a
            # noise floor); a monotone rise (escaping an unstable point) or slow monotone
            # decay (critical slowing down) is not stagnation
            run.status = Status.STAGNATED
            run.info = (f"the residual has not decreased for {patience} iterations "
                        f"(best scaled residual {best:.3g} > 1)")
            if run.unconfirmed:
                run.info += (f"; {run.unconfirmed} point(s) met the tolerance but the plain step from them did not "
                             f"(a stiff or creeping map: the residual there is not the error)")
            return run

        # ---- adaptive damping (Damped(adaptive=True)): back off when the residual grows
        if adaptive and prev is not None:
            if r > prev[3]:
                damp = 0.5 * (1.0 + damp)
                calm = 0
            else:
                calm += 1
                if calm >= 10 and damp > damping:
                    damp = max(damping, damp - 0.5 * (damp - damping))
                    calm = 0

        # ---- next iterate: the plain damped step unless an accelerated one is accepted
        x_new = damp * x + (1.0 - damp) * fx
        step = x_new - x
        pending = None
        if fast_forward and jacobian is not None:
            if mode_J is not None and run.it >= mode_next:
                mode_J = None  # (computed too long ago to describe the linear regime here)
            if mode is None and climb >= 3 + x.size and (mode_J is not None or
                                                         (mode_tries < _MODE_TRIES and run.it >= mode_next)):
                # plain steps have grown 3 + n times in a row: if this is the linear regime about a
                # saddle, jump along its unstable direction (see the docstring). The Jacobian is
                # kept for a while: the stable part of the displacement shrinks as plain
                # iteration goes on, until it is small enough (a check without evaluations)
                if mode_J is None:
                    mode_tries += 1
                    mode_next = run.it + _MODE_KEEP + 2 * x.size
                    mode_J, nev, mode_exact = jacobian(x, fx)
                    run.nev += nev
                J = mode_J
                mode = _unstable_mode(J, damp, plain_steps, x, fx, wt, mode_exact)
                if mode is None:
                    # not the linear regime of a saddle: another Jacobian in 2 n + 10 iterations
                    mode_J, mode_next = None, run.it + 2 * x.size + 10
                elif mode == "far":
                    mode = None  # (the Jacobian is kept: checked again at the next iterations)
                mode_gain = _MODE_GAIN
                if mode is not None:
                    lam_k, l, v, lv, x_s = mode
                    # the linear model: plain steps from x are x_s + D^k (x - x_s)
                    mode = (lam_k, l, v, lv, x_s, damp * np.eye(x.size) + (1.0 - damp) * J)
                    if taboo is None:
                        # acceleration is kept on the side plain iteration leaves the saddle by
                        c = float(l @ g) / ((lam_k - 1.0) * lv)
                        taboo = (x_s, math.copysign(1.0, c) * v)
            if mode is not None:
                lam_k, l, v, lv, x_s, D = mode
                mu_k = damp + (1.0 - damp) * lam_k
                while abs(mode_gain) >= _MODE_GAIN_MIN:
                    # the plain steps that multiply the unstable component by the gain, taken by the
                    # linear model at once (the stable components decay as those steps would decay them)
                    steps = max(1, round(math.log(abs(mode_gain)) / math.log(mu_k)))
                    cand = x_s + np.linalg.matrix_power(D, steps) @ (x - x_s)
                    # (the taboo measures progress along v in the Euclidean norm, which the
                    # decaying stable components also enter: the jump multiplies the component
                    # along l, the one that measures it, by the gain)
                    if strictly_inside(cand, keep_taboo=False):
                        break
                    mode_gain = -math.sqrt(abs(mode_gain))  # (a jump out of the domain: a shorter one)
            if mode is not None and abs(mode_gain) < _MODE_GAIN_MIN:
                # the escape has left this linear model's regime: extrapolation (kept on its side
                # by the taboo) and plain steps from here, and another Jacobian further along
                spacing = 2 * x.size + 10 if mode_tries < _MODE_QUICK else 8 * x.size + 10
                mode, mode_J, mode_next = None, None, run.it + spacing
                if plain_until is not None:
                    plain_until = None
                    hist.clear()
                best, best_it = r, run.it
            if mode is not None:
                # the plain step there by the linear model, (D - I)(cand - x_s), along l
                pending = ("mode", (1.0 - damp) * (lam_k - 1.0) * float(l @ (cand - x_s)), l)
                run.jumped = True
                x_new = cand
        if fast_forward and pending is None:
            rho = _growing(plain_steps)
            if rho and ff_gain >= 1.5:
                # geometric fast-forward along the escape direction (see the docstring)
                cand = x + (ff_gain - 1.0) * step / (rho - 1.0)
                if strictly_inside(cand):
                    pending = ("ff", ff_gain * step)
                    run.jumped = True
                    x_new = cand
        if saddle is not None and pending is None and run.it >= sad_next and sad_steps >= 2:
            # the approach to a known saddle, by its linear model (see the docstring)
            jump = _saddle_jump(x, x_sad, D_sad, lead_sad, damp, sad_steps, wt)
            if jump is not None and strictly_inside(jump[0], keep_taboo=False):
                x_new, pending = jump[0], ("saddle", jump[1])
                run.jumped = True
        if memory > 0:
            if pending is None and plain_until is None:
                if prev is not None:
                    hist.push(x - prev[0], fx - prev[1])
                # entries the map itself puts within rounding of a bound (an overlap decaying
                # to 0 along a direction that is not learned) keep their plain value: an
                # extrapolation of them would leave the box and, rejected, stop acceleration of
                # every other entry for the rest of the solve (deep attention's Q_11 -> 1e-32
                # on its sub-branch: 130 plain iterations where Anderson takes 20)
                pinned = (fx <= inner_lo) | (fx >= inner_hi)
                pinned = pinned if pinned.any() and not pinned.all() else None
                if chord is not None:
                    cand = _chord_step(chord, x, g)
                    if cand is not None and (pinned is None or _pin(cand, fx, pinned)) \
                            and strictly_inside(cand, pinned=pinned) and _keeps_seeds(cand - x, g, x, 0.5):
                        x_new = cand
                        pending = "chord"
                        run.extrapolated = True
                    else:
                        chord = None  # (a guess whose step leaves the domain or cancels a seed)
                if pending is None and wait > 0:
                    wait -= 1
                elif pending is None and hist.count:
                    cand = np.empty_like(x)
                    if _anderson_mix(hist.DX, hist.DF, hist.count, x, fx, wt, damp, reg, cand) \
                            and _within_trust(cand, x, g, trust, wt) \
                            and (pinned is None or _pin(cand, fx, pinned)) \
                            and strictly_inside(cand, pinned=pinned) and _along(cand - x, g, x, wt):
                        x_new = cand
                        pending = "anderson"
                        run.extrapolated = True
                        cooldown //= 2
        if pending is None:
            plain_steps.append(step)
        else:
            plain_steps.clear()
        prev = (x, fx, g, r, wt)
        x = x_new
        fx = np.asarray(F(x), dtype=float)
        run.nev += 1
        run.it += 1


def _estimate_error(hist, prev, x, fx, wt, r, damp, reg, came_plain, step_after=None):
    """The error of a point that meets the tolerance, ``max_i |x_i - x*_i| / w_i``, estimated
    without evaluating the map: the residual is not the error. Where the map contracts slowly
    (rate ``lam`` along some direction) a residual ``r`` leaves an error ``r / (1 - lam)``: at a
    hinge loss's minimiser ``w = 0``, ``lam = 0.9963`` and a residual at the tolerance was an
    error of 270 tolerances. Two estimates, the larger is returned (NaN when neither exists):

    * the undamped Anderson step from ``x`` with the run's secant history (the current pair
      included): the secant model's fixed point, ``x*`` to first order where the history spans
      the slow directions (for a linear map with ``n`` independent secants, exactly);
    * after a plain step, from its rate ``q = r / r_prev``: the damped map contracts the slow
      direction by ``q = d + (1 - d) lam``, so ``|x - x*| ~ r (1 - d) / (1 - q)``; likewise from
      the plain step a slow solve takes from ``x`` to confirm it (``step_after``, its scaled
      residual: ``q = step_after / r``), an evaluation already spent.

    (:func:`solve` replaces it by the Newton step ``(I - J)^-1 (F(x) - x)`` when the stability
    check has computed the Jacobian ``J`` at the point.) Returns ``(estimate, the secant model's
    fixed point or None)``."""
    est, cand = math.nan, None
    rates = [step_after / r] if step_after is not None and r > 0.0 else []
    if prev is not None and came_plain and prev[3] > 0.0:
        rates.append(r / prev[3])
    for q in rates:
        if q < 1.0:
            by_rate = r * (1.0 - damp) / (1.0 - q)
            est = by_rate if math.isnan(est) else max(est, by_rate)
    if prev is None:
        return est, cand
    if hist.memory > 0:
        hist.push(x - prev[0], fx - prev[1])
        cand = np.empty_like(x)
        if not _anderson_mix(hist.DX, hist.DF, hist.count, x, fx, wt, 0.0, reg, cand):
            cand = None
        else:
            by_secant = float(np.max(np.abs(cand - x) / wt))
            est = by_secant if math.isnan(est) else max(est, by_secant)
    return est, cand


def _newton_error(J, x, fx, wt):
    """``max_i |e_i| / w_i`` for the Newton step ``e = (I - J)^-1 (F(x) - x)``: the error of ``x``
    to first order (NaN when ``I - J`` is singular or not finite)."""
    try:
        e = np.linalg.solve(np.eye(x.size) - J, fx - x)
    except (np.linalg.LinAlgError, ValueError):
        return math.nan
    est = float(np.max(np.abs(e) / wt))
    return est if math.isfinite(est) else math.nan


#: Newton steps a converged point may take to bring its estimated error within the tolerance
_POLISH_STEPS = 2
#: estimated error (in tolerances) above which a converged solution's message says so: twice the
#: tolerance, beyond the estimate's own uncertainty (the secant model's was within 30% on the
#: registry's examples, one case a factor 4 low); a Newton step that would leave the domain is not
#: taken unless the model can project it back (``project``), so a point on its boundary may keep an
#: estimate just above 1
_ERROR_NOTE = 2.0


def _polish(F, run, jac, tolerance, lower, upper, outside, project=None):
    """Bring a converged point's error, not only its residual, within the tolerance.

    The residual is not the error: where the map contracts slowly the error is the residual
    times ``1 / (1 - rate)`` (``run.error``, :func:`_estimate_error`; measured on the registry's
    examples, converged points were up to 9 tolerances off). With the map's Jacobian ``J`` at the
    point (the stability check's, or computed here as the stability check computes it, only when
    the estimate exceeds 1) the error is also the Newton step ``(I - J)^-1 (F(x) - x)`` to first order; the
    larger of the two estimates is kept, since a finite-difference Jacobian can be wrong where
    the map is not smooth on the scale of its step (at a hinge loss's minimiser ``w = 0``, with
    ``q = 8e-16``, it put the error at 0.14 tolerances where the secant model said 270, the
    truth). While the estimate exceeds the tolerance, up to ``_POLISH_STEPS`` Newton steps are
    taken, each kept only if the map there is finite, inside the domain, and its residual is
    ten times smaller than before (the Jacobian has then proved itself: the estimate becomes
    its Newton step at the new point). A Newton point outside the domain is replaced by the
    model's ``project`` of it when the model has one (a rank-deficient overlap on the boundary of
    the positive semi-definite cone, which the step leaves by rounding-sized amounts: the
    non-specialised ``K = 3`` committee's step broke it by 3e-12 and was refused, leaving 1.05
    tolerances), else not taken."""
    n = run.x.size
    if run.jacobian is not None and run.jacobian[0] is run.x:
        J = run.jacobian[1]
    elif run.error > 1.0 and n <= 64:
        J, _ = _jacobian_at(F, jac, run, lower, upper, 0.0, outside)
    else:
        return
    est = _newton_error(J, run.x, run.fx, tolerance(run.x))
    outer_lo, outer_hi, _, _ = _rounding_margins(lower, upper)
    if not math.isnan(run.error):
        est = run.error if math.isnan(est) else max(est, run.error)
    for _ in range(_POLISH_STEPS):
        if not est > 1.0:
            break
        try:
            x1 = run.x + np.linalg.solve(np.eye(n) - J, run.fx - run.x)
        except np.linalg.LinAlgError:
            break
        if not _strictly_in(x1, lower, upper, outside):
            x1 = None if project is None else np.asarray(project(x1), dtype=float)
            if x1 is None or x1.shape != run.x.shape or not _strictly_in(x1, lower, upper, outside):
                break
        f1 = np.asarray(F(x1), dtype=float)
        run.nev += 1
        if f1.shape != x1.shape or not np.all(np.isfinite(f1)):
            break
        # the map's value must be in the domain too, as the driver loop asks (beyond rounding of
        # a bound it is clipped there, as in the loop)
        if np.any(f1 < outer_lo) or np.any(f1 > outer_hi) or (outside is not None and outside(f1) is not None):
            break
        f1 = np.clip(f1, lower, upper)
        wt1 = tolerance(x1)
        r1 = float(np.max(np.abs(f1 - x1) / wt1))
        if not r1 <= 0.1 * min(1.0, run.r):
            break
        run.x, run.fx, run.r = x1, f1, r1
        run.it += 1
        run.residuals.append(r1)
        est = _newton_error(J, x1, f1, wt1)
    run.error = est


def _rounding_margins(lower, upper):
    """``(outer_lo, outer_hi, inner_lo, inner_hi)``: the bounds widened and narrowed by the rounding
    tolerance ``1e-12 (1 + |bound|)`` (infinite bounds stay infinite). A map's value between a
    bound and its outer margin is clipped to the bound; an accelerated iterate must lie inside the
    inner ones."""
    slack_lo = 1e-12 * (1.0 + np.abs(np.where(np.isfinite(lower), lower, 0.0)))
    slack_hi = 1e-12 * (1.0 + np.abs(np.where(np.isfinite(upper), upper, 0.0)))
    return lower - slack_lo, upper + slack_hi, lower + slack_lo, upper - slack_hi


def _strictly_in(x, lower, upper, outside):
    """Inside the box's interior and the model's domain (NaN is not)."""
    return bool(np.all(x > lower) and np.all(x < upper)) and (outside is None or outside(x) is None)


class _History:
    """The last ``memory`` differences of iterates and map values, as the columns of two arrays
    (a ring buffer: the least-squares problem does not depend on the order of the columns)."""

    __slots__ = ("DX", "DF", "count", "pos", "memory")

    def __init__(self, n, memory):
        self.memory = memory
        self.DX = np.zeros((n, max(memory, 1)))
        self.DF = np.zeros((n, max(memory, 1)))
        self.count = 0
        self.pos = 0

    def clear(self):
        self.count = 0
        self.pos = 0

    def push(self, dx, df):
        self.DX[:, self.pos] = dx
        self.DF[:, self.pos] = df
        self.pos = (self.pos + 1) % self.memory
        self.count = min(self.count + 1, self.memory)


#: a chord Newton step (:func:`_solve_near`) must cut the residual at least this much for
#: the next one to be taken; a worse guess hands over to Anderson mixing
_CHORD_CUT = 0.1


def _chord_step(chord, x, g):
    """The chord Newton point ``x + (I - J)^-1 g`` for the guessed Jacobian ``J``, ``g = F(x) - x``;
    ``None`` when ``I - J`` is singular or the point not finite."""
    try:
        cand = x + np.linalg.solve(np.eye(x.size) - chord, g)
    except np.linalg.LinAlgError:
        return None
    return cand if np.all(np.isfinite(cand)) else None


def _pin(cand, fx, pinned):
    """Set the ``pinned`` entries of an extrapolated iterate to the plain step's values (in place);
    always True."""
    cand[pinned] = fx[pinned]
    return True


@njit(cache=True)
def _within_trust(cand, x, g, trust, wt):
    """Shorten (in place) an extrapolated step longer than ``trust`` plain steps; always True.

    The trust grows twofold with each extrapolation kept and shrinks fourfold with each one
    undone: a secant step may only go far once the secant model has proved itself. Where the
    residual is flat (near the ghost of a fold) the secant can aim far past the fixed point
    plain iteration is approaching, across an unstable one into another basin.
    """
    big_step = 0.0
    big_g = 0.0
    rw = _relative_weights(wt)  # (the test is scale-free)
    for i in range(x.size):
        w = rw[i]
        big_step = max(big_step, abs(cand[i] - x[i]) * w)
        big_g = max(big_g, abs(g[i]) * w)
    if big_step > trust * big_g:
        shrink = trust * big_g / big_step
        for i in range(x.size):
            cand[i] = x[i] + shrink * (cand[i] - x[i])
    return True


@njit(cache=True)
def _along(step, g, x, wt):
    """Whether an extrapolated step goes along the plain step ``g = F(x) - x`` (non-negative inner
    product, weighted like the convergence criterion), and pulls no entry back toward 0 that the
    plain step pushes away from it (:func:`_keeps_seeds`).

    Near a fixed point ``x*``, ``g ~ (J - I)(x - x*)``, so a step toward ``x*`` against ``g`` means
    ``x*`` repels along it (an eigenvalue of ``J`` above 1): plain iteration moves away there, and
    a secant step toward such a point is replaced by the plain step.

    The entrywise rule catches what the inner product, dominated by the large entries, does not:
    a small symmetry-breaking seed (an overlap of 1e-6 off an invariant plane) that plain iteration
    amplifies during a transient and that decides which basin it ends in. A secant step that
    shrinks it cancels it, and the solve converges, stably, to an attractor plain iteration from the
    same start does not reach (positional/semantic attention at ``omega = 0.1``, ``alpha = 1.8``:
    the point ``m = theta = 0`` instead of the semantic branch; ``tests/test_trust.py``). For a
    one-dimensional linear map the secant always moves along ``g``; against it only through
    coupling with other entries, which the plain step then resolves.
    """
    s = 0.0
    rw = _relative_weights(wt)  # (only the sign of s matters)
    for i in range(x.size):
        w = rw[i]
        s += step[i] * g[i] * w * w
    return s >= 0.0 and _keeps_seeds(step, g, x, 1.0)


@njit(cache=True)
def _keeps_seeds(step, g, x, keep):
    """Whether no entry that the plain step ``g`` pushes away from 0 is pulled back by ``step`` to
    less than ``keep`` times its size.

    ``keep = 1`` for secant steps (:func:`_along`): they converge over many steps, any of which may
    take a little of a seed. ``keep = 0.5`` for chord Newton steps (:func:`_solve_near`): each
    must cut the residual tenfold, so the first step is nearly the whole way, and a seed the chord
    cancels is more than halved by that step. A step that merely lowers a large entry (a chord
    step from a sweep's predictor lowers ``V ~ 15`` by 4e-4 of itself, while the plain step, a
    non-normal transient, first raises it: attention, ``omega = 0.28``, ``alpha = 1.34``) is not
    cancelling a seed.
    """
    for i in range(x.size):
        if step[i] * g[i] < 0.0 and abs(x[i] + g[i]) > abs(x[i]) and abs(x[i] + step[i]) < keep * abs(x[i]):
            return False
    return True


@njit(cache=True)
def _judge(x, fx, lower, upper, outer_lo, outer_hi, wt):
    """Check ``F(x)``: returns (code, index, scaled residual).

    code 0: fine; 1: non-finite entry ``index``; 2: entry ``index`` outside the domain beyond
    rounding; 3: fine after clipping entries that exceed a bound by rounding only (the residual
    returned is the clipped one).
    """
    r = 0.0
    clip = False
    for i in range(x.size):
        f = fx[i]
        if not np.isfinite(f):
            return 1, i, np.nan
        if f < outer_lo[i] or f > outer_hi[i]:
            return 2, i, np.nan
        if f < lower[i]:
            f = lower[i]
            clip = True
        elif f > upper[i]:
            f = upper[i]
            clip = True
        v = abs(f - x[i]) / wt[i]
        if v > r:
            r = v
    return (3 if clip else 0), -1, r


@njit(cache=True)
def _anderson_mix(DX, DF, k, x, fx, wt, damp, reg, out):
    """Type-II Anderson mixing into ``out``; False when the problem is singular or not finite.

    The coefficients minimise ``|w (g - DG gamma)|^2 + lam |gamma|^2``, ``DG = DF - DX``,
    ``g = fx - x``, with the weights ``w = 1 / wt`` of the convergence criterion
    and ``lam = reg trace(DG^T W^2 DG)`` (which bounds the condition number by ``1 / reg``);
    solved by Cholesky, ``k <= memory`` is small.
    """
    n = x.size
    A = np.zeros((k, k))
    b = np.zeros(k)
    # relative weights (a common factor leaves the coefficients unchanged, lam scaling with A):
    # 1 / wt^2 itself overflows once a weight is below 1e-154 (atol = 0)
    rw = _relative_weights(wt)
    for l in range(n):
        w2 = rw[l] ** 2
        gl = fx[l] - x[l]
        for i in range(k):
            di = DF[l, i] - DX[l, i]
            b[i] += di * gl * w2
            for j in range(i, k):
                A[i, j] += di * (DF[l, j] - DX[l, j]) * w2
    tr = 0.0
    for i in range(k):
        tr += A[i, i]
    for i in range(k):
        A[i, i] += reg * tr + 1e-300
        for j in range(i):
            A[i, j] = A[j, i]
    # Cholesky A = L L^T, then two triangular solves
    L = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1):
            s = A[i, j]
            for m in range(j):
                s -= L[i, m] * L[j, m]
            if i == j:
                if s <= 0.0:
                    return False
                L[i, i] = np.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    y = np.zeros(k)
    for i in range(k):
        s = b[i]
        for m in range(i):
            s -= L[i, m] * y[m]
        y[i] = s / L[i, i]
    gamma = np.zeros(k)
    for i in range(k - 1, -1, -1):
        s = y[i]
        for m in range(i + 1, k):
            s -= L[m, i] * gamma[m]
        gamma[i] = s / L[i, i]
    for l in range(n):
        sx = x[l]
        sf = fx[l]
        for i in range(k):
            sx -= DX[l, i] * gamma[i]
            sf -= DF[l, i] * gamma[i]
        out[l] = damp * sx + (1.0 - damp) * sf
        if not np.isfinite(out[l]):
            return False
    return True


#: first and largest number of plain steps a jump toward a known saddle takes at once (see
#: :func:`_iterate`)
#: iterations after which a point that meets the tolerance is checked by one more plain step, which
#: must meet it too: a solve this slow is one where the map is stiff or creeps (a hinge loss with a
#: fitted bias at a minimiser w = 0: the point met the tolerance at 0.59, the next plain step was at 30
#: and the map then crept toward w = 0 by 0.9963 a step). Not checked on every solve: it costs an
#: evaluation, a quarter of a warm start's in a sweep
_SLOW_SOLVE = 100
_SADDLE_STEPS = 16
_SADDLE_STEPS_MAX = 65536


def _model_saddle(run, J):
    """The fixed point of the linear model ``F(x) ~ run.fx + J (x - run.x)`` (``run.x`` itself if that
    is not finite): where the approach to the saddle heads, to the model's accuracy rather than the
    tolerance's."""
    try:
        x_s = run.x - np.linalg.solve(J - np.eye(run.x.size), run.fx - run.x)
    except np.linalg.LinAlgError:
        return run.x
    return x_s if np.all(np.isfinite(x_s)) else run.x


def _saddle_jump(x, x_s, D, lead, damping, steps, wt):
    """``(x_new, predicted)``: ``steps`` plain steps from ``x`` by the linear model ``x_s + D^k (x -
    x_s)`` of a saddle (``D`` the damped Jacobian), and the model's plain step at ``x_new``; the
    steps capped so that the unstable component (``lead``, :func:`_leading_mode`) contributes at
    most half the tolerance ``wt`` to that step. ``None`` when fewer than 2 steps remain."""
    if lead is not None:
        lam, l, v, lv = lead
        mu = damping + (1.0 - damping) * lam
        size = (mu - 1.0) * abs(float(l @ (x - x_s)) / lv) * float(np.max(np.abs(v) / wt))
        if size > 0.0:
            cap = math.log(0.5 / size) / math.log(mu)
            if not cap >= 2.0:
                return None
            steps = min(steps, int(cap))
    x_new = x_s + np.linalg.matrix_power(D, steps) @ (x - x_s)
    return x_new, (D - np.eye(x.size)) @ (x_new - x_s)


def _saddle_jump_missed(predicted, actual, wt, converged, lead):
    """Whether the plain step ``actual`` at a jump's point departs from the saddle model's
    ``predicted`` by more than 10 % (scaled by ``wt``); at a point that meets the tolerance, only its
    component along the unstable mode's left eigenvector is compared (the stable part is then below
    the tolerance, and the map's own error can be a sizeable part of it)."""
    if converged:
        if lead is None:
            return False
        lp, la = float(lead[1] @ predicted), float(lead[1] @ actual)
        return abs(la - lp) > 0.1 * abs(lp)
    miss = (actual - predicted) / wt
    ref = predicted / wt
    return bool(miss @ miss > 0.01 * (ref @ ref))


#: relative agreement, in units of ``mu - 1``, of the ratios of the last plain steps' components along
#: the left eigenvector with the damped eigenvalue ``mu`` before the unstable-direction fast-forward
#: is trusted (the linear regime about a saddle, see :func:`_unstable_mode`)
_MODE_RATIO = 0.1
#: Jacobians the unstable-direction fast-forward may compute in one run of the driver loop (each
#: costs 2 n evaluations without the model's own; a failed one and its three jumps, 2 n + 3)
_MODE_TRIES = 12
#: of which the first ones are taken ``2 n + 10`` plain iterations apart, the others ``8 n + 10``
_MODE_QUICK = 3
#: largest stable part of the displacement from the saddle, relative to the unstable part, at which
#: the unstable-direction fast-forward is used (see :func:`_unstable_mode`)
_MODE_NEAR = 1.0
#: iterations (plus ``2 n``) for which the fast-forward's Jacobian is used before it is computed again
_MODE_KEEP = 100
#: first gain of the unstable-direction fast-forward (the factor its jump multiplies the unstable
#: component by), the largest and the smallest: squared after each jump kept, square-rooted after
#: each undone, and given up (until another Jacobian) below the smallest
_MODE_GAIN = 16.0
_MODE_GAIN_MAX = 65536.0
_MODE_GAIN_MIN = 1.3


def _leading_mode(J, damping=0.0):
    """``(lam, l, v, l.v)``: the eigenvalue ``lam`` of ``J`` whose damped value ``damping + (1 -
    damping) lam`` is largest in modulus, when it is real and above 1 (a saddle's unstable
    direction, left by plain iteration without oscillating), with its left and right eigenvectors
    (unit, from one decomposition); ``None`` otherwise or when ``l.v`` vanishes."""
    from scipy.linalg import eig

    if not np.all(np.isfinite(J)):
        return None
    lam, left, right = eig(J, left=True, right=True)  # both eigenvectors of each eigenvalue
    mu = damping + (1.0 - damping) * lam
    k = int(np.argmax(np.abs(mu)))
    if abs(lam[k].imag) > 1e-12 * abs(lam[k]) or not mu[k].real > 1.0:
        return None
    v, l = right[:, k].real, left[:, k].real
    v, l = v / np.linalg.norm(v), l / np.linalg.norm(l)
    lv = float(l @ v)
    if abs(lv) < 1e-8:
        return None
    return float(lam[k].real), l, v, lv


def _unstable_mode(J, damping, steps, x, fx, wt, exact):
    """The unstable direction that plain iteration is leaving a saddle along, or ``None``.

    ``J`` is the map's Jacobian at the current point ``x`` (where the map's value is ``fx``),
    ``steps`` the last consecutive plain (damped) steps that led there. With ``lam`` the
    eigenvalue of ``J`` of largest damped modulus, real and above 1, ``v`` and ``l`` its right and
    left eigenvectors, the component ``l.s`` of a plain step in the linear regime about the
    saddle is multiplied by exactly ``mu = 1 + (1 - damping)(lam - 1)`` per step, whatever the
    stable components (``l`` is orthogonal to their right eigenvectors). The mode is returned
    only when the last steps' components do so to ``_MODE_RATIO (mu - 1)``, and the current
    one is resolved above the Jacobian's error and the rounding, and the stable part of the
    displacement from the linear model's saddle is no larger than the unstable part: ``(lam, l,
    v, l.v, x_s)`` (unit ``l``, ``v``; ``x_s`` the saddle). ``"far"`` when all holds but the last
    (the Jacobian describes the steps; plain iteration has yet to bring the stable components
    closer), ``None`` otherwise.
    """
    mode = _leading_mode(J, damping)
    if mode is None:
        return None
    lam_k, l, v, lv = mode
    mu_k = damping + (1.0 - damping) * lam_k
    # the components along l of the last plain steps, in order, the current one last
    g = fx - x
    comps = [float(l @ s) for s in steps] + [(1.0 - damping) * float(l @ g)]
    noise = 64.0 * np.finfo(float).eps * float(np.abs(l) @ (np.abs(x) + np.abs(fx)))
    err = _JACOBIAN_ERROR["model" if exact else "differences"] * float(np.linalg.norm(g))
    if len(comps) < 3 or not abs(float(l @ g)) > 10.0 * (noise + err):
        return None
    for a, b in zip(comps[-3:-1], comps[-2:]):
        if a == 0.0 or abs(b / a - mu_k) > _MODE_RATIO * (mu_k - 1.0):
            return None
    # the saddle of the linear model, x_s = x - (J - I)^-1 g: the stable part of x - x_s must be
    # no larger than the unstable part c v (in the weights of the convergence test). The jump
    # takes the linear model's steps, in which the growth rate does not depend on the stable
    # components; where they are still far from the saddle (a slowly decaying entry on which the
    # growth rate depends: tests/test_trust.py) that model is wrong over the steps skipped, and
    # the check at the jumped point sees only their end. (The bound 1 is a judgement, not tuned:
    # in attention escapes the slow stable entry is m, whose effect on the growth of theta is of
    # second order by the symmetry m -> -m.)
    with np.errstate(all="ignore"):
        d = np.linalg.lstsq(J - np.eye(x.size), g, rcond=None)[0]
    c = float(l @ g) / ((lam_k - 1.0) * lv)
    unstable, stable = c * v / wt, (d - c * v) / wt
    if not (np.all(np.isfinite(stable)) and stable @ stable <= _MODE_NEAR ** 2 * (unstable @ unstable)):
        return "far"
    return lam_k, l, v, lv, x - d


def _growing(steps):
    """The common growth factor of the last three plain steps when they grow geometrically along
    one direction (ratios > 1 equal to 1 %, directions within 1e-3), else 0."""
    if len(steps) < 3:
        return 0.0
    return _growth_factor(steps[0], steps[1], steps[2])


@njit(cache=True)
def _growth_factor(s1, s2, s3):
    n1 = np.sqrt(np.dot(s1, s1))
    n2 = np.sqrt(np.dot(s2, s2))
    n3 = np.sqrt(np.dot(s3, s3))
    if n1 == 0.0 or n2 == 0.0:
        return 0.0
    r1 = n2 / n1
    r2 = n3 / n2
    if r1 <= 1.0 + 1e-9 or r2 <= 1.0 + 1e-9 or abs(r2 - r1) > 0.01 * (r2 - 1.0):
        return 0.0
    if np.dot(s2, s3) < (1 - 1e-3) * n2 * n3 or np.dot(s1, s2) < (1 - 1e-3) * n1 * n2:
        return 0.0
    return r2


def solve(model, x0=None, *, start="uninformed", solver=None, atol: float = 1e-10, rtol: float = 1e-10,
          max_iter: int = 10_000, bounds=None, names=None) -> Solution:
    """Solve ``x = F(x)`` for a model (protocol) or a plain callable.

    Parameters
    ----------
    model : Model or callable
        A model (``model.update`` is the map) or a plain function ``F(x) -> array``.
    x0 : array, optional
        Start vector. Required for a plain callable; for a model it overrides ``start``.
    start : {"uninformed", "informed"} or array
        For a model: which ``initial_state`` to start from (DESIGN.md).
    solver : Anderson or Damped, optional
        Default ``Anderson()``.
    atol, rtol : float
        Convergence when ``max |F(x) - x| / (atol + rtol |x|) <= 1`` (after 100 iterations, also
        at the plain step from that point; module docstring). A converged point whose estimated
        error exceeds the tolerance is polished by up to two Newton steps; ``error_estimate``
        reports the error that remains, and the message says when it is above 2.
    max_iter : int >= 1
        Iteration budget.
    bounds : (lower, upper), optional
        Domain of the state for a plain callable (a model's ``bounds()`` is used otherwise).
    names : sequence of str, optional
        Labels for a plain callable's state (default ``x0, x1, ...``).

    Returns
    -------
    Solution
        Never raises on non-convergence: ``converged``, ``status`` and ``message`` say what
        happened and what to try. Raises ``ValueError`` only for invalid arguments.
    """
    return _solve_near(model, x0, start=start, solver=solver, atol=atol, rtol=rtol, max_iter=max_iter, bounds=bounds,
                      names=names)


def _solve_near(model, x0=None, *, start="uninformed", solver=None, atol: float = 1e-10, rtol: float = 1e-10,
               max_iter: int = 10_000, bounds=None, names=None, jacobian_guess=None) -> Solution:
    """:func:`solve` with a guess of the map's Jacobian near the solution (``jacobian_guess``, an
    ``(n, n)`` array: the Jacobian ``Solution.jacobian`` reports at a nearby point of the branch):
    the accelerated solver's first steps are chord Newton steps ``x + (I - J)^-1 (F(x) - x)``
    (:func:`_iterate`). Not exported: a sweep's warm starts use it, and a sweep checks every run
    of them by a cold solve from its start. A solve with a guess does not carry :func:`solve`'s
    promise to reach the point plain iteration from the same start reaches: a guess that describes
    another basin can carry it there (``tests/test_solvers.py``: for the map of
    ``tests/test_trust.py`` whose plain iteration amplifies a seed over a long transient, the
    Jacobian at its attractor ``(0, 0)`` takes the solve there in 8 evaluations, where plain
    iteration reaches ``theta = 0.666``). A
    ``Damped`` solver ignores the guess, as does the iteration in a unique model's
    ``solver_coordinates``.
    """
    solver = _validate.solver(solver)
    atol, rtol = _validate.tolerances(atol, rtol)
    max_iter = _validate.max_iter(max_iter)
    default_solver = solver is None
    solver = Anderson() if solver is None else solver

    is_model = hasattr(model, "update") and hasattr(model, "state_names")
    if is_model:
        F = model.update
        if x0 is not None:
            start = _validate.start(model, x0, "x0")
        else:
            start = _validate.start(model, start)
        x_start = resolve_start(model, start)
        state_names = tuple(model.state_names)
        if x_start.size != len(state_names):
            raise ValueError(f"start must have {len(state_names)} entries {state_names}, got shape {np.shape(start)}")
        lower, upper = model_bounds(model, x_start.size)
    elif callable(model):
        F = model
        if x0 is None:
            x0 = start if not isinstance(start, str) else None
        if x0 is None:
            raise ValueError("x0 (a start vector) is required when solving a plain callable")
        x_start = np.array(x0, dtype=float).ravel()
        state_names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(x_start.size))
        if len(state_names) != x_start.size:
            raise ValueError(f"names has {len(state_names)} entries for a state of size {x_start.size}")
        if bounds is None:
            lower, upper = np.full(x_start.size, -np.inf), np.full(x_start.size, np.inf)
        else:
            lower = np.broadcast_to(np.asarray(bounds[0], float), x_start.shape).copy()
            upper = np.broadcast_to(np.asarray(bounds[1], float), x_start.shape).copy()
        start = "array"
    else:
        raise ValueError(f"model must be a model (with update and state_names) or a callable, got {model!r}")
    if x_start.size == 0:
        raise ValueError("the start vector is empty")
    chord = _validate.jacobian_guess(jacobian_guess, x_start.size)
    if not np.all(np.isfinite(x_start)):
        raise ValueError(f"the start vector must be finite, got {x_start}")
    if np.any(x_start < lower) or np.any(x_start > upper):
        raise ValueError(f"the start vector {x_start} is outside the domain [{lower}, {upper}]")
    outside = getattr(model, "domain_violation", None) if is_model else None
    if outside is not None and outside(x_start) is not None:
        raise ValueError(f"the start vector is outside the model's domain: {outside(x_start)}")

    # a model whose fixed point is unique (convex problems) has no other point to land on
    unique = is_model and bool(getattr(model, "unique_fixed_point", False))
    tolerance = make_tolerance(atol, rtol, getattr(model, "residual_scale", None) if is_model else None)
    kw = dict(tolerance=tolerance, max_iter=max_iter, lower=lower, upper=upper, names=state_names, outside=outside)
    jac = getattr(model, "jacobian", None) if is_model else None
    notes = []
    # (a cold start only: a warm start next to the fixed point, as in a sweep, gains nothing from
    # the detour through the coordinates)
    coordinates = getattr(model, "solver_coordinates", None) if unique else None
    if coordinates is not None:
        run, rho = _solve_in_coordinates(F, x_start, coordinates(), solver, default_solver, kw, notes, jac,
                                         max(float(rtol), float(atol)))
    else:
        run, rho = _solve_from(F, x_start, solver, default_solver, unique, kw, notes, jac, chord)
    if unique and run.status is not Status.CONVERGED and isinstance(start, str):
        run, rho = _retry_other_start(model, F, start, run, rho, solver, default_solver, kw, notes, jac)
    if run.status is Status.CONVERGED:
        _polish(F, run, jac, tolerance, lower, upper, outside, getattr(model, "project", None) if is_model else None)
    if is_model and run.status is Status.CONVERGED:
        notes.extend(_rounding_notes(model, run.x, float(rtol), state_names))
    return _make_solution(model if is_model else None, run, state_names, start, rho, notes)


def _retry_other_start(model, F, start, run, rho, solver, default_solver, kw, notes, jac):
    """Every start reaches the same fixed point of a unique-fixed-point (convex) model, so a
    failure from one start is the iteration's, not the problem's: try the other start before
    reporting it. Returns the run to report."""
    other = "informed" if start == "uninformed" else "uninformed"
    notes2 = []
    run2, rho2 = _solve_from(F, resolve_start(model, other), solver, default_solver, True, kw, notes2, jac)
    run2.nev += run.nev
    run2.it += run.it
    if run2.status is Status.CONVERGED:
        notes.extend(notes2)
        notes.append(f"the solve from {start!r} ended {run.status.value} ({run.info}); the model has a unique "
                     f"fixed point, which the solve from {other!r} reached")
        return run2, rho2
    run.nev = run2.nev
    notes.append(f"the solve from {other!r} (the model has a unique fixed point) ended {run2.status.value} too")
    return run, rho


def _rounding_notes(model, x, rtol, names):
    """Say so when an entry's distance to an absorbing boundary (``residual_scale``) is so small
    that the rounding of the entry itself, not ``rtol``, limits its relative accuracy (``rho -
    q = 2e-12`` next to ``q ~ 1`` is known to about 1e-4): the observables that depend on that
    distance (the MSE near perfect recovery) are then good to that accuracy only."""
    scale = getattr(model, "residual_scale", None)
    if scale is None:
        return []
    s = np.abs(np.asarray(scale(x), dtype=float).reshape(x.shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = _ROUNDING * np.abs(x) / s
    return [f"{names[i]}: its distance to the boundary, {s[i]:.3g}, is resolved to about {rel[i]:.1g} relative only "
            f"(the rounding of {names[i]} itself), not to rtol" for i in np.flatnonzero((s > 0) & (rel > 10 * rtol))]


def _solve_in_coordinates(F, x_start, coordinates, solver, default_solver, kw, notes, jac, rtol):
    """A unique-fixed-point model's solve through its ``solver_coordinates``: iterate (and
    extrapolate) the conjugate map ``z -> to_z(F(to_x(z)))``, then finish in ``x``, where the
    convergence test on the true residual is made as always.

    For a convex problem the coordinates cannot change the answer (there is one fixed point), but
    they can change the speed by orders of magnitude: max-margin ERM approaches its fixed point
    along ``q ~ alpha^2`` with the overlap within 1e-5 of perfect alignment, where the map in
    ``(m, q, V)`` is stiff and nonlinear on the scale of one step, and nearly linear in
    ``(atanh(m / sqrt(rho q)), log q, log V)``. If the iteration in ``z`` fails, the solve starts
    again in ``x`` from the start (so the coordinates never make a solve fail).
    """
    to_z, to_x = coordinates
    z0 = np.asarray(to_z(x_start), dtype=float)
    first = None
    if np.all(np.isfinite(z0)):
        def Fz(z):
            with np.errstate(all="ignore"):
                return np.asarray(to_z(F(to_x(z))), dtype=float)

        # |dz| <= rtol in logarithmic coordinates is |dx| <= rtol |x|: about the criterion in x,
        # which is checked at the end anyway
        kw_z = dict(kw, tolerance=make_tolerance(max(0.5 * rtol, 1e-15), 0.0), lower=np.full(z0.size, -np.inf),
                    upper=np.full(z0.size, np.inf), names=tuple(f"z{i}" for i in range(z0.size)),
                    outside=None if kw["outside"] is None else (lambda z: kw["outside"](to_x(z))))
        first, _ = _solve_from(Fz, z0, solver, default_solver, True, kw_z, [], None)
        if first.status is Status.CONVERGED:
            x1 = np.asarray(to_x(first.x), dtype=float)
            lo, hi = kw["lower"], kw["upper"]
            if np.all(np.isfinite(x1)) and np.all(x1 >= lo) and np.all(x1 <= hi):
                run, rho = _solve_from(F, x1, solver, default_solver, True, kw, notes, jac)
                run.nev += first.nev
                run.it += first.it
                if run.status is Status.CONVERGED and math.isnan(run.error) and first.secant_point is not None:
                    # (finished at its first evaluation, without a history of its own: the error
                    # by the iteration in z's secant model, mapped to x)
                    with np.errstate(all="ignore"):
                        x_s = np.asarray(to_x(first.secant_point), dtype=float)
                    est = float(np.max(np.abs(x_s - run.x) / kw["tolerance"](run.x)))
                    run.error = est if math.isfinite(est) else math.nan
                if run.status is Status.CONVERGED:
                    notes.append(f"solved in the model's solver coordinates ({first.it} iterations), finished in "
                                 "the state's")
                    return run, rho
    run, rho = _solve_from(F, x_start, solver, default_solver, True, kw, notes, jac)
    if first is not None:
        run.nev += first.nev
        notes.append(f"the iteration in the model's solver coordinates ended {first.status.value}; solved in the "
                     "state's own")
    return run, rho


#: the default solver's retries after a failure: Anderson with these dampings, in turn (a map whose
#: Jacobian has an eigenvalue near -9, as l1-penalised ERM with few samples, needs 0.9)
_RETRY_DAMPINGS = (0.5, 0.9)


def _solve_from(F, x_start, solver, default_solver, unique, kw, notes, jac, chord=None):
    """One start: the solver, and for the default solver a damped retry (see below). ``chord``:
    the Jacobian guess of the first run (:func:`_solve_near`)."""
    run, rho = _run_solver(F, x_start, solver, unique, kw, notes, jac, chord)
    if default_solver and run.status in (Status.STAGNATED, Status.MAX_ITER, Status.NONFINITE):
        # Plain undamped iteration can cycle, or overshoot into a region where the map is not
        # defined (a Jacobian eigenvalue below -1: a property of the iteration scheme, not of the
        # fixed point, which damping leaves unchanged); the default solver then retries once with
        # damping, as a user would be advised to (more damping if that fails too). After a
        # non-finite value a retry counts only if it converges clear of the domain's boundary: a
        # model may return NaN on purpose where it has no answer, and a damped approach toward such
        # a point on the boundary must not be passed off as a fixed point.
        first_nonfinite = run.status is Status.NONFINITE
        for damping in _RETRY_DAMPINGS:
            retry = Anderson(damping=damping)
            notes2 = []
            run2, rho2 = _run_solver(F, x_start, retry, unique, kw, notes2, jac)
            run2.nev += run.nev
            ok = run2.status is Status.CONVERGED and (not first_nonfinite or
                                                      _clear_of_bounds(run2, kw["lower"], kw["upper"], kw["tolerance"]))
            last = damping == _RETRY_DAMPINGS[-1]
            if ok or (last and not first_nonfinite):
                notes.extend(notes2)
                notes.append(f"the default solver ended {run.status.value}; retried with {retry!r}")
                return run2, rho2
            run.nev = run2.nev
            if last:
                notes.append(f"retries with damping {', '.join(map(str, _RETRY_DAMPINGS))} ended {run2.status.value} "
                             "(or at the boundary of the domain) and were not taken")
    return run, rho


def _clear_of_bounds(run, lower, upper, tolerance):
    """Converged, with every entry farther than 1e3 tolerances from its finite bounds."""
    if run.status is not Status.CONVERGED:
        return False
    margin = 1e3 * tolerance(run.x)
    return bool(np.all(run.x - lower > margin) and np.all(upper - run.x > margin))


def _run_solver(F, x_start, solver, unique, kw, notes, jac=None, chord=None):
    """One solve with one solver object: ``(run, spectral radius or NaN)``."""
    if isinstance(solver, Anderson):
        memory, damping, reg, safeguard, adaptive = solver.memory, solver.damping, solver.reg, solver.safeguard, False
        check = solver.check_stability and memory > 0 and not unique
    else:
        memory, damping, reg, safeguard, adaptive = 0, solver.damping, 0.0, 2.0, solver.adaptive
        check = False
    common = dict(damping=damping, reg=reg, safeguard=safeguard, adaptive=adaptive,
                  patience=max(1000, kw["max_iter"] // 4), **kw)
    if memory > 0 and x_start.size <= 64:
        common.update(jacobian=_jacobian_for(F, jac, kw["lower"], kw["upper"], kw.get("outside")))
    run = _iterate(F, x_start, memory=memory, chord=chord if memory > 0 else None, **common)
    rho = math.nan
    if check and run.status is Status.CONVERGED and run.extrapolated and x_start.size <= 64:
        rho, run = _escape_unstable(F, x_start, run, memory, common, notes, jac)
    return run, rho


def _jacobian_for(F, jac, lower, upper, outside=None):
    """``jacobian(x, fx) -> (J, evaluations, exact)`` for the driver loop's unstable-direction
    fast-forward: the model's own Jacobian (``exact``), or central differences (``2 n``
    evaluations) that stay inside the domain. (Forward differences, then with step ``1.5e-8
    max(|x_i|, 1e-2)``: next to a saddle at ``theta = 0`` that is ``1.5e-10``, and the map's own
    error, ~1e-11 in ``V ~ 25`` for attention at 8 nodes, made a Jacobian whose largest
    eigenvalue was 2.07 where the plain steps grew by 1.01; the jump needs the unstable
    eigenvector, not only a verdict.)"""

    def jacobian(x, fx):
        J = _own_jacobian(jac, x)
        if J is not None:
            return J, 0, True
        return (*numerical_jacobian(F, x, lower, upper, f0=fx, order=2, outside=outside), False)

    return jacobian


def _jacobian_at(F, jac, run, lower, upper, damping, outside=None):
    """``(J, rho)``: the map's Jacobian at a run's point and the spectral radius of the damped
    map there; the model's own Jacobian when it has one. Counts the evaluations that finite
    differences take.

    Forward differences decide stability (``n`` evaluations); a verdict of instability is
    confirmed by central differences (``2 n`` more, at an unstable point only) before the solver
    acts on it. A map evaluated by a rule with internal tolerances is not smooth below them, and
    its forward differences can see an instability that is not there: attention at 8 nodes,
    ``omega = 0.36``, ``alpha = 1.23``, semantic point (``m ~ 1e-10``) had a radius of 3.97 from
    forward differences with step ``1.5e-8`` (1.02 on a second try), 0.9317 from central ones;
    the escape it set off cost 1288 evaluations and came back to the same point."""
    J = _own_jacobian(jac, run.x)
    if J is not None:
        run.jacobian = (run.x, J)
        return J, spectral_radius(J, damping)
    J, nev = numerical_jacobian(F, run.x, lower, upper, f0=run.fx, outside=outside)
    run.nev += nev
    rho = spectral_radius(J, damping)
    if rho > 1.0 + 1e-6:
        J, nev = numerical_jacobian(F, run.x, lower, upper, f0=run.fx, order=2, outside=outside)
        run.nev += nev
        rho = spectral_radius(J, damping)
    run.jacobian = (run.x, J)
    return J, rho


def _radius_at(F, jac, run, lower, upper, damping, outside=None):
    """Spectral radius of the damped map's Jacobian at a run's point (:func:`_jacobian_at`)."""
    return _jacobian_at(F, jac, run, lower, upper, damping, outside)[1]


#: relative accuracy of a Jacobian: finite differences (forward, :func:`numerical_jacobian`), a
#: model's own (exact, or semi-analytic to ~1e-9 as ``glm_bayes``'s; a model returns ``None``
#: where it has only finite differences, and the engine takes its own)
_JACOBIAN_ERROR = {"differences": 1e-5, "model": 1e-8}


def _side_of_saddle(J, x, fx, exact):
    """Where plain iteration that met the tolerance at ``x``, next to a saddle, goes on from there.

    In the linear regime about the saddle ``x_s`` a plain step is ``r = F(x) - x = (J - I)(x -
    x_s)``, so with ``l`` the left eigenvector of the eigenvalue ``lam > 1`` (real, the largest) and
    ``v`` its right eigenvector, the component of ``x - x_s`` along ``v`` is ``c = l.r / ((lam -
    1) l.v)``: plain iteration continued past the tolerance multiplies it by ``lam`` per step (by
    ``1 + (1 - damping)(lam - 1)`` when damped) and leaves along ``sign(c) v``. Returns ``(x_s,
    direction)`` with ``direction`` the unit vector along which it leaves, or ``None`` when that
    is not determined: the leading eigenvalue is not real (an oscillatory instability), or
    ``l.r`` is within the Jacobian's error and the rounding of ``r`` (the start lay on the
    saddle's stable manifold to rounding, e.g. on an invariant subspace; plain iteration then
    stays)."""
    mode = _leading_mode(J)
    if mode is None:
        return None
    lam_k, l, v, lv = mode
    r = fx - x
    lr = float(l @ r)
    eps = np.finfo(float).eps
    noise = 64.0 * eps * float(np.abs(l) @ (np.abs(x) + np.abs(fx)))
    err = _JACOBIAN_ERROR["model" if exact else "differences"] * float(np.linalg.norm(r))
    if not abs(lr) > 10.0 * (noise + err):
        return None
    c = lr / ((lam_k - 1.0) * lv)
    return x - c * v, math.copysign(1.0, c) * v


def _escape_unstable(F, x_start, run, memory, common, notes, jac=None):
    """Check the stability of an accelerated solve's fixed point under plain iteration.

    If plain (damped) iteration would leave the point, start again from the start, iterating
    plainly (with the geometric fast-forward along a steady escape) until plain iteration
    converges steadily, then accelerate with extrapolation kept on the start's side of the
    unstable point. Should acceleration land on a point plain iteration leaves once more, the
    solve is finished by plain iteration alone from the start: the definition itself, however
    slow (and if plain iteration does not converge, neither does the solve). An escape run that
    never accelerated nor jumped (plain iteration converged, though not steadily enough to hand
    over, all the way to the tolerance) was that plain iteration already, and is not repeated;
    one that did goes on plainly from where its plain phase handed over, which plain iteration
    from the start passes step for step. Should plain iteration meet the tolerance at a saddle,
    its last step tells the side it leaves by, and the solve goes on from there
    (:func:`_past_the_saddle`).
    """
    damping, lower, upper = common["damping"], common["lower"], common["upper"]
    rho = _radius_at(F, jac, run, lower, upper, damping, common.get("outside"))
    if math.isnan(rho):
        notes.append("the stability of the fixed point under plain iteration could not be checked (its Jacobian "
                     "is not finite there)")
        return rho, run
    if rho <= 1.0 + 1e-6:
        return rho, run
    x_bad = run.x.copy()
    notes.append(f"acceleration first reached a point plain iteration leaves (spectral radius {rho:.6g}); "
                 "escaped it by plain iteration from the start")
    fresh = _Run()
    fresh.nev, fresh.it, fresh.residuals = run.nev, run.it, run.residuals
    direction = x_start - x_bad
    norm = float(np.linalg.norm(direction))
    taboo = (x_bad, direction / norm) if norm > 0 else None
    fresh = _iterate(F, x_start, memory=memory, run=fresh, taboo=taboo, plain_first=True, **common)
    if fresh.status is not Status.CONVERGED:
        return math.nan, fresh
    J, rho = _jacobian_at(F, jac, fresh, lower, upper, damping, common.get("outside"))
    if rho <= 1.0 + 1e-6:
        return rho, fresh
    if fresh.extrapolated or fresh.jumped:
        notes.append(f"acceleration reached a point plain iteration leaves again (spectral radius {rho:.6g}); "
                     "finished by plain iteration alone")
        last = _Run()
        last.nev, last.it, last.residuals = fresh.nev, fresh.it, fresh.residuals
        # from where the escape run's plain phase handed over to acceleration: plain iteration
        # from the start passes there step for step (the same damped steps), so the definition
        # is not paid for twice
        x_from = fresh.plain_end if fresh.plain_end is not None else x_start
        # (the slow approach to the saddle, whose Jacobian is known, by its linear model: about
        # 300 plain steps at a point of the attention diagram became 4 evaluations)
        last = _iterate(F, x_from, memory=0, run=last, fast_forward=False, saddle=(_model_saddle(fresh, J), J),
                        **common)
        J, rho = _jacobian_at(F, jac, last, lower, upper, damping, common.get("outside")) \
            if last.status is Status.CONVERGED else (None, math.nan)
    else:
        # the escape run never accelerated: it was plain iteration from the start throughout,
        # step for step what the run below would repeat (564 evaluations at a point of the
        # attention diagram), so it is the definition's answer already
        notes.append(f"plain iteration from the start converged to a point it leaves (spectral radius {rho:.6g})")
        last = fresh
    if last.status is Status.CONVERGED:
        if rho > 1.0 + 1e-6:
            # plain iteration itself stopped at a saddle: the start's component along the unstable
            # direction was still below the tolerance. It grows like rho^k, so when the last
            # step tells its sign, go on along that side as plain iteration would
            on = _past_the_saddle(F, J, last, memory, common, notes, jac, rho)
            if on is not None:
                return on
            notes.append(f"the point reached is unstable under plain iteration (spectral radius {rho:.6g}): plain "
                         "iteration met the tolerance before the start's perturbation along the unstable direction "
                         "grew, and its last step has no component along that direction that the Jacobian's accuracy "
                         "and the rounding resolve (a start on, or within rounding of, the saddle's stable manifold, "
                         "e.g. an invariant subspace); a start perturbed along that direction leaves it")
    return rho, last


def _past_the_saddle(F, J, last, memory, common, notes, jac, rho):
    """Continue plain iteration that met the tolerance at a saddle (:func:`_side_of_saddle`):
    from the saddle displaced by ``1e-6 max(1, |x|)`` along the side the last step leaves it by,
    iterating as after an escape (plain first, acceleration kept on that side). Returns ``(rho,
    run)`` when that converges to a point plain iteration does not leave, else ``None``."""
    lower, upper, damping = common["lower"], common["upper"], common["damping"]
    side = _side_of_saddle(J, last.x, last.fx, _own_jacobian(jac, last.x) is not None)
    if side is None:
        return None
    x_s, direction = side
    outside = common.get("outside")
    delta = 1e-6 * max(1.0, float(np.max(np.abs(last.x))))
    for _ in range(20):
        x_e = x_s + delta * direction
        if np.all(x_e > lower) and np.all(x_e < upper) and (outside is None or outside(x_e) is None):
            break
        delta *= 0.5
    else:
        return None
    on = _Run()
    on.nev, on.it, on.residuals = last.nev, last.it, last.residuals
    on = _iterate(F, x_e, memory=memory, run=on, taboo=(x_s, direction), plain_first=True, **common)
    rho_on = _radius_at(F, jac, on, lower, upper, damping, outside) if on.status is Status.CONVERGED else math.nan
    if not rho_on <= 1.0 + 1e-6:
        last.nev = on.nev  # (the evaluations spent count, whatever is returned)
        return None
    notes.append(f"plain iteration from the start met the tolerance at a saddle (spectral radius {rho:.6g}) with its "
                 "last step along the unstable direction: it leaves the saddle on that side, so the solve went on "
                 "from there")
    return rho_on, on


def _make_solution(model, run, names, start, rho, notes) -> Solution:
    status = run.status
    x = run.x
    observables = {}
    extra = []
    if model is not None and np.all(np.isfinite(x)):
        try:
            observables = {k: float(v) for k, v in model.observables(x).items()}
        except (ArithmeticError, ValueError) as exc:
            if status is Status.CONVERGED:
                raise
            extra.append(f"observables could not be evaluated at the last state ({exc})")
    if status is Status.CONVERGED:
        message = (f"converged in {run.it} iterations ({run.nev} evaluations), scaled residual {run.r:.3g}")
    else:
        state = ", ".join(f"{n}={v:.6g}" for n, v in zip(names, x))
        message = f"{run.info} (last state: {state}). {_HINTS[status]}"
        explain = getattr(model, "explain", None) if model is not None else None
        if explain is not None:
            try:
                why = explain(x)
            except Exception as exc:  # the diagnosis must never hide the failure itself
                why = f"(the model's explain() failed: {exc})"
            if why:
                message = f"{why} {message}"
    if status is Status.CONVERGED and run.error > _ERROR_NOTE:
        notes.append(f"the error is estimated at {run.error:.3g} tolerances, though the residual meets them: the map "
                     "contracts slowly here (near a critical point, or creeping toward a boundary); tighten atol and "
                     "rtol by that factor for the stated accuracy")
    if notes:
        message += " [" + "; ".join(notes) + "]"
    if extra:
        message += " [" + "; ".join(extra) + "]"
    return Solution(
        x=x, names=tuple(names), converged=status is Status.CONVERGED, status=status, message=message,
        iterations=run.it, evaluations=run.nev, residual=float(run.r), residuals=np.asarray(run.residuals),
        observables=observables, spectral_radius=rho, start=start if isinstance(start, str) else "array",
        error_estimate=float(run.error) if status is Status.CONVERGED else math.nan,
        jacobian=run.jacobian[1] if status is Status.CONVERGED and run.jacobian is not None else None,
    )
