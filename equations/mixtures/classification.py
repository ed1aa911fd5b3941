r"""Gaussian mixtures: two-cluster classification by ERM (``gmm_erm``) and Bayes-optimally (``gmm_bayes``).

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

Empirical risk minimisation (``gmm_erm``). The estimator ``(w, b)`` minimises::

    sum_nu loss(y_nu, x_nu . w / sqrt(d) + b) + reg/2 |w|^2      (penalty "l2";  reg |w|_1 for "l1")

with the losses of :mod:`equations.losses` (all of them are functions of the margin ``y z`` for
labels ``+-1``) and the bias ``b`` unpenalised (``bias=True``; ``b = 0`` otherwise). Order
parameters: ``m = mu . w / d``, ``q = |w|^2 / d``, the susceptibility ``V`` and ``b``. On a sample
of cluster ``c`` (label ``y_c``, fraction ``rho_c``: ``balance`` and ``1 - balance``) the fitted
field is ``omega = y_c m + b + sqrt(noise q) xi`` with the proximal variance ``noise V``. With
``t = y_c omega ~ N(m + y_c b, noise q)`` and ``f(t) = (prox_{noise V loss(+1, .)}(t) - t) /
(noise V)`` the replica equations are (Mignacco, Krzakala, Lu, Zdeborova, ICML 2020, eqs. of
Sec. 2 and App. A; Loureiro, Sicuro, Gerbelot, Pacco, Krzakala, Zdeborova, "Learning Gaussian
mixtures with generalized linear models: precise asymptotics in high-dimensions", NeurIPS 2021,
with two clusters of covariance ``noise I``)::

    m_hat = alpha sum_c rho_c E f(t_c)
    q_hat = alpha noise sum_c rho_c E f(t_c)^2
    V_hat = -alpha noise sum_c rho_c E f'(t_c)
    0     = sum_c rho_c y_c E f(t_c)                            (stationarity in b)

and on the weights' side, with ``B = m_hat mu + sqrt(q_hat) g``, the ridge or soft-thresholding
formulas of :mod:`equations.glm_erm` at teacher norm 1 (``l2``: ``V = 1/(reg + V_hat)``, ``m =
m_hat V``, ``q = (m_hat^2 + q_hat) V^2``). The bias is a fourth entry of the state: the map sends
it to the Newton step ``b - E[y f] / E[f']`` on its stationarity condition (the expectations are
already computed for the hats; the step is exact for the square loss), so ``(m, q, V, b)`` are
solved jointly, with no nested root search; its fixed points are exactly the stationary points.
Mignacco et al.'s ``(m, q, Sigma)`` are ours with ``Sigma = V``, their ``lambda`` our ``reg``.

The energy (training objective per dimension at the fixed point, stationary there, the same
construction as in :mod:`equations.glm_erm`) is::

    e = Psi_w(m_hat, q_hat, V_hat) + m m_hat - q V_hat/2 + V q_hat/2
        + alpha sum_c rho_c E M_{noise V}(t_c),

``M`` the Moreau envelope of the loss. Errors: on a fresh sample of cluster ``c`` the classifier
``sign(w . x / sqrt(d) + b)`` errs with probability ``H((m + y_c b) / sqrt(noise q))``; the
training error is the fraction of samples whose fitted margin ``prox(t)`` is negative. The
integrals over ``t`` are composite 16-node Gauss-Legendre rules on ``+-12`` standard deviations,
with panel ends at the proximal operator's kinks and at its zero (the training error's jump),
and panels no wider than 1.5 standard deviations (and 1 where the logistic loss bends): the
integrand is analytic on each panel (tests: against adaptive quadrature to 1e-10).

Structured covariances (``spectrum_plus``, ``spectrum_minus``, ``mean_coefficients``). Cluster
``c`` has the covariance ``Sigma_c = noise diag(s_c)`` instead of ``noise I``: ``K`` modes, mode
``k`` holding ``d / K`` coordinates, on which ``Sigma_c`` is ``noise s_{c,k}`` and the mean's
coordinates are ``N(0, c_k^2)`` (``mean_coefficients``; ``|mu|^2 / d = mean_k c_k^2``). The two
covariances commute, as Loureiro, Sicuro, Gerbelot, Pacco, Krzakala, Zdeborova (NeurIPS 2021,
arXiv 2106.03791, Sec. 3) need for the weights' side to reduce to spectral sums; they are
diagonal in the coordinate basis, which matters for ``l1`` only (an ``l2`` solution depends on
the eigenbasis only through the ``c_k^2``). Each cluster now has its own order parameters::

    m = mu . w / d,     q_c = w . Sigma_c w / d,     V_c = susceptibility weighted by Sigma_c,

(the field of a sample of cluster ``c`` is ``y_c m + b + sqrt(q_c) xi``, its proximal variance
``V_c``), and the channel side gives, with ``t_c ~ N(m + y_c b, q_c)`` and ``f_c`` the proximal
residual at variance ``V_c``::

    m_hat = alpha sum_c rho_c E f_c(t_c),  q_hat_c = alpha rho_c E f_c^2,  V_hat_c = -alpha rho_c E f_c'.

The weights' side decouples over the modes: mode ``k`` is a one-dimensional problem with
precision ``A_k = sum_c V_hat_c noise s_{c,k}``, noise variance ``Q_k = sum_c q_hat_c noise
s_{c,k}`` and signal ``m_hat c_k``, solved by the ridge or soft-thresholding formulas of
:mod:`equations.glm_erm` at teacher power ``c_k^2`` (``l2``: ``v_k = 1 / (reg + A_k)``, ``m_k =
m_hat c_k^2 v_k``, ``q_k = (m_hat^2 c_k^2 + Q_k) v_k^2``), and::

    m = mean_k m_k,    q_c = mean_k noise s_{c,k} q_k,    V_c = mean_k noise s_{c,k} v_k,

one pass over the modes (a point costs under a millisecond per iteration with ``K = 10^4``). The
bias step, the errors (``H((m + y_c b) / sqrt(q_c))``) and the energy (``Psi_w = mean_k
Psi_k``, ``- sum_c q_c V_hat_c / 2 + sum_c V_c q_hat_c / 2``) are those above cluster by cluster;
the state is ``(m, q_plus, q_minus, V_plus, V_minus, b)``. Spectra of ones give ``q_c = noise
q``, ``V_c = noise V``, ``q_hat = sum_c q_hat_c`` etc.: the isotropic equations (tested to
1e-10 for every loss). Loureiro et al.'s two-cluster code (``IdePHICS/GaussMixtureProject``,
``K2mix``; both clusters with one block-diagonal covariance, ``mu ~ N(0, I)``) has our ``V_c``,
``q_c``, ``m``, ``b``, their ``lambda`` our ``reg``, their ``probability`` our ``balance``; its
published theory curves are reproduced to 1e-9 (tests).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit

from fixedpoint.quadrature import H as _tail, phi, sorted_copy
from .._registry import parameter_table, register
from ..gcm import _as_floats, _short
from ..glm_erm import PENALTIES, _legendre, _omega_kinks, _omega_zero_margin, _prior
from ..losses import LOGISTIC, LOSSES, _loss, _prox_full, loss_code

__all__ = ["GMMBayes", "GMMERM"]

#: the t window: +-12 standard deviations (Gaussian mass outside: 3.6e-33)
_WINDOW = 12.0
#: panel widths: at most this many standard deviations, and at most 1 where the logistic loss bends
_PANEL_SD = 1.5
_BEND = 10.0
_MAX_PANELS = 400


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
    # imported here: scipy.special costs every ``import equations`` 0.05-0.25 s (its share of
    # scipy's array-API layer), and only this family's closed forms need it
    from scipy.special import ndtr

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


# ============================================================================ ERM


@njit(cache=True)
def _n_panels(length, width):
    """Panels of at most ``width`` on a piece of ``length``, capped at ``_MAX_PANELS`` (a state
    far from the fixed point can have a huge ``V``: the rule then only needs to stay finite)."""
    return max(1, min(_MAX_PANELS, int(math.ceil(length / width))))


@njit(cache=True)
def _panels(cuts, k, lo, hi, sd, narrow, nlo, nhi):
    """Panels ``(a, b)`` of the window ``(lo, hi)`` cut at the points ``cuts[:k]`` that fall
    inside it, each piece split into panels of at most ``_PANEL_SD sd``, and of at most 1 where
    a piece meets ``(nlo, nhi)`` when ``narrow`` (where the logistic loss bends on the scale 1)."""
    ends = np.empty(k + 2)
    ends[0] = lo
    n = 1
    for i in range(k):
        if lo < cuts[i] < hi:
            ends[n] = cuts[i]
            n += 1
    ends[n] = hi
    n += 1
    ends = sorted_copy(ends[:n])  # np.sort would compile Numba's quicksort (~1.5 s of a first solve)
    widths = np.empty(n - 1)
    counts = np.empty(n - 1, np.int64)
    total = 0
    for i in range(n - 1):
        width = _PANEL_SD * sd
        if narrow and ends[i + 1] > nlo and ends[i] < nhi:
            width = min(width, 1.0)
        widths[i] = width
        counts[i] = _n_panels(ends[i + 1] - ends[i], width)
        total += counts[i]
    a = np.empty(total)
    b = np.empty(total)
    j = 0
    for i in range(n - 1):
        npan = counts[i]
        h = (ends[i + 1] - ends[i]) / npan
        for p in range(npan):
            a[j] = ends[i] + p * h
            b[j] = ends[i + 1] if p == npan - 1 else ends[i] + (p + 1) * h  # exact piece ends
            j += 1
    return a, b


@njit(cache=True)
def _t_panels(code, mean, sd, Vc, delta):
    """Panel ends of the ``t`` rule: the window ``mean +- 12 sd`` cut at the kinks and the zero
    of the proximal operator, each piece split into panels of at most ``1.5 sd`` (and at most 1
    on ``[-Vc - 10, 10]`` for the logistic loss, where ``f`` bends on the scale 1)."""
    lo = mean - _WINDOW * sd
    hi = mean + _WINDOW * sd
    cuts = np.empty(6)
    k = _omega_kinks(code, Vc, delta, cuts)
    cuts[k] = _omega_zero_margin(code, Vc, delta)
    k += 1
    if code == LOGISTIC:
        cuts[k] = -Vc - _BEND
        cuts[k + 1] = _BEND
        k += 2
    return _panels(cuts, k, lo, hi, sd, code == LOGISTIC, -Vc - _BEND, _BEND)


@njit(cache=True, error_model="numpy")
def _cluster_integrals(code, mean, sd, Vc, delta, glx, glw, out):
    """Add ``E f, E f^2, E f', E loss, E Moreau, P(prox < 0)`` over ``t ~ N(mean, sd^2)`` to
    ``out[0:6]`` (``sd = 0``: ``t = mean``)."""
    if sd == 0.0:
        z, f, df = _prox_full(code, 1.0, mean, Vc, delta)
        ell = _loss(code, 1.0, z, delta)
        out[0] += f
        out[1] += f * f
        out[2] += df
        out[3] += ell
        out[4] += ell + 0.5 * Vc * f * f
        out[5] += 1.0 if z < 0.0 else (0.5 if z == 0.0 else 0.0)  # a tie is broken at random
        return
    a, b = _t_panels(code, mean, sd, Vc, delta)
    t0 = _omega_zero_margin(code, Vc, delta)
    zprev = math.nan
    for p in range(a.shape[0]):
        half = 0.5 * (b[p] - a[p])
        mid = 0.5 * (a[p] + b[p])
        below = mid < t0  # t0 is a panel end: each panel lies on one side of it
        for j in range(glx.shape[0]):
            t = mid + half * glx[j]
            wt = half * glw[j] * phi((t - mean) / sd) / sd
            z, f, df = _prox_full(code, 1.0, t, Vc, delta, zprev)
            zprev = z
            ell = _loss(code, 1.0, z, delta)
            out[0] += wt * f
            out[1] += wt * f * f
            out[2] += wt * df
            out[3] += wt * ell
            out[4] += wt * (ell + 0.5 * Vc * f * f)
            if below:
                out[5] += wt


@njit(cache=True, error_model="numpy")
def _gmm_step(code, l1, alpha, reg, noise, balance, delta, bias, x, glx, glw):
    """The whole map: ``[m, q, V, b, m_hat, q_hat, V_hat, Psi_w, train_loss, moreau,
    train_error, train_error_plus, train_error_minus]`` at the state ``x = (m, q, V, b)``."""
    m, q, V, b = x[0], x[1], x[2], x[3]
    out = np.full(13, np.nan)
    if not (q >= 0.0 and V >= 0.0 and math.isfinite(q) and math.isfinite(V) and math.isfinite(m)
            and math.isfinite(b)):
        return out
    sd = math.sqrt(noise * q)
    Vc = noise * V
    plus = np.zeros(6)
    minus = np.zeros(6)
    _cluster_integrals(code, m + b, sd, Vc, delta, glx, glw, plus)
    _cluster_integrals(code, m - b, sd, Vc, delta, glx, glw, minus)
    r = balance
    Ef = r * plus[0] + (1.0 - r) * minus[0]
    Ef2 = r * plus[1] + (1.0 - r) * minus[1]
    Edf = r * plus[2] + (1.0 - r) * minus[2]
    m_hat = alpha * Ef
    q_hat = alpha * noise * Ef2
    V_hat = -alpha * noise * Edf
    mn, qn, Vn, psi = _prior(l1, reg, 1.0, m_hat, q_hat, V_hat)
    if l1 and V_hat == 0.0 and 2.0 * _tail(reg / math.sqrt(m_hat * m_hat + q_hat)) == 0.0:
        # soft thresholding keeps no weight (P(|B| > reg) underflows) and the loss has no
        # curvature at the fields (hinge, absolute at V = 0): the limit is w = 0, not 0/0
        mn, qn, Vn, psi = 0.0, 0.0, 0.0, 0.0
    out[0] = mn
    out[1] = qn
    out[2] = Vn
    if bias:
        # Newton step on the bias condition E[y f] = 0 (d/db E[y f] = E f' <= 0), kept within the
        # trust radius 4 (sd + Vc) + 0.05: for hinge and absolute losses E f' vanishes while no
        # field sits at a kink (strong penalties), and the step must still move b toward them
        Eyf = r * plus[0] - (1.0 - r) * minus[0]
        radius = 4.0 * (sd + Vc) + 0.05
        step = -Eyf / Edf if Edf < 0.0 else (radius if Eyf > 0.0 else -radius)
        out[3] = b + max(-radius, min(radius, step))
    else:
        out[3] = 0.0
    out[4] = m_hat
    out[5] = q_hat
    out[6] = V_hat
    out[7] = psi
    out[8] = r * plus[3] + (1.0 - r) * minus[3]
    out[9] = r * plus[4] + (1.0 - r) * minus[4]
    out[10] = r * plus[5] + (1.0 - r) * minus[5]
    out[11] = plus[5]
    out[12] = minus[5]
    return out


@njit(cache=True, error_model="numpy")
def _gmm_structured_step(code, l1, alpha, reg, noise, balance, delta, bias, x, s_plus, s_minus, c2, glx, glw):
    """The map with per-cluster covariances ``noise diag(s_plus)``, ``noise diag(s_minus)`` and mean
    powers ``c2`` (module docstring, "Structured covariances"): ``[m, q_plus, q_minus, V_plus,
    V_minus, b, m_hat, q_hat_plus, q_hat_minus, V_hat_plus, V_hat_minus, Psi_w, train_loss, moreau,
    train_error, train_error_plus, train_error_minus, q]`` at ``x = (m, q_plus, q_minus, V_plus,
    V_minus, b)``, ``q = |w|^2 / d``. One pass over the modes on the weights' side."""
    m, qp, qm, Vp, Vm, b = x[0], x[1], x[2], x[3], x[4], x[5]
    out = np.full(18, np.nan)
    if not (qp >= 0.0 and qm >= 0.0 and Vp >= 0.0 and Vm >= 0.0 and math.isfinite(qp) and math.isfinite(qm)
            and math.isfinite(Vp) and math.isfinite(Vm) and math.isfinite(m) and math.isfinite(b)):
        return out
    sdp = math.sqrt(qp)
    sdm = math.sqrt(qm)
    plus = np.zeros(6)
    minus = np.zeros(6)
    _cluster_integrals(code, m + b, sdp, Vp, delta, glx, glw, plus)
    _cluster_integrals(code, m - b, sdm, Vm, delta, glx, glw, minus)
    r = balance
    m_hat = alpha * (r * plus[0] + (1.0 - r) * minus[0])
    qh_p = alpha * r * plus[1]
    qh_m = alpha * (1.0 - r) * minus[1]
    Vh_p = -alpha * r * plus[2]
    Vh_m = -alpha * (1.0 - r) * minus[2]
    sm = 0.0
    sqp = 0.0
    sqm = 0.0
    sVp = 0.0
    sVm = 0.0
    spsi = 0.0
    sq = 0.0
    K = s_plus.shape[0]
    for k in range(K):
        # mode k: the hats' precision A_k and noise variance Q_k, weighted by the two clusters'
        # variances along it (a one-mode glm_erm prior at teacher power c2[k])
        sp = noise * s_plus[k]
        sn = noise * s_minus[k]
        A = Vh_p * sp + Vh_m * sn
        Q = qh_p * sp + qh_m * sn
        mk, qk, Vk, psik = _prior(l1, reg, c2[k], m_hat, Q, A)
        if l1 and A == 0.0 and 2.0 * _tail(reg / math.sqrt(m_hat * m_hat * c2[k] + Q)) == 0.0:
            mk, qk, Vk, psik = 0.0, 0.0, 0.0, 0.0  # as in _gmm_step: no weight survives, the limit is w = 0
        sm += mk
        sqp += sp * qk
        sqm += sn * qk
        sVp += sp * Vk
        sVm += sn * Vk
        spsi += psik
        sq += qk
    out[0] = sm / K
    out[1] = sqp / K
    out[2] = sqm / K
    out[3] = sVp / K
    out[4] = sVm / K
    if bias:
        # the Newton step of _gmm_step on E[y f] = 0, with the larger cluster's scales in the radius
        Eyf = r * plus[0] - (1.0 - r) * minus[0]
        Edf = r * plus[2] + (1.0 - r) * minus[2]
        radius = 4.0 * (max(sdp, sdm) + max(Vp, Vm)) + 0.05
        step = -Eyf / Edf if Edf < 0.0 else (radius if Eyf > 0.0 else -radius)
        out[5] = b + max(-radius, min(radius, step))
    else:
        out[5] = 0.0
    out[6] = m_hat
    out[7] = qh_p
    out[8] = qh_m
    out[9] = Vh_p
    out[10] = Vh_m
    out[11] = spsi / K
    out[12] = r * plus[3] + (1.0 - r) * minus[3]
    out[13] = r * plus[4] + (1.0 - r) * minus[4]
    out[14] = r * plus[5] + (1.0 - r) * minus[5]
    out[15] = plus[5]
    out[16] = minus[5]
    out[17] = sq / K
    return out


