"""Argument checks shared by the public entry points (private).

Every entry point (``solve``, ``sweep``, ``phase_diagram``, ``threshold``, ``threshold_line``,
``optimize``) checks all its arguments with these functions *before* it solves anything, so that
a mistake in a call raises at once, with a message naming the argument and what it may be,
instead of surfacing as a failed point deep inside a sweep (where it would be mistaken for a
property of the model). Once the arguments are checked, anything raised at a point is the
model's own doing and is recorded there.

Each function raises :class:`ArgumentError` (a ``ValueError``) and returns the argument in the
form the engine uses. Numpy scalars are accepted wherever a Python number is and returned as
the Python number they equal (``.item()``); Python numbers are returned unchanged, so the reprs
(and checkpoint fingerprints) of calls that were valid before stay exactly as they were.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

__all__ = [
    "ArgumentError", "start", "solver", "tolerances", "max_iter", "kind", "param", "level", "positive", "values",
    "observable", "bracket", "bounds", "grid", "over", "flag", "damping", "real",
]

STARTS = ("uninformed", "informed")


class ArgumentError(ValueError):
    """An invalid argument of a call (not a failure of the model).

    A ``ValueError``, so that callers catching ``ValueError`` keep working; the loops over
    points re-raise it rather than record it, since an argument the engine itself passes to a
    point (a warm start, say) being invalid is a bug of the engine, not of the model.
    """


# ----------------------------------------------------------------------------- numbers


def _is_real(value) -> bool:
    """A real scalar: Python or numpy int/float (``numbers.Real``), but not a bool, which is
    an ``int`` to Python but never a meaningful tolerance, budget or parameter value."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _plain(value):
    """A numpy scalar as the Python number it equals; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def real(value, name: str, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real scalar, optionally within ``[low, high]`` (``low_open``/``high_open``: strict).

    Parameters
    ----------
    value
        The argument.
    name : str
        Its name, for the message.
    low, high : float, optional
        Bounds of the allowed interval.
    low_open, high_open : bool
        Whether the bound itself is excluded.

    Returns
    -------
    int or float
        ``value`` (a numpy scalar converted to the equal Python number).

    Raises
    ------
    ArgumentError
    """
    # (the fast path is taken by every solve of a sweep: the message is built only on failure)
    ok = type(value) is float or type(value) is int or _is_real(value)
    if ok:
        v = float(value)
        ok = math.isfinite(v)
        if low is not None:
            ok = ok and (v > low if low_open else v >= low)
        if high is not None:
            ok = ok and (v < high if high_open else v <= high)
    if not ok:
        lo_txt = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi_txt = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        rule = " and ".join(t for t in (lo_txt, hi_txt) if t)
        raise ArgumentError(f"{name} must be a finite real number{' ' + rule if rule else ''}, got {value!r}")
    return _plain(value)


def tolerances(atol, rtol):
    """``(atol, rtol)``: each a finite real number >= 0, not both zero.

    Convergence is ``|F(x) - x| <= atol + rtol |x|``: with both zero only an exact fixed point
    would pass, and rounding rarely allows one.
    """
    atol = real(atol, "atol", low=0.0)
    rtol = real(rtol, "rtol", low=0.0)
    if atol == 0 and rtol == 0:
        raise ArgumentError("atol and rtol cannot both be zero (convergence would need an exact fixed point)")
    return atol, rtol


def max_iter(value, name: str = "max_iter") -> int:
    """A positive integer (Python or numpy; a bool or an integral float is rejected)."""
    if not (isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))) or value < 1:
        raise ArgumentError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive(value, name: str):
    """A finite real number > 0 (``tol``, ``xtol``)."""
    return real(value, name, low=0.0, low_open=True)


def level(value, name: str = "level"):
    """A finite real number (the level an observable crosses)."""
    return real(value, name)


def damping(value, name: str = "damping"):
    """The weight of the old iterate: a real number in ``[0, 1)``."""
    return real(value, name, low=0.0, high=1.0, high_open=True)


