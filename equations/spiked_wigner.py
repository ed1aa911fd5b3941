"""The spiked Wigner model: Bayes-optimal state evolution, free entropy, AMP, thresholds.

Model (DESIGN.md conventions)::

    Y = sqrt(snr / n) x x^T + W,     W symmetric, W_ij ~ N(0, 1),     x_i ~ P_x i.i.d.,

with priors of unit second moment: ``gaussian``; ``rademacher`` (+-1); ``sparse_rademacher``
(0 w.p. ``1 - rho``, ``+-1/sqrt(rho)`` w.p. ``rho/2`` each); ``gauss_bernoulli`` (0 w.p.
``1 - rho``, ``N(0, 1/rho)`` w.p. ``rho``). The order parameter is ``m = E[x xhat]`` (the overlap
of the Bayes-optimal estimator with the signal; by the Nishimori identity also ``E[xhat^2]``).

Replica-symmetric free entropy and state evolution (Lesieur, Krzakala, Zdeborova, "Constrained
low-rank matrix estimation: phase transitions, approximate message passing and applications",
J. Stat. Mech. 073403 (2017), sections 4-5; rigorous: Lelarge and Miolane 2019)::

    phi(m) = -snr m^2 / 4 + psi(snr m),
    psi(g) = E_{x,z} log E_{x'} exp(g x x' + sqrt(g) z x' - g x'^2 / 2)    (equations.priors)
    m_{t+1} = overlap(snr m_t) = E[x E[x | sqrt(snr m_t) x + z]]

(``d phi / dm = snr (overlap(snr m) - m) / 2``, so fixed points are stationary points of ``phi``;
the free entropy of the model is ``max_m phi(m)``.) Observables: ``overlap`` (``m``),
``self_overlap`` (``E[xhat^2] = m``), ``mmse`` (matrix MMSE ``lim E||x x^T - E[x x^T|Y]||_F^2 / n^2
= 1 - m^2``), ``free_entropy`` (``phi(m)``) and ``mutual_information``
``I(x; Y)/n = snr/4 - phi(m) = I_scalar(snr m) + snr (1 - m)^2 / 4`` (the second form is the
one computed: no cancellation). The I-MMSE relation ``d(free entropy)/d snr = m^2/4`` holds at
the fixed point.

Mapping from LKZ 2017: their symmetric rank-one model ``w_ij = x_i x_j / sqrt(n) + sqrt(Delta)
xi_ij``, divided by ``sqrt(Delta)``, is ours with ``snr = 1/Delta`` for a unit-variance prior. Their
"Rademacher-Bernoulli" prior (values ``0, +-1``) maps to ``sparse_rademacher`` after rescaling
``x -> x / sqrt(rho)``, i.e. ``Delta_theirs = rho^2 / snr``.

Inhomogeneous noise (Guionnet, Ko, Krzakala, Zdeborova, "Low-rank matrix estimation with
inhomogeneous noise", 2022; Pak, Ko, Krzakala 2023): groups ``a = 1..K`` of fractions ``c_a``,
``Y_ij = sqrt(snr/n) x_i x_j + sqrt(Delta_ab) W_ij``. One overlap ``m_a`` per group, effective
signal-to-noise ``g_a = snr sum_b c_b m_b / Delta_ab``, state evolution ``m_a <- overlap(g_a)``,
free entropy ``sum_a c_a psi(g_a) - snr/4 sum_ab c_a c_b m_a m_b / Delta_ab``. Their ``Delta``
profile with signal strength 1 is ours with ``snr = 1``. Linearising the state evolution at
``m = 0`` (``overlap(g) = g + O(g^2)`` for unit-variance centred priors) gives the Jacobian
``snr M``, ``M_ab = c_b / Delta_ab``: the trivial point loses stability at
``snr = 1 / lambda_max(M)`` (:meth:`SpikedWignerInhomogeneous.spectral_threshold`).

Thresholds (through the engine): weak recovery / BBP is ``threshold(kind="stability")``, at
``snr = 1`` for every symmetric unit-variance prior (the Jacobian at ``m = 0`` is ``snr``). For
the sparse priors below the tricritical sparsity (:func:`tricritical_rho`, 0.0964 for sparse
Rademacher) the transition is first order: lower spinodal ``threshold(kind="spinodal",
start="informed")``, information-theoretic ``threshold(kind="first_order")``, algorithmic
``threshold(kind="spinodal", start="uninformed")``, the last also computed directly as the fold
of the state-evolution curve (:func:`fold_of_uninformed_branch`), robust where the fold is within
1e-3 of ``snr = 1`` (very sparse priors) and iterating at it is critically slow. The small-``m``
expansion of the state evolution (:func:`small_g_expansion`, :func:`sparse_rademacher_series`)
has the universal quadratic coefficient -1, so the first-order transition never starts at
``m = 0`` itself; its fourth-order truncation gives the estimate :func:`landau_tricritical_rho`.

Finite size: ``simulate`` runs Bayes-optimal AMP (:mod:`equations._simulate.amp_wigner`);
``simulate_spectral`` the top eigenvector (BBP: squared overlap ``1 - 1/snr``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._registry import parameter_table, register
from .priors import PRIOR_KINDS, Prior, make_prior

__all__ = [
    "SpikedWigner",
    "SpikedWignerInhomogeneous",
    "UNINFORMED_OVERLAP",
    "spectral_overlap_theory",
    "tricritical_rho",
    "fold_of_uninformed_branch",
    "sparse_rademacher_series",
    "landau_tricritical_rho",
    "small_g_expansion",
]

#: the "uninformed" start: the trivial point m = 0 displaced by this overlap (per group),
#: the order of the overlap of a random start at n ~ 1e8; small enough not to skip a stable
#: trivial point's basin, large enough to leave an unstable one in a few dozen iterations
UNINFORMED_OVERLAP = 1e-4


def _check_real(name, value, lo=None, hi=None, lo_open=False, what=""):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number{what}, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite{what}, got {value!r}")
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}{what}, got {value!r}")
    if hi is not None and value > hi:
        raise ValueError(f"{name} must be <= {hi}{what}, got {value!r}")
    return value


# what _check_prior and _check_real accept, for the models' parameters() tables
_PRIOR_SPEC = {"allowed": PRIOR_KINDS, "doc": "law of the signal entries, unit second moment"}
_RHO_SPEC = {"range": (0.0, 1.0), "open": (True, False),
             "doc": "fraction of non-zero entries of the sparse priors, whose non-zero entries are scaled "
                    "to E x^2 = 1 (+-1/sqrt(rho)); must be 1 for gaussian and rademacher"}
_SNR_SPEC = {"range": (0.0, None), "open": (False, True), "doc": "signal-to-noise ratio"}


def _check_prior(prior, rho):
    if not isinstance(prior, str) or prior not in PRIOR_KINDS:
        raise ValueError(f"prior must be one of {', '.join(PRIOR_KINDS)}, got {prior!r}")
    rho = _check_real("rho", rho, 0.0, 1.0, lo_open=True, what=" (in (0, 1])")
    if prior in ("gaussian", "rademacher") and rho != 1.0:
        raise ValueError(f"rho must be 1 for prior={prior!r} (in (0, 1] for sparse priors), got {rho}")
    return rho


def spectral_overlap_theory(snr: float) -> float:
    """BBP: squared overlap of the top eigenvector of ``Y`` with ``x``, ``max(0, 1 - 1/snr)``."""
    return max(0.0, 1.0 - 1.0 / snr) if snr > 0 else 0.0


def small_g_expansion(prior: Prior) -> tuple[float, float, float]:
    """Coefficients of ``overlap(g) = g - g^2 + c3 g^3 + O(g^4)`` for a centred unit-variance prior.

    From the small-snr expansion of the MMSE (Guo, Wu, Shamai, Verdu, IEEE Trans. Inf. Theory
    57 (2011), Prop. 5): ``mmse(g) = 1 - g + (2 - (E x^3)^2) g^2/2 - (15 - 12 (E x^3)^2 - 6 E x^4
    + (E x^4)^2) g^3 / 6 + ...``; for symmetric priors ``E x^3 = 0``. Returns ``(1, -1, c3)``
    with ``c3 = (kappa^2 - 6 kappa + 15) / 6``, ``kappa = E x^4``.

    The quadratic coefficient is -1 for every symmetric unit-variance prior: the state
    evolution ``m -> snr m - snr^2 m^2 + ...`` has a transcritical bifurcation at ``snr = 1``
    whatever the prior, so a first-order transition never starts at ``m = 0`` itself; it comes
    from a fold of the branch at finite ``m`` (see :func:`tricritical_rho`).
    """
    if abs(prior.second_moment - 1.0) > 1e-12:
        raise ValueError("small_g_expansion needs a prior of unit second moment")
    s = prior.scale
    kappa = prior.rho * s**4 * (3.0 if prior.kind in ("gaussian", "gauss_bernoulli") else 1.0)
    return 1.0, -1.0, (kappa * kappa - 6.0 * kappa + 15.0) / 6.0


def sparse_rademacher_series(rho: float) -> tuple[float, float, float, float]:
    """``(c1, c2, c3, c4)`` of ``overlap(g) = sum_j c_j g^j`` for the unit-variance sparse Rademacher prior.

    Derived by expanding the Nishimori form ``overlap = E_z[rho e^{-a/2} sinh h / ((1 - rho) +
    rho e^{-a/2} cosh h)]``, ``h = a + sqrt(a) z``, ``a = g / rho``, in powers of ``sqrt(a)`` and
    taking Gaussian moments of ``z`` (sympy); with ``kappa = 1/rho = E x^4``:
    ``c1 = 1``, ``c2 = -1``, ``c3 = kappa^2/6 - kappa + 5/2`` (Guo-Wu-Shamai-Verdu),
    ``c4 = -5 kappa^2/6 + 5 kappa - 17/2``.
    """
    kappa = 1.0 / _check_real("rho", rho, 0.0, 1.0, lo_open=True, what=" (in (0, 1])")
    return 1.0, -1.0, kappa * kappa / 6 - kappa + 2.5, -5 * kappa * kappa / 6 + 5 * kappa - 8.5


def landau_tricritical_rho() -> float:
    """Small-``m`` (Landau) estimate of the tricritical sparsity of the sparse Rademacher prior.

    Truncating ``R(u) = overlap(u)/u = 1 - u + c3 u^2 + c4 u^3`` (:func:`sparse_rademacher_series`,
    ``c4 < 0``), the branch leaving ``m = 0`` folds when ``R'(u) = -1 + 2 c3 u + 3 c4 u^2`` has a
    positive root, i.e. when ``c3^2 >= 3 |c4|``: a quartic equation in ``kappa = 1/rho``, solved
    here. It gives ``rho ~ 0.0842``, below the exact ``0.0964`` of :func:`tricritical_rho`: the
    fold sits at ``u ~ 1/(2 c3) ~ 0.05`` where the next coefficients, growing like
    ``kappa^{j-1}``, still matter (and the series, truncated further, does not improve).
    """
    # (k^2/6 - k + 5/2)^2 - 3 (5 k^2/6 - 5 k + 17/2) = 0, expanded in powers of k
    coeffs = [1 / 36, -1 / 3, 1 + 5 / 6 - 5 / 2, -5 + 15, 25 / 4 - 51 / 2]
    roots = np.roots(coeffs)
    real = sorted(float(r.real) for r in roots if abs(r.imag) < 1e-9 and r.real > 3)
    return 1.0 / real[-1]


def _ratio_slope_max(prior: Prior, u_max: float = 60.0, n: int = 600) -> float:
    """``max_u d/du [overlap(u)/u]`` over ``0 < u <= u_max`` (log grid, then refined)."""
    us = np.geomspace(1e-3, u_max, n)

    def slope(u):
        ov, dov = prior.overlap(u), prior.overlap_derivative(u)
        return (u * dov - ov) / (u * u)

    vals = np.array([slope(u) for u in us])
    i = int(np.argmax(vals))
    lo, hi = us[max(i - 1, 0)], us[min(i + 1, n - 1)]
    # golden-section refinement of the maximum
    gr = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - gr * (b - a), a + gr * (b - a)
    fc, fd = slope(c), slope(d)
    for _ in range(60):
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - gr * (b - a)
            fc = slope(c)
        else:
            a, c, fc = c, d, fd
            d = a + gr * (b - a)
            fd = slope(d)
    return max(float(vals[i]), fc, fd)


def fold_of_uninformed_branch(prior: str, rho: float, u_max: float = 60.0) -> float:
    """Algorithmic threshold of a first-order spiked Wigner model, directly from the SE curve.

    Fixed points satisfy ``1/snr = R(u) = overlap(u)/u`` (``u = snr m``). The branch that leaves
    ``m = 0`` at ``snr = 1`` ends at the first interior local minimum ``u_f`` of ``R`` (a fold):
    AMP from a random start jumps to the informative branch at ``snr_alg = 1 / R(u_f)``. Returns
    ``1.0`` when ``R`` is monotone (continuous transition: the algorithmic threshold is BBP).
    Root of ``R'(u) = (u overlap'(u) - overlap(u)) / u^2`` by Brent's method (exact derivative).

    This is the same threshold as ``fixedpoint.threshold(..., kind="spinodal",
    start="uninformed")``, computed without solving at the fold, where the iteration is
    critically slow (a cross-check for the engine, and robust for very sparse priors whose
    fold sits at ``snr - 1 ~ 3 rho^2 / 2``).
    """
    from scipy.optimize import brentq

    p = make_prior(prior, rho, second_moment=1.0)

    def slope(u):
        return (u * p.overlap_derivative(u) - p.overlap(u)) / (u * u)

    us = np.geomspace(1e-7, u_max, 1200)
    vals = np.array([slope(u) for u in us])
    up = np.flatnonzero((vals[:-1] < 0) & (vals[1:] >= 0))
    if up.size == 0:
        return 1.0
    u_f = brentq(slope, us[up[0]], us[up[0] + 1], xtol=1e-14, rtol=1e-13)
    return float(u_f / p.overlap(u_f))


def tricritical_rho(prior: str = "sparse_rademacher", bracket=(0.01, 0.5), tol: float = 1e-9) -> float:
    """Sparsity below which the weak-recovery transition of the spiked Wigner model is first order.

    Fixed points of the state evolution satisfy ``overlap(u)/u = 1/snr`` with ``u = snr m``.
    When ``R(u) = overlap(u)/u`` decreases monotonically (``R(0) = 1``, ``R'(0) = -1`` for every
    symmetric unit-variance prior, :func:`small_g_expansion`), there is one non-trivial fixed
    point for each ``snr > 1`` and the transition at ``snr = 1`` is continuous. When ``R`` has an
    interior local minimum and maximum, the branch leaving ``m = 0`` folds and coexists with a
    second one: the transition is first order (spinodals and an information-theoretic threshold
    appear). The tricritical sparsity is the ``rho`` at which ``max_u R'(u)`` crosses 0: found here
    by bisection on ``rho``, ``R'`` computed from ``overlap`` and ``overlap_derivative`` (exact
    derivative, not finite differences). Sparse Rademacher: ``rho_c = 0.09642`` (``rho`` means
    the same in LKZ 2017, whose Rademacher-Bernoulli prior differs from ours by a scale only). Near it the small-``g``
    coefficient ``c3`` of :func:`small_g_expansion` is large (``kappa = 1/rho``), so the fold sits
    at small ``m``; truncating the expansion at fourth order (:func:`landau_tricritical_rho`)
    gives the estimate ``0.0842``.

    Parameters
    ----------
    prior : {"sparse_rademacher", "gauss_bernoulli"}
    bracket : (lo, hi)
        Sparsities with a first-order (lo) and a continuous (hi) transition.
    tol : float
        Absolute tolerance on ``rho``.
    """
    if prior not in ("sparse_rademacher", "gauss_bernoulli"):
        raise ValueError(f"prior must be 'sparse_rademacher' or 'gauss_bernoulli', got {prior!r}")
    lo, hi = (float(v) for v in bracket)
    if not (0.0 < lo < hi <= 1.0):
        raise ValueError(f"bracket must satisfy 0 < lo < hi <= 1, got {bracket!r}")

    def f(rho):
        return _ratio_slope_max(make_prior(prior, rho, second_moment=1.0))

    flo, fhi = f(lo), f(hi)
    if not (flo > 0 > fhi):
        raise ValueError(f"bracket {bracket} does not contain the tricritical sparsity (max R' = {flo:.3g}, {fhi:.3g})")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------------- homogeneous


@register
@dataclass(frozen=True)
class SpikedWigner:
    """Rank-one spiked Wigner model ``Y = sqrt(snr/n) x x^T + W`` (Bayes-optimal).

    Parameters
    ----------
    prior : {"gaussian", "rademacher", "sparse_rademacher", "gauss_bernoulli"}
        Prior of the signal entries, unit second moment (module docstring).
    rho : float
        Density of the sparse priors, in ``(0, 1]`` (must be 1 for gaussian / rademacher).
    snr : float
        Signal-to-noise ratio, ``>= 0``. The default 2 is away from the weak-recovery
        threshold ``snr = 1`` of the symmetric priors, where the iteration slows down critically.

    State ``(m,)``, ``0 <= m <= 1``. Starts: "uninformed" ``m = 1e-4``
    (:data:`UNINFORMED_OVERLAP`), "informed" ``m = 1``; trivial fixed point ``m = 0``.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> sol = fixedpoint.solve(equations.get("spiked_wigner", prior="gaussian", snr=2.0))
    >>> round(sol["m"], 10)
    0.5
    """

    name: ClassVar[str] = "spiked_wigner"
    state_names: ClassVar[tuple[str, ...]] = ("m",)
    #: physics names for figures (``labels=`` of :mod:`fixedpoint.plotting`): ``snr`` is the
    #: signal-to-noise ratio lambda of ``Y = sqrt(lambda/n) x x^T + W``
    labels: ClassVar[dict[str, str]] = {
        "snr": r"$\lambda$", "rho": r"$\rho$", "m": r"overlap $m$", "overlap": r"overlap $m$",
        "self_overlap": r"$E\,\hat x^2$", "mmse": "MMSE", "free_entropy": r"free entropy $\phi$",
        "mutual_information": r"$I(x;Y)/n$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"prior": "rademacher", "snr": 1.5},
        {"prior": "gaussian", "snr": 2.0},
        {"prior": "sparse_rademacher", "rho": 0.05, "snr": 1.2},
        {"prior": "gauss_bernoulli", "rho": 0.2, "snr": 1.5},
    )

    prior: str = "rademacher"
    rho: float = 1.0
    snr: float = 2.0

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {"prior": _PRIOR_SPEC, "rho": _RHO_SPEC, "snr": _SNR_SPEC})

    def __post_init__(self):
        object.__setattr__(self, "rho", _check_prior(self.prior, self.rho))
        object.__setattr__(self, "snr", _check_real("snr", self.snr, 0.0, what=" (>= 0)"))
        object.__setattr__(self, "_p", make_prior(self.prior, self.rho, second_moment=1.0))

    @property
    def scalar_prior(self) -> Prior:
        """The :class:`equations.priors.Prior` (unit second moment) of the signal entries."""
        return self._p

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        if start == "uninformed":
            return np.array([UNINFORMED_OVERLAP])
        if start == "informed":
            return np.array([1.0])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self) -> np.ndarray:
        return np.zeros(1)

    def bounds(self):
        return np.zeros(1), np.ones(1)

    def _m(self, x):
        m = float(np.asarray(x, dtype=float).ravel()[0])
        if not (m >= 0.0 and math.isfinite(m)):  # outside the domain: no channel
            return math.nan
        return m

    def update(self, x) -> np.ndarray:
        """``m -> overlap(snr m)``."""
        m = self._m(x)
        if math.isnan(m):
            return np.array([math.nan])
        return np.array([self._p.overlap(self.snr * m)])

    def jacobian(self, x) -> np.ndarray:
        """``d update / dm = snr overlap'(snr m)`` (``= snr`` at ``m = 0``: BBP at ``snr = 1``)."""
        m = self._m(x)
        if math.isnan(m):
            return np.array([[math.nan]])
        return np.array([[self.snr * self._p.overlap_derivative(self.snr * m)]])

    def free_entropy(self, x) -> float:
        """``phi(m) = -snr m^2 / 4 + psi(snr m)``."""
        m = self._m(x)
        if math.isnan(m):
            return math.nan
        return -0.25 * self.snr * m * m + float(self._p.free_entropy(self.snr * m))

    def observables(self, x) -> dict[str, float]:
        m = self._m(x)
        if math.isnan(m):
            nan = math.nan
            return {"overlap": nan, "self_overlap": nan, "mmse": nan, "free_entropy": nan, "mutual_information": nan}
        av = self._p.averages(self.snr * m)
        return {
            "overlap": m,
            "self_overlap": m,
            "mmse": 1.0 - m * m,
            "free_entropy": -0.25 * self.snr * m * m + av["free_entropy"],
            "mutual_information": av["mutual_information"] + 0.25 * self.snr * (1.0 - m) ** 2,
        }

    def simulate(self, d: int, seed: int, init_overlap: float = 0.1) -> dict[str, float]:
        """Bayes-optimal AMP on one instance of size ``d`` (see :mod:`equations._simulate.amp_wigner`).

        Returns ``overlap`` ``|<x, xhat>|/d`` (sign-invariant: the priors are symmetric),
        ``self_overlap`` ``|xhat|^2/d``, ``mmse`` ``||x x^T - xhat xhat^T||_F^2 / d^2``, and
        ``iterations``.
        """
        from ._simulate.amp_wigner import amp, sample_instance

        d = _check_dimension(d)
        rng = np.random.default_rng(seed)
        x, y = sample_instance(self._p, self.snr, d, rng)
        xhat, v, it = amp(y, self._p, self.snr, rng, init_overlap=init_overlap, x_true=x)
        return _instance_observables(x, xhat, it)

    def simulate_spectral(self, d: int, seed: int) -> dict[str, float]:
        """Squared overlap of the top eigenvector of ``Y`` with ``x`` (BBP: ``max(0, 1 - 1/snr)``)."""
        from ._simulate.amp_wigner import sample_instance, spectral_overlap

        d = _check_dimension(d)
        rng = np.random.default_rng(seed)
        x, y = sample_instance(self._p, self.snr, d, rng)
        return {"spectral_overlap2": spectral_overlap(y, x) ** 2}


