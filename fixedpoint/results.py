"""Result objects: ``Status``, ``Solution``, ``Sweep``, ``PhaseDiagram``, ``Threshold``, ``Optimum``,
``PhaseLine`` and ``PhaseLines``.

All are frozen dataclasses. Arrays inside them are made read-only so that a result cannot be
edited by accident after the engine has judged it. Nothing here computes physics.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = ["Status", "Solution", "Sweep", "PhaseDiagram", "Threshold", "Optimum", "PhaseLine", "PhaseLines"]


class Status(str, enum.Enum):
    """How a solve ended. A ``str`` so that it prints, compares and serialises plainly."""

    CONVERGED = "converged"
    MAX_ITER = "max_iter"  # the iteration budget ran out with the residual still above tolerance
    NONFINITE = "nonfinite"  # the map returned NaN or inf
    OUT_OF_DOMAIN = "out_of_domain"  # the map left bounds() (negative variance, q > rho, ...)
    STAGNATED = "stagnated"  # the residual stopped decreasing (cycling, noise floor)
    FAILED = "failed"  # anything else (e.g. the model raised inside a sweep)

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return self.value


def _matrix(names, x, name):
    """A matrix order parameter stored as entries ``name[i,j]`` (:mod:`fixedpoint.matrices`):
    ``p x p``, stacked along the leading axes of a sweep or a diagram; ``None`` if there is none."""
    from .matrices import block

    return block(names, x, name)


def _frozen(a, dtype=None) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Solution:
    """A solve of ``x = F(x)``.

    Attributes
    ----------
    x : ndarray
        The last point at which ``F`` was evaluated (and whose residual is reported).
    names : tuple of str
        Labels of the entries of ``x``.
    converged : bool
        ``max_i |F(x)_i - x_i| / w_i <= 1`` with ``w_i = atol + rtol |x_i|`` (or the model-scaled
        tolerance of :func:`fixedpoint.solvers.make_tolerance`): judged on the true residual.
    status : Status
    message : str
        What happened and, when not converged, what to try.
    iterations, evaluations : int
        Solver iterations and calls of ``F`` (stability checks included).
    residual : float
        The scaled residual above at ``x`` (``<= 1`` when converged).
    residuals : ndarray
        History of the scaled residual, one entry per iteration.
    observables : dict
        ``model.observables(x)`` (empty for a plain callable or a non-finite state).
    spectral_radius : float
        Spectral radius of the Jacobian of ``F`` at ``x`` when the solver computed it (it does
        so to check that an accelerated solve did not land on a point that plain iteration
        would leave), else NaN.
    error_estimate : float
        For a converged solve, the estimated error ``max_i |x_i - x*_i| / w_i`` in the same
        tolerances as ``residual``: the Newton step ``(I - J)^-1 (F(x) - x)`` where the Jacobian
        was computed, else the solver's secant model or the rate of its last plain step
        (:mod:`fixedpoint.solvers`); NaN when there is none. Where the map contracts slowly it
        exceeds the residual by ``1 / (1 - rate)``. Above 1 the solver polishes the point by
        Newton steps; what remains above 2 is said in ``message``.
    jacobian : ndarray or None
        The Jacobian of ``F`` when the solver computed it (for its stability check, or to polish
        the point): at ``x``, or at the point the polish started from, within the tolerance of
        ``x``; else ``None``. A sweep extrapolates it along the branch, to begin its next warm
        solve by chord Newton steps.
    """

    x: np.ndarray
    names: tuple[str, ...]
    converged: bool
    status: Status
    message: str
    iterations: int
    evaluations: int
    residual: float
    residuals: np.ndarray
    observables: Mapping[str, float] = field(default_factory=dict)
    spectral_radius: float = math.nan
    start: Any = None
    error_estimate: float = math.nan
    jacobian: Any = field(default=None, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "x", _frozen(self.x, float))
        if self.jacobian is not None:
            object.__setattr__(self, "jacobian", _frozen(self.jacobian, float))
        object.__setattr__(self, "residuals", _frozen(self.residuals, float))

    def __getitem__(self, name: str):
        if name in self.names:
            return float(self.x[self.names.index(name)])
        if name in self.observables:
            return self.observables[name]
        matrix = _matrix(self.names, self.x, name)
        if matrix is not None:
            return matrix
        raise KeyError(f"{name!r} is neither a state entry {self.names} nor an observable {tuple(self.observables)}")

    def keys(self) -> tuple[str, ...]:
        """State names followed by observable names."""
        return tuple(self.names) + tuple(k for k in self.observables if k not in self.names)

    def __repr__(self) -> str:
        state = ", ".join(f"{n}={v:.10g}" for n, v in zip(self.names, self.x))
        return (
            f"Solution({state}; {self.status.value}, {self.iterations} iterations, "
            f"{self.evaluations} evaluations, residual={self.residual:.3g})"
        )


class _Table:
    """What ``Sweep`` and ``PhaseDiagram`` share: look-up by name, and ``.npz`` files."""

    _ARRAYS = (("x", float), ("converged", bool), ("status", str), ("iterations", int), ("evaluations", int),
               ("error_estimate", float))

    def _freeze(self):
        if self.error_estimate is None:  # (built or saved without it)
            object.__setattr__(self, "error_estimate", np.full(np.shape(self.converged), np.nan))
        for name, dtype in self._ARRAYS:
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        object.__setattr__(self, "observables", {k: _frozen(v, float) for k, v in self.observables.items()})

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.names:
            return self.x[..., self.names.index(name)]
        if name in self.observables:
            return self.observables[name]
        matrix = _matrix(self.names, self.x, name)
        if matrix is not None:
            return matrix
        raise KeyError(f"{name!r} is neither a state entry {self.names} nor an observable {tuple(self.observables)}")

    def keys(self) -> tuple[str, ...]:
        """State names followed by observable names."""
        return tuple(self.names) + tuple(k for k in self.observables if k not in self.names)

    def save(self, path) -> Path:
        """Write to ``path`` (``.npz``: numpy arrays plus JSON metadata); read back with ``load``."""
        return _save(self, path)

    @classmethod
    def load(cls, path):
        return _load(cls, path)


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, tuple):
        return [_jsonable(e) for e in v]
    return v


@dataclass(frozen=True, eq=False)
class Sweep(_Table):
    """One branch along a parameter: at each value, the fixed point ``solve`` reaches from ``start``.

    Attributes
    ----------
    param : str
    values : ndarray, shape (n,)
    x : ndarray, shape (n, len(names))
        NaN rows where a point failed (see ``status``).
    names : tuple of str
    converged : ndarray of bool, shape (n,)
    status : ndarray of str, shape (n,)
    iterations, evaluations : ndarray of int, shape (n,)
    observables : dict of name -> ndarray, shape (n,)
    messages : tuple of str
    start : str or None
        The start the branch was followed from ("uninformed", "informed" or "array").
    model : str
        ``repr`` of the model at the first value (for provenance).
    error_estimate : ndarray of float, shape (n,)
        Each converged point's ``Solution.error_estimate`` (NaN elsewhere, or unknown).
    """

    param: str
    values: np.ndarray
    x: np.ndarray
    names: tuple[str, ...]
    converged: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    evaluations: np.ndarray
    observables: Mapping[str, np.ndarray]
    messages: tuple[str, ...]
    start: Any = None
    model: str = ""
    error_estimate: Any = None

    def __post_init__(self):
        object.__setattr__(self, "values", _frozen(self.values, float))
        self._freeze()

    def __len__(self) -> int:
        return len(self.values)

    def to_pandas(self):
        """A tidy ``pandas.DataFrame``: one row per value, columns param, state, observables, status."""
        import pandas as pd

        data = {self.param: self.values}
        for k in self.keys():
            data[k] = self[k]
        data["converged"] = self.converged
        data["status"] = self.status
        data["iterations"] = self.iterations
        return pd.DataFrame(data)

    def to_xarray(self):
        """An ``xarray.Dataset`` indexed by the swept parameter (needs the ``xarray`` extra)."""
        import xarray as xr

        coords = {self.param: self.values}
        data = {k: ((self.param,), self[k]) for k in self.keys()}
        data["converged"] = ((self.param,), self.converged)
        return xr.Dataset(data, coords=coords, attrs={"start": str(self.start), "model": self.model})

    def __repr__(self) -> str:
        return (f"Sweep({self.param}: {len(self.values)} values from {self.start!r}, "
                f"{int(self.converged.sum())} converged)")


@dataclass(frozen=True, eq=False)
class PhaseDiagram(_Table):
    """Fixed points on a 2-D grid of parameters; entry ``[i, j]`` is at ``(values[0][i], values[1][j])``.

    Arrays of shape ``(n1, n2)`` (``x``: ``(n1, n2, len(names))``) as in :class:`Sweep`, with
    ``error_estimate`` each converged point's ``Solution.error_estimate`` (NaN elsewhere, in a
    diagram saved before it existed, or unknown)."""

    params: tuple[str, str]
    values: tuple[np.ndarray, np.ndarray]
    x: np.ndarray
    names: tuple[str, ...]
    converged: np.ndarray
    status: np.ndarray
    iterations: np.ndarray
    evaluations: np.ndarray
    observables: Mapping[str, np.ndarray]
    start: Any = None
    model: str = ""
    error_estimate: Any = None

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(_frozen(v, float) for v in self.values))
        self._freeze()

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.values[0]), len(self.values[1]))

    def to_pandas(self):
        """A tidy ``pandas.DataFrame`` with one row per grid point."""
        import pandas as pd

        g1, g2 = np.meshgrid(self.values[0], self.values[1], indexing="ij")
        data = {self.params[0]: g1.ravel(), self.params[1]: g2.ravel()}
        for k in self.keys():
            data[k] = self[k].ravel()
        data["converged"] = self.converged.ravel()
        data["status"] = self.status.ravel()
        return pd.DataFrame(data)

    def to_xarray(self):
        """An ``xarray.Dataset`` on the two parameter axes (needs the ``xarray`` extra)."""
        import xarray as xr

        dims = tuple(self.params)
        data = {k: (dims, self[k]) for k in self.keys()}
        data["converged"] = (dims, self.converged)
        return xr.Dataset(data, coords={self.params[0]: self.values[0], self.params[1]: self.values[1]},
                          attrs={"start": str(self.start), "model": self.model})

    def __repr__(self) -> str:
        return (f"PhaseDiagram({self.params[0]} x {self.params[1]}: {self.shape}, from {self.start!r}, "
                f"{int(self.converged.sum())}/{self.converged.size} converged)")


def _save(obj, path) -> Path:
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    arrays, meta = {}, {"class": type(obj).__name__}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.name == "observables":
            meta["observables"] = list(v)
            for k, a in v.items():
                arrays[f"obs::{k}"] = a
        elif f.name == "values" and isinstance(v, tuple):
            meta["values_tuple"] = len(v)
            for i, a in enumerate(v):
                arrays[f"values::{i}"] = a
        elif isinstance(v, np.ndarray):
            arrays[f.name] = v
        else:
            meta[f.name] = _jsonable(v)
    arrays["__meta__"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def _load(cls, path):
    with np.load(Path(path), allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        if meta.pop("class") != cls.__name__:
            raise ValueError(f"{path} does not hold a {cls.__name__}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name == "observables":
                kwargs[f.name] = {k: data[f"obs::{k}"] for k in meta.pop("observables")}
            elif f.name == "values" and "values_tuple" in meta:
                kwargs[f.name] = tuple(data[f"values::{i}"] for i in range(meta.pop("values_tuple")))
            elif f.name in data.files:
                kwargs[f.name] = data[f.name]
            elif f.name in meta:
                v = meta[f.name]
                kwargs[f.name] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)


@dataclass(frozen=True, eq=False)
class Threshold:
    """A threshold located in a parameter.

    Attributes
    ----------
    kind : str
        ``"stability"``, ``"spinodal"``, ``"first_order"`` or ``"level"``.
    param : str
    value : float
        The location (NaN when it could not be found; see ``message``).
    bracket : tuple of float
        The final bracket ``(lo, hi)`` around ``value``.
    converged : bool
        ``hi - lo`` (or the root finder's own estimate) reached the tolerance and every solve
        it relied on converged.
    message : str
    below, above : Solution or None
        Solutions on the two sides of the final bracket (for ``first_order``: the two branches
        at ``value``).
    solves : int
        How many fixed-point solves (or Jacobian evaluations, for ``stability``) it took.
    direction : ndarray or None
        For ``stability``: the direction in which the trivial fixed point becomes unstable (the
        eigenvector of the Jacobian for its eigenvalue of largest modulus, at ``value``; unit
        norm, largest entry positive), in the order of the state (``above.names``): which
        order parameters, or which block of a matrix order parameter
        (``fixedpoint.matrices.block(thr.above.names, thr.direction, "Q")``), are learned first.
    """

    kind: str
    param: str
    value: float
    bracket: tuple[float, float]
    converged: bool
    message: str
    below: Solution | None = None
    above: Solution | None = None
    solves: int = 0
    direction: np.ndarray | None = None

    def __float__(self) -> float:
        return float(self.value)

    def __repr__(self) -> str:
        return (f"Threshold({self.kind} in {self.param} = {self.value:.10g}, bracket="
                f"({self.bracket[0]:.10g}, {self.bracket[1]:.10g}), converged={self.converged}, "
                f"solves={self.solves})")


@dataclass(frozen=True, eq=False)
class Optimum:
    """The minimiser of an observable over a parameter (``fixedpoint.optimize``)."""

    param: str
    observable: str
    value: float
    minimum: float
    converged: bool
    message: str
    solution: Solution | None
    solves: int = 0

    def __repr__(self) -> str:
        return (f"Optimum({self.param} = {self.value:.10g}, {self.observable} = {self.minimum:.10g}, "
                f"converged={self.converged}, solves={self.solves})")


#: the physics name of each line of :class:`PhaseLines`, keyed by ``PhaseLine.key``
LINE_NAMES = {
    "stability": "weak recovery",
    "spinodal_uninformed": "algorithmic",
    "spinodal_informed": "lower spinodal",
    "first_order": "IT",
}


@dataclass(frozen=True, eq=False)
class PhaseLine:
    """One transition line of :func:`fixedpoint.phase_lines`: ``values[i]`` at ``over_values[i]``.

    The same fields as :class:`fixedpoint.ThresholdLine` (so that anything drawing one draws the
    other), plus where the line exists.

    Attributes
    ----------
    kind : str
        ``"stability"``, ``"spinodal"`` or ``"first_order"``.
    start : str or None
        For a spinodal, the branch that ends: ``"uninformed"`` (the algorithmic threshold, upper
        spinodal) or ``"informed"`` (lower spinodal); ``None`` otherwise.
    name : str
        The physics name (:data:`LINE_NAMES`): "weak recovery", "algorithmic", "lower spinodal",
        "IT".
    param, over : str
        The line gives ``param`` as a function of ``over``.
    over_values, values : ndarray
        Sorted in ``over``; ``values`` is NaN where the line does not exist. The located ends of
        the line are among the ``over_values``.
    converged : ndarray of bool
    intervals : tuple of (float, float)
        The intervals of ``over`` in which the line exists, ends located to the line's tolerance.
    messages : tuple of str
    """

    kind: str
    start: str | None
    name: str
    param: str
    over: str
    over_values: np.ndarray
    values: np.ndarray
    converged: np.ndarray
    intervals: tuple = ()
    messages: tuple = ()

    @property
    def key(self) -> str:
        """``kind``, with the branch for a spinodal: ``"spinodal_uninformed"``."""
        return f"{self.kind}_{self.start}" if self.kind == "spinodal" else self.kind

    def __call__(self, over_value) -> np.ndarray:
        """The line at ``over_value`` (linear interpolation; NaN outside its intervals)."""
        v = np.asarray(over_value, float)
        ok = np.isfinite(self.values)
        out = np.full(v.shape, np.nan)
        if ok.sum() < 1:
            return out
        for lo, hi in self.intervals:
            inside = (v >= lo) & (v <= hi)
            sel = ok & (self.over_values >= lo) & (self.over_values <= hi)
            if sel.sum() >= 1:
                out[inside] = np.interp(v[inside], self.over_values[sel], self.values[sel])
        return out

    def to_dict(self) -> dict:
        return {"kind": self.kind, "start": self.start, "name": self.name, "param": self.param, "over": self.over,
                "intervals": [[float(a), float(b)] for a, b in self.intervals],
                self.over: [float(v) for v in self.over_values],
                self.param: [None if not math.isfinite(v) else float(v) for v in self.values],
                "converged": [bool(c) for c in self.converged]}

    def __repr__(self) -> str:
        iv = ", ".join(f"[{a:.6g}, {b:.6g}]" for a, b in self.intervals) or "nowhere"
        return f"PhaseLine({self.name}: {self.param}({self.over}) on {iv}, {int(np.isfinite(self.values).sum())} points)"


#: region names of :meth:`PhaseLines.region`
REGIONS = ("impossible", "hard", "easy")


@dataclass(frozen=True, eq=False)
class PhaseLines:
    """Every transition line of a model over a range (:func:`fixedpoint.phase_lines`).

    Attributes
    ----------
    param, over : str
        Each line gives ``param`` as a function of ``over``.
    lines : tuple of PhaseLine
        Only the lines that exist somewhere in the range.
    points : tuple of dict
        Special points, each ``{"kind": ..., over: value, param: value}``. Kinds:
        ``"tricritical"`` (a coexistence region closes in a model with a trivial fixed point:
        the spinodals and the first-order line meet), ``"critical"`` (the same without a trivial
        fixed point).
    message : str
    """

    param: str
    over: str
    lines: tuple
    points: tuple = ()
    message: str = ""

    def __iter__(self):
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, key: str) -> PhaseLine:
        """A line by ``key`` (``"stability"``, ``"spinodal_uninformed"``, ``"spinodal_informed"``,
        ``"first_order"``) or by physics ``name``."""
        for line in self.lines:
            if key in (line.key, line.name):
                return line
        raise KeyError(f"no line {key!r}; lines: {[l.key for l in self.lines]}")

    def get(self, key: str):
        try:
            return self[key]
        except KeyError:
            return None

    def region(self, over_value: float, value: float) -> str:
        """Name of the region at ``over = over_value``, ``param = value`` (see :meth:`regions`)."""
        return str(self.regions([over_value], [value])[0, 0])

    def regions(self, over_values, values) -> np.ndarray:
        """Region names on the grid ``over_values x values`` (shape ``(len(over_values), len(values))``).

        The signal grows with ``param``. With IT the first-order line, ALG the algorithmic line
        (the upper spinodal) and WR the weak-recovery line at the same ``over``:

        * ``"easy"``: above ALG; above WR and below IT (where the uninformative phase is
          left continuously); everywhere when no line exists at this ``over``;
        * ``"hard"``: between IT and ALG (the optimal estimator is informative, the algorithm
          from an uninformed start is not);
        * ``"impossible"``: below IT and below WR, or below WR where the transition is continuous.

        Where spinodals exist without a first-order line (no free entropy), the region between them
        cannot be named and is ``"undetermined"``.
        """
        ov = np.asarray(over_values, float).ravel()
        s = np.asarray(values, float).ravel()[None, :]
        nan = np.full(ov.shape, np.nan)
        it, alg, wr = ((self.get(k)(ov) if self.get(k) is not None else nan)[:, None]
                       for k in ("first_order", "spinodal_uninformed", "stability"))
        low = np.isfinite(self.get("spinodal_informed")(ov) if self.get("spinodal_informed") is not None
                          else nan)[:, None]
        out = np.full((ov.size, s.size), "easy", dtype=object)
        has_wr, has_it, has_alg = np.isfinite(wr), np.isfinite(it), np.isfinite(alg)
        out[has_wr & (s < wr)] = "impossible"
        first = has_it & has_alg
        out[first & (s < alg)] = "hard"
        out[first & (s < it) & ~(has_wr & (s >= wr))] = "impossible"
        out[first & (s < it) & has_wr & (s >= wr)] = "easy"
        out[~has_it & has_alg & low & (s < alg) & ~(has_wr & (s < wr))] = "undetermined"
        return out.astype(str)

    def to_dict(self) -> dict:
        """JSON-ready: ``{"lines": {key: line.to_dict()}, "points": [...]}``."""
        return {"param": self.param, "over": self.over,
                "lines": {line.key: line.to_dict() for line in self.lines},
                "points": [{k: (float(v) if not isinstance(v, str) else v) for k, v in p.items()} for p in self.points],
                "message": self.message}

    def __repr__(self) -> str:
        pts = "; ".join(f"{p['kind']} at {self.over}={p[self.over]:.6g}, {self.param}={p[self.param]:.6g}"
                        for p in self.points)
        return (f"PhaseLines({self.param} over {self.over}: " + ", ".join(repr(l) for l in self.lines)
                + (f"; {pts}" if pts else "") + ")")
