"""Verify formulas: sympy closed forms, mpmath high precision, and solved fixed points side by side.

The tools a notebook uses to check that a formula and the engine agree:

- :func:`lambdify` turns a sympy expression into a numeric function, vectorised with numpy
  (and scipy's special functions) or evaluated by mpmath at a requested number of digits;
- :func:`as_map` turns a sympy state-evolution map into a plain callable for
  :func:`fixedpoint.solve`;
- :func:`compare` evaluates a closed form at the parameter values of a :class:`fixedpoint.Sweep`
  (or of a list of ``(value, number)`` pairs, or of solutions) and reports the largest deviation
  as a :class:`Comparison`;
- :func:`check_fixed_point` checks, with sympy's adaptive-precision evaluation (or mpmath for a
  callable), that a claimed point satisfies ``F(x) = x`` to a requested number of digits, and
  refines it with ``mpmath.findroot`` to say how many of its digits were right
  (:class:`FixedPointCheck`);
- :func:`series` and :func:`taylor_coefficients` expand a map around a trivial fixed point, to
  get a stability threshold (linear coefficient = 1) or a tricritical point (quadratic
  coefficient = 0) in closed form.

sympy and mpmath are imported inside the functions: importing this module costs nothing, and
``import fixedpoint`` does not import it (use ``from fixedpoint import symbolic``).

Example
-------
The Gaussian-prior spiked Wigner model has the state evolution ``m -> snr m / (1 + snr m)``
and, for ``snr > 1``, the fixed point ``m = 1 - 1/snr``:

>>> import numpy as np, sympy as sp, fixedpoint
>>> from fixedpoint import symbolic
>>> m, snr = sp.symbols("m snr", positive=True)
>>> F = snr * m / (1 + snr * m)
>>> pairs = []
>>> for s in (1.5, 2.0, 4.0):
...     sol = fixedpoint.solve(symbolic.as_map(F, m, {snr: s}), [0.1], atol=1e-14, rtol=1e-14)
...     pairs.append((s, sol))
>>> cmp = symbolic.compare(1 - 1 / snr, pairs, param=snr)
>>> cmp.max_abs_error < 1e-12
True
>>> symbolic.check_fixed_point(F, m, 1 - 1 / snr, {snr: 2}, digits=30).passed
True
"""

from __future__ import annotations

import math
import numbers
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "lambdify", "NumericFunction", "as_map", "compare", "Comparison", "ComparisonRow",
    "check_fixed_point", "FixedPointCheck", "series", "taylor_coefficients",
]

_BACKENDS = ("numpy", "mpmath")
_DEFAULT_DPS = 30


# ----------------------------------------------------------------------------- input handling


def _sympy():
    import sympy

    return sympy


def _as_exprs(expr, pname: str = "expr"):
    """``(list_of_exprs, is_vector)`` from an expression, a string, a sequence or a Matrix."""
    sp = _sympy()
    if isinstance(expr, sp.MatrixBase):
        if 1 not in expr.shape:
            raise ValueError(f"{pname} must be a scalar expression or a vector (a row or column Matrix), "
                             f"got a Matrix of shape {expr.shape}")
        items, vector = list(expr), True
    elif isinstance(expr, (list, tuple)):
        items, vector = list(expr), True
    elif isinstance(expr, np.ndarray) and expr.ndim == 1:
        items, vector = list(expr), True
    else:
        items, vector = [expr], False
    if vector and not items:
        raise ValueError(f"{pname} must not be an empty sequence")
    out = []
    for e in items:
        if callable(e) and not isinstance(e, sp.Basic):
            raise ValueError(f"{pname} must be a sympy expression (or a sequence of them), got the callable {e!r}")
        try:
            e = sp.sympify(e)
        except (sp.SympifyError, TypeError, SyntaxError) as exc:
            raise ValueError(f"{pname} must be a sympy expression (or a sequence of them), got {e!r}: {exc}") from None
        if not isinstance(e, sp.Expr):
            raise ValueError(f"{pname} must be a sympy expression (an Expr), got {type(e).__name__} {e!r}")
        out.append(e)
    return out, vector


def _resolve_symbol(s, free, pname: str):
    """A sympy Symbol from a Symbol or a name; a name is looked up among ``free`` first."""
    sp = _sympy()
    if isinstance(s, str):
        if not s.isidentifier():
            raise ValueError(f"{pname}: {s!r} is not a valid symbol name")
        matches = [f for f in free if f.name == s]
        if len(matches) > 1:
            raise ValueError(f"{pname}: the name {s!r} is ambiguous, the expression has several symbols "
                             f"called so (with different assumptions): pass the Symbol itself")
        return matches[0] if matches else sp.Symbol(s)
    if isinstance(s, sp.Symbol):
        return s
    raise ValueError(f"{pname} must contain sympy Symbols or their names, got {s!r} ({type(s).__name__})")


def _as_symbols(symbols, free, pname: str = "symbols"):
    """``(list_of_symbols, was_scalar)``."""
    sp = _sympy()
    if isinstance(symbols, (str, sp.Symbol)):
        syms, scalar = [symbols], True
    elif isinstance(symbols, (list, tuple, sp.MatrixBase)) or (isinstance(symbols, np.ndarray) and symbols.ndim == 1):
        syms, scalar = list(symbols), False
    else:
        raise ValueError(f"{pname} must be a sympy Symbol, a name, or a sequence of them, got {symbols!r}")
    out = [_resolve_symbol(s, free, pname) for s in syms]
    if len(set(out)) != len(out):
        raise ValueError(f"{pname} contains a symbol twice: {out}")
    return out, scalar


def _free(exprs):
    free = set()
    for e in exprs:
        free |= e.free_symbols
    return free


