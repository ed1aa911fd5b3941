"""``sweep``: one branch of fixed points along a parameter.

Semantics (DESIGN.md): at each value, the sweep returns the fixed point that
``solve(model_at_value, start=start)`` reaches there, i.e. the branch an algorithm started that
way follows. Continuation must never change that answer, only make it cheaper. How:

* a model declaring ``unique_fixed_point = True`` (convex problems: every start reaches the same
  point) is continued with warm starts from the previous value plus a secant (linear)
  predictor, and step refinement (intermediate values) where a warm solve fails;
* any other model is continued with *checked* warm starts (each begins with chord Newton steps,
  ``solvers._solve_near``: a guess from another basin could carry a solve there, which the checks
  below catch; the Jacobian is extrapolated from the last two that the branch's
  solves computed for their stability checks: :func:`_predict_jacobian`). A warm start can change the branch
  (inside a hysteresis loop a warm start from the other branch stays on it), so a warm-started
  point is kept only when (1) it is a fixed point plain iteration converges to (spectral radius
  below 1: a symmetric guess can sit exactly on an unstable symmetric point, as a committee's
  non-specialised point past the specialisation transition), (2) it continues the branch
  without a jump, and (3) the cold solve from ``start`` at the last value of its run of warm
  points (at most ``_CHECK_EVERY`` values, and the run ends at the last value and before any
  point that fails (1) or (2)) reaches the same fixed point, or its image under a symmetry the
  model declares (``symmetries()``, :mod:`fixedpoint.symmetry`: the warm point is then kept,
  so that the branch stays one continuous curve, and the message names the symmetry). When (3) fails the start's
  branch has left the continued one inside the run, and the whole run is solved cold. A point
  that fails (1) or (2) is solved cold and starts a new run. So every reported point is the
  cold solve's unless the start's branch leaves the continued branch *and comes back to it*
  between two cold checks; ``warm=False`` solves every value cold (the definition itself).

A failed point is recorded (NaN state, its status and message) and the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import numpy as np

from . import _validate
from .results import Status, Sweep
from .solvers import (Anderson, _solve_near, make_tolerance, model_bounds, model_jacobian, resolve_start, solve,
                      spectral_radius)
from .symmetry import IDENTITY, same_fixed_point

__all__ = ["sweep", "at", "check_param"]


def check_param(model, param: str) -> None:
    """Raise ``ValueError`` unless ``param`` is a field of the model's dataclass.

    The check itself is ``fixedpoint._validate.param``; this name is kept for its importers.
    """
    _validate.param(model, param)


def at(model, **params):
    """The model with some parameters replaced (validated again by the model)."""
    return dataclasses.replace(model, **{k: (float(v) if isinstance(v, (np.floating, np.integer)) else v)
                                         for k, v in params.items()})


def sweep(model, param: str, values, start="uninformed", *, solver=None, atol: float = 1e-10,
          rtol: float = 1e-10, max_iter: int = 10_000, warm: bool | None = None, progress: bool = False) -> Sweep:
    """Follow the fixed point reached from ``start`` along ``param``.

    Parameters
    ----------
    model : Model
        A frozen-dataclass model; ``param`` is one of its fields.
    param : str
    values : array_like
        Parameter values, in the order given (any order is allowed).
    start : {"uninformed", "informed"} or array
    solver, atol, rtol, max_iter
        As in :func:`fixedpoint.solve`.
    warm : bool, optional
        ``True``: unchecked warm-start continuation (only safe when every start reaches the same
        fixed point); ``False``: every value solved cold from ``start``. Default: warm starts
        for a model declaring ``unique_fixed_point``, checked warm starts for any other model
        (each run of warm-started points confirmed by a cold solve from ``start`` at its last
        value, and solved cold when that disagrees: see the module docstring).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Sweep

    Raises
    ------
    ValueError
        For an invalid argument, before anything is solved. A value the model rejects, or a
        point where it raises, is recorded as a failed point with the model's message instead.
    """
    # every argument is checked before the first point: a mistake in the call must raise, not be
    # recorded at each point as if the model had failed there
    _validate.param(model, param)
    values = _validate.values(values, param)
    start = _validate.start(model, start)
    solver = _validate.solver(solver)
    atol, rtol = _validate.tolerances(atol, rtol)
    max_iter = _validate.max_iter(max_iter)
    warm = _validate.flag(warm, "warm", optional=True)
    progress = _validate.flag(progress, "progress")
    unique = bool(getattr(model, "unique_fixed_point", False))
    kw = dict(solver=solver, atol=atol, rtol=rtol, max_iter=max_iter)
    names = tuple(model.state_names)
    n, k = len(values), len(names)
    xs = np.full((n, k), np.nan)
    converged = np.zeros(n, bool)
    status = np.empty(n, dtype=object)
    iterations = np.zeros(n, int)
    evaluations = np.zeros(n, int)
    errors = np.full(n, np.nan)
    messages = []
    obs: dict[str, np.ndarray] = {}

    it = range(n)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"sweep {param}", leave=False)
    if warm is None and not unique:
        outcomes = _checked_points(model, param, values, start, kw, it)
    else:
        outcomes = _each_point(model, param, values, start, unique if warm is None else warm, kw, it)
    for i, out in enumerate(outcomes):
        if isinstance(out, str):
            status[i] = Status.FAILED.value
            messages.append(out)
            continue
        sol = out
        iterations[i], evaluations[i] = sol.iterations, sol.evaluations
        status[i] = sol.status.value
        messages.append(sol.message)
        converged[i] = sol.converged
        if sol.converged:
            xs[i] = sol.x
            errors[i] = sol.error_estimate
        for key, val in sol.observables.items():
            if key not in obs:
                obs[key] = np.full(n, np.nan)
            if sol.converged:
                obs[key][i] = val
    return Sweep(param=param, values=values, x=xs, names=names, converged=converged, status=status.astype(str),
                 iterations=iterations, evaluations=evaluations, observables=obs, messages=tuple(messages),
                 start=start if isinstance(start, str) else "array", model=repr(model), error_estimate=errors)


def _model_at(model, param, v):
    """``(model at v, None)``, or ``(None, message)`` for a value the model rejects."""
    try:
        return at(model, **{param: v}), None
    except ValueError as exc:
        return None, f"invalid parameter: {exc}"


def _guarded(fn, param, v):
    """``fn()``, or the failure message when the model raises at this value (an argument error
    of the engine itself is a bug and propagates)."""
    try:
        return fn()
    except _validate.ArgumentError:
        raise  # the arguments were checked above: the engine passed a bad one, a bug to surface
    except (ArithmeticError, ValueError) as exc:
        return f"the model raised at {param}={v:g}: {exc}"


def _each_point(model, param, values, start, warm, kw, it):
    """Every value cold from ``start`` (``warm=False``), or warm from the previous converged
    point with a predictor (``warm=True``): one outcome (a ``Solution`` or a failure message)
    per value."""
    outcomes = []
    history: list[tuple[float, np.ndarray]] = []  # converged (value, x) for the predictor
    for i in it:
        v = values[i]
        m, why = _model_at(model, param, v)
        if m is None:
            outcomes.append(why)
            continue
        out = _guarded(lambda: _solve_point(m, model, param, v, start, history, warm, kw), param, v)
        outcomes.append(out)
        if not isinstance(out, str) and out.converged:
            history.append((v, out.x))
    return outcomes


#: most values a run of warm-started points spans before a cold solve from the start checks it
_CHECK_EVERY = 20


def _checked_points(model, param, values, start, kw, it):
    """A model without a unique fixed point: warm starts along the branch, each run of them
    checked by a cold solve from ``start`` (see :func:`sweep`). One outcome per value."""
    n = len(values)
    outcomes: list = [None] * n
    models: list = [None] * n
    history: list[tuple[float, np.ndarray]] = []  # the stable branch being continued
    run: list[int] = []  # warm-started values not yet checked by a cold solve
    # the Jacobians the solves along the branch computed, (value, J): the next warm solve's first
    # steps are chord Newton steps with their extrapolation (_solve_near, _predict_jacobian)
    jacobians: list[tuple[float, np.ndarray]] = []

    def cold(i, extra=0):
        out = _guarded(lambda: solve(models[i], start=start, **kw), param, values[i])
        if extra and not isinstance(out, str):
            out = dataclasses.replace(out, evaluations=out.evaluations + extra)
        return out

    def anchor(i, out):
        """The branch continues from a cold solve only where it is a stable fixed point."""
        history.clear()
        if not isinstance(out, str) and out.converged and _radius(models[i], out) < _STABLE:
            history.append((values[i], out.x))
        jacobians.clear()
        if history and out.jacobian is not None:
            jacobians.append((values[i], out.jacobian))

    def check():
        """Cold solve at the run's last value: the same point confirms the run, another one
        (the start's branch left the continued one somewhere in it) solves the run cold."""
        j = run[-1]
        c = cold(j, extra=outcomes[j].evaluations)
        same = _same_point(models[j], outcomes[j], c, kw) if not isinstance(c, str) and c.converged else None
        if same is not None:
            where = f"{param}={values[j]:g}"
            if same == IDENTITY:
                note = (f" [warm-started along the branch; a cold solve from {start!r} at {where} reached the same "
                        "branch]" if isinstance(start, str) else f" [warm-started along the branch, checked at {where}]")
                outcomes[j] = c
            else:
                # the cold solve ended on another member of the orbit: the same solution. The
                # warm point is kept, so that the branch is reported as one continuous curve
                who = repr(start) if isinstance(start, str) else "the start"
                note = (f" [warm-started along the branch; a cold solve from {who} at {where} reached the same "
                        f"branch's image under the model's symmetry ({same})]")
                w = outcomes[j]
                outcomes[j] = dataclasses.replace(w, evaluations=c.evaluations, message=w.message + note)
            for k in run[:-1]:
                w = outcomes[k]
                outcomes[k] = dataclasses.replace(w, message=w.message + note)
        else:
            outcomes[j] = c
            for k in run[:-1]:
                outcomes[k] = cold(k, extra=outcomes[k].evaluations)
            anchor(j, c)
        run.clear()

    for i in it:
        v = values[i]
        m, why = _model_at(model, param, v)
        if m is None:
            if run:
                check()
            outcomes[i] = why
            history.clear()
            continue
        models[i] = m
        extra = 0
        if history:
            J = _predict_jacobian(jacobians, v)
            warm_kw = _warm_budget(kw, outcomes[i - 1] if i > 0 else None)
            # (where the branch is predicted to have lost stability, straight to the cold solve)
            if _predicted_stable(J, warm_kw["solver"]):
                guess = _predict(m, v, history, quadratic=True)
                sol = _guarded(lambda: _solve_near(m, start=guess, jacobian_guess=J, **warm_kw), param, v)
                if _continues(m, sol, history, kw):
                    outcomes[i] = sol
                    run.append(i)
                    history.append((v, sol.x))
                    if sol.jacobian is not None:
                        jacobians.append((v, sol.jacobian))
                    if len(run) >= _CHECK_EVERY or i == n - 1:
                        check()
                    continue
                extra = 0 if isinstance(sol, str) else sol.evaluations
            if run:
                check()
        outcomes[i] = cold(i, extra)
        anchor(i, outcomes[i])
    return outcomes


#: fewest iterations a warm start may take before it is given up for the cold solve
_WARM_ITERATIONS = 60


def _warm_budget(kw, previous):
    """The options of a warm start: the sweep's, with an iteration budget of ``max(60, 4 x`` the
    previous value's iterations ``)`` and no damped retries (an explicit ``Anderson()``).

    A warm start next to the branch converges in a few iterations; one that does not is leaving
    the branch (where it ends, a warm start is carried into the start's escape machinery: 960
    evaluations at a point of the attention diagram, before the cold solve that decides the
    point anyway). Giving it up early changes no answer: a warm point is only ever kept when it
    converges, and the cold solve from ``start`` is the definition."""
    iterations = previous.iterations if previous is not None and not isinstance(previous, str) else 0
    budget = min(kw["max_iter"], max(_WARM_ITERATIONS, 4 * int(iterations)))
    return dict(kw, max_iter=budget, solver=kw["solver"] if kw["solver"] is not None else Anderson())


#: a warm-started point is kept only when plain iteration converges to it at least this fast
#: (spectral radius of the damped map's Jacobian): next to a continuous transition the radius
#: tends to 1 and the verdict is left to the cold solve
_STABLE = 1.0 - 1e-6


def _radius(m, sol):
    """The spectral radius at a solution: the solver's, or computed (plain-iteration solves do
    not compute it)."""
    r = sol.spectral_radius
    if np.isfinite(r):
        return r
    r = spectral_radius(model_jacobian(m, sol.x))
    return r if np.isfinite(r) else np.inf


def _continues(m, sol, history, kw):
    """Whether a warm solve continues the branch of ``history``: converged, to a point plain
    iteration converges to (not an unstable point that the guess happened to lie on, such as
    a symmetric point whose symmetric guess stays symmetric), and without a jump (a step at
    most four times the last one, plus the tolerance)."""
    if isinstance(sol, str) or not sol.converged or _radius(m, sol) >= _STABLE:
        return False
    if len(history) < 2:
        return True
    (_, x0), (_, x1) = history[-2], history[-1]
    tol = make_tolerance(kw["atol"], kw["rtol"], getattr(m, "residual_scale", None))
    return bool(np.all(np.abs(sol.x - x1) <= 4.0 * np.abs(x1 - x0) + 10.0 * tol(x1)))


def _same_point(m, a, b, kw):
    """:func:`fixedpoint.symmetry.same_fixed_point` with the radius a solve reports (or computed):
    ``IDENTITY``, the name of the model's symmetry mapping ``b`` onto ``a``, or ``None``."""
    return same_fixed_point(m, a, b, kw, lambda s: _radius(m, s), screen=None)


def _solve_point(m, base, param, v, start, history, warm, kw):
    """Solve at one value: cold from ``start``, or (unique fixed point) warm with a predictor."""
    if not warm or not history:
        return solve(m, start=start, **kw)
    guess = _predict(m, v, history)
    sol = solve(m, start=guess, **kw)
    if sol.converged:
        return sol
    # step refinement: reach v through intermediate values from the last converged point
    v_prev, x_prev = history[-1]
    x = x_prev
    evaluations = sol.evaluations
    for frac in (0.25, 0.5, 0.75, 1.0):
        mid = v_prev + frac * (v - v_prev)
        sub = solve(at(base, **{param: mid}), start=x, **kw)
        evaluations += sub.evaluations
        if not sub.converged:
            break
        x = sub.x
    else:
        return dataclasses.replace(sub, evaluations=evaluations)
    cold = solve(m, start=start, **kw)  # last resort: the definition itself
    return dataclasses.replace(cold, evaluations=cold.evaluations + evaluations)


def _predict(m, v, history, quadratic=False):
    """Secant predictor from the last two converged points (``quadratic``: the parabola through
    the last three, when they are distinct and ``v`` is no farther than 4 steps), pulled
    strictly inside the bounds."""
    x1 = history[-1][1]
    x = _extrapolate(history, v, quadratic)
    coordinates = getattr(m, "solver_coordinates", None) if getattr(m, "unique_fixed_point", False) else None
    if coordinates is not None and len(history) >= 2:
        # extrapolate in the model's solver coordinates, where the branch is nearly straight:
        # near max-margin the secant in (m, q, V) crosses |m| = sqrt(rho q) (the overlap is
        # within 1e-5 of 1), and a warm start from its clipped value took 14 000 evaluations
        to_z, to_x = coordinates()
        with np.errstate(all="ignore"):
            zs = [(u, np.asarray(to_z(y), dtype=float)) for u, y in history[-3:]]
            if all(np.all(np.isfinite(z)) for _, z in zs):
                xz = np.asarray(to_x(_extrapolate(zs, v, quadratic)), dtype=float)
                if np.all(np.isfinite(xz)):
                    x = xz
    lo, hi = model_bounds(m, x.size)
    inside = np.clip(x, lo, hi)
    outside = getattr(m, "domain_violation", None)
    if (not np.array_equal(inside, x) or not np.all(np.isfinite(x))
            or (outside is not None and outside(x) is not None)):
        x = x1.copy()  # a predictor that leaves the domain is not used
    if np.any(x < lo) or np.any(x > hi):
        return resolve_start(m, "uninformed")
    return x


def _predicted_stable(J, solver):
    """Whether the branch is predicted to be stable where a warm start would go: the spectral
    radius of the ``solver``'s damped map with the Jacobian ``J`` extrapolated along the branch
    (:func:`_predict_jacobian`) is below 1, or there is no Jacobian to tell. Where it is not, the
    branch is losing stability there, and a warm start is spent on a point the sweep could not
    keep (a warm point is kept only where plain iteration converges to it, :func:`_continues`):
    the value is solved cold at once, as after a failed warm start. Measured on ten rows of the
    attention diagram from both starts (8 nodes): the ten warm starts with a predicted radius of 1
    or more were all solved cold afterwards, at 855 of the rows' 14 946 evaluations; none was kept."""
    return J is None or bool(spectral_radius(J, solver.damping) < 1.0)


def _predict_jacobian(jacobians, v):
    """The map's Jacobian at ``v`` extrapolated linearly from the last two computed along the
    branch (the last one alone, or ``None``). The extrapolation counts: from a sweep's quadratic
    predictor the chord steps of the attention diagram cut the residual about 20 times each with
    the last Jacobian, 30 to 400 times with the extrapolated one."""
    if not jacobians:
        return None
    v1, J1 = jacobians[-1]
    if len(jacobians) == 1:
        return J1
    v0, J0 = jacobians[-2]
    return J1 + (J1 - J0) * ((v - v1) / (v1 - v0))


def _extrapolate(history, v, quadratic):
    """The secant through the last two ``(value, state)`` pairs at ``v`` (``quadratic``: Newton's
    parabola through the last three), or the last state when ``v`` is more than 4 steps away."""
    v1, x1 = history[-1]
    x = x1.copy()
    if len(history) >= 2:
        v0, x0 = history[-2]
        if v1 != v0 and abs(v - v1) <= 4 * abs(v1 - v0):
            x = x1 + (x1 - x0) * (v - v1) / (v1 - v0)
            if quadratic and len(history) >= 3:
                vm, xm = history[-3]
                if vm not in (v0, v1):
                    # Newton's form: the secant plus the second divided difference
                    d2 = ((x1 - x0) / (v1 - v0) - (x0 - xm) / (v0 - vm)) / (v1 - vm)
                    x = x + d2 * (v - v1) * (v - v0)
    return x
