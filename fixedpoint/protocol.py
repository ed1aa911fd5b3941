"""What a model must provide to the engine (DESIGN.md, "The model protocol").

A model is a frozen dataclass of its physical parameters, so that a step of a sweep is
``dataclasses.replace(model, **{param: value})``. The engine never imports a model family; it
only calls the methods below. Optional members are looked up with ``getattr``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = ["Model", "REQUIRED", "OPTIONAL", "thread_budget", "THREADS_VARIABLE"]

#: members every model has
REQUIRED = ("name", "state_names", "initial_state", "update", "observables", "simulate")
#: members a model may have; the engine falls back to a documented default without them
OPTIONAL = ("trivial_state", "bounds", "free_entropy", "jacobian", "unique_fixed_point", "residual_scale",
            "free_entropy_divergence", "solver_coordinates", "parameters", "labels", "domain_violation",
            "project", "starts", "observable_names", "symmetries")

#: the environment variable through which a phase diagram's worker processes share the cores
THREADS_VARIABLE = "FIXEDPOINT_THREADS"


def thread_budget(default: int) -> int:
    """How many threads a model's own thread pool may use in this process: ``default``, or fewer
    in a worker process of :func:`fixedpoint.phase_diagram`, where the engine sets
    ``FIXEDPOINT_THREADS`` to the cores per worker (two workers each splitting every evaluation
    over two threads on two cores run four threads on two cores, and lose about a quarter of
    their time to switching). A model that splits its work into fixed chunks sums them in the
    same order however many threads run them, so the result does not depend on the budget."""
    text = os.environ.get(THREADS_VARIABLE, "").strip()
    try:
        budget = int(text) if text else default
    except ValueError:
        raise ValueError(f"the environment variable {THREADS_VARIABLE} must be a whole number of threads >= 1, "
                         f"got {text!r}") from None
    if budget < 1:
        raise ValueError(f"the environment variable {THREADS_VARIABLE} must be a whole number of threads >= 1, "
                         f"got {text!r}")
    return min(int(default), budget)


@runtime_checkable
class Model(Protocol):
    """A fixed-point problem ``x = F(x)`` with physics attached.

    Attributes
    ----------
    name : str
        Registry key.
    state_names : tuple of str
        Labels of the entries of the (flat, float64) state vector.

    Methods
    -------
    initial_state(start) -> ndarray
        ``"informed"``: full knowledge of the signal. ``"uninformed"``: the uninformative point
        displaced by a small documented amount toward the signal, as an algorithm started at
        random would be.
    update(x) -> ndarray
        The fixed-point map ``F(x)`` (the conjugate "hat" half-step inside).
    observables(x) -> dict[str, float]
        Errors, overlaps, losses at the state ``x``.
    simulate(d, seed) -> dict[str, float]
        The same observables measured on one finite-size instance.

    Optional: ``trivial_state() -> ndarray | None``; ``bounds() -> (lower, upper)``;
    ``free_entropy(x) -> float``; ``jacobian(x) -> ndarray | None`` (of ``update``, exact or
    semi-analytic, to ~1e-8 relative or better; ``None`` at a state where the model has only finite
    differences, and the engine takes its own there);
    ``unique_fixed_point: ClassVar[bool]`` (true for convex problems: the engine may then
    warm-start freely, since every start reaches the same point, and retries a failed solve from
    the other start); ``residual_scale(x) -> ndarray`` (per entry, the magnitude the entry must
    be resolved against in relative terms, e.g. the distance ``rho - q`` to an absorbing
    boundary; see :func:`fixedpoint.solvers.make_tolerance`);
    ``free_entropy_divergence(x) -> float`` (the coefficient ``c`` of a free entropy that
    diverges along the branch through the fixed point ``x`` as ``c log(1/distance)`` toward a
    boundary, e.g. perfect recovery with noiseless continuous labels; 0 where it is finite:
    first-order thresholds compare branches by ``c`` first and by ``free_entropy`` only when the
    coefficients tie); ``solver_coordinates() -> (to_z, to_x)`` (for a unique-fixed-point model:
    a bijection of the interior of the domain onto ``R^n`` in which a cold solve iterates and
    extrapolates before finishing in the state itself); ``parameters() -> dict`` (a classmethod:
    ``{name: {"default": value, "doc": str, and "allowed": values, or "range": (lo, hi) with
    "open": (lo_open, hi_open), None for an unbounded end}}`` over the dataclass fields, what the
    validation accepts, shown by ``fixedpoint list``; without it only the defaults are listed);
    ``labels: ClassVar[dict[str, str]]``
    (physics names of parameters, state entries and observables for figures, e.g.
    ``{"snr": r"$\\lambda$", "mmse": "MMSE"}``; passed as ``labels=`` to
    :mod:`fixedpoint.plotting`, which prints a name without a label as it is);
    ``observable_names() -> tuple[str, ...]`` (the keys of ``observables(x)``, in order, known
    without evaluating the map: ``fixedpoint list`` shows them without compiling a model's kernels);
    ``domain_violation(x) -> str | None`` (why ``x`` is outside a domain that is not a box, e.g.
    an overlap matrix that is not positive semi-definite, :func:`fixedpoint.matrices.psd_violation`;
    ``None`` inside: an extrapolated iterate outside is replaced by the plain step, a map whose
    value is outside ends the solve as ``out_of_domain`` with this message);
    ``project(x) -> ndarray`` (the nearest state inside that domain: a converged point's Newton
    polish that leaves it is projected back instead of refused);
    ``starts: ClassVar[tuple[str, ...]]`` (named starts beyond ``"uninformed"`` and ``"informed"``
    that ``initial_state`` accepts, e.g. ``"specialised"`` for a committee machine);
    ``symmetries() -> dict[str, callable]`` (maps ``S`` of the state with ``F(S x) = S F(x)``
    and the free entropy unchanged, every element of the group but the identity, keyed by what
    each does, e.g. ``Q -> -Q`` in attention: two solves that end on images of one another are
    one solution to the engine's comparisons, :mod:`fixedpoint.symmetry`).
    ``state_names`` may depend on the parameters (e.g. ``p (p + 1) / 2`` entries of a ``p x p``
    overlap): it is then a descriptor that gives the names at the default parameters on the class.
    """

    name: ClassVar[str]
    state_names: ClassVar[tuple[str, ...]]

    def initial_state(self, start: str = "uninformed") -> np.ndarray: ...

    def update(self, x: np.ndarray) -> np.ndarray: ...

    def observables(self, x: np.ndarray) -> dict[str, float]: ...

    def simulate(self, d: int, seed: int) -> dict[str, Any]: ...