def flag(value, name: str, *, optional: bool = False):
    """A bool (numpy's included), or also ``None`` when ``optional``."""
    if optional and value is None:
        return None
    if not isinstance(value, (bool, np.bool_)):
        allowed = "True, False or None" if optional else "True or False"
        raise ArgumentError(f"{name} must be {allowed}, got {value!r}")
    return bool(value)


def _pair(value, name: str) -> tuple[float, float]:
    """``(lo, hi)``: two finite real numbers with ``lo < hi``."""
    try:
        items = tuple(value)
    except TypeError:
        items = ()
    if isinstance(value, (str, bytes)) or len(items) != 2 or not all(_is_real(v) for v in items):
        raise ArgumentError(f"{name} must be a pair (lo, hi) of numbers, got {value!r}")
    a, b = float(items[0]), float(items[1])
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise ArgumentError(f"{name} must be finite with lo < hi, got {value!r}")
    return a, b


def bracket(value, name: str = "bracket") -> tuple[float, float]:
    """A threshold's bracket ``(lo, hi)``: finite numbers, ``lo < hi``."""
    return _pair(value, name)


def bounds(value, name: str = "bounds") -> tuple[float, float]:
    """``optimize``'s search interval ``(lo, hi)``: finite numbers, ``lo < hi``."""
    return _pair(value, name)


def _vector(value, name: str) -> np.ndarray:
    """A real numeric array with at most one axis longer than 1, as a flat float array.

    A row or column vector (or a single number) ravels unambiguously and is accepted; a
    genuinely 2-D array (say the states of a whole sweep) is not, since flattening it would
    silently mix its axes. Bool, complex and string entries are rejected.
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # e.g. a ragged list
        raise ArgumentError(f"{name} must be a 1-D array of real numbers, got {value!r}") from None
    if arr.dtype.kind == "O" and arr.ndim > 0 and all(_is_real(v) for v in arr.ravel()):
        arr = arr.astype(float)  # e.g. a list of Fractions
    if arr.dtype.kind not in "iuf":
        raise ArgumentError(f"{name} must be a 1-D array of real numbers, got {value!r}")
    if sum(n > 1 for n in arr.shape) > 1:
        raise ArgumentError(f"{name} must be a 1-D array of real numbers, got an array of shape {arr.shape}")
    return np.array(arr, dtype=float).ravel()


def values(value, param: str, name: str = "values") -> np.ndarray:
    """The values of the parameter ``param``: a non-empty 1-D array of finite real numbers.

    Any order is allowed. A value the model itself rejects (a negative variance, say) is not
    an error here: it is a valid number, and its point is recorded as failed.
    """
    arr = _vector(value, f"{name} of {param!r}")
    if arr.size == 0:
        raise ArgumentError(f"{name} of {param!r} must contain at least one value")
    if not np.all(np.isfinite(arr)):
        raise ArgumentError(f"{name} of {param!r} must be finite, got {arr}")
    return arr


# ----------------------------------------------------------------------------- choices


def jacobian_guess(value, n: int, name: str = "jacobian_guess"):
    """``None`` or a finite ``n x n`` real matrix (returned as a float array)."""
    if value is None:
        return None
    try:
        J = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise ArgumentError(f"{name} must be a real {n} x {n} matrix, got {value!r}") from None
    if J.shape != (n, n) or not np.all(np.isfinite(J)):
        raise ArgumentError(f"{name} must be a finite {n} x {n} matrix (one row and column per state entry), "
                            f"got shape {J.shape}" + ("" if J.shape != (n, n) else " with non-finite entries"))
    return J


def kind(value, kinds, name: str = "kind") -> str:
    """One of the strings ``kinds``."""
    if not (isinstance(value, str) and value in kinds):
        raise ArgumentError(f"{name} must be one of {', '.join(map(repr, kinds))}; got {value!r}")
    return value


def solver(value, name: str = "solver"):
    """``None`` (the default solver) or a ``fixedpoint.Anderson`` / ``fixedpoint.Damped``."""
    from .solvers import Anderson, Damped  # (solvers imports this module)

    if value is not None and not isinstance(value, (Anderson, Damped)):
        raise ArgumentError(f"{name} must be None (the default), fixedpoint.Anderson(...) or fixedpoint.Damped(...), "
                            f"got {value!r}")
    return value


def param(model, value, name: str = "param") -> str:
    """A field of the model's (frozen) dataclass, i.e. something ``dataclasses.replace`` can set."""
    if not dataclasses.is_dataclass(model) or isinstance(model, type):
        raise ArgumentError(f"model must be a (frozen) dataclass of its parameters, got {type(model).__name__}")
    names = [f.name for f in dataclasses.fields(model) if f.init]
    if not (isinstance(value, str) and value in names):
        raise ArgumentError(f"{name} {value!r} is not a parameter of {type(model).__name__}; its parameters are: "
                            f"{', '.join(names)}")
    return value


