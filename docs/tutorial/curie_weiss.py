"""The Curie-Weiss ferromagnet as a fixedpoint model: the example package of the tutorial.

``d`` Ising spins ``s_i = +-1`` with energy ``-(sum_i s_i)^2 / (2 d) - field sum_i s_i`` at
inverse temperature ``beta``. As ``d -> inf`` the free entropy per spin is the maximum over the
magnetisation ``m`` of

    phi(m) = -beta m^2 / 2 + log(2 cosh(beta (m + field))),

whose stationary points are the fixed points of ``m -> tanh(beta (m + field))`` (the mean-field
equation). The field plays the part of the signal: "informed" is full alignment ``m = 1``,
"uninformed" the paramagnet ``m = 0`` displaced by :data:`UNINFORMED_M` toward the field.

A package of models needs two functions for the command line, :func:`available` and
:func:`get`, and the entry point that names the module (see the tutorial).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np
from scipy.special import gammaln

__all__ = ["CurieWeiss", "UNINFORMED_M", "available", "get"]

#: the "uninformed" start: the paramagnet m = 0 displaced toward the field by this much
UNINFORMED_M = 1e-6


def _real(name, value, lower=-math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not (math.isfinite(value) and value >= lower):
        raise ValueError(f"{name} must be finite and >= {lower}, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class CurieWeiss:
    """The Curie-Weiss model at inverse temperature ``beta`` in a field ``field``.

    Parameters
    ----------
    beta : float
        Inverse temperature, ``>= 0`` (the paramagnet loses stability at ``beta = 1``).
    field : float
        External field.
    """

    name: ClassVar[str] = "curie_weiss"
    state_names: ClassVar[tuple[str, ...]] = ("m",)

    beta: float = 1.0
    field: float = 0.0

    def __post_init__(self):
        # a bad value raises ValueError naming the parameter (DESIGN.md)
        object.__setattr__(self, "beta", _real("beta", self.beta, lower=0.0))
        object.__setattr__(self, "field", _real("field", self.field))

    # -- required ----------------------------------------------------------------------------
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        if start == "informed":
            return np.array([1.0])
        if start == "uninformed":
            return np.array([UNINFORMED_M])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def update(self, x) -> np.ndarray:
        """The mean-field map ``m -> tanh(beta (m + field))``."""
        return np.tanh(self.beta * (np.asarray(x, dtype=float) + self.field))

    def observables(self, x) -> dict[str, float]:
        m = float(x[0])
        return {"m": m, "energy": -m * m / 2 - self.field * m, "free_entropy": self.free_entropy(x)}

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """The magnetisation of one configuration of ``d`` spins drawn from the Gibbs measure.

        The law of the number ``k`` of up spins is exact:
        ``P(k) ~ binom(d, k) exp(d beta (m^2 / 2 + field m))`` with ``m = 2k/d - 1``.
        """
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(f"d must be a positive integer, got {d!r}")
        k = np.arange(d + 1)
        m = 2.0 * k / d - 1.0
        log_p = gammaln(d + 1) - gammaln(k + 1) - gammaln(d - k + 1) + d * self.beta * (m * m / 2 + self.field * m)
        p = np.exp(log_p - log_p.max())
        m_sample = float(np.random.default_rng(seed).choice(m, p=p / p.sum()))
        return {"m": m_sample, "energy": -m_sample**2 / 2 - self.field * m_sample}

    # -- optional ----------------------------------------------------------------------------
    def trivial_state(self):
        """The paramagnet ``m = 0``, a fixed point only without a field."""
        return np.zeros(1) if self.field == 0.0 else None

    def bounds(self):
        return -np.ones(1), np.ones(1)

    def jacobian(self, x) -> np.ndarray:
        """``beta (1 - tanh^2)``: equal to ``beta`` at the paramagnet."""
        t = np.tanh(self.beta * (float(x[0]) + self.field))
        return np.array([[self.beta * (1.0 - t * t)]])

    def free_entropy(self, x) -> float:
        """``phi(m) = -beta m^2 / 2 + log(2 cosh(beta (m + field)))`` (larger wins)."""
        m = float(x[0])
        h = self.beta * (m + self.field)
        return -self.beta * m * m / 2 + float(np.logaddexp(h, -h))


def available() -> tuple[str, ...]:
    """The names this package provides (the command line's ``fixedpoint list``)."""
    return (CurieWeiss.name,)


def get(name: str, **params):
    """The model called ``name`` with the given parameters."""
    if name != CurieWeiss.name:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    return CurieWeiss(**params)