#: the state of gmm_erm with structured covariances
_STRUCTURED_STATE = ("m", "q_plus", "q_minus", "V_plus", "V_minus", "b")
#: the spectral parameters of gmm_erm (all None: isotropic clusters)
_SPECTRA = ("spectrum_plus", "spectrum_minus", "mean_coefficients")


class _StateNames:
    """``state_names``: ``(m, q, V, b)`` for isotropic clusters, ``(m, q_plus, q_minus, V_plus,
    V_minus, b)`` with structured covariances (on the class: the default model's)."""

    def __get__(self, obj, cls):
        return _STRUCTURED_STATE if (obj is not None and obj.structured) else ("m", "q", "V", "b")


@register
@dataclass(frozen=True, repr=False)
class GMMERM:
    """Empirical risk minimisation on a two-cluster Gaussian mixture: state ``(m, q, V, b)``.

    Parameters
    ----------
    loss : {"square", "logistic", "hinge", "huber", "absolute"}
        Training loss ``loss(y, z)`` (:mod:`equations.losses`).
    penalty : {"l2", "l1"}
        ``reg/2 |w|^2`` or ``reg |w|_1``.
    alpha : float
        Sample ratio ``n / d > 0``.
    reg : float
        Penalty strength, ``> 0`` (``>= 0`` for the square loss with ``alpha > 1``).
    noise : float
        Variance ``> 0`` of each cluster.
    balance : float
        ``P(y = +1)``, in ``(0, 1)``.
    bias : bool
        Fit an unpenalised bias ``b`` (solved jointly with ``m, q, V``); ``b = 0`` otherwise.
    delta : float
        Huber threshold ``> 0`` (``loss="huber"`` only).
    spectrum_plus, spectrum_minus : tuple of float, optional
        Structured covariances (module docstring, "Structured covariances"): the eigenvalues
        ``s_{c,k} > 0`` of cluster ``c``'s covariance ``noise diag(s_c)`` over ``K`` modes, each
        mode standing for ``d / K`` coordinates (the covariances are diagonal in the coordinate
        basis, so they commute). A missing one equals the other; both ``None`` (default):
        isotropic clusters ``noise I``, the state ``(m, q, V, b)``.
    mean_coefficients : tuple of float, optional
        The root-mean-square coordinate ``c_k`` of ``mu`` in mode ``k`` (``mu_i ~ N(0, c_k^2)``;
        ``|mu|^2 / d = mean c_k^2``); default all 1. Only with the spectra.

    Notes
    -----
    Observables: ``m``, ``q``, ``V``, ``b``, ``gen_error`` (0/1 test error), ``gen_error_plus``,
    ``gen_error_minus`` (per cluster), ``train_loss`` (mean loss per sample at the minimiser),
    ``train_error`` (0/1) and ``overlap`` (cosine ``m / sqrt(q)``). With structured covariances
    the state is ``(m, q_plus, q_minus, V_plus, V_minus, b)`` (``q_c = w . Sigma_c w / d``, ``V_c``
    the susceptibility weighted by ``Sigma_c``) and the observables are ``m``, ``q`` (``|w|^2 /
    d``), ``q_plus``, ``q_minus``, ``V_plus``, ``V_minus``, ``b``, ``overlap`` (cosine ``m /
    sqrt(q |mu|^2 / d)``) and the errors above. Equations: module docstring.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("gmm_erm", loss="logistic", alpha=2.0, reg=0.1, noise=1.0, balance=0.3, bias=True)
    >>> sol = fixedpoint.solve(m)              # doctest: +SKIP
    >>> s = equations.get("gmm_erm", loss="logistic", alpha=2.0, reg=0.1, spectrum_plus=(0.5, 2.0),
    ...                   spectrum_minus=(2.0, 0.5), mean_coefficients=(1.0, 0.3))
    >>> s.state_names
    ('m', 'q_plus', 'q_minus', 'V_plus', 'V_minus', 'b')
    """

    loss: str = "square"
    penalty: str = "l2"
    alpha: float = 1.0
    reg: float = 1.0
    noise: float = 1.0
    balance: float = 0.5
    bias: bool = False
    delta: float = 1.0
    spectrum_plus: tuple | None = None
    spectrum_minus: tuple | None = None
    mean_coefficients: tuple | None = None

    name: ClassVar[str] = "gmm_erm"
    state_names: ClassVar[tuple[str, ...]] = _StateNames()
    unique_fixed_point: ClassVar[bool] = True
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "reg": r"$\lambda$", "noise": r"$\Delta$", "balance": r"$P(y = +1)$",
        "delta": r"Huber $\delta$", "m": r"$m$", "q": r"$q$", "V": r"$V$", "b": r"bias $b$",
        "gen_error": "test error", "gen_error_plus": r"test error, $y = +1$", "gen_error_minus": r"test error, $y = -1$",
        "train_loss": "training loss", "train_error": "training error", "overlap": r"$m/\sqrt{q}$",
        "q_plus": r"$q_+$", "q_minus": r"$q_-$", "V_plus": r"$V_+$", "V_minus": r"$V_-$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        dict(loss="logistic", alpha=2.0, reg=0.1, noise=1.0, balance=0.3, bias=True),
        dict(loss="square", alpha=0.5, reg=0.05, noise=0.5),
        dict(loss="hinge", alpha=3.0, reg=0.01, noise=0.8, balance=0.6, bias=True),
        dict(loss="logistic", alpha=1.5, reg=0.1, balance=0.4, bias=True, spectrum_plus=(0.5, 1.0, 2.0, 4.0),
             spectrum_minus=(2.0, 1.0, 1.0, 0.25), mean_coefficients=(1.5, 1.0, 0.5, 0.2)),
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        positive = {"range": (0.0, None), "open": (True, True)}
        return parameter_table(cls, {
            "loss": {"allowed": LOSSES, "doc": "training loss, a function of the margin y z"},
            "penalty": {"allowed": PENALTIES, "doc": "reg/2 |w|^2 (l2) or reg |w|_1 (l1)"},
            "alpha": {**positive, "doc": "sample ratio n/d"},
            "reg": {"range": (0.0, None), "open": (False, True),
                    "doc": "penalty strength (0 only for the square loss with alpha > 1)"},
            "noise": {**positive, "doc": "variance of each cluster"},
            "balance": {"range": (0.0, 1.0), "open": (True, True), "doc": "P(y = +1)"},
            "bias": {"allowed": (False, True), "doc": "fit an unpenalised bias b"},
            "delta": {**positive, "doc": "Huber threshold (loss=huber only)"},
            "spectrum_plus": {"doc": "eigenvalues s_k > 0 of cluster +'s covariance noise diag(s), a tuple "
                                     "(None: isotropic)"},
            "spectrum_minus": {"doc": "eigenvalues of cluster -'s covariance, a tuple of the same length "
                                      "(None: spectrum_plus)"},
            "mean_coefficients": {"doc": "rms coordinate c_k of mu in each mode, a tuple of the spectra's length "
                                         "(None: all 1)"},
        })

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {', '.join(PENALTIES)}; got {self.penalty!r}")
        if not isinstance(self.bias, (bool, np.bool_)):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        inf = dict(lo_open=True, hi_open=True)
        object.__setattr__(self, "alpha", _check_real("alpha", self.alpha, 0.0, None, **inf, what="finite and > 0"))
        object.__setattr__(self, "reg", _check_real("reg", self.reg, 0.0, None, lo_open=False, hi_open=True,
                                                    what="finite and >= 0"))
        object.__setattr__(self, "noise", _check_real("noise", self.noise, 0.0, None, **inf,
                                                      what="finite and > 0 (a variance)"))
        object.__setattr__(self, "balance", _check_real("balance", self.balance, 0.0, 1.0, **inf,
                                                        what="in (0, 1) (a probability)"))
        object.__setattr__(self, "delta", _check_real("delta", self.delta, 0.0, None, **inf, what="finite and > 0"))
        object.__setattr__(self, "bias", bool(self.bias))
        if self.reg == 0.0 and not (self.loss == "square" and self.alpha > 1.0):
            raise ValueError(f"reg = 0 is allowed only for the square loss with alpha > 1 (a unique minimiser); "
                             f"got loss={self.loss!r}, alpha={self.alpha}. Use a small reg > 0 for the limit")
        given = {k: _as_floats(k, getattr(self, k)) for k in _SPECTRA if getattr(self, k) is not None}
        modes = None
        if given:
            K = len(next(iter(given.values())))
            for k, v in given.items():
                if len(v) != K:
                    raise ValueError(f"{k} must have the length {K} of the other spectra, got {len(v)}")
            sp = given.get("spectrum_plus", given.get("spectrum_minus", (1.0,) * K))
            sm = given.get("spectrum_minus", sp)
            c = given.get("mean_coefficients", (1.0,) * K)
            for k, v in (("spectrum_plus", sp), ("spectrum_minus", sm)):
                if min(v) <= 0.0:
                    raise ValueError(f"{k} must hold eigenvalues > 0 of a covariance, got min {min(v)!r}")
            if not any(ck != 0.0 for ck in c):
                raise ValueError("mean_coefficients must not all be 0 (the clusters would have one mean)")
            for k, v in zip(_SPECTRA, (sp, sm, c)):
                object.__setattr__(self, k, v)
            modes = tuple(np.array(v) for v in (sp, sm, [ck * ck for ck in c]))
            for a in modes:
                a.flags.writeable = False
        object.__setattr__(self, "_modes", modes)

    def __repr__(self):
        parts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            parts.append(f"{f.name}={_short(v) if f.name in _SPECTRA else repr(v)}")
        return f"GMMERM({', '.join(parts)})"

    @property
    def structured(self) -> bool:
        """Whether the clusters have the structured covariances of the spectra."""
        return self._modes is not None

    @property
    def mean_norm(self) -> float:
        """``|mu|^2 / d``: ``mean c_k^2`` (1 for isotropic clusters)."""
        return float(np.mean(self._modes[2])) if self.structured else 1.0

    def _cs_bound(self) -> float:
        """``min_c mean(c_k^2 / (noise s_{c,k}))``: ``m^2 <= bound * q_c`` for each ``c`` (Cauchy-Schwarz)."""
        sp, sm, c2 = self._modes
        return float(min(np.mean(c2 / sp), np.mean(c2 / sm))) / self.noise

    # -------------------------------------------------------------- the map
    def _full(self, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        n = len(self.state_names)
        if x.shape != (n,):
            raise ValueError(f"the state must have {n} entries {self.state_names}, got shape {x.shape}")
        glx, glw = _legendre()
        if self.structured:
            sp, sm, c2 = self._modes
            return _gmm_structured_step(loss_code(self.loss), self.penalty == "l1", self.alpha, self.reg, self.noise,
                                        self.balance, self.delta, self.bias, x, sp, sm, c2, glx, glw)
        return _gmm_step(loss_code(self.loss), self.penalty == "l1", self.alpha, self.reg, self.noise,
                         self.balance, self.delta, self.bias, x, glx, glw)

    def solver_coordinates(self):
        """``z = (atanh(m / sqrt(q)), log q, log V, b)`` and back: a bijection of the interior of the
        domain (``|m| < sqrt(q)`` by Cauchy-Schwarz, ``|mu|^2 / d = 1``; ``q, V > 0``) onto ``R^4``,
        in which a cold solve iterates and extrapolates before it finishes in the state (the
        fixed point is unique). The l1 map with a small ``reg`` and ``alpha < 1`` overshoots to
        ``q = inf`` in the state's own coordinates. Structured covariances: ``(atanh(m /
        sqrt(B min_c q_c)), log q_plus, log q_minus, log V_plus, log V_minus, b)`` with ``m^2 <= B q_c``
        (:meth:`_cs_bound`, Cauchy-Schwarz in each cluster's metric)."""
        if self.structured:
            B = self._cs_bound()

            def to_z6(x):
                m, qp, qm, Vp, Vm, b = (float(v) for v in x)
                with np.errstate(all="ignore"):
                    lim = math.sqrt(B * min(qp, qm)) if min(qp, qm) > 0 else 0.0
                    a = m / lim if lim > 0 else math.nan
                    logs = [math.log(v) if v > 0 else math.nan for v in (qp, qm, Vp, Vm)]
                return np.array([math.atanh(a) if abs(a) < 1 else math.nan, *logs, b])

            def to_x6(z):
                a, *logs, b = (float(v) for v in z)
                qp, qm, Vp, Vm = (math.exp(v) if v < 700 else math.inf for v in logs)
                return np.array([math.tanh(a) * math.sqrt(B * min(qp, qm)), qp, qm, Vp, Vm, b])

            return to_z6, to_x6

        def to_z(x):
            m, q, V, b = (float(v) for v in x)
            with np.errstate(all="ignore"):
                a = m / math.sqrt(q) if q > 0 else math.nan
                return np.array([math.atanh(a) if abs(a) < 1 else math.nan, math.log(q) if q > 0 else math.nan,
                                 math.log(V) if V > 0 else math.nan, b])

        def to_x(z):
            a, lq, lV, b = (float(v) for v in z)
            q = math.exp(lq) if lq < 700 else math.inf
            return np.array([math.tanh(a) * math.sqrt(q), q, math.exp(lV) if lV < 700 else math.inf, b])

        return to_z, to_x

    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``m = 0.01, q = 1`` (the cosine ``m / sqrt(q) = 0.01`` with the means that
        a random initialisation has by chance, at unit norm so that the fields reach the kinks of
        the hinge and absolute losses), ``V = 1``, ``b = 0``; ``"informed"``: ``m = q =
        1``, ``V = 1``, ``b = 0``. The problem is convex: both reach the same fixed point.
        Structured covariances: the same ``w`` (``q_c = V_c = noise mean s_c``), with ``m = 0.01``
        or half its Cauchy-Schwarz bound."""
        if self.structured and isinstance(start, str) and start in ("uninformed", "informed"):
            sp, sm, _ = self._modes
            qp, qm = self.noise * float(np.mean(sp)), self.noise * float(np.mean(sm))
            m = 0.01 if start == "uninformed" else 0.5 * math.sqrt(self._cs_bound() * min(qp, qm))
            return np.array([m, qp, qm, qp, qm, 0.0])
        if isinstance(start, str) and start == "uninformed":
            return np.array([0.01, 1.0, 1.0, 0.0])
        if isinstance(start, str) and start == "informed":
            return np.array([1.0, 1.0, 1.0, 0.0])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def bounds(self):
        if self.structured:
            return np.array([-np.inf, 0.0, 0.0, 0.0, 0.0, -np.inf]), np.full(6, np.inf)
        return np.array([-np.inf, 0.0, 0.0, -np.inf]), np.full(4, np.inf)

    def update(self, x) -> np.ndarray:
        """One step of the replica equations ``(m, q, V, b) -> hats -> (m, q, V, b)`` (structured:
        ``(m, q_plus, q_minus, V_plus, V_minus, b)``)."""
        return self._full(x)[:len(self.state_names)].copy()

    def hats(self, x) -> dict[str, float]:
        """The conjugate variables ``m_hat, q_hat, V_hat`` at the state ``x`` (structured:
        ``m_hat`` and the per-cluster ``q_hat_plus, q_hat_minus, V_hat_plus, V_hat_minus``)."""
        out = self._full(x)
        if self.structured:
            return dict(zip(("m_hat", "q_hat_plus", "q_hat_minus", "V_hat_plus", "V_hat_minus"),
                            (float(v) for v in out[6:11])))
        return {"m_hat": float(out[4]), "q_hat": float(out[5]), "V_hat": float(out[6])}

    def energy(self, x) -> float:
        """Replica energy (module docstring): the training objective per dimension at the fixed
        point, stationary there."""
        out = self._full(x)
        if self.structured:
            m, qp, qm, Vp, Vm, _ = (float(v) for v in x)
            return float(out[11] + m * out[6] - 0.5 * (qp * out[9] + qm * out[10]) + 0.5 * (Vp * out[7] + Vm * out[8])
                         + self.alpha * out[13])
        m, q, V, _ = (float(v) for v in x)
        return float(out[7] + m * out[4] - 0.5 * q * out[6] + 0.5 * V * out[5] + self.alpha * out[9])

    def free_entropy(self, x) -> float:
        """``-energy(x)`` (zero-temperature free entropy; larger is better)."""
        return -self.energy(x)

    def test_errors(self, x) -> tuple[float, float, float]:
        """``(gen_error, gen_error_plus, gen_error_minus)``: ``H((m + y_c b) / sqrt(noise q))``
        (structured: ``H((m + y_c b) / sqrt(q_c))``)."""
        if self.structured:
            m, qp, qm, _, _, b = (float(v) for v in x)
        else:
            m, q, _, b = (float(v) for v in x)
            qp = qm = self.noise * q
        if qp <= 0.0 or qm <= 0.0:
            # w . x has no noise: the field of cluster c is y_c m + b (a tie is broken at random)
            plus, minus = (0.5 * (1.0 - math.copysign(1.0, u)) if u != 0.0 else 0.5 for u in (m + b, m - b))
        else:
            plus, minus = _H((m + b) / math.sqrt(qp)), _H((m - b) / math.sqrt(qm))
        return self.balance * plus + (1.0 - self.balance) * minus, plus, minus

    def observables(self, x) -> dict[str, float]:
        x = np.asarray(x, dtype=float)
        out = self._full(x)
        gen, plus, minus = self.test_errors(x)
        if self.structured:
            m, qp, qm, Vp, Vm, b = (float(v) for v in x)
            # |w|^2 / d is not a state entry: the weights' side gives it from the hats at x
            # (at the fixed point it is the minimiser's)
            q = float(out[17])
            return {"m": m, "q": q, "q_plus": qp, "q_minus": qm, "V_plus": Vp, "V_minus": Vm, "b": b,
                    "overlap": m / math.sqrt(q * self.mean_norm) if q > 0 else 0.0,
                    "gen_error": gen, "gen_error_plus": plus, "gen_error_minus": minus,
                    "train_loss": float(out[12]), "train_error": float(out[14])}
        m, q, V, b = (float(v) for v in x)
        return {"m": m, "q": q, "V": V, "b": b, "overlap": m / math.sqrt(q) if q > 0 else 0.0,
                "gen_error": gen, "gen_error_plus": plus, "gen_error_minus": minus,
                "train_loss": float(out[8]), "train_error": float(out[10])}

    def explain(self, x) -> str | None:
        """Why a solve failed, from what holds at the state ``x``: an l1 penalty so strong that
        (almost) every weight is zero, where the loss has no curvature at the fields (``V_hat =
        0``: hinge and absolute losses away from their kinks) and the l1 susceptibility ``V = 2
        H(t) / V_hat`` is undefined (structured covariances: both clusters' ``V_hat_c = 0``)."""
        x = np.asarray(x, dtype=float)
        n = len(self.state_names)
        if self.penalty != "l1" or x.shape != (n,) or not np.all(np.isfinite(x)) or np.any(x[1:n - 1] < 0):
            return None
        out = self._full(x)
        if self.structured:
            sp, sm, c2 = self._modes
            m_hat, V_hat = out[6], out[9] + out[10]
            s_b = m_hat * m_hat * c2 + self.noise * (out[7] * sp + out[8] * sm)  # each mode's field variance
            if V_hat != 0.0 or not np.all(s_b > 0.0):
                return None
            kept = f"{float(np.mean([2.0 * _H(self.reg / math.sqrt(v)) for v in s_b])):.3g} (the modes' mean)"
        else:
            m_hat, q_hat, V_hat = out[4], out[5], out[6]
            if V_hat != 0.0 or not m_hat * m_hat + q_hat > 0.0:
                return None
            t = self.reg / math.sqrt(m_hat * m_hat + q_hat)
            kept = f"2H({t:.3g}) = {2 * _H(t):.3g}"
        return (f"No training field sits where the {self.loss} loss has curvature (V_hat = 0) while the l1 "
                f"penalty keeps a fraction {kept} of the weights: the minimiser is w = 0 "
                f"up to that fraction and the replica map is undefined there. A smaller reg (or "
                f"penalty='l2') gives a regular fixed point.")

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """Fit one instance of size ``d`` (:mod:`equations._simulate.mixtures`) and measure the
        observables: ``m, q, b`` from the weights, the training loss and error on the data, and the
        test errors on fresh samples. Structured covariances: ``d`` must be a multiple of the
        number of modes ``K`` (each mode holds ``d / K`` coordinates)."""
        from .._simulate.mixtures import simulate_gmm_erm

        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
        if self.structured and d % len(self.spectrum_plus):
            raise ValueError(f"d must be a multiple of the number of modes {len(self.spectrum_plus)}, got {d}")
        return simulate_gmm_erm(self, int(d), seed)
