"""Toy models with known answers, independent of any physics module (engine tests)."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np


@dataclasses.dataclass(frozen=True)
class Pitchfork:
    """``m -> tanh(beta m + h)``: trivial point m=0 (h=0) loses stability at beta = 1."""

    beta: float = 0.5
    h: float = 0.0
    name: ClassVar[str] = "pitchfork"
    state_names: ClassVar[tuple[str, ...]] = ("m",)

    def __post_init__(self):
        if not math.isfinite(self.beta) or self.beta < 0:
            raise ValueError(f"beta must be finite and >= 0, got {self.beta}")

    def initial_state(self, start="uninformed"):
        return np.array([1e-3 if start == "uninformed" else 1.0])

    def trivial_state(self):
        return np.array([0.0]) if self.h == 0 else None

    def update(self, x):
        return np.tanh(self.beta * x + self.h)

    def observables(self, x):
        return {"m2": float(x[0] ** 2)}

    def bounds(self):
        return np.array([0.0]), np.array([1.0])

    def free_entropy(self, x):
        m = x[0]
        return float(-self.beta * m * m / 2 + math.log(2 * math.cosh(self.beta * m + self.h)))

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class Cubic:
    """``x -> x - 0.2 (x^3 - x - p)``: fixed points solve ``x^3 - x = p``.

    Folds (spinodals) at ``p = +-2 / (3 sqrt 3)``; with the free entropy
    ``phi = -(x^4/4 - x^2/2 - p x)`` the two outer branches have equal free entropy at ``p = 0``
    (first-order crossing), and ``x`` crosses level 1 at ``p = 0`` on the upper branch.
    """

    p: float = 0.0
    name: ClassVar[str] = "cubic"
    state_names: ClassVar[tuple[str, ...]] = ("x",)

    def initial_state(self, start="uninformed"):
        return np.array([-1.5 if start == "uninformed" else 1.5])

    def update(self, x):
        return x - 0.2 * (x ** 3 - x - self.p)

    def observables(self, x):
        return {"x2": float(x[0] ** 2)}

    def free_entropy(self, x):
        return float(-(x[0] ** 4 / 4 - x[0] ** 2 / 2 - self.p * x[0]))

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class Asymmetric:
    """Cubic with an asymmetric quartic term: first-order crossing away from the symmetric point.

    Fixed points of ``x -> x - 0.2 (x^3 - x - p + c x^2)`` are stationary points of
    ``phi(x) = -(x^4/4 + c x^3/3 - x^2/2 - p x)``.
    """

    p: float = 0.0
    c: float = 0.3
    name: ClassVar[str] = "asymmetric"
    state_names: ClassVar[tuple[str, ...]] = ("x",)

    def initial_state(self, start="uninformed"):
        return np.array([-1.8 if start == "uninformed" else 1.5])

    def update(self, x):
        return x - 0.2 * (x ** 3 + self.c * x ** 2 - x - self.p)

    def observables(self, x):
        return {}

    def free_entropy(self, x):
        y = x[0]
        return float(-(y ** 4 / 4 + self.c * y ** 3 / 3 - y ** 2 / 2 - self.p * y))

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class Contraction:
    """``x -> A x + b`` with a convex-problem flag: warm starts are allowed."""

    a: float = 0.9
    b: float = 1.0
    name: ClassVar[str] = "contraction"
    state_names: ClassVar[tuple[str, ...]] = ("u", "v")
    unique_fixed_point: ClassVar[bool] = True

    def initial_state(self, start="uninformed"):
        return np.zeros(2)

    def update(self, x):
        return np.array([self.a * x[1] + self.b, 0.5 * self.a * x[0]])

    def observables(self, x):
        # gap: minimal (zero) where u = 2, i.e. at a = 1 when b = 1
        return {"sum": float(x.sum()), "gap": float((x[0] - 2.0) ** 2)}

    def exact(self):
        # u = a v + b, v = a u / 2  ->  u = b / (1 - a^2/2)
        u = self.b / (1 - self.a ** 2 / 2)
        return np.array([u, 0.5 * self.a * u])

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class Cusp:
    """``x -> x - 0.1 (x^3 - a x - p)``: the cusp catastrophe, fixed points solve ``x^3 - a x = p``.

    For ``a > 0`` the curve ``p(x) = x^3 - a x`` folds at ``x = +-sqrt(a/3)``: the branch from
    ``x < 0`` (uninformed) ends at ``p = 2 (a/3)^{3/2}``, the one from ``x > 0`` (informed) at
    ``p = -2 (a/3)^{3/2}``. With ``phi = -(x^4/4 - a x^2/2 - p x)`` the outer branches have equal
    free entropy at ``p = 0`` (symmetry ``x -> -x``). The two spinodals and the first-order
    line meet at the critical point ``a = p = 0``; for ``a < 0`` the curve is monotone.
    """

    p: float = 0.0
    a: float = 0.5
    name: ClassVar[str] = "cusp"
    state_names: ClassVar[tuple[str, ...]] = ("x",)

    def initial_state(self, start="uninformed"):
        return np.array([-1.5 if start == "uninformed" else 1.5])

    def update(self, x):
        return x - 0.1 * (x ** 3 - self.a * x - self.p)

    def observables(self, x):
        return {"x": float(x[0])}

    def free_entropy(self, x):
        y = x[0]
        return float(-(y ** 4 / 4 - self.a * y ** 2 / 2 - self.p * y))

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class CuspPair(Cusp):
    """:class:`Cusp` with a second entry slaved to the first, ``y -> x / 2``: the same lines,
    traced through the vector-state path of the engine."""

    name: ClassVar[str] = "cusp_pair"
    state_names: ClassVar[tuple[str, ...]] = ("x", "y")

    def initial_state(self, start="uninformed"):
        x = super().initial_state(start)
        return np.array([x[0], 0.5 * x[0]])

    def update(self, x):
        return np.array([super().update(x[:1])[0], 0.5 * x[0]])


@dataclasses.dataclass(frozen=True)
class Tricritical:
    """``q -> beta q + g q^2 - q^3`` on ``q >= 0``: an overlap-type weak-recovery transition.

    ``q = 0`` loses stability at ``beta = 1``. The non-trivial fixed points lie on
    ``beta = 1 - g q + q^2``: for ``g < 0`` it rises from ``beta = 1`` (continuous transition);
    for ``g > 0`` it first falls to the lower spinodal ``beta = 1 - g^2/4`` (at ``q = g/2``), so
    the transition is first order: the uninformed branch ``q = 0`` is lost at ``beta = 1``, and
    with ``phi = (beta - 1) q^2/2 + g q^3/3 - q^4/4`` the branches ``q = 0`` and ``q = 2g/3``
    have equal free entropy at ``beta = 1 - 2 g^2 / 9``. Tricritical point: ``g = 0, beta = 1``.
    """

    beta: float = 0.8
    g: float = 0.2
    name: ClassVar[str] = "tricritical"
    state_names: ClassVar[tuple[str, ...]] = ("q",)

    def initial_state(self, start="uninformed"):
        return np.array([1e-6 if start == "uninformed" else 1.0])

    def trivial_state(self):
        return np.array([0.0])

    def bounds(self):
        return np.array([0.0]), np.array([4.0])

    def update(self, x):
        q = x[0]
        return np.array([self.beta * q + self.g * q * q - q ** 3])

    def observables(self, x):
        return {"q": float(x[0])}

    def free_entropy(self, x):
        q = x[0]
        return float((self.beta - 1) * q * q / 2 + self.g * q ** 3 / 3 - q ** 4 / 4)

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class Specialising:
    """``(a, s) -> (a/2 + 1/2 + s/2, tanh(beta s))`` on ``s >= 0``: a committee's specialisation in
    two coordinates.

    ``s = 0`` (the non-specialised point ``(1, 0)``) is invariant and loses stability at
    ``beta = 1``; past it the specialised point ``(1 + s*, s*)``, ``s* = tanh(beta s*)``, lies
    *beyond* the unstable point as seen from the uninformed start ``(0, 1e-12)`` (larger ``a``),
    as a committee's specialised overlap lies beyond its non-specialised point as seen from
    ``Q ~ 0``. From that start, acceleration converges on ``(1, 0)`` long before the tiny ``s``
    has grown, so the solve must escape the unstable point.
    """

    beta: float = 1.6
    name: ClassVar[str] = "specialising"
    state_names: ClassVar[tuple[str, ...]] = ("a", "s")

    def initial_state(self, start="uninformed"):
        return np.array([0.0, 1e-12]) if start == "uninformed" else np.array([2.0, 1.0])

    def bounds(self):
        return np.array([0.0, 0.0]), np.array([10.0, 1.0])

    def update(self, x):
        a, s = x
        return np.array([0.5 * a + 0.5 + 0.5 * s, math.tanh(self.beta * s)])

    def observables(self, x):
        return {"s": float(x[1])}

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class Drifting(Specialising):
    """:class:`Specialising` whose non-specialised point ``(sin beta, 0)`` moves with ``beta``: ``(a,
    s) -> (a/2 + sin(beta)/2 + s/2, tanh(beta s))``. A sweep's predictor misses it, so warm solves
    along that branch iterate and compute the Jacobian ``[[1/2, 1/2], [0, beta]]``, which loses
    stability at ``beta = 1`` (linearly in ``beta``, so its extrapolation along the branch is exact).
    Past ``beta = 1`` the uninformed start reaches ``(sin beta + s*, s*)``, ``s* = tanh(beta s*)``."""

    name: ClassVar[str] = "drifting"

    def update(self, x):
        a, s = x
        return np.array([0.5 * a + 0.5 * math.sin(self.beta) + 0.5 * s, math.tanh(self.beta * s)])


@dataclasses.dataclass(frozen=True)
class NonNormal:
    """``x -> A x + 0.05 tanh(x)^2 + p b`` with an upper-triangular ``A`` (eigenvalues 0.8 to 0.5,
    off-diagonal entries up to 3): a contraction far from normal, like the attention map's row of
    ``V``, whose plain steps first move away from the fixed point. Not declared unique, so a sweep
    continues it with checked warm starts."""

    p: float = 0.0
    name: ClassVar[str] = "non_normal"
    state_names: ClassVar[tuple[str, ...]] = ("a", "b", "c", "d")
    A: ClassVar[np.ndarray] = np.array([[0.8, 3.0, 0.0, 0.0], [0.0, 0.7, -2.0, 0.0], [0.0, 0.0, 0.6, 1.5],
                                        [0.0, 0.0, 0.0, 0.5]])

    def initial_state(self, start="uninformed"):
        return np.zeros(4)

    def update(self, x):
        return self.A @ x + 0.05 * np.tanh(x) ** 2 + self.p * np.array([0.1, 0.2, -0.3, 1.0])

    def observables(self, x):
        return {}

    def simulate(self, d, seed):
        return {}
