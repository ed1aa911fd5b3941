"""``optimize``: the parameter value that minimises an observable (e.g. the optimal penalty)."""

from __future__ import annotations

import math

from scipy import optimize as _opt

from .continuation import at, check_param
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
    converge counts as ``+inf`` and makes the result not converged.

    Returns
    -------
    Optimum
        ``value`` (the minimiser), ``minimum``, ``solution`` (the solve there), ``converged``.
    """
    check_param(model, param)
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"bounds must be a pair (lo, hi), got {bounds!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"bounds must be finite with lo < hi, got {bounds!r}")
    if log is None:
        log = lo > 0 and hi / lo > 100
    if log and lo <= 0:
        raise ValueError(f"log=True needs positive bounds, got {bounds!r}")
    warm = bool(getattr(model, "unique_fixed_point", False))
    kw = dict(solver=solver, atol=atol, rtol=rtol, max_iter=max_iter)
    state = {"x": None, "solves": 0, "failed": 0, "best": (math.inf, None, None)}

    def objective(t):
        v = math.exp(t) if log else t
        m = at(model, **{param: v})
        s = solve(m, start=state["x"] if (warm and state["x"] is not None) else start, **kw)
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
    elif at_edge:
        msg = f"the minimum of {observable} is at the edge of the bounds ({param} = {v:.6g}): widen them"
        ok = False
    else:
        msg = f"{observable} is minimal ({f:.10g}) at {param} = {v:.10g}"
        if state["failed"]:
            msg += f"; {state['failed']} probe(s) did not converge"
    return Optimum(param=param, observable=observable, value=float(v) if v is not None else math.nan,
                   minimum=float(f), converged=ok, message=msg, solution=s, solves=state["solves"])
