r"""Gaussian mixtures: Bayes-optimal classification of two clusters (``gmm_bayes``).

Data (DESIGN.md conventions). A mean ``mu in R^d`` with i.i.d. ``N(0, 1)`` entries, labels
``y_nu = +-1`` with ``P(y = +1) = balance``, and ``n = alpha d`` samples::

    x_nu = y_nu mu / sqrt(d) + sqrt(noise) z_nu,      z_nu ~ N(0, I_d),

the two-cluster model of Mignacco, Krzakala, Lu, Zdeborova, "The role of regularization in
classification of high-dimensional noisy Gaussian mixture", ICML 2020 (arXiv 2002.11544). Their
``v*`` is our ``mu``, their ``Delta`` our ``noise``, their ``rho`` our ``balance`` and their
``alpha = n/d`` ours. The learner sees the pairs ``(x_nu, y_nu)`` and must label a fresh point.

Bayes-optimal learning is Gaussian, so its "state evolution" is solved in closed form, for every
``balance``. Given the labels, ``y_nu x_nu = mu / sqrt(d) + sqrt(noise) y_nu z_nu`` and the
statistic ``h = sum_nu y_nu x_nu / (sqrt(d) noise) = q_hat mu + sqrt(q_hat) g`` is sufficient, with
``q_hat = alpha / noise`` and ``g ~ N(0, I_d)`` (the class sizes do not enter: every sample
carries the same information on ``mu``). The posterior of ``mu`` is ``N(h / (1 + q_hat),
I / (1 + q_hat))``, the scalar Gaussian channel at signal-to-noise ``q_hat``. Written as a
replica-symmetric potential in the overlap ``q = mu . mu_hat / d`` (``= |mu_hat|^2 / d``,
Nishimori)::

    phi(q) = extr_{q_hat} [ psi(q_hat) - q q_hat / 2 ] + alpha q / (2 noise),
    psi(r) = r / 2 - log(1 + r) / 2          (Gaussian prior, equations.priors)

whose stationarity conditions are the fixed-point map of this model, ``q_hat = alpha / noise``
and ``q = q_hat / (1 + q_hat)``: the map does not depend on ``q``, so every start converges in
one step. ``phi`` at the fixed point is the free entropy ``E log Z / d`` of the posterior (up to
the data's own normalisation) and ``I(mu; data) / d = log(1 + q_hat) / 2``.

The Bayes-optimal classifier compares the two posterior predictive densities, Gaussians of
means ``+-mu_hat / sqrt(d)`` and covariance ``(noise + 1/(d (1 + q_hat))) I``; as ``d -> infinity``
it is ``y_hat = sign(2 h_x / noise + log(balance / (1 - balance)))`` with the field ``h_x = x .
mu_hat / sqrt(d) ~ N(y q, noise q)``. Its 0/1 error is::

    eps_+ = H((q + noise L / 2) / sqrt(noise q)),   eps_- = H((q - noise L / 2) / sqrt(noise q)),
    gen_error = balance eps_+ + (1 - balance) eps_-,    L = log(balance / (1 - balance)),

which for balanced clusters is Mignacco et al.'s ``H(sqrt(alpha / (noise (alpha + noise))))``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import ndtr

from ._registry import parameter_table, register

__all__ = ["GMMBayes"]


def _check_real(name, value, lo, hi, *, lo_open, hi_open, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number {what}, got {value!r}")
    value = float(value)
    below = value <= lo if lo_open else value < lo
    above = hi is not None and (value >= hi if hi_open else value > hi)
    if not math.isfinite(value) or below or above:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def _H(x):
    """Gaussian tail ``P(Z > x)``."""
    return float(ndtr(-x))


@register
@dataclass(frozen=True)
class GMMBayes:
    """Bayes-optimal classification of a two-cluster Gaussian mixture (state ``q``).

    Parameters
    ----------
    alpha : float
        Sample ratio ``n / d > 0``.
    noise : float
        Variance ``> 0`` of each cluster around its mean ``+-mu / sqrt(d)``.
    balance : float
        ``P(y = +1)``, in ``(0, 1)``.

    Notes
    -----
    Observables: ``overlap`` (``q = E[mu . mu_hat] / d``), ``mse`` (``1 - q``), ``gen_error``
    (0/1 error of the Bayes-optimal classifier), ``gen_error_plus`` and ``gen_error_minus`` (its
    error on each cluster), ``free_entropy`` and ``mutual_information`` (per dimension, nats).
    Equations, normalisation and reference: module docstring.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("gmm_bayes", alpha=2.0, noise=1.0)
    >>> round(fixedpoint.solve(m)["gen_error"], 6)      # H(sqrt(2 / 3))
    0.207108
    """

    alpha: float = 1.0
    noise: float = 1.0
    balance: float = 0.5

    name: ClassVar[str] = "gmm_bayes"
    state_names: ClassVar[tuple[str, ...]] = ("q",)
    unique_fixed_point: ClassVar[bool] = True
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "noise": r"$\Delta$", "balance": r"$P(y = +1)$", "q": r"overlap $q$",
        "overlap": r"overlap $q$", "mse": "MSE", "gen_error": "Bayes-optimal test error",
        "gen_error_plus": r"test error, $y = +1$", "gen_error_minus": r"test error, $y = -1$",
        "free_entropy": r"free entropy $\phi$", "mutual_information": r"$I(\mu; \mathrm{data})/d$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"alpha": 2.0, "noise": 1.0},
        {"alpha": 0.5, "noise": 0.3, "balance": 0.2},
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, range and meaning (protocol member)."""
        return parameter_table(cls, {
            "alpha": {"range": (0.0, None), "open": (True, True), "doc": "sample ratio n/d"},
            "noise": {"range": (0.0, None), "open": (True, True), "doc": "variance of each cluster"},
            "balance": {"range": (0.0, 1.0), "open": (True, True), "doc": "P(y = +1), the size of cluster +"},
        })

    def __post_init__(self):
        object.__setattr__(self, "alpha", _check_real("alpha", self.alpha, 0.0, None, lo_open=True,
                                                      hi_open=True, what="finite and > 0"))
        object.__setattr__(self, "noise", _check_real("noise", self.noise, 0.0, None, lo_open=True,
                                                      hi_open=True, what="finite and > 0 (a variance)"))
        object.__setattr__(self, "balance", _check_real("balance", self.balance, 0.0, 1.0, lo_open=True,
                                                        hi_open=True, what="in (0, 1) (a probability)"))

    # -------------------------------------------------------------- protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``uninformed``: ``q = 1e-6``; ``informed``: ``q = 1 - 1e-6`` (the map does not depend
        on the start: both reach the unique fixed point in one step)."""
        if start == "uninformed":
            return np.array([1e-6])
        if start == "informed":
            return np.array([1.0 - 1e-6])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def bounds(self):
        return np.array([0.0]), np.array([1.0])

    @property
    def q_hat(self) -> float:
        """Signal-to-noise ratio of the posterior of ``mu``: ``alpha / noise``."""
        return self.alpha / self.noise

    def update(self, x) -> np.ndarray:
        """``q <- q_hat / (1 + q_hat)``, ``q_hat = alpha / noise`` (the stationarity conditions of
        ``phi``; independent of the current ``q``)."""
        r = self.q_hat
        return np.array([r / (1.0 + r)])

    def jacobian(self, x) -> np.ndarray:
        return np.zeros((1, 1))

    def free_entropy_rs(self, q: float, q_hat: float) -> float:
        """The potential ``psi(q_hat) - q q_hat / 2 + alpha q / (2 noise)`` before extremisation
        (stationary in both arguments at the fixed point)."""
        return q_hat / 2.0 - 0.5 * math.log1p(q_hat) - q * q_hat / 2.0 + self.alpha * q / (2.0 * self.noise)

    def free_entropy(self, x) -> float:
        """``phi(q)``: the potential extremised over ``q_hat`` at fixed ``q`` (``q_hat = q / (1 - q)``)."""
        q = float(np.asarray(x, dtype=float)[0])
        if not 0.0 <= q < 1.0:
            raise ValueError(f"q must be in [0, 1), got {q}")
        return self.free_entropy_rs(q, q / (1.0 - q))

    def classification_errors(self, q: float) -> tuple[float, float, float]:
        """``(gen_error, gen_error_plus, gen_error_minus)`` of the Bayes-optimal classifier at
        overlap ``q`` (module docstring)."""
        if q <= 0.0:
            # no information on mu: predict the larger class
            plus = 0.0 if self.balance >= 0.5 else 1.0
            return min(self.balance, 1.0 - self.balance), plus, 1.0 - plus
        shift = self.noise * math.log(self.balance / (1.0 - self.balance)) / 2.0
        s = math.sqrt(self.noise * q)
        plus, minus = _H((q + shift) / s), _H((q - shift) / s)
        return self.balance * plus + (1.0 - self.balance) * minus, plus, minus

    def observables(self, x) -> dict[str, float]:
        q = float(np.asarray(x, dtype=float)[0])
        gen, plus, minus = self.classification_errors(q)
        return {
            "overlap": q, "mse": 1.0 - q, "gen_error": gen, "gen_error_plus": plus, "gen_error_minus": minus,
            "free_entropy": self.free_entropy(x), "mutual_information": 0.5 * math.log1p(self.q_hat),
        }

    # -------------------------------------------------------------- finite size
    def simulate(self, d: int, seed: int, n_test: int | None = None) -> dict[str, float]:
        """One instance of size ``d``: the exact posterior mean of ``mu`` and the exact finite-``d``
        Bayes classifier on ``n_test`` fresh points (default ``max(20 d, 20000)``).

        Returns ``overlap`` (``mu . mu_hat / d``), ``self_overlap`` (``|mu_hat|^2 / d``), ``mse``
        (``|mu - mu_hat|^2 / d``) and the test errors ``gen_error``, ``gen_error_plus``,
        ``gen_error_minus``.
        """
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
        d = int(d)
        n = max(1, int(round(self.alpha * d)))
        n_test = max(20 * d, 20000) if n_test is None else int(n_test)
        rng = np.random.default_rng(seed)
        mu = rng.standard_normal(d)
        sd = math.sqrt(self.noise)
        y = np.where(rng.random(n) < self.balance, 1.0, -1.0)
        x = np.outer(y, mu) / math.sqrt(d) + sd * rng.standard_normal((n, d))
        # exact posterior: precision 1 + n / (d noise), mean h / precision
        precision = 1.0 + n / (d * self.noise)
        mu_hat = (y @ x) / (math.sqrt(d) * self.noise) / precision
        # exact predictive: N(+-mu_hat / sqrt(d), (noise + 1 / (d precision)) I)
        var = self.noise + 1.0 / (d * precision)
        y_t = np.where(rng.random(n_test) < self.balance, 1.0, -1.0)
        x_t = np.outer(y_t, mu) / math.sqrt(d) + sd * rng.standard_normal((n_test, d))
        score = 2.0 * (x_t @ mu_hat) / (math.sqrt(d) * var) + math.log(self.balance / (1.0 - self.balance))
        wrong = np.where(score >= 0.0, 1.0, -1.0) != y_t
        plus = y_t > 0
        return {
            "overlap": float(mu @ mu_hat) / d, "self_overlap": float(mu_hat @ mu_hat) / d,
            "mse": float((mu - mu_hat) @ (mu - mu_hat)) / d, "gen_error": float(wrong.mean()),
            "gen_error_plus": float(wrong[plus].mean()) if plus.any() else math.nan,
            "gen_error_minus": float(wrong[~plus].mean()) if (~plus).any() else math.nan,
        }
