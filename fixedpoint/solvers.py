"""Fixed-point solvers: ``Damped``, ``Anderson`` and the one driver, :func:`solve`.

Convergence is judged on the true residual of the map at the current point,

    r(x) = max_i |F(x)_i - x_i| / (atol + rtol |x_i|)  <=  1,

never on the size of a damped or extrapolated step (a heavily damped iteration takes tiny
steps long before it is near a fixed point).

Anderson mixing (type II, Walker and Ni, SIAM J. Numer. Anal. 49, 2011) with three safeguards:

1. the least-squares problem for the mixing coefficients is Tikhonov-regularised and the history
   is restarted when it is ill-conditioned;
2. an extrapolated iterate that leaves the model's domain (``bounds()``) or lands on its
   boundary is replaced by the plain damped step, and one whose residual grows by more than
   ``safeguard`` times is rejected in favour of the plain damped step from the previous point;
3. a point an accelerated solve converges to is checked for linear stability under plain
   (damped) iteration. Extrapolation is a secant method and, like Newton's method, also finds
   fixed points that plain iteration leaves (an unstable trivial point, the unstable middle
   branch of a bistable region). Such a point is escaped by plain iteration from the start,
   as an algorithm would, and acceleration resumes once it is left behind.

Together these make the accelerated solve reach the same fixed point as plain iteration from
the same start (DESIGN.md), only with far fewer evaluations of the map.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from .results import Solution, Status

__all__ = ["Damped", "Anderson", "solve", "numerical_jacobian", "resolve_start", "model_bounds"]


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
        if not (isinstance(self.damping, (int, float)) and 0.0 <= self.damping < 1.0):
            raise ValueError(f"damping must be in [0, 1), got {self.damping!r}")


@dataclass(frozen=True)
class Anderson:
    """Anderson mixing with safeguards (see the module docstring).

    Parameters
    ----------
    memory : int >= 0
        Number of past differences kept; 0 gives exactly ``Damped(damping)``.
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
        if not (isinstance(self.damping, (int, float)) and 0.0 <= self.damping < 1.0):
            raise ValueError(f"damping must be in [0, 1), got {self.damping!r}")
        if not (self.reg >= 0 and math.isfinite(self.reg)):
            raise ValueError(f"reg must be finite and non-negative, got {self.reg!r}")
        if not self.safeguard > 1:
            raise ValueError(f"safeguard must be > 1, got {self.safeguard!r}")


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


def resolve_start(model, start):
    """The start vector: a model's ``initial_state(start)`` or an explicit array."""
    if isinstance(start, str):
        if start not in ("uninformed", "informed"):
            raise ValueError(f"start must be 'uninformed', 'informed' or an array, got {start!r}")
        return np.array(model.initial_state(start), dtype=float).ravel()
    x0 = np.array(start, dtype=float).ravel()
    return x0