def start(model, value, name: str = "start"):
    """``"uninformed"``, ``"informed"``, a start the model names in its optional ``starts``
    (e.g. ``"specialised"``), or a finite 1-D array with one entry per state name.

    Whether an array start lies in the model's domain is left to ``solve``: the domain may
    depend on the parameters (``q <= rho``), so along a sweep it is a property of each point.

    Returns
    -------
    str or ndarray
        The string, or the start as a flat float array.
    """
    names = tuple(model.state_names)
    named = STARTS + tuple(getattr(model, "starts", ()))
    allowed = (f"{name} must be " + ", ".join(repr(s) for s in named)
               + f" or a finite 1-D array with one entry per state name {names}")
    if isinstance(value, str):
        if value not in named:
            raise ArgumentError(f"{allowed}, got {value!r}")
        return value
    try:
        x = _vector(value, name)
    except ArgumentError:
        raise ArgumentError(f"{allowed}, got {value!r}") from None
    if x.size != len(names):
        raise ArgumentError(f"{allowed}, got {x.size} entries")
    if not np.all(np.isfinite(x)):
        raise ArgumentError(f"{name} must be finite, got {x}")
    return x


def observable(model, value, name: str = "observable") -> str:
    """A state name or a key of ``model.observables``.

    The keys are those of ``model.observables`` at the model's uninformed start: evaluating
    them is cheap and solves nothing. A model that cannot evaluate its observables there (a
    state outside the domain where they are defined, say) does not fail the check: the name is
    then only checked when the solutions have it.
    """
    names = tuple(model.state_names)
    if isinstance(value, str) and value in names:
        return value
    try:
        x0 = np.array(model.initial_state("uninformed"), dtype=float).ravel()
        keys = tuple(model.observables(x0))
    except Exception:  # the model's own code, at a point nobody asked about: not the caller's mistake
        keys = None
    if not isinstance(value, str) or (keys is not None and value not in keys):
        known = f"a state entry {names}" + (f" or an observable {keys}" if keys is not None else " or an observable")
        raise ArgumentError(f"{name} must be {known} of {type(model).__name__}, got {value!r}")
    return value


# ----------------------------------------------------------------------------- parameter grids


def grid(model, value, name: str = "grid"):
    """``phase_diagram``'s ``{p1: values1, p2: values2}``: two parameters of the model.

    Returns
    -------
    (p1, values1, p2, values2)
    """
    if not isinstance(value, dict) or len(value) != 2:
        raise ArgumentError(f"{name} must be a dict of exactly two parameters, e.g. {{'rho': rhos, 'snr': snrs}}, "
                            f"got {value!r}")
    (p1, v1), (p2, v2) = value.items()
    param(model, p1, f"{name} key")
    param(model, p2, f"{name} key")
    return p1, values(v1, p1, f"{name} values"), p2, values(v2, p2, f"{name} values")


def over(model, value, param_name: str, name: str = "over"):
    """``threshold_line``'s ``{p2: values}``: one parameter of the model other than ``param_name``.

    Returns
    -------
    (p2, values)
    """
    if not isinstance(value, dict) or len(value) != 1:
        raise ArgumentError(f"{name} must be a dict with exactly one parameter, e.g. {{'rho': values}}, got {value!r}")
    (p2, v2), = value.items()
    param(model, p2, f"{name} key")
    if p2 == param_name:
        raise ArgumentError(f"{name} must vary a parameter other than the threshold's own ({param_name!r})")
    return p2, values(v2, p2, f"{name} values")