def _names(syms) -> str:
    return ", ".join(sorted(str(s) for s in syms))


def _exact(v, pname: str):
    """An exact sympy number (or expression) from a user value.

    Floats are taken at their exact binary value, strings as exact decimals, mpmath numbers at
    their full precision, sympy expressions as they are.
    """
    sp = _sympy()
    import mpmath as mp

    if isinstance(v, bool):
        raise ValueError(f"{pname} must be a number, got the bool {v!r}")
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, mp.mpc):
        return _exact(v.real, pname) + sp.I * _exact(v.imag, pname)
    if isinstance(v, mp.mpf):
        if not mp.isfinite(v):
            raise ValueError(f"{pname} must be finite, got {v!r}")
        return sp.Integer(int(v.man)) * sp.Integer(2) ** int(v.exp)  # the exact binary value
    if isinstance(v, str):
        try:
            return sp.Rational(v)
        except (TypeError, ValueError):
            try:
                return sp.sympify(v)
            except (sp.SympifyError, SyntaxError, TypeError) as exc:
                raise ValueError(f"{pname}: cannot read {v!r} as a number ({exc})") from None
    if isinstance(v, (numbers.Integral, np.integer)):
        return sp.Integer(int(v))
    if isinstance(v, (numbers.Real, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"{pname} must be finite, got {v!r}")
        return sp.Rational(v)  # the exact binary value of the float
    if isinstance(v, (numbers.Complex, np.complexfloating)):
        v = complex(v)
        return sp.Rational(v.real) + sp.I * sp.Rational(v.imag)
    raise ValueError(f"{pname} must be a number, a string or a sympy expression, got {v!r} ({type(v).__name__})")


def _bind(params, free, pname: str = "params"):
    """``{Symbol: exact value}`` from a mapping keyed by Symbols or names."""
    sp = _sympy()
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(f"{pname} must be a mapping {{symbol or name: value}}, got {params!r}")
    out = {}
    for k, v in params.items():
        s = _resolve_symbol(k, free, pname)
        if s in out:
            raise ValueError(f"{pname} gives {s} twice")
        val = _exact(v, f"{pname}[{k!s}]")
        if isinstance(val, sp.Basic) and val.free_symbols:
            raise ValueError(f"{pname}[{k!s}] must be a number, got {val} (with free symbols {_names(val.free_symbols)})")
        out[s] = val
    return out


def _to_mp(r, dps):
    """A sympy number (already evaluated) as an mpmath mpf, or mpc if it has an imaginary part."""
    sp = _sympy()
    import mpmath as mp

    r = sp.sympify(r)
    if not r.is_number:
        raise ValueError(f"could not evaluate to a number: {r} (free symbols {_names(r.free_symbols)})")
    re, im = r.as_real_imag()
    with mp.workdps(dps):
        re_mp = mp.mpf(sp.Float(re, dps)._mpf_)
        if im == 0:
            return re_mp
        im_mp = mp.mpf(sp.Float(im, dps)._mpf_)
        return re_mp if im_mp == 0 else mp.mpc(re_mp, im_mp)


def _check_dps(dps, pname="dps"):
    if isinstance(dps, bool) or not isinstance(dps, (numbers.Integral, np.integer)) or dps < 1:
        raise ValueError(f"{pname} must be a positive integer (decimal digits), got {dps!r}")
    return int(dps)


# ----------------------------------------------------------------------------- lambdify


class NumericFunction:
    """A sympy expression compiled to a numeric function (made by :func:`lambdify`).

    Call it with one argument per symbol, positionally in the order of ``symbols`` or by
    symbol name (``f(1.0, snr=2.0)``).

    Attributes
    ----------
    expr : sympy.Expr or list of sympy.Expr
    symbols : tuple of sympy.Symbol
    backend : {"numpy", "mpmath"}
    dps : int or None
        Decimal digits of the mpmath evaluation (None for numpy).
    """

    __slots__ = ("expr", "symbols", "backend", "dps", "_f", "_vector", "_names")

    def __init__(self, expr, symbols, backend, dps, f, vector):
        self.expr = expr
        self.symbols = tuple(symbols)
        self.backend = backend
        self.dps = dps
        self._f = f
        self._vector = vector
        self._names = tuple(s.name for s in self.symbols)

    def _gather(self, args, kwargs):
        n = len(self.symbols)
        if len(args) > n:
            raise ValueError(f"expected {n} argument(s) ({', '.join(self._names)}), got {len(args)}")
        vals = list(args) + [None] * (n - len(args))
        given = [True] * len(args) + [False] * (n - len(args))
        for k, v in kwargs.items():
            if k not in self._names:
                raise ValueError(f"unknown argument {k!r}; the arguments are {', '.join(self._names)}")
            i = self._names.index(k)
            if given[i]:
                raise ValueError(f"argument {k!r} given twice")
            vals[i], given[i] = v, True
        missing = [nm for nm, g in zip(self._names, given) if not g]
        if missing:
            raise ValueError(f"missing argument(s): {', '.join(missing)}")
        return vals

    def __call__(self, *args, **kwargs):
        vals = self._gather(args, kwargs)
        if self.backend == "numpy":
            arrs = []
            for v in vals:
                a = np.asarray(v)
                if a.dtype.kind in "biu":
                    a = a.astype(float)
                elif a.dtype.kind not in "fc":
                    raise ValueError(f"numpy backend: arguments must be numbers or arrays of numbers, got {v!r}")
                arrs.append(a)
            shape = np.broadcast_shapes(*(a.shape for a in arrs)) if arrs else ()
            with np.errstate(all="ignore"):
                out = self._f(*arrs)
            if self._vector:
                return np.stack([np.broadcast_to(np.asarray(o), shape) for o in out], axis=-1)
            out = np.broadcast_to(np.asarray(out), shape)
            return out[()] if out.ndim == 0 else out.copy()
        import mpmath as mp

        with mp.workdps(self.dps):
            conv = []
            for v in vals:
                if isinstance(v, (mp.mpf, mp.mpc)):
                    conv.append(v)
                elif isinstance(v, (numbers.Complex, np.number, str)) and not isinstance(v, bool):
                    try:
                        conv.append(mp.mpmathify(v.item() if isinstance(v, np.number) else v))
                    except (TypeError, ValueError) as exc:
                        raise ValueError(f"mpmath backend: cannot read {v!r} as a number ({exc})") from None
                else:
                    raise ValueError(f"mpmath backend: arguments must be scalars (numbers, strings, mpf), got {v!r}; "
                                     "use backend='numpy' for arrays")
            out = self._f(*conv)
            if self._vector:
                return [+mp.mpmathify(o) for o in out]
            return +mp.mpmathify(out)

    def __repr__(self) -> str:
        prec = f", dps={self.dps}" if self.backend == "mpmath" else ""
        return f"NumericFunction({self.expr}; ({', '.join(self._names)}), backend={self.backend!r}{prec})"


def lambdify(expr, symbols, backend: str = "numpy", dps: int | None = None) -> NumericFunction:
    """Turn a sympy closed form into a numeric function.

    Parameters
    ----------
    expr : sympy.Expr, str, or sequence / vector Matrix of them
        The closed form (a string is parsed by ``sympy.sympify``). A sequence gives a vector
        function (e.g. a state-evolution map).
    symbols : Symbol, str, or sequence of them
        The arguments, in order. Every free symbol of ``expr`` must be among them (bind the
        others first with ``expr.subs``). A name is matched against the free symbols of ``expr``
        (so ``"snr"`` finds ``Symbol("snr", positive=True)``).
    backend : {"numpy", "mpmath"}
        ``"numpy"``: vectorised over broadcast array arguments, with scipy's special functions
        (``erfc``, ``gamma``...). ``"mpmath"``: scalar arguments, evaluated at ``dps`` digits.
    dps : int, optional
        Decimal digits of the mpmath evaluation (default 30); only for ``backend="mpmath"``.
        Exact constants of ``expr`` (``Rational(1, 3)``, ``pi``) are evaluated at this
        precision; float arguments are taken at their binary value, so pass strings or mpf
        values for exact decimals.

    Returns
    -------
    NumericFunction
        ``f(*args)`` (or with arguments by name). numpy: an array of the broadcast shape of
        the arguments (a float for scalars); a vector ``expr`` adds a last axis. mpmath: an
        ``mpf`` (``mpc`` when complex), or a list of them for a vector ``expr``.

    Raises
    ------
    ValueError
        Unknown ``backend``, ``dps`` with numpy, a free symbol of ``expr`` missing from
        ``symbols``, or ``expr`` not an expression.

    Examples
    --------
    >>> import sympy as sp
    >>> from fixedpoint.symbolic import lambdify
    >>> x = sp.Symbol("x")
    >>> f = lambdify((sp.exp(x) - 1 - x) / x**2, x)                 # numpy: cancellation
    >>> g = lambdify((sp.exp(x) - 1 - x) / x**2, x, "mpmath", dps=40)
    >>> abs(float(g("1e-10")) - 0.5) < 1e-10
    True
    >>> lambdify([x**2, 2 * x], x)([1.0, 2.0]).shape
    (2, 2)
    """
    sp = _sympy()
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if backend == "numpy":
        if dps is not None:
            raise ValueError("dps (decimal digits) is only for backend='mpmath'; numpy evaluates in float64")
    else:
        dps = _DEFAULT_DPS if dps is None else _check_dps(dps)
    exprs, vector = _as_exprs(expr)
    free = _free(exprs)
    syms, _ = _as_symbols(symbols, free)
    missing = free - set(syms)
    if missing:
        raise ValueError(f"symbols must include every free symbol of expr; missing: {_names(missing)} "
                         f"(add them to symbols, or bind them first with expr.subs({{...}}))")
    target = exprs if vector else exprs[0]
    # scipy (a core dependency) supplies the special functions sympy prints for numpy
    modules = ["scipy", "numpy"] if backend == "numpy" else "mpmath"
    f = sp.lambdify(syms, target, modules=modules)
    return NumericFunction(target, syms, backend, dps, f, vector)


def as_map(F, x, params=None) -> Callable[[np.ndarray], np.ndarray]:
    """A sympy map ``x -> F(x)`` as a plain callable on float arrays, for :func:`fixedpoint.solve`.

    Parameters
    ----------
    F : sympy.Expr or sequence of them
        The map (one expression per state entry).
    x : Symbol or sequence of Symbols
        The state variables, in the order of the state vector (same length as ``F``).
    params : mapping, optional
        Values of the other free symbols of ``F`` (``{snr: 2.0}`` or ``{"snr": 2.0}``).

    Returns
    -------
    callable
        ``G(x: ndarray of shape (n,)) -> ndarray of shape (n,)``, vectorised with numpy.

    Examples
    --------
    >>> import sympy as sp, fixedpoint
    >>> from fixedpoint.symbolic import as_map
    >>> m, snr = sp.symbols("m snr", positive=True)
    >>> G = as_map(snr * m / (1 + snr * m), m, {snr: 2.0})
    >>> round(fixedpoint.solve(G, [0.1], atol=1e-13, rtol=1e-13)["x0"], 10)
    0.5
    """
    exprs, _ = _as_exprs(F, "F")
    free = _free(exprs)
    xs, _ = _as_symbols(x, free, "x")
    if len(xs) != len(exprs):
        raise ValueError(f"x must have one symbol per entry of F: F has {len(exprs)}, x has {len(xs)}")
    bound = _bind(params, free)
    clash = set(bound) & set(xs)
    if clash:
        raise ValueError(f"params must not give values to the state variables x ({_names(clash)})")
    exprs = [e.xreplace(bound) for e in exprs]
    missing = _free(exprs) - set(xs)
    if missing:
        raise ValueError(f"params must give a value to every free symbol of F other than x; missing: {_names(missing)}")
    f = lambdify(exprs, xs, "numpy")
    n = len(xs)

    def G(state):
        state = np.asarray(state, dtype=float)
        if state.shape != (n,):
            raise ValueError(f"the state must have shape ({n},), got {state.shape}")
        return np.asarray(f(*state), dtype=float).reshape(n)

    G.__doc__ = f"x -> F(x) for F = {exprs}, x = {xs}"
    return G


# ----------------------------------------------------------------------------- compare

ComparisonRow = namedtuple("ComparisonRow", ["value", "solved", "closed_form", "abs_error", "rel_error"])
ComparisonRow.__doc__ = "One parameter value of a :class:`Comparison`."


@dataclass(frozen=True, eq=False)
class Comparison:
    """A closed form against solved fixed points (made by :func:`compare`).

    Attributes
    ----------
    max_abs_error : float
        ``max |solved - closed_form|`` over the compared points (``inf`` if the closed form is
        not finite at one of them; NaN if no point could be compared).
    max_rel_error : float
        ``max |solved - closed_form| / |closed_form|`` (0/0 counts as 0, x/0 as inf).
    at : float
        The parameter value where the absolute error is largest (NaN if none).
    table : tuple of ComparisonRow
        ``(value, solved, closed_form, abs_error, rel_error)`` per compared point, in input order.
    name : str
        What was compared (a state entry or observable name, or ``"value"``).
    param : str
        The parameter's name (``""`` when unknown).
    skipped : tuple of float
        Parameter values left out because the solve did not converge or gave a non-finite value.
    """

    max_abs_error: float
    max_rel_error: float
    at: float
    table: tuple
    name: str = "value"
    param: str = ""
    skipped: tuple = ()

    @property
    def n(self) -> int:
        """Number of compared points."""
        return len(self.table)

    def within(self, atol: float = 0.0, rtol: float = 0.0) -> bool:
        """True when every compared point has ``|solved - closed| <= atol + rtol |closed|``,
        at least one point was compared, and none was skipped."""
        if not self.table or self.skipped:
            return False
        return all(r.abs_error <= atol + rtol * abs(r.closed_form) for r in self.table)

    def to_pandas(self):
        """The table as a ``pandas.DataFrame`` (one row per compared point)."""
        import pandas as pd

        return pd.DataFrame(list(self.table), columns=list(ComparisonRow._fields)).rename(
            columns={"value": self.param or "value"})

    def __repr__(self) -> str:
        p = self.param or "value"
        head = f"Comparison({self.name} vs closed form over {self.n} value(s) of {p}: "
        if not self.table:
            body = "nothing compared"
        else:
            body = (f"max |error| = {self.max_abs_error:.3g} at {p} = {self.at:.10g}, "
                    f"max relative error = {self.max_rel_error:.3g}")
        if self.skipped:
            body += f"; {len(self.skipped)} skipped (not converged) at {p} = " + ", ".join(f"{v:.6g}" for v in self.skipped)
        return head + body + ")"

    def __str__(self) -> str:
        p = self.param or "value"
        lines = [repr(self), f"{p:>14} {'solved':>22} {'closed form':>22} {'abs error':>10} {'rel error':>10}"]
        for r in self.table:
            lines.append(f"{r.value:14.8g} {r.solved:22.16g} {r.closed_form:22.16g} {r.abs_error:10.3g} {r.rel_error:10.3g}")
        return "\n".join(lines)


def _is_sweep(obj) -> bool:
    return (hasattr(obj, "values") and hasattr(obj, "param") and hasattr(obj, "converged")
            and hasattr(obj, "names") and hasattr(obj, "__getitem__") and not isinstance(obj, (Mapping, list, tuple)))


def _is_solution(obj) -> bool:
    return hasattr(obj, "converged") and hasattr(obj, "names") and hasattr(obj, "x") and hasattr(obj, "__getitem__")


def _entry(obj, name, where):
    """``(number, converged)`` from a number or a Solution."""
    if _is_solution(obj):
        if name is None:
            if len(obj.names) != 1:
                raise ValueError(f"name is required to pick an entry of the solutions (state names {tuple(obj.names)})")
            name = obj.names[0]
        try:
            v = obj[name]
        except KeyError as exc:
            raise ValueError(f"name {name!r} is not in the solution {where}: {exc}") from None
        return float(v), bool(obj.converged), name
    if isinstance(obj, bool) or not isinstance(obj, (numbers.Real, np.floating, np.integer)):
        try:
            import mpmath as mp

            if isinstance(obj, mp.mpf):
                return float(obj), True, name
        except ImportError:  # pragma: no cover
            pass
        raise ValueError(f"solved: each entry must be a real number or a fixedpoint.Solution, got {obj!r} {where}")
    return float(obj), True, name


def _collect(solved, name, values):
    """``(param_values, numbers, converged, name, param_name)`` from any accepted input."""
    if _is_sweep(solved):
        if values is not None:
            raise ValueError("values must not be given with a Sweep (the sweep has its own values)")
        if name is None:
            if len(solved.names) != 1:
                raise ValueError(f"name is required for a sweep with several state entries {tuple(solved.names)}")
            name = solved.names[0]
        try:
            nums = np.asarray(solved[name], dtype=float)
        except KeyError as exc:
            raise ValueError(f"name {name!r} is not in the sweep: {exc}") from None
        vals = np.asarray(solved.values, dtype=float)
        if nums.shape != vals.shape:
            raise ValueError(f"name {name!r} does not give one number per value of the sweep (shape {nums.shape})")
        return vals, nums, np.asarray(solved.converged, dtype=bool), name, str(solved.param)
    if isinstance(solved, (str, bytes)) or not (isinstance(solved, (Mapping, Sequence, np.ndarray))):
        raise ValueError("solved must be a fixedpoint.Sweep, a mapping {value: number or Solution}, a list of "
                         "(value, number or Solution) pairs, or a list of numbers / Solutions with values=, "
                         f"got {type(solved).__name__}")
    if isinstance(solved, Mapping):
        if values is not None:
            raise ValueError("values must not be given with a mapping (its keys are the values)")
        pairs = list(solved.items())
    elif values is not None:
        vals = np.asarray(values, dtype=float).ravel() if not isinstance(values, np.ndarray) else values.ravel()
        entries = list(solved)
        if len(vals) != len(entries):
            raise ValueError(f"values has {len(vals)} entries but solved has {len(entries)}")
        pairs = list(zip(vals, entries))
    else:
        pairs = []
        for i, p in enumerate(solved):
            if isinstance(p, (str, bytes)) or not isinstance(p, (Sequence, np.ndarray)) or len(p) != 2:
                raise ValueError(f"solved must be (value, number or Solution) pairs (or pass values=); entry {i} is {p!r}")
            pairs.append((p[0], p[1]))
    if not pairs:
        raise ValueError("solved is empty: nothing to compare")
    vals, nums, conv = [], [], []
    for i, (v, e) in enumerate(pairs):
        if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
            raise ValueError(f"values: parameter value {i} must be a real number, got {v!r}")
        if not math.isfinite(float(v)):
            raise ValueError(f"values: parameter value {i} must be finite, got {v!r}")
        num, ok, name = _entry(e, name, f"(entry {i})")
        vals.append(float(v)); nums.append(num); conv.append(ok)
    return np.array(vals), np.array(nums), np.array(conv), (name or "value"), ""


def compare(closed_form, solved, name: str | None = None, *, values=None, param=None, params=None,
            dps: int | None = None) -> Comparison:
    """Compare a closed form with solved fixed points over a set of parameter values.

    Parameters
    ----------
    closed_form : sympy.Expr, str or callable
        The formula, a function of the swept parameter. A sympy expression may have other free
        symbols if ``params`` gives their values. A callable is called with each parameter
        value (as a float, or an mpf when ``dps`` is given).
    solved : Sweep, mapping, or sequence
        - a :class:`fixedpoint.Sweep` (``solved.values``, ``solved[name]``, ``solved.converged``);
        - a list of ``(value, number)`` or ``(value, Solution)`` pairs, or a mapping
          ``{value: number or Solution}``;
        - a list of numbers or Solutions, with the parameter values in ``values``.
    name : str, optional
        The state entry or observable to compare (``sw[name]``, ``sol[name]``); may be left out
        when the state has a single entry or the entries are plain numbers.
    values : array_like, optional
        Parameter values, one per entry of ``solved`` (only with a plain list).
    param : Symbol or str, optional
        The symbol of ``closed_form`` that is swept. Default: the sweep's parameter name, or the
        only free symbol left once ``params`` are bound.
    params : mapping, optional
        Values of the closed form's other symbols (``{rho: 0.1}`` or ``{"rho": 0.1}``).
    dps : int, optional
        Evaluate the closed form with mpmath at ``dps`` digits instead of numpy float64.

    Returns
    -------
    Comparison
        ``max_abs_error``, ``max_rel_error``, ``at`` (where the absolute error is largest) and
        the ``table``. Points whose solve did not converge (or gave NaN) are not compared but
        listed in ``skipped``; the closed form being non-finite where the solve converged
        counts as an infinite error. Nothing raises on a disagreement: look at the numbers, or
        use ``Comparison.within(atol, rtol)``.

    Raises
    ------
    ValueError
        Malformed ``solved``, ``values`` of the wrong length, an unknown ``name``, or a
        closed form whose symbols are not all bound (``param``, ``params``).

    Examples
    --------
    >>> import sympy as sp
    >>> from fixedpoint.symbolic import compare
    >>> snr = sp.Symbol("snr", positive=True)
    >>> c = compare(1 - 1 / snr, [(2.0, 0.5), (4.0, 0.75000001)], param=snr)
    >>> c.at, round(c.max_abs_error, 12)
    (4.0, 1e-08)

    With a sweep of a model whose state entry is ``m``:
    ``compare(1 - 1 / snr, fixedpoint.sweep(model, "snr", snrs), "m")``.
    """
    sp = _sympy()
    vals, nums, conv, name, sweep_param = _collect(solved, name, values)
    if dps is not None:
        dps = _check_dps(dps)

    if callable(closed_form) and not isinstance(closed_form, sp.Basic):
        if params is not None:
            raise ValueError("params is only for a sympy closed form; bind the parameters of a callable yourself")
        f = closed_form
        pname = str(param) if param is not None else sweep_param
        if not pname and isinstance(f, NumericFunction) and len(f.symbols) == 1:
            pname = f.symbols[0].name
    else:
        exprs, vector = _as_exprs(closed_form, "closed_form")
        if vector:
            raise ValueError("closed_form must be a single (scalar) expression; compare one entry at a time")
        expr = exprs[0]
        free = expr.free_symbols
        bound = _bind(params, free)
        expr = expr.xreplace(bound)
        left = expr.free_symbols
        if param is None:
            if sweep_param:
                sym = _resolve_symbol(sweep_param, left, "param")
            elif len(left) == 1:
                sym = next(iter(left))
            elif not left:
                sym = sp.Symbol("value")
            else:
                raise ValueError(f"param is required: the closed form has several free symbols ({_names(left)}); "
                                 "name the swept one with param= and give the others with params=")
        else:
            sym = _resolve_symbol(param, left | free, "param")
            if sym in bound:
                raise ValueError(f"param {sym} is also given a value in params")
        extra = left - {sym}
        if extra:
            raise ValueError(f"params must give a value to every free symbol of the closed form other than "
                             f"the swept parameter {sym}; missing: {_names(extra)}")
        f = lambdify(expr, [sym], "numpy" if dps is None else "mpmath", dps=dps)
        pname = str(sym) if param is not None or not sweep_param else sweep_param

    ok = conv & np.isfinite(nums)
    closed = np.full(vals.shape, np.nan)
    idx = np.flatnonzero(ok)
    if idx.size:
        if dps is None and isinstance(f, NumericFunction) and f.backend == "numpy":
            closed[idx] = _real(f(vals[idx]))
        else:
            import mpmath as mp

            for i in idx:
                if dps is not None:
                    with mp.workdps(dps):
                        c = f(mp.mpf(float(vals[i])))
                else:
                    c = f(float(vals[i]))
                closed[i] = _real(c)
    rows = []
    for i in idx:
        s, c = float(nums[i]), float(closed[i])
        if math.isfinite(c):
            a = abs(s - c)
            r = a / abs(c) if c != 0 else (0.0 if a == 0 else math.inf)
        else:
            a = r = math.inf
        rows.append(ComparisonRow(float(vals[i]), s, c, a, r))
    if rows:
        k = int(np.argmax([r.abs_error for r in rows]))
        max_abs, at = rows[k].abs_error, rows[k].value
        max_rel = max(r.rel_error for r in rows)
    else:
        max_abs = max_rel = at = math.nan
    skipped = tuple(float(v) for v in vals[~ok])
    return Comparison(max_abs, max_rel, at, tuple(rows), name=str(name), param=pname, skipped=skipped)


def _real(v):
    """Float value(s) of a closed form's result; a complex value with a non-zero imaginary part is NaN."""
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "c":
            return np.where(v.imag == 0, v.real, np.nan)
        return v.astype(float)
    try:
        c = complex(v)
    except (TypeError, ValueError):
        raise ValueError(f"closed_form must return a real number, got {v!r}") from None
    return c.real if c.imag == 0 else math.nan


# ----------------------------------------------------------------------------- check_fixed_point


@dataclass(frozen=True, eq=False)
class FixedPointCheck:
    """Whether a claimed point satisfies ``F(x) = x`` to ``digits`` digits (made by :func:`check_fixed_point`).

    Attributes
    ----------
    passed : bool
        ``residual <= tolerance`` and, when the claim was refined, ``error <= tolerance``.
        The object is truthy exactly when it passed.
    residual : mpmath.mpf
        ``max_i |F(x)_i - x_i|`` at the claimed point, evaluated at ``dps`` digits.
    tolerance : mpmath.mpf
        ``10**-digits * max(1, max_i |x_i|)``.
    digits : int
        The requested number of digits.
    dps : int
        Working precision (decimal digits) of the evaluation and of the refinement.
    claimed : tuple of mpmath.mpf
        The claimed point, evaluated at ``dps`` digits.
    refined : tuple of mpmath.mpf or None
        The fixed point ``mpmath.findroot`` finds from the claim (None when not asked for, or
        when it failed: see ``message``).
    error : mpmath.mpf or None
        ``max_i |claimed_i - refined_i|``.
    correct_digits : int or None
        Digits of the claim that were right, in the sense of ``digits`` (decimal places when
        ``|x| <= 1``, significant digits above): ``floor(-log10(error / max(1, max_i
        |refined_i|)))``, between 0 and ``dps``. ``0.500000000001`` against ``0.5`` has 12.
    message : str
    """

    passed: bool
    residual: Any
    tolerance: Any
    digits: int
    dps: int
    claimed: tuple
    refined: tuple | None = None
    error: Any = None
    correct_digits: int | None = None
    message: str = ""

    def __bool__(self) -> bool:
        return bool(self.passed)

    def __repr__(self) -> str:
        import mpmath as mp

        def fmt(x):
            return mp.nstr(x, 6) if x is not None else "None"

        s = (f"FixedPointCheck(passed={self.passed}, residual={fmt(self.residual)} "
             f"(tolerance {fmt(self.tolerance)}, {self.digits} digits at dps={self.dps})")
        if self.refined is not None:
            s += f", error={fmt(self.error)}, correct_digits={self.correct_digits}"
        return s + ")"


def _max_abs(vs):
    import mpmath as mp

    return max((abs(v) for v in vs), default=mp.mpf(0))


def check_fixed_point(F, x, value, params=None, *, digits: int = 30, refine: bool = True,
                      dps: int | None = None) -> FixedPointCheck:
    """Check that a claimed point satisfies ``F(x) = x`` to ``digits`` digits.

    ``F`` is evaluated at the claimed point with sympy's adaptive-precision ``evalf`` (it
    raises the working precision internally until the requested digits are right, so the
    cancellation in ``F(x) - x`` does not fool it), or, for a callable ``F``, with mpmath at
    ``dps`` digits. Optionally the claim is then refined by ``mpmath.findroot`` to say how many
    of its digits were right.

    Parameters
    ----------
    F : sympy.Expr, sequence of sympy.Expr, or callable
        The map. A callable is called as ``F(x, **params)`` inside ``mpmath.workdps(dps)``, with
        ``x`` an mpf (one state entry) or a list of mpf, and returns a number or a sequence;
        parameters of a callable are given by name.
    x : Symbol or sequence of Symbols, or None
        The state variables of a sympy ``F`` (one per entry of ``F``); None for a callable.
    value : number, str, sympy expression, or a sequence of them
        The claimed fixed point. A sympy expression may use the symbols of ``params`` (pass the
        closed form itself, e.g. ``1 - 1/snr``, to check it exactly). Floats are taken at their
        exact binary value (so a float64 claim is right to about 16 digits at best); strings
        are read as exact decimals.
    params : mapping, optional
        Values of the other free symbols of ``F`` (``{snr: 2}``, ``{"snr": "1.5"}``); use exact
        numbers (ints, strings, sympy Rationals) for a check beyond 16 digits.
    digits : int >= 1
        Requested number of correct digits: passes when ``max |F(x) - x| <= 10**-digits *
        max(1, max |x|)`` (and the refined point is as close, when ``refine``).
    refine : bool
        Also run ``mpmath.findroot`` on ``F(x) - x`` from the claim and report ``refined``,
        ``error`` and ``correct_digits``. This catches claims near a marginal fixed point
        (``F'(x) = 1``), where a small residual does not mean a small error.
    dps : int, optional
        Working precision in decimal digits (default ``digits + 15``; must exceed ``digits``).

    Returns
    -------
    FixedPointCheck

    Raises
    ------
    ValueError
        ``digits`` or ``dps`` not a positive integer, ``dps <= digits``, ``value`` of the
        wrong length, a free symbol of ``F`` or ``value`` not given by ``params``, ``x`` not
        None for a callable ``F``.

    Examples
    --------
    >>> import sympy as sp
    >>> from fixedpoint.symbolic import check_fixed_point
    >>> m, snr = sp.symbols("m snr", positive=True)
    >>> F = snr * m / (1 + snr * m)
    >>> check_fixed_point(F, m, 1 - 1 / snr, {snr: 3}, digits=50).passed
    True
    >>> chk = check_fixed_point(F, m, "0.500000000001", {snr: 2}, digits=30)
    >>> chk.passed, chk.correct_digits
    (False, 12)
    """
    sp = _sympy()
    import mpmath as mp

    if isinstance(digits, bool) or not isinstance(digits, (numbers.Integral, np.integer)) or digits < 1:
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    digits = int(digits)
    if dps is None:
        dps = digits + 15
    else:
        dps = _check_dps(dps)
        if dps <= digits:
            raise ValueError(f"dps (working precision, {dps}) must exceed digits ({digits})")
    if not isinstance(refine, bool):
        raise ValueError(f"refine must be True or False, got {refine!r}")

    is_callable = callable(F) and not isinstance(F, (sp.Basic, sp.MatrixBase))
    if is_callable:
        if x is not None:
            raise ValueError("x must be None when F is a callable (the state is passed to F positionally)")
        if params is not None and not isinstance(params, Mapping):
            raise ValueError(f"params must be a mapping {{name: value}}, got {params!r}")
        kw = {}
        for k, v in (params or {}).items():
            if not isinstance(k, str):
                raise ValueError(f"params: keys must be names (str) for a callable F, got {k!r}")
            kw[k] = v
        vector = isinstance(value, (list, tuple, np.ndarray, sp.MatrixBase))
        claim_exact = [_exact(v, "value") for v in (list(value) if vector else [value])]
        for c in claim_exact:
            if c.free_symbols:
                raise ValueError(f"value must be numeric for a callable F, got {c}")
        if vector and not claim_exact:
            raise ValueError("value must not be empty")
        with mp.workdps(dps):
            claim = [_to_mp(c.evalf(dps + 5), dps + 5) for c in claim_exact]

        def call(xs):
            with mp.workdps(dps):
                out = F(list(xs) if vector else xs[0], **{k: (mp.mpmathify(v) if isinstance(v, (str, numbers.Number)) and not isinstance(v, bool) else v)
                                                          for k, v in kw.items()})
                out = list(out) if isinstance(out, (list, tuple, np.ndarray, mp.matrix)) else [out]
                if len(out) != len(xs):
                    raise ValueError(f"F returned {len(out)} value(s) for a state of {len(xs)} entries")
                return [mp.mpmathify(o) for o in out]

        with mp.workdps(dps):
            fx = call(claim)
            res = [fx_i - c for fx_i, c in zip(fx, claim)]
        g = call
    else:
        exprs, _ = _as_exprs(F, "F")
        free = _free(exprs)
        if x is None:
            raise ValueError("x (the state symbol or symbols) is required for a sympy F")
        xs, _ = _as_symbols(x, free, "x")
        if len(xs) != len(exprs):
            raise ValueError(f"x must have one symbol per entry of F: F has {len(exprs)}, x has {len(xs)}")
        if isinstance(value, (list, tuple, np.ndarray, sp.MatrixBase)):
            vals = list(value)
        else:
            vals = [value]
        value_free = set()
        for v in vals:
            if isinstance(v, sp.Basic):
                value_free |= v.free_symbols
        bound = _bind(params, free | value_free)
        clash = set(bound) & set(xs)
        if clash:
            raise ValueError(f"params must not give values to the state variables x ({_names(clash)})")
        left = _free(exprs) - set(xs) - set(bound)
        if left:
            raise ValueError(f"params must give a value to every free symbol of F other than x; missing: {_names(left)}")
        if len(vals) != len(xs):
            raise ValueError(f"value must have {len(xs)} entries (one per state variable), got {len(vals)}")
        claim_exact = []
        for i, v in enumerate(vals):
            c = _exact(v, "value").xreplace(bound)
            if c.free_symbols:
                raise ValueError(f"value: entry {i} ({c}) has free symbols {_names(c.free_symbols)} not given in params")
            claim_exact.append(c)
        subs = dict(zip(xs, claim_exact))
        Fb = [e.xreplace(bound) for e in exprs]
        res_exprs = [e.xreplace(subs) - c for e, c in zip(Fb, claim_exact)]
        res = [_to_mp(r.evalf(dps, maxn=max(400, 4 * dps)), dps) for r in res_exprs]
        claim = [_to_mp(c.evalf(dps + 5), dps + 5) for c in claim_exact]
        num = lambdify(Fb, xs, "mpmath", dps=dps)

        def g(xs_mp):
            return num(*xs_mp)

    with mp.workdps(dps):
        residual = _max_abs(res)
        tol = mp.mpf(10) ** (-digits) * max(mp.mpf(1), _max_abs(claim))
        ok = bool(residual <= tol)
        claimed = tuple(+c for c in claim)
    msg = (f"|F(x) - x| = {mp.nstr(residual, 5)} {'<=' if ok else '>'} {mp.nstr(tol, 5)} "
           f"({digits} digits at dps={dps})")
    refined = error = correct = None
    if refine:
        with mp.workdps(dps):
            try:
                root = _findroot(g, list(claimed), dps)
            except (ValueError, ZeroDivisionError, ArithmeticError) as exc:
                msg += f"; refinement by mpmath.findroot failed ({exc}), judged on the residual alone"
            else:
                refined = tuple(root)
                error = _max_abs([c - r for c, r in zip(claimed, refined)])
                scale = max(_max_abs(refined), mp.mpf(1))
                if error == 0:
                    correct = dps
                else:
                    correct = int(min(dps, max(0, mp.floor(-mp.log10(error / scale)))))
                close = bool(error <= tol)
                msg += (f"; the fixed point found from the claim differs from it by {mp.nstr(error, 5)} "
                        f"({correct} correct digits)")
                ok = ok and close
    return FixedPointCheck(passed=ok, residual=residual, tolerance=tol, digits=digits, dps=dps,
                           claimed=claimed, refined=refined, error=error, correct_digits=correct, message=msg)


def _findroot(g, x0, dps):
    """Root of ``g(x) - x`` near ``x0`` at the current precision (secant in 1-D, Newton otherwise)."""
    import mpmath as mp

    n = len(x0)
    if n == 1:
        h = mp.mpf(10) ** (-(dps // 3)) * max(1, abs(x0[0]))
        r = mp.findroot(lambda t: g([t])[0] - t, (x0[0], x0[0] + h), solver="secant")
        return [r]

    def fvec(*xs):
        out = g(list(xs))
        return [o - xi for o, xi in zip(out, xs)]

    r = mp.findroot(fvec, x0, solver="mdnewton")
    return [r[i] for i in range(n)]


# ----------------------------------------------------------------------------- series


def series(expr, var, point=0, order: int = 3):
    """Taylor expansion of ``expr`` in ``var`` around ``point``, up to ``(var - point)**order`` included.

    A thin wrapper over ``sympy.series`` that drops the ``O(...)`` term. Around a trivial fixed
    point ``x* = F(x*)``, the linear coefficient of ``F`` gives the stability threshold
    (``|F'(x*)| = 1``) and the quadratic one a tricritical point (where it vanishes at the
    threshold).

    Parameters
    ----------
    expr : sympy.Expr
    var : Symbol or str
    point : number or sympy expression
    order : int >= 0
        Highest power kept (``order=3`` keeps terms up to ``(var - point)**3``).

    Returns
    -------
    sympy.Expr
        The truncated polynomial.

    Examples
    --------
    >>> import sympy as sp
    >>> from fixedpoint.symbolic import series
    >>> m, snr = sp.symbols("m snr", positive=True)
    >>> series(snr * m / (1 + snr * m), m, 0, 3)
    m**3*snr**3 - m**2*snr**2 + m*snr
    """
    sp = _sympy()
    exprs, vector = _as_exprs(expr)
    if vector:
        raise ValueError("expr must be a single expression; expand the entries of a vector map one at a time")
    e = exprs[0]
    v = _resolve_symbol(var, e.free_symbols, "var")
    if isinstance(order, bool) or not isinstance(order, (numbers.Integral, np.integer)) or order < 0:
        raise ValueError(f"order must be a non-negative integer, got {order!r}")
    try:
        pt = sp.sympify(point)
    except (sp.SympifyError, SyntaxError, TypeError) as exc:
        raise ValueError(f"point must be a number or a sympy expression, got {point!r} ({exc})") from None
    if v in pt.free_symbols:
        raise ValueError(f"point must not depend on var ({v})")
    s = sp.series(e, v, pt, int(order) + 1)
    return s.removeO()


def taylor_coefficients(expr, var, point=0, order: int = 3) -> list:
    """Simplified Taylor coefficients ``[c_0, c_1, ..., c_order]`` of ``expr`` in ``var`` around ``point``.

    ``c_k`` is the coefficient of ``(var - point)**k``.

    Examples
    --------
    >>> import sympy as sp
    >>> from fixedpoint.symbolic import taylor_coefficients
    >>> m, snr = sp.symbols("m snr", positive=True)
    >>> c = taylor_coefficients(snr * m / (1 + snr * m), m, 0, 2)
    >>> c
    [0, snr, -snr**2]
    >>> sp.solve(sp.Eq(c[1], 1), snr)        # stability threshold of m = 0
    [1]
    """
    sp = _sympy()
    poly = series(expr, var, point, order)
    exprs, _ = _as_exprs(expr)
    v = _resolve_symbol(var, exprs[0].free_symbols, "var")
    pt = sp.sympify(point)
    u = sp.Dummy("u")
    p = sp.expand(poly.subs(v, u + pt))
    return [sp.simplify(p.coeff(u, k)) for k in range(int(order) + 1)]
