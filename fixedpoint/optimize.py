"""``optimize``: the parameter value that minimises an observable (e.g. the optimal penalty)."""

from __future__ import annotations

import math

from scipy import optimize as _opt

from . import _validate
from .continuation import at
from .results import Optimum
from .solvers import solve

__all__ = ["optimize"]


def optimize(model, param: str, observable: str, bounds, *, start="uninformed", log: bool | None = None,
             xtol: float = 1e-6, solver=None, atol: float = 1e-10, rtol: float = 1e-10,
             max_iter: int = 10_000) -> Optimum:
    """Minimise ``observable`` of the fixed point over ``param`` in ``bounds``.

    Brent's bounded method (scipy's ``minimize_scalar``), on ``log(param)`` when the bounds are
    positive and span more than two decades (``log=None``), so that ``xtol`` is relative there.
    Each probe solves from ``start``; a model declaring ``unique_fixed_point`` is warm-started
    from the previous probe (every start reaches the same point there). A probe that does not
    converge, or where the model raises (or rejects the value), counts as ``+inf`` and makes the
    result not converged; the model's message is kept in the result's.

    Returns
    -------
    Optimum
        ``value`` (the minimiser), ``minimum``, ``solution`` (the solve there), ``converged``.

    Raises
    ------
    ValueError
        For an invalid argument, before anything is solved.
    """
    _validate.param(model, param)
    observable = _validate.observable(model, observable)
    lo, hi = _validate.bounds(bounds)
    log = _validate.flag(log, "log", optional=True)
    xtol = _validate.positive(xtol, "xtol")
    start = _validate.start(model, start)
    solver = _validate.solver(solver)
    atol, rtol = _validate.tolerances(atol, rtol)
    max_iter = _validate.max_iter(max_iter)
    if log is None:
        log = lo > 0 and hi / lo > 100
    if log and lo <= 0:
        raise _validate.ArgumentError(f"log=True needs positive bounds, got {bounds!r}")
    warm = bool(getattr(model, "unique_fixed_point", False))
    kw = dict(solver=solver, atol=atol, rtol=rtol, max_iter=max_iter)
    state = {"x": None, "solves": 0, "failed": 0, "best": (math.inf, None, None), "raised": []}

    def objective(t):
        v = math.exp(t) if log else t
        try:
            m = at(model, **{param: v})
            s = solve(m, start=state["x"] if (warm and state["x"] is not None) else start, **kw)
        except _validate.ArgumentError:
            raise  # checked above: the engine passed a bad argument, a bug to surface
        except (ArithmeticError, ValueError) as exc:  # the model raised here: a failed probe, as in sweep
            state["failed"] += 1
            state["raised"].append(f"the model raised at {param}={v:g}: {exc}")
            return math.inf
        state["solves"] += 1
        if not s.converged:
            state["failed"] += 1
            return math.inf
        if warm:
            state["x"] = s.x
        f = s[observable]
        if f < state["best"][0]:
            state["best"] = (f, v, s)
        return f

    a, b = (math.log(lo), math.log(hi)) if log else (lo, hi)
    res = _opt.minimize_scalar(objective, bounds=(a, b), method="bounded", options={"xatol": xtol})
    f, v, s = state["best"]
    ok = bool(res.success) and s is not None and state["failed"] == 0
    at_edge = v is not None and (abs(v - lo) <= 10 * xtol * (max(abs(lo), 1) if not log else lo)
                                 or abs(v - hi) <= 10 * xtol * (max(abs(hi), 1) if not log else hi))
    if s is None:
        msg = "no probe converged; see fixedpoint.solve's message at the bounds"
        if state["raised"]:
            msg += f" ({state['raised'][0]})"
    elif at_edge:
        msg = f"the minimum of {observable} is at the edge of the bounds ({param} = {v:.6g}): widen them"
        ok = False
    else:
        msg = f"{observable} is minimal ({f:.10g}) at {param} = {v:.10g}"
        if state["failed"]:
            msg += f"; {state['failed']} probe(s) did not converge"
            if state["raised"]:
                msg += f" ({len(state['raised'])} raised; first: {state['raised'][0]})"
    return Optimum(param=param, observable=observable, value=float(v) if v is not None else math.nan,
                   minimum=float(f), converged=ok, message=msg, solution=s, solves=state["solves"])