def _check_dimension(d):
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    return int(d)


def _instance_observables(x, xhat, iterations, labels=None, fractions=None):
    n = x.size
    ov = abs(float(x @ xhat)) / n
    self_ov = float(xhat @ xhat) / n
    x2 = float(x @ x) / n
    # ||x x^T - xhat xhat^T||_F^2 / n^2 without forming the matrices
    mmse = x2 * x2 - 2.0 * ov * ov + self_ov * self_ov
    out = {"overlap": ov, "self_overlap": self_ov, "mmse": mmse, "iterations": float(iterations)}
    if labels is not None:
        sign = 1.0 if x @ xhat >= 0 else -1.0
        for a in range(len(fractions)):
            idx = labels == a
            out[f"m_{a + 1}"] = sign * float(x[idx] @ xhat[idx]) / idx.sum()
    return out


# ----------------------------------------------------------------------------- inhomogeneous


def _as_tuple_vector(name, value):
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {value!r}") from None
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got {value!r}")
    return arr


@register
@dataclass(frozen=True)
class SpikedWignerInhomogeneous:
    """Spiked Wigner model with a block-constant noise profile (Bayes-optimal).

    ``Y_ij = sqrt(snr/n) x_i x_j + sqrt(Delta_ab) W_ij`` for ``i`` in group ``a``, ``j`` in group
    ``b``; the groups have fractions ``c_a``.

    Parameters
    ----------
    prior, rho : as in :class:`SpikedWigner`.
    fractions : tuple of float
        ``c_a > 0``, summing to 1 (within 1e-9).
    profile : tuple of tuples
        The symmetric ``K x K`` matrix ``Delta`` of noise variances, positive entries.
    snr : float
        ``>= 0``.

    State ``(m_1, ..., m_K)`` in ``[0, 1]^K``; "uninformed" ``1e-4`` per group, "informed" 1.
    """

    name: ClassVar[str] = "spiked_wigner_inhomogeneous"
    state_names: ClassVar[tuple[str, ...]] = ("m_1", "m_2")  # replaced per instance (see below)
    #: physics names for figures (as :attr:`SpikedWigner.labels`; group overlaps ``m_a``)
    labels: ClassVar[dict[str, str]] = dict(SpikedWigner.labels, **{f"m_{a}": f"$m_{a}$" for a in range(1, 10)})
    examples: ClassVar[tuple[dict, ...]] = (
        {"prior": "rademacher", "fractions": (0.5, 0.5), "profile": ((1.0, 2.0), (2.0, 0.5)), "snr": 1.5},
        {"prior": "sparse_rademacher", "rho": 0.1, "fractions": (0.3, 0.7), "profile": ((0.5, 1.0), (1.0, 3.0)),
         "snr": 1.0},
    )

    prior: str = "rademacher"
    rho: float = 1.0
    fractions: tuple = (0.5, 0.5)
    profile: tuple = ((1.0, 2.0), (2.0, 0.5))
    snr: float = 1.0

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {
            "prior": _PRIOR_SPEC, "rho": _RHO_SPEC, "snr": _SNR_SPEC,
            "fractions": {"doc": "fractions c_a > 0 of the groups, summing to 1 (a JSON list)"},
            "profile": {"doc": "symmetric K x K matrix of noise variances Delta_ab > 0, one row per group "
                               "(a JSON list of lists)"}})

    def __post_init__(self):
        object.__setattr__(self, "rho", _check_prior(self.prior, self.rho))
        object.__setattr__(self, "snr", _check_real("snr", self.snr, 0.0, what=" (>= 0)"))
        c = _as_tuple_vector("fractions", self.fractions)
        if not np.all(np.isfinite(c)) or np.any(c <= 0):
            raise ValueError(f"fractions must be finite and > 0, got {self.fractions!r}")
        if abs(c.sum() - 1.0) > 1e-9:
            raise ValueError(f"fractions must sum to 1, got {self.fractions!r} (sum {c.sum():.12g})")
        try:
            delta = np.asarray(self.profile, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"profile must be a K x K matrix of numbers, got {self.profile!r}") from None
        k = c.size
        if delta.shape != (k, k):
            raise ValueError(f"profile must be a {k} x {k} matrix (one row per group of fractions), got shape {delta.shape}")
        if not np.all(np.isfinite(delta)) or np.any(delta <= 0):
            raise ValueError(f"profile must have finite, positive entries, got {self.profile!r}")
        if not np.allclose(delta, delta.T, rtol=1e-12, atol=0.0):
            raise ValueError(f"profile must be symmetric, got {self.profile!r}")
        object.__setattr__(self, "fractions", tuple(float(v) for v in c))
        object.__setattr__(self, "profile", tuple(tuple(float(v) for v in row) for row in delta))
        object.__setattr__(self, "_p", make_prior(self.prior, self.rho, second_moment=1.0))
        object.__setattr__(self, "_c", c)
        object.__setattr__(self, "_inv_delta", 1.0 / delta)
        # M_ab = c_b / Delta_ab: the linearised state evolution is m -> snr M m
        object.__setattr__(self, "_M", c[None, :] / delta)
        # the state has one entry per group: shadow the class-level names on the instance
        object.__setattr__(self, "state_names", tuple(f"m_{a + 1}" for a in range(k)))

    @property
    def scalar_prior(self) -> Prior:
        return self._p

    def spectral_threshold(self) -> float:
        """``1 / lambda_max(M)``, ``M_ab = c_b / Delta_ab``: where ``m = 0`` loses stability.

        ``M`` is similar to the symmetric ``C^{1/2} Delta^{-1} C^{1/2}`` (``C = diag(c)``), so its
        eigenvalues are real; computed from the symmetric form.
        """
        sq = np.sqrt(self._c)
        sym = sq[:, None] * self._inv_delta * sq[None, :]
        lam = float(np.linalg.eigvalsh(sym)[-1])
        return 1.0 / lam

    def _g(self, m):
        return self.snr * (self._M @ m)

    def _state(self, x):
        m = np.asarray(x, dtype=float).ravel()
        if m.size != len(self._c) or not np.all(np.isfinite(m)) or np.any(m < 0):
            return None
        return m

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        k = len(self._c)
        if start == "uninformed":
            return np.full(k, UNINFORMED_OVERLAP)
        if start == "informed":
            return np.ones(k)
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self) -> np.ndarray:
        return np.zeros(len(self._c))

    def bounds(self):
        k = len(self._c)
        return np.zeros(k), np.ones(k)

    def update(self, x) -> np.ndarray:
        """``m_a -> overlap(g_a)``, ``g_a = snr sum_b c_b m_b / Delta_ab``."""
        m = self._state(x)
        if m is None:
            return np.full(len(self._c), math.nan)
        return np.array([self._p.overlap(g) for g in self._g(m)])

    def jacobian(self, x) -> np.ndarray:
        """``J_ab = overlap'(g_a) snr c_b / Delta_ab``."""
        m = self._state(x)
        if m is None:
            return np.full((len(self._c),) * 2, math.nan)
        d = np.array([self._p.overlap_derivative(g) for g in self._g(m)])
        return self.snr * d[:, None] * self._M

    def free_entropy(self, x) -> float:
        """``sum_a c_a psi(g_a) - snr/4 sum_ab c_a c_b m_a m_b / Delta_ab``."""
        m = self._state(x)
        if m is None:
            return math.nan
        g = self._g(m)
        psi = sum(ca * self._p.free_entropy(ga) for ca, ga in zip(self._c, g))
        cm = self._c * m
        return float(psi - 0.25 * self.snr * cm @ self._inv_delta @ cm)

    def observables(self, x) -> dict[str, float]:
        m = self._state(x)
        k = len(self._c)
        if m is None:
            out = {f"m_{a + 1}": math.nan for a in range(k)}
            out.update(overlap=math.nan, self_overlap=math.nan, mmse=math.nan, free_entropy=math.nan,
                       mutual_information=math.nan)
            return out
        g = self._g(m)
        avs = [self._p.averages(ga) for ga in g]
        ov = float(self._c @ m)
        psi = sum(ca * av["free_entropy"] for ca, av in zip(self._c, avs))
        cm = self._c * m
        phi = psi - 0.25 * self.snr * cm @ self._inv_delta @ cm
        one_minus = self._c * (1.0 - m)
        mi = sum(ca * av["mutual_information"] for ca, av in zip(self._c, avs)) \
            + 0.25 * self.snr * one_minus @ self._inv_delta @ one_minus
        out = {f"m_{a + 1}": float(m[a]) for a in range(k)}
        out.update(overlap=ov, self_overlap=ov, mmse=1.0 - ov * ov, free_entropy=float(phi),
                   mutual_information=float(mi))
        return out

    def simulate(self, d: int, seed: int, init_overlap: float = 0.1) -> dict[str, float]:
        """Bayes-optimal AMP with the inhomogeneous Onsager term on one instance of size ``d``.

        Returns ``overlap`` (``|<x, xhat>|/d``), ``self_overlap``, ``mmse`` (matrix), the
        per-group overlaps ``m_a`` and ``iterations``.
        """
        from ._simulate.amp_wigner import amp, group_labels, sample_instance

        d = _check_dimension(d)
        rng = np.random.default_rng(seed)
        labels = group_labels(d, self._c)
        delta = np.asarray(self.profile)
        x, y = sample_instance(self._p, self.snr, d, rng, labels=labels, profile=delta)
        xhat, v, it = amp(y, self._p, self.snr, rng, labels=labels, profile=delta, init_overlap=init_overlap,
                          x_true=x)
        return _instance_observables(x, xhat, it, labels=labels, fractions=self._c)
