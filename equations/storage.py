"""Storage capacity of the perceptron: the replica-symmetric Gardner volume (spherical and binary weights).

Model (DESIGN.md conventions). Patterns ``x_mu ~ N(0, I_d)``, ``mu = 1..n``, ``alpha = n / d``,
with random labels ``y_mu = +-1`` independent of everything; a weight vector ``w`` *stores* the
patterns with margin ``kappa >= 0`` when::

    y_mu x_mu . w / sqrt(d) >= kappa   for every mu,

with ``|w|^2 = d`` (``weights="spherical"``) or ``w in {-1, +1}^d`` (``weights="binary"``, the
Ising perceptron). The labels can be absorbed into the patterns (``y_mu x_mu ~ N(0, I_d)``), so
nothing is learned: the question is how large the set of solutions is. Its size per dimension,
``entropy = lim (1/d) E log Vol`` (the fraction of the sphere, or the number of solutions of the
cube, in log per dimension), is computed by the replica method in its replica-symmetric (RS)
form, with order parameter ``q``, the overlap ``w . w' / d`` of two solutions drawn
independently and uniformly.

Replica-symmetric free entropy (E. Gardner, "The space of interactions in neural network
models", J. Phys. A 21, 257 (1988); E. Gardner and B. Derrida, "Optimal storage properties of
neural network models", J. Phys. A 21, 271 (1988); A. Engel and C. Van den Broeck, *Statistical
Mechanics of Learning*, Cambridge 2001, ch. 6 and 10)::

    s = extr_{q, q_hat} [ G_S(q, q_hat) + alpha G_E(q) ],
    G_E(q) = E_z log H(u),   u = (kappa - sqrt(q) z) / sqrt(1 - q),   H(x) = P(N(0,1) > x),

    binary:    G_S = -q_hat (1 - q) / 2 + E_z log 2 cosh(sqrt(q_hat) z),
    spherical: G_S = (D - q_hat) / 2 + q q_hat / 2 - (1/2) log D + q_hat / (2 D) - 1/2,
               D = (1 + sqrt(1 + 4 q_hat)) / 2

(the spherical ``G_S`` is the entropic term of the sphere with its norm multiplier eliminated
and the volume of the whole sphere subtracted, so that ``s = 0`` at ``alpha = 0``; at its
stationary ``q_hat = q / (1 - q)^2`` it is Gardner's ``log(1 - q) / 2 + q / (2 (1 - q))``).
Stationarity gives the fixed-point map of this model (state ``q``)::

    q_hat = -2 alpha dG_E/dq = alpha E_z[ mills(u)^2 ] / (1 - q),   mills = phi / H,
    binary:    q = E_z tanh^2(sqrt(q_hat) z),   1 - q = E_z sech^2(sqrt(q_hat) z),
    spherical: q = q_hat / D^2,                 1 - q = 1 / D.

Mapping to Engel and Van den Broeck: their ``N, p = alpha N, xi^mu sigma^mu`` are our ``d, n,
y_mu x_mu``; their ``Dt`` our ``E_z``; their ``q, q_hat`` ours. Krauth and Mezard use the same
normalisation (W. Krauth and M. Mezard, "Storage capacity of memory networks with binary
couplings", J. Phys. France 50, 3057 (1989)).

Capacities. Spherical weights: as ``alpha -> alpha_c(kappa)`` the typical solutions merge,
``q -> 1``; the leading terms of the fixed-point equation give Gardner's capacity::

    alpha_c(kappa) = 1 / int_{-kappa}^inf Dt (t + kappa)^2
                   = 1 / [ (1 + kappa^2) H(-kappa) + kappa phi(kappa) ]     (alpha_c(0) = 2),

(:func:`gardner_capacity`), and ``kappa_max(alpha)``, its inverse (:func:`max_margin`), is the
largest margin a random set of ``alpha d`` patterns can be stored with. For ``kappa >= 0`` the
space of solutions is convex and RS is exact; for ``kappa < 0`` it is not (replica symmetry
breaking, S. Franz and G. Parisi, J. Phys. A 49, 145001 (2016)), so the model refuses it.

Binary weights: the RS entropy decreases with ``alpha`` and vanishes at the Krauth-Mezard
capacity ``alpha_KM(kappa)`` (:func:`binary_capacity`; ``alpha_KM(0) = 0.833``), beyond which
RS predicts a negative number of solutions per dimension: a sign that there are none. This zero
of the entropy is the capacity (Krauth-Mezard 1989, conjectured; a matching lower bound is
proved by J. Ding and N. Sun, "Capacity lower bound for the Ising perceptron", STOC 2019,
arXiv 1809.07742, and an upper bound by B. Huang, arXiv 2404.18902, both under a numerical
hypothesis). The point where the binary RS solution reaches ``q = 1``, ``alpha = 2 / (pi
int_{-kappa}^inf Dt (t + kappa)^2)`` (``4 / pi`` at ``kappa = 0``, Gardner and Derrida 1988) is
*not* the capacity of binary weights: there the RS entropy is already ``-inf``, far below 0.
(Between ``alpha_KM`` and that point the RS fixed point still exists and is reported, with a
negative ``entropy``.)

Why a family of its own and not part of ``glm_erm`` or ``glm_bayes``. The Gardner volume is a
counting problem: the log of the volume (or number) of weight vectors satisfying hard
constraints, with random labels and no teacher. It is neither an empirical risk minimiser (no
loss is minimised: every solution weighs the same, and ``q`` is the overlap of two of them, not
of an estimator with a teacher) nor Bayes-optimal inference (there is no signal; the
uniform measure over solutions is not a posterior of a planted model, so the Nishimori
identities do not hold and ``q`` is not an MMSE). For binary weights the counting is the
physics (the entropy's zero is the capacity), which neither ERM nor Bayes formulas express.

Numerics. As ``q -> 1`` the integrand of ``G_E`` changes on the scale ``sqrt(1 - q)`` around
``z0 = kappa / sqrt(q)`` and grows like ``u^2 ~ 1 / (1 - q)``; that of the binary ``G_S``
changes on the scale ``1 / sqrt(q_hat)`` around 0. Both are integrated by composite
Gauss-Legendre rules on panels graded geometrically toward those points (``z0 +- s 2^k``, ``s``
the scale) joined to uniform panels of width 1 on ``[-12, 12]``, with ``log H`` and ``mills``
from :mod:`fixedpoint.quadrature` (accurate in both tails). The tests check them against mpmath
at 30 digits from ``q = 0`` to ``q = 1 - 1e-8``. ``1 - q`` is computed directly (``1 / D``,
``E sech^2``) so that it keeps its relative accuracy near 1.

Starts. There is no teacher: ``"uninformed"`` is ``q = 1e-6`` (two solutions drawn apart),
``"informed"`` is ``q = 1 - 1e-6`` (two solutions drawn together). Below ``alpha_1``
(:meth:`Storage.alpha_one`: ``alpha_c(kappa)`` for spherical weights, ``2 / (pi I(kappa))`` for
binary ones) the map has one fixed point in ``[0, 1)``, which both starts reach; above it the
iteration goes to the absorbing ``q = 1``, where ``entropy = -inf``. The model does not
declare ``unique_fixed_point``: ``q = 1`` is a fixed point of the map at every ``alpha``
(repelling below ``alpha_1``), so a warm start next to it, as a continuation would make, can
stay there. Within ~1e-4 relative of ``alpha_1`` the interior fixed point merges with ``q = 1``
and the iteration slows critically (its rate tends to 1, and an extrapolation onto the boundary
is refused by the engine): a solve from ``"informed"`` may then end ``max_iter``, while one from
``"uninformed"`` converges in a few tens of steps up to ``alpha_1 (1 - 1e-6)``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit

from fixedpoint.quadrature import logH, mills, sorted_copy

from ._registry import parameter_table, register

__all__ = ["Storage", "binary_capacity", "gardner_capacity", "max_margin"]

_WEIGHTS = ("spherical", "binary")
#: uninformed start q = _EPS_START; informed start q = 1 - _EPS_START
_EPS_START = 1e-6
#: Gauss-Legendre nodes per panel of the composite rules (tests: 1e-13 relative against mpmath)
_GL_NODES = 20
#: the integrals over z ~ N(0, 1) are cut at |z| = _Z_MAX (phi(12) ~ 1e-32: beyond, even the
#: integrand's growth u^2 ~ z^2 / (1 - q) with 1 - q = 1e-12 leaves < 1e-17 relative)
_Z_MAX = 12.0
#: panels graded toward the kink as z0 +- s 2^k, k = _K_MIN.. (at most _K_MAX of them per side)
_K_MIN = -3
_K_MAX = 80
#: beyond alpha_one, a state this close to q = 1 is on the branch that goes there (entropy -inf)
_NEAR_ONE = 1e-8
_LOG2 = math.log(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# ---------------------------------------------------------------------- integral kernels


@functools.lru_cache(maxsize=8)
def _legendre(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    return np.ascontiguousarray(x), np.ascontiguousarray(w)


@njit(cache=True)
def _panel_ends(center, scale, lo, hi, k_min, k_max):
    """Sorted panel ends on ``[lo, hi]``: unit panels from ``lo``, and ``center +- scale 2^k``,
    ``k_min <= k < k_max``, inside.

    Sized safely: at most ``(hi - lo) + 2`` uniform ends, ``hi``, ``center`` and ``2 (k_max -
    k_min)`` graded ones (the loop stops once ``scale 2^k`` exceeds the interval)."""
    n_uniform = int(hi - lo) + 2
    out = np.empty(n_uniform + 2 * (k_max - k_min) + 4)
    m = 0
    for j in range(n_uniform):
        t = lo + j
        if t < hi:
            out[m] = t
            m += 1
    out[m] = hi
    m += 1
    if lo < center < hi:
        out[m] = center
        m += 1
    if scale > 0.0:
        for k in range(k_min, k_max):
            step = scale * 2.0 ** k
            if step > hi - lo:
                break
            for t in (center - step, center + step):
                if lo < t < hi:
                    out[m] = t
                    m += 1
    return sorted_copy(out[:m])  # np.sort would compile Numba's quicksort (~1.5 s of a first solve)


@njit(cache=True)
def _energetic_kernel(q, one_minus_q, kappa, nodes, weights, z_max, k_min, k_max):
    """``(E_z log H(u), E_z mills(u)^2)``, ``u = (kappa - sqrt(q) z) / sqrt(1 - q)``, ``0 < q < 1``.

    Composite Gauss-Legendre on ``[-z_max, z_max]``, graded toward ``z0 = kappa / sqrt(q)``
    on the scale ``sqrt((1 - q) / q)`` (one unit of ``u``)."""
    sq = math.sqrt(q)
    sv = math.sqrt(one_minus_q)
    ends = _panel_ends(kappa / sq, sv / sq, -z_max, z_max, k_min, k_max)
    g = 0.0
    m2 = 0.0
    for p in range(ends.size - 1):
        a = ends[p]
        b = ends[p + 1]
        if b <= a:
            continue
        half = 0.5 * (b - a)
        mid = 0.5 * (b + a)
        for i in range(nodes.size):
            z = mid + half * nodes[i]
            wz = half * weights[i] * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
            u = (kappa - sq * z) / sv
            g += wz * logH(u)
            r = mills(u)
            m2 += wz * r * r
    return g, m2


@njit(cache=True)
def _binary_entropic_kernel(q_hat, nodes, weights, z_max, k_min, k_max):
    """``(E_z log 2 cosh(a z), E_z sech^2(a z))``, ``a = sqrt(q_hat)``, ``z ~ N(0, 1)``.

    Both integrands are even: twice the integral over ``[0, z_max]``, graded toward 0 on the
    scale ``1 / a``; ``log 2 cosh(t) = |t| + log1p(exp(-2 |t|))`` and ``sech^2(t) = 4 e / (1 +
    e)^2``, ``e = exp(-2 |t|)``, are evaluated without overflow."""
    a = math.sqrt(q_hat)
    scale = 1.0 / a if a > 0.0 else 0.0
    ends = _panel_ends(0.0, scale, 0.0, z_max, k_min, k_max)
    lc = 0.0
    s2 = 0.0
    for p in range(ends.size - 1):
        lo = ends[p]
        hi = ends[p + 1]
        if hi <= lo:
            continue
        half = 0.5 * (hi - lo)
        mid = 0.5 * (hi + lo)
        for i in range(nodes.size):
            z = mid + half * nodes[i]
            wz = 2.0 * half * weights[i] * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
            t = a * z
            e = math.exp(-2.0 * t)
            lc += wz * (t + math.log1p(e))
            s2 += wz * 4.0 * e / ((1.0 + e) * (1.0 + e))
    return lc, s2


def energetic(q: float, kappa: float) -> tuple[float, float]:
    """``(G_E(q), E_z mills(u)^2)``: the energetic term and the integral of its ``q``-derivative.

    ``G_E(q) = E_z log H((kappa - sqrt(q) z) / sqrt(1 - q))`` and ``dG_E/dq = -E_z[mills(u)^2]
    / (2 (1 - q))``. At ``q = 0`` both are constants (``log H(kappa)``, ``mills(kappa)^2``); at
    ``q = 1``, ``(-inf, inf)``.
    """
    q = float(q)
    kappa = float(kappa)
    if not (0.0 <= q <= 1.0):
        raise ValueError(f"q must be in [0, 1], got {q}")
    if q == 0.0:
        return float(logH(kappa)), float(mills(kappa)) ** 2
    if q == 1.0:
        return -math.inf, math.inf
    x, w = _legendre(_GL_NODES)
    g, m2 = _energetic_kernel(q, 1.0 - q, kappa, x, w, _Z_MAX, _K_MIN, _K_MAX)
    return float(g), float(m2)


def binary_entropic(q_hat: float) -> tuple[float, float]:
    """``(E_z log 2 cosh(sqrt(q_hat) z), E_z sech^2(sqrt(q_hat) z))`` (the second is ``1 - q``)."""
    q_hat = float(q_hat)
    if not q_hat >= 0.0:
        raise ValueError(f"q_hat must be >= 0, got {q_hat}")
    if q_hat == math.inf:
        return math.inf, 0.0
    x, w = _legendre(_GL_NODES)
    lc, s2 = _binary_entropic_kernel(q_hat, x, w, _Z_MAX, _K_MIN, _K_MAX)
    return float(lc), float(s2)


def _spherical_D(q_hat: float) -> float:
    """``D = (1 + sqrt(1 + 4 q_hat)) / 2 = 1 / (1 - q)`` at the entropic saddle point."""
    return 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * q_hat))


# ---------------------------------------------------------------------- capacities


def _gardner_integral(kappa: float) -> float:
    """``I(kappa) = int_{-kappa}^inf Dt (t + kappa)^2 = (1 + kappa^2) H(-kappa) + kappa phi(kappa)``."""
    return (1.0 + kappa * kappa) * 0.5 * math.erfc(-kappa / math.sqrt(2.0)) + kappa * math.exp(
        -0.5 * kappa * kappa) / math.sqrt(2.0 * math.pi)


def _check_kappa(kappa) -> float:
    if isinstance(kappa, bool) or not isinstance(kappa, (int, float, np.integer, np.floating)):
        raise ValueError(f"kappa must be a real number, got {kappa!r}")
    kappa = float(kappa)
    if not (math.isfinite(kappa) and kappa >= 0.0):
        raise ValueError(f"kappa (the margin) must be finite and >= 0, got {kappa}")
    return kappa


def gardner_capacity(kappa: float = 0.0) -> float:
    """Gardner's capacity of spherical weights with margin ``kappa >= 0`` (Gardner 1988)::

        alpha_c(kappa) = 1 / int_{-kappa}^inf Dt (t + kappa)^2
                       = 1 / [ (1 + kappa^2) H(-kappa) + kappa phi(kappa) ],

    the Gaussian integral in closed form (``alpha_c(0) = 2``, Cover's count; ``alpha_c ~ 1 /
    kappa^2`` for large ``kappa``).
    """
    return 1.0 / _gardner_integral(_check_kappa(kappa))


def max_margin(alpha: float) -> float:
    """The largest margin ``kappa_max(alpha)`` at which ``alpha d`` random patterns can be stored
    by spherical weights: the inverse of :func:`gardner_capacity` (``kappa_max(2) = 0``), NaN for
    ``alpha > 2`` (a negative margin: not replica symmetric)."""
    from scipy.optimize import brentq

    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise ValueError(f"alpha must be a real number, got {alpha!r}")
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0.0):
        raise ValueError(f"alpha must be finite and > 0, got {alpha}")
    if alpha > 2.0:
        return math.nan
    if alpha == 2.0:
        return 0.0
    # I(kappa) >= kappa^2 H(-kappa) >= kappa^2 / 2: the root is below sqrt(2 / alpha)
    hi = math.sqrt(2.0 / alpha)
    return float(brentq(lambda k: _gardner_integral(k) - 1.0 / alpha, 0.0, hi, xtol=1e-15, rtol=1e-15))


def binary_capacity(kappa: float = 0.0, *, tol: float = 1e-10) -> float:
    """The Krauth-Mezard capacity of binary weights: the ``alpha`` where the RS entropy vanishes.

    Located with :func:`fixedpoint.threshold` (``kind="level"``, ``observable="entropy"``,
    ``level=0``) inside a bracket found by scanning ``alpha`` geometrically below the point where
    the RS solution reaches ``q = 1`` (``2 / (pi I(kappa))``, where the entropy is ``-inf``) and
    the annealed bound ``log 2 / (-log H(kappa))`` (the quenched entropy is below the annealed
    one ``log 2 + alpha log H(kappa)``). ``alpha_KM(0) = 0.833`` (Krauth and Mezard 1989).

    Raises
    ------
    RuntimeError
        If the threshold does not converge (never seen for ``0 <= kappa <= 5``).
    """
    import fixedpoint

    kappa = _check_kappa(kappa)
    model = Storage(weights="binary", alpha=0.1, kappa=kappa)
    a_one = 2.0 / (math.pi * _gardner_integral(kappa))
    a_ann = _LOG2 / (-float(logH(kappa)))
    top = min(a_one * (1.0 - 1e-3), a_ann)
    grid = top * np.geomspace(0.05, 1.0, 12)
    prev = None
    bracket = None
    for a in grid:
        sol = fixedpoint.solve(Storage(weights="binary", alpha=float(a), kappa=kappa), start="uninformed")
        s = sol["entropy"] if sol.converged else math.nan
        if math.isfinite(s) and s < 0.0 and prev is not None:
            bracket = (prev, float(a))
            break
        if math.isfinite(s) and s > 0.0:
            prev = float(a)
    if bracket is None:
        raise RuntimeError(f"binary_capacity: no sign change of the RS entropy found below alpha = {top} "
                           f"(kappa = {kappa})")
    thr = fixedpoint.threshold(model, "alpha", bracket, kind="level", observable="entropy", level=0.0, tol=tol)
    if not thr.converged:
        raise RuntimeError(f"binary_capacity: {thr.message}")
    return float(thr.value)


# ---------------------------------------------------------------------- the model


@register
@dataclass(frozen=True)
class Storage:
    """The RS Gardner volume of the perceptron with random labels (state ``q``).

    Parameters
    ----------
    weights : {"spherical", "binary"}
        ``|w|^2 = d`` or ``w in {-1, +1}^d``.
    alpha : float
        Patterns per dimension ``n / d > 0``.
    kappa : float
        Margin ``>= 0`` (negative margins break replica symmetry).

    Notes
    -----
    Observables (at fixed points): ``q`` (overlap of two independent uniformly drawn
    solutions), ``q_hat``, ``entropy`` (the RS free entropy: log volume fraction of the sphere,
    or log number of solutions, per dimension; ``-inf`` at ``q = 1``); spherical weights also
    ``alpha_c`` (:func:`gardner_capacity` at ``kappa``) and ``kappa_max`` (:func:`max_margin`
    at ``alpha``). :meth:`simulate` measures ``q`` and ``entropy`` for binary weights (exact
    enumeration) and ``kappa_max`` and ``satisfiable`` for spherical weights.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("storage", weights="binary", alpha=0.5)
    >>> sol = fixedpoint.solve(m)            # doctest: +SKIP
    >>> sol["entropy"]                       # doctest: +SKIP
    """

    weights: str = "spherical"
    alpha: float = 1.0
    kappa: float = 0.0

    name: ClassVar[str] = "storage"
    state_names: ClassVar[tuple[str, ...]] = ("q",)
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "kappa": r"margin $\kappa$", "q": r"overlap $q$", "q_hat": r"$\hat q$",
        "entropy": r"entropy $s$", "alpha_c": r"$\alpha_c(\kappa)$", "kappa_max": r"$\kappa_{\max}(\alpha)$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"weights": "spherical", "alpha": 1.0, "kappa": 0.0},
        {"weights": "spherical", "alpha": 0.5, "kappa": 0.5},
        {"weights": "binary", "alpha": 0.5, "kappa": 0.0},
        {"weights": "binary", "alpha": 0.2, "kappa": 0.5},
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {
            "weights": {"allowed": _WEIGHTS, "doc": "spherical |w|^2 = d, or binary w in {-1, +1}^d"},
            "alpha": {"range": (0.0, None), "open": (True, True), "doc": "patterns per dimension n/d"},
            "kappa": {"range": (0.0, None), "open": (False, True),
                      "doc": "margin: y x.w/sqrt(d) >= kappa (>= 0: replica symmetric)"}})

    def __post_init__(self):
        if not isinstance(self.weights, str) or self.weights not in _WEIGHTS:
            raise ValueError(f"weights must be one of {', '.join(_WEIGHTS)}; got {self.weights!r}")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float, np.integer, np.floating)):
            raise ValueError(f"alpha must be a real number, got {self.alpha!r}")
        alpha = float(self.alpha)
        if not (math.isfinite(alpha) and alpha > 0.0):
            raise ValueError(f"alpha (patterns per dimension n/d) must be finite and > 0, got {alpha}")
        kappa = _check_kappa(self.kappa)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "kappa", kappa)

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``q = 1e-6``; ``"informed"``: ``q = 1 - 1e-6``."""
        if start == "uninformed":
            return np.array([_EPS_START])
        if start == "informed":
            return np.array([1.0 - _EPS_START])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """None: ``q = 0`` is never a fixed point for ``alpha > 0`` (``q_hat(0) = alpha
        mills(kappa)^2 > 0``)."""
        return None

    def bounds(self):
        return np.array([0.0]), np.array([1.0])

    def residual_scale(self, x) -> np.ndarray:
        """``1 - q``: near the capacity the fixed point is resolved in ``1 - q`` in relative terms."""
        return np.array([1.0 - self._clip(x)])

    @staticmethod
    def _clip(x) -> float:
        q = float(np.asarray(x, dtype=float).ravel()[0])
        return min(max(q, 0.0), 1.0) if math.isfinite(q) else q

    def _q_hat(self, q: float) -> tuple[float, float]:
        """``(q_hat, G_E)`` at ``q``: ``q_hat = alpha E mills(u)^2 / (1 - q)``."""
        g, m2 = energetic(q, self.kappa)
        if q == 1.0:
            return math.inf, -math.inf
        return self.alpha * m2 / (1.0 - q), g

    def _overlap(self, q_hat: float) -> tuple[float, float]:
        """``(q, 1 - q)`` at the conjugate ``q_hat`` (the entropic stationarity condition)."""
        if q_hat == math.inf:
            return 1.0, 0.0
        if self.weights == "binary":
            _, s2 = binary_entropic(q_hat)
            return 1.0 - s2, s2
        D = _spherical_D(q_hat)
        return q_hat / (D * D), 1.0 / D

    def update(self, x) -> np.ndarray:
        """``q -> overlap(alpha E mills(u)^2 / (1 - q))``; ``q = 1`` is absorbing (NaN in, NaN out)."""
        q = self._clip(x)
        if not math.isfinite(q):
            return np.array([math.nan])
        q_hat, _ = self._q_hat(q)
        return np.array([self._overlap(q_hat)[0]])

    def _entropic(self, q: float, q_hat: float) -> float:
        if self.weights == "binary":
            lc, _ = binary_entropic(q_hat)
            return -0.5 * q_hat * (1.0 - q) + lc
        D = _spherical_D(q_hat)
        return 0.5 * (D - q_hat) + 0.5 * q * q_hat - 0.5 * math.log(D) + 0.5 * q_hat / D - 0.5

    def free_entropy_rs(self, q: float, q_hat: float) -> float:
        """The RS potential ``G_S(q, q_hat) + alpha G_E(q)`` at independent ``0 <= q < 1``,
        ``q_hat >= 0``; its stationary points are the fixed points of :meth:`update`."""
        q = float(q)
        q_hat = float(q_hat)
        if not (0.0 <= q < 1.0) or not q_hat >= 0.0:
            raise ValueError(f"need 0 <= q < 1 and q_hat >= 0, got q = {q}, q_hat = {q_hat}")
        g, _ = energetic(q, self.kappa)
        return float(self._entropic(q, q_hat) + self.alpha * g)

    def alpha_one(self) -> float:
        """The ``alpha`` beyond which ``q = 1`` attracts the map (and the RS entropy is ``-inf``).

        Near ``q = 1``, ``q_hat ~ alpha I / (1 - q)^2`` (``I = int_{-kappa}^inf Dt (t +
        kappa)^2``), so ``1 - q_new ~ (1 - q) / (alpha I)`` for spherical weights and ``~ sqrt(2 /
        pi) (1 - q) / sqrt(alpha I)`` for binary ones: ``alpha_1 = 1 / I = alpha_c(kappa)``
        (spherical), ``2 / (pi I)`` (binary; ``4 / pi`` at ``kappa = 0``, not the capacity).
        """
        inv = _gardner_integral(self.kappa)
        return 1.0 / inv if self.weights == "spherical" else 2.0 / (math.pi * inv)

    def free_entropy(self, x) -> float:
        """The RS entropy ``G_S(q, q_hat(q)) + alpha G_E(q)``.

        ``-inf`` at ``q = 1``, and on the branch that goes there: for ``alpha >``
        :meth:`alpha_one` at ``1 - q < 1e-8`` (where ``q = 1`` attracts, no other fixed point
        lies that close to it), so that the limit is reported, never the large finite value
        (``~ -1 / (1 - q)``) at wherever a solve stopped.
        """
        q = self._clip(x)
        if not math.isfinite(q):
            return math.nan
        if q == 1.0 or (1.0 - q < _NEAR_ONE and self.alpha > self.alpha_one()):
            return -math.inf
        q_hat, g = self._q_hat(q)
        return float(self._entropic(q, q_hat) + self.alpha * g)

    def observable_names(self) -> tuple[str, ...]:
        """The keys of :meth:`observables`, in order (protocol member; the command line's catalogue
        lists them without evaluating the map)."""
        return ("q", "q_hat", "entropy") + (("alpha_c", "kappa_max") if self.weights == "spherical" else ())

    def observables(self, x) -> dict[str, float]:
        q = self._clip(x)
        q_hat, _ = self._q_hat(q) if math.isfinite(q) else (math.nan, math.nan)
        out = {"q": float(q), "q_hat": float(q_hat), "entropy": float(self.free_entropy(np.array([q])))}
        if self.weights == "spherical":
            out["alpha_c"] = gardner_capacity(self.kappa)
            out["kappa_max"] = max_margin(self.alpha)
        return out

    # ------------------------------------------------------------------ finite size
    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """One instance of size ``d`` (``n = round(alpha d)`` patterns with random labels).

        Binary weights: exhaustive enumeration of the ``2^d`` vectors (``d <= 26``; Gray code,
        :func:`equations._simulate.storage.count_binary`). Returns ``entropy`` = ``log(#solutions)
        / d`` (``-inf`` when there is none), ``q`` = the mean overlap ``w . w' / d`` of two
        independent uniformly drawn solutions, ``|sum of solutions|^2 / (d #^2)`` (NaN when
        there is none), and ``count``.

        Spherical weights: the max-margin direction by the least-distance program (hard-margin
        SVM through the origin, :func:`equations._simulate.storage.max_margin_spherical`).
        Returns ``kappa_max`` (NaN when the patterns cannot be separated, ``n > 2 d`` typically)
        and ``satisfiable`` (1.0 when a solution with margin ``kappa`` exists, else 0.0). The
        spherical ``q`` and ``entropy`` (a volume of a polytope on the sphere) are not measured.
        """
        from ._simulate.storage import count_binary, max_margin_spherical

        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
        d = int(d)
        if self.weights == "binary" and d > 26:
            raise ValueError(f"d must be <= 26 for binary weights (exhaustive enumeration of 2^d), got {d}")
        rng = np.random.default_rng(seed)
        n = max(1, int(round(self.alpha * d)))
        X = rng.standard_normal((n, d))
        y = rng.choice(np.array([-1.0, 1.0]), size=n)
        A = y[:, None] * X  # the labels absorbed into the patterns
        if self.weights == "binary":
            count, total = count_binary(A / math.sqrt(d), self.kappa)
            if count == 0:
                return {"entropy": -math.inf, "q": math.nan, "count": 0.0}
            return {"entropy": math.log(count) / d, "q": float(total @ total) / (d * float(count) ** 2),
                    "count": float(count)}
        k = max_margin_spherical(A)  # |w|^2 = d: y x.w / sqrt(d) = y x.(w / |w|)
        sat = 1.0 if (math.isfinite(k) and k >= self.kappa) else 0.0
        return {"kappa_max": float(k), "satisfiable": sat}
