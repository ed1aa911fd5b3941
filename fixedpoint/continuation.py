"""``sweep``: one branch of fixed points along a parameter.

Semantics (DESIGN.md): at each value, the sweep returns the fixed point that
``solve(model_at_value, start=start)`` reaches there, i.e. the branch an algorithm started that
way follows. Continuation must never change that answer, only make it cheaper. How:

* a model declaring ``unique_fixed_point = True`` (convex problems: every start reaches the same
  point) is continued with warm starts from the previous value plus a secant (linear)
  predictor, and step refinement (intermediate values) where a warm solve fails;
* any other model is solved from ``start`` at every value. Warm starts there *can* change the
  branch (inside a hysteresis loop a warm start from the other branch stays on it), so they are
  not used: the safeguarded Anderson solver makes those cold solves cheap instead.

A failed point is recorded (NaN state, its status and message) and the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import numpy as np

from . import _validate
from .results import Status, Sweep
from .solvers import model_bounds, resolve_start, solve

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
        Force warm-start continuation on (only safe when every start reaches the same fixed
        point) or off. Default: on exactly when the model declares ``unique_fixed_point``.
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
    if warm is None:
        warm = bool(getattr(model, "unique_fixed_point", False))
    kw = dict(solver=solver, atol=atol, rtol=rtol, max_iter=max_iter)
    names = tuple(model.state_names)
    n, k = len(values), len(names)
    xs = np.full((n, k), np.nan)
    converged = np.zeros(n, bool)
    status = np.empty(n, dtype=object)
    iterations = np.zeros(n, int)
    evaluations = np.zeros(n, int)
    messages = []
    obs: dict[str, np.ndarray] = {}

    it = range(n)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"sweep {param}", leave=False)
    history: list[tuple[float, np.ndarray]] = []  # converged (value, x) for the predictor
    for i in it:
        v = values[i]
        try:
            m = at(model, **{param: v})
        except ValueError as exc:
            status[i] = Status.FAILED.value
            messages.append(f"invalid parameter: {exc}")
            continue
        try:
            sol = _solve_point(m, model, param, v, start, history, warm, kw)
        except _validate.ArgumentError:
            raise  # the arguments were checked above: the engine passed a bad one, a bug to surface
        except (ArithmeticError, ValueError) as exc:
            status[i] = Status.FAILED.value
            messages.append(f"the model raised at {param}={v:g}: {exc}")
            continue
        iterations[i], evaluations[i] = sol.iterations, sol.evaluations
        status[i] = sol.status.value
        messages.append(sol.message)
        converged[i] = sol.converged
        if sol.converged:
            xs[i] = sol.x
            history.append((v, sol.x))
        for key, val in sol.observables.items():
            if key not in obs:
                obs[key] = np.full(n, np.nan)
            if sol.converged:
                obs[key][i] = val
    return Sweep(param=param, values=values, x=xs, names=names, converged=converged, status=status.astype(str),
                 iterations=iterations, evaluations=evaluations, observables=obs, messages=tuple(messages),
                 start=start if isinstance(start, str) else "array", model=repr(model))


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


def _predict(m, v, history):
    """Secant predictor from the last two converged points, pulled strictly inside the bounds."""
    v1, x1 = history[-1]
    x = x1.copy()
    if len(history) >= 2:
        v0, x0 = history[-2]
        if v1 != v0 and abs(v - v1) <= 4 * abs(v1 - v0):
            x = x1 + (x1 - x0) * (v - v1) / (v1 - v0)
    lo, hi = model_bounds(m, x.size)
    inside = np.clip(x, lo, hi)
    if not np.array_equal(inside, x) or not np.all(np.isfinite(x)):
        x = x1.copy()  # a predictor that leaves the domain is not used
    if np.any(x < lo) or np.any(x > hi):
        return resolve_start(m, "uninformed")
    return x