def numerical_jacobian(F, x, lower=None, upper=None, f0=None):
    """Forward-difference Jacobian of ``F`` at ``x``, stepping toward the interior of the box.

    Returns ``(J, evaluations)``. The step is ``sqrt(eps) * max(|x_i|, 1e-2)``: relative accuracy
    about 1e-7, ample for stability decisions.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    if f0 is None:
        f0 = np.asarray(F(x), dtype=float)
        nev = 1
    else:
        nev = 0
    J = np.empty((n, n))
    for j in range(n):
        h = 1.5e-8 * max(abs(x[j]), 1e-2)
        if upper is not None and x[j] + h > upper[j]:
            h = -h
        xp = x.copy()
        xp[j] += h
        if lower is not None and xp[j] < lower[j]:
            xp[j] = x[j] + abs(h)
            h = abs(h)
        J[:, j] = (np.asarray(F(xp), dtype=float) - f0) / h
        nev += 1
    return J, nev


def _spectral_radius(J, damping=0.0):
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

    __slots__ = ("x", "fx", "r", "it", "nev", "residuals", "status", "info", "extrapolated")

    def __init__(self):
        self.residuals = []
        self.nev = 0
        self.it = 0
        self.status = None
        self.info = ""
        self.extrapolated = False


def _iterate(F, x0, *, memory, damping, reg, safeguard, adaptive, atol, rtol, max_iter, lower, upper,
             names, patience, run=None, leave=None, taboo=None):
    """The single driver loop.

    Iterates from ``x0`` until the scaled residual is <= 1 or the budget of ``max_iter``
    iterations (shared through ``run``) is spent. ``leave(x)`` returning True stops the run early
    with status None (used to hand over from plain iteration back to acceleration).
    """
    run = run or _Run()
    n = x0.size
    has_lo = np.isfinite(lower)
    has_hi = np.isfinite(upper)
    bounded = bool(has_lo.any() or has_hi.any())
    # tolerance for rounding at the boundary of the domain; margin for "lands on the boundary"
    slack_lo = 1e-12 * (1.0 + np.abs(np.where(has_lo, lower, 0.0)))
    slack_hi = 1e-12 * (1.0 + np.abs(np.where(has_hi, upper, 0.0)))

    x = x0.copy()
    fx = np.asarray(F(x), dtype=float)
    run.nev += 1
    dx_hist, df_hist = deque(), deque()
    prev = None  # (x, fx, g, r) of the previous accepted point
    best, best_it = math.inf, run.it
    damp = damping
    calm = 0
    flips, rising = 0, False
    cooldown, wait = 0, 0
    plain_until = None
    stall = 2 * memory + 5
    from_extrapolation = False

    while True:
        # ---- judge the map's value at x
        if fx.shape != x.shape:
            raise ValueError(f"the map returned shape {fx.shape} for a state of shape {x.shape}")
        if not np.all(np.isfinite(fx)):
            if from_extrapolation and prev is not None:
                # an extrapolated point where the map fails: go back and take the plain step
                x, fx, g, r = prev
                dx_hist.clear(); df_hist.clear()
                x_new = damp * x + (1.0 - damp) * fx
                from_extrapolation = False
                x, fx = x_new, np.asarray(F(x_new), dtype=float)
                run.nev += 1
                continue
            bad = [names[i] for i in np.flatnonzero(~np.isfinite(fx))]
            run.status, run.info = Status.NONFINITE, f"the map returned a non-finite value for {', '.join(bad)} at iteration {run.it}"
            run.x, run.fx, run.r = x, fx, math.nan
            return run
        if bounded:
            below = has_lo & (fx < lower - slack_lo)
            above = has_hi & (fx > upper + slack_hi)
            if below.any() or above.any():
                i = int(np.flatnonzero(below | above)[0])
                run.status = Status.OUT_OF_DOMAIN
                run.info = (f"the map left its domain at iteration {run.it}: {names[i]} = {fx[i]:.6g} outside "
                            f"[{lower[i]:.6g}, {upper[i]:.6g}]")
                run.x, run.fx, run.r = x, fx, math.nan
                return run
            fx = np.clip(fx, lower, upper)  # within rounding of the bounds
        g = fx - x
        scale = atol + rtol * np.abs(x)
        r = float(np.max(np.abs(g) / scale))

        # ---- safeguard: an extrapolated step that made the residual grow is undone
        if from_extrapolation and prev is not None and r > safeguard * prev[3]:
            x, fx, g, r = prev
            dx_hist.clear(); df_hist.clear()
            from_extrapolation = False
            # plain steps before extrapolating again, more after each consecutive rejection
            # (near a fold's ghost the secant keeps aiming at a root that does not exist)
            cooldown = min(2 * cooldown + 1, 64)
            wait = cooldown
            x_new = damp * x + (1.0 - damp) * fx
            x, fx = x_new, np.asarray(F(x_new), dtype=float)
            run.nev += 1
            continue

        run.residuals.append(r)
        run.x, run.fx, run.r = x, fx, r
        if r <= 1.0:
            run.status = Status.CONVERGED
            return run
        if run.it >= max_iter:
            run.status = Status.MAX_ITER
            run.info = f"no convergence in {max_iter} iterations (scaled residual {r:.3g} > 1)"
            return run
        if prev is not None:
            up = r > prev[3]
            if up != rising:
                flips += 1
            rising = up
        if plain_until is not None and r < plain_until:
            plain_until = None  # well past the stall: accelerate again, with a fresh history
            dx_hist.clear(); df_hist.clear()
        if r < best:
            best, best_it, flips = r, run.it, 0
        elif memory > 0 and plain_until is None and run.it - best_it > stall:
            # extrapolation has stopped making progress (typically the ghost of a fold, a local
            # minimum of |F(x) - x| that secant steps are drawn to): iterate plainly, as the
            # algorithm would, until the residual is well below its best, then accelerate again
            plain_until = 0.1 * best
            dx_hist.clear(); df_hist.clear()
        elif run.it - best_it > patience and flips > patience // 4:
            # no new best for long, and the residual keeps going up and down (a cycle or a
            # noise floor); a monotone rise (escaping an unstable point) or slow monotone
            # decay (critical slowing down) is not stagnation
            run.status = Status.STAGNATED
            run.info = (f"the residual has not decreased for {patience} iterations "
                        f"(best scaled residual {best:.3g} > 1)")
            return run
        if leave is not None and leave(x):
            run.status = None
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

        # ---- next iterate
        x_new = damp * x + (1.0 - damp) * fx
        from_extrapolation = False
        if memory > 0 and plain_until is None:
            if prev is not None:
                dx_hist.append(x - prev[0])
                df_hist.append(fx - prev[1])
                if len(dx_hist) > memory:
                    dx_hist.popleft(); df_hist.popleft()
            if wait > 0:
                wait -= 1
            elif dx_hist:
                w = 1.0 / scale  # weight the least squares like the convergence criterion
                DX = np.array(dx_hist).T
                DF = np.array(df_hist).T
                DG = (DF - DX) * w[:, None]
                A = DG.T @ DG
                lam = reg * np.trace(A)
                A[np.diag_indices_from(A)] += lam
                if np.linalg.cond(A) > 1e13:
                    # ill-conditioned history: restart from the newest difference only
                    while len(dx_hist) > 1:
                        dx_hist.popleft(); df_hist.popleft()
                    DX = np.array(dx_hist).T
                    DF = np.array(df_hist).T
                    DG = (DF - DX) * w[:, None]
                    A = DG.T @ DG
                    A[np.diag_indices_from(A)] += reg * np.trace(A) + 1e-300
                try:
                    gamma = np.linalg.solve(A, DG.T @ (g * w))
                except np.linalg.LinAlgError:
                    gamma = None
                if gamma is not None and np.all(np.isfinite(gamma)):
                    cand = damp * (x - DX @ gamma) + (1.0 - damp) * (fx - DF @ gamma)
                    ok = bool(np.all(np.isfinite(cand)))
                    if ok and bounded:
                        # strictly inside: extrapolation must never reach (or cross) a boundary
                        ok = not (np.any(has_lo & (cand <= lower + slack_lo))
                                  or np.any(has_hi & (cand >= upper - slack_hi)))
                    if ok and taboo is not None:
                        ok = float(np.dot(cand - taboo[0], taboo[1])) >= 0.5 * float(np.dot(x - taboo[0], taboo[1]))
                    if ok:
                        x_new = cand
                        from_extrapolation = True
                        run.extrapolated = True
                        cooldown //= 2
        prev = (x, fx, g, r)
        x = x_new
        fx = np.asarray(F(x), dtype=float)
        run.nev += 1
        run.it += 1


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
        Convergence when ``max |F(x) - x| / (atol + rtol |x|) <= 1``.
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
    solver = Anderson() if solver is None else solver
    if not isinstance(solver, (Anderson, Damped)):
        raise ValueError(f"solver must be fixedpoint.Anderson(...) or fixedpoint.Damped(...), got {solver!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    for nm, v in (("atol", atol), ("rtol", rtol)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{nm} must be a finite non-negative number, got {v!r}")
    if atol == 0 and rtol == 0:
        raise ValueError("atol and rtol cannot both be zero")

    is_model = hasattr(model, "update") and hasattr(model, "state_names")
    if is_model:
        F = model.update
        if x0 is not None:
            start = x0
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
    if not np.all(np.isfinite(x_start)):
        raise ValueError(f"the start vector must be finite, got {x_start}")
    if np.any(x_start < lower) or np.any(x_start > upper):
        raise ValueError(f"the start vector {x_start} is outside the domain [{lower}, {upper}]")

    if isinstance(solver, Anderson):
        memory, damping, reg, safeguard, adaptive = solver.memory, solver.damping, solver.reg, solver.safeguard, False
        check = solver.check_stability and memory > 0
    else:
        memory, damping, reg, safeguard, adaptive = 0, solver.damping, 0.0, 2.0, solver.adaptive
        check = False
    patience = max(500, max_iter // 20)
    common = dict(damping=damping, reg=reg, safeguard=safeguard, adaptive=adaptive, atol=atol, rtol=rtol,
                  max_iter=max_iter, lower=lower, upper=upper, names=state_names, patience=patience)

    run = _iterate(F, x_start, memory=memory, **common)
    rho = math.nan
    notes = []
    if check and run.status is Status.CONVERGED and run.extrapolated and x_start.size <= 64:
        rho, run = _escape_unstable(F, x_start, run, memory, common, notes)

    return _make_solution(model if is_model else None, run, state_names, start, rho, notes, solver)


def _escape_unstable(F, x_start, run, memory, common, notes):
    """Check the stability of an accelerated solve's fixed point under plain iteration.

    If plain (damped) iteration would leave the point, iterate plainly from the start until the
    trajectory is well away from it (or converges elsewhere), then accelerate again; a second
    acceleration is kept out of a neighbourhood of the unstable point.
    """
    damping, lower, upper = common["damping"], common["lower"], common["upper"]
    J, nev = numerical_jacobian(F, run.x, lower, upper, f0=run.fx)
    run.nev += nev
    rho = _spectral_radius(J, damping)
    if rho <= 1.0 + 1e-6:
        return rho, run
    x_bad = run.x.copy()
    d0 = float(np.max(np.abs(x_start - x_bad)))
    escape = max(10.0 * d0, 1e-3 * (1.0 + float(np.max(np.abs(x_bad)))))
    notes.append(f"acceleration first reached a point plain iteration leaves (spectral radius {rho:.6g}); "
                 "escaped it by plain iteration from the start")
    fresh = _Run()
    fresh.nev, fresh.it = run.nev, run.it

    def far(x):
        return float(np.max(np.abs(x - x_bad))) > escape

    fresh = _iterate(F, x_start, memory=0, run=fresh, leave=far, **common)
    if fresh.status is None:
        # left the unstable point behind: accelerate again, never extrapolating back near it
        direction = fresh.x - x_bad
        direction /= np.linalg.norm(direction)
        fresh = _iterate(F, fresh.x, memory=memory, run=fresh, taboo=(x_bad, direction), **common)
    if fresh.status is Status.CONVERGED:
        J, nev = numerical_jacobian(F, fresh.x, lower, upper, f0=fresh.fx)
        fresh.nev += nev
        rho = _spectral_radius(J, damping)
    else:
        rho = math.nan
    return rho, fresh


def _make_solution(model, run, names, start, rho, notes, solver) -> Solution:
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
    if notes:
        message += " [" + "; ".join(notes) + "]"
    if extra:
        message += " [" + "; ".join(extra) + "]"
    return Solution(
        x=x, names=tuple(names), converged=status is Status.CONVERGED, status=status, message=message,
        iterations=run.it, evaluations=run.nev, residual=float(run.r), residuals=np.asarray(run.residuals),
        observables=observables, spectral_radius=rho, start=start if isinstance(start, str) else "array",
    )
