"""Bayes-optimal generalised linear models: state evolution, free entropy, thresholds, GAMP.

Model (DESIGN.md conventions). A teacher ``w* in R^d`` with i.i.d. entries from the prior
(``gaussian`` N(0,1), ``rademacher`` +-1, ``gauss_bernoulli`` 0 w.p. ``1 - rho`` and N(0,1)
w.p. ``rho``; also ``sparse_rademacher``: 0 w.p. ``1 - rho``, +-1 w.p. ``rho/2`` each), so
``rho = E w*^2``; inputs ``x_mu ~ N(0, I_d)``, ``mu = 1..n``, ``alpha = n / d``; labels
``y_mu ~ P_out(. | z_mu)``, ``z_mu = x_mu . w* / sqrt(d)``, with the channels of
:mod:`equations.channels` (``linear``, ``sign``, ``abs``, ``relu``, ``logit`` of inverse
temperature ``gamma``, the symmetric ``door`` of half-width ``width``; noise variance ``noise``).

Replica-symmetric formula (Barbier, Krzakala, Macris, Miolane, Zdeborova, "Optimal errors and
phase transitions in high-dimensional generalized linear models", PNAS 116, 5451 (2019),
arXiv 1708.03395, Theorem 1). The free entropy per variable is::

    phi = extr_{q, q_hat} [ psi_P0(q_hat) + alpha Psi_out(q; rho) - q q_hat / 2 ],
    psi_P0(r)      = E log E_{w} exp(sqrt(r) Y w - r w^2 / 2),  Y = sqrt(r) w* + Z
                     (:meth:`equations.priors.Prior.free_entropy`),
    Psi_out(q; rho) = E_{omega ~ N(0, q)} int dy Z_out(y; omega, rho - q) log Z_out
                     (:meth:`equations.channels.Channel.se_integrals`),

and its stationarity conditions are the state evolution of the overlap ``q = E[w* . w_hat]/d``
of the posterior mean (the fixed-point map of this model)::

    q_hat = alpha E_{omega, y} [ g_out(y; omega, rho - q)^2 ] = 2 alpha d Psi_out / d q,
    q     = E[E[w | Y]^2] at signal-to-noise q_hat      (prior.overlap(q_hat)).

Mapping to the paper: their signal dimension ``n`` is our ``d``, their ``m`` our ``n``, their
``alpha = m / n`` ours, their ``Phi / sqrt(n)`` our ``x / sqrt(d)``, their ``(q, r)`` our
``(q, q_hat)``, their ``f_RS`` our ``free_entropy``. Per-variable mutual information
``I(w*; Y | X) / d = -phi + alpha E_{z ~ N(0, rho)} int dy P_out(y|z) log P_out(y|z)``
(``= -phi + alpha Psi_out(rho; rho)``), infinite for noiseless continuous labels.

Thresholds (through :mod:`fixedpoint`): weak recovery is the instability of ``q = 0`` (a fixed
point when the channel is even in ``z``, e.g. ``abs``, all priors being symmetric):
``d q_new / d q (0) = alpha E_y[(E[z^2 | y] - rho)^2] / rho^2`` (``z ~ N(0, rho)``), e.g.
``alpha_WR = 1/2`` for noiseless phase retrieval, and for the door ``y = sign(|z| - K)``, with
``k = K / sqrt(rho + noise)`` and ``S = rho + noise``, ``E[z^2 | y] - rho = (rho / S)^2
(E[t^2 | y] - S)`` (``t = z + noise``) gives ``alpha_WR = S^2 H(k) (1 - 2 H(k)) / (2 rho^2 k^2
phi(k)^2)`` (:meth:`equations.channels.Door.weak_recovery_threshold`); the algorithmic
threshold is the ``spinodal`` of the uninformed branch, the information-theoretic one the
``first_order`` crossing of the free entropies (perfect recovery has a finite free entropy for
discrete priors and the +-1 labels).
:func:`algorithmic_line` traces the algorithmic threshold against a second parameter.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ._registry import parameter_table, register
from .channels import CHANNEL_PARAMETERS, CHANNELS, Channel, make_channel
from .priors import PRIOR_KINDS, Prior

__all__ = ["GLMBayes", "algorithmic_line"]

_PRIORS = PRIOR_KINDS
_INTEGRALS = ("tabulated", "direct")
#: uninformed start: q = _EPS_UNINFORMED * rho (an algorithm started at random has an overlap of
#: order 1/sqrt(d); 1e-6 escapes an unstable q = 0 and returns to a stable one)
_EPS_UNINFORMED = 1e-6
#: informed start: q = rho (1 - _EPS_INFORMED); exactly q = rho is a (degenerate) fixed point of
#: the map for every prior (q_hat = inf there), unstable when the informed branch has V > 0
_EPS_INFORMED = 1e-6


def _real(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


@register
@dataclass(frozen=True)
class GLMBayes:
    """Bayes-optimal teacher-student GLM, ``prior x channel`` (state ``q``).

    Parameters
    ----------
    prior : {"gaussian", "rademacher", "gauss_bernoulli", "sparse_rademacher"}
        Law of the teacher's entries (unit non-zero scale: ``E w*^2 = rho``).
    channel : {"linear", "sign", "abs", "relu", "logit", "door"} or Channel
        Output channel (:mod:`equations.channels`), or your own as a channel object, e.g. an
        :class:`equations.custom.CustomChannel`: its noise variance is the model's ``noise``.
    alpha : float
        Sample ratio ``n / d > 0``.
    noise : float
        Noise variance of the channel, ``>= 0`` (``sign``, ``logit``, ``door``: Gaussian noise
        on the pre-activation ``z`` before the link).
    gamma : float or None
        Inverse temperature of the ``logit`` channel, ``P(y = +-1 | z) = sigmoid(gamma y z)``,
        ``> 0``; ``None`` (the default) means 1. Must stay ``None`` for the other channels.
    width : float or None
        Half-width ``K >= 0`` of the ``door`` channel ``y = sign(|z| - K)``; ``None`` (the
        default) means 0.674, the value of Barbier et al. 2019 that balances the labels at
        ``rho = 1``. Must stay ``None`` for the other channels.
    rho : float
        Fraction of non-zero entries, in ``(0, 1]`` (must be 1 for ``gaussian`` and
        ``rademacher``).
    integrals : {"tabulated", "direct"}
        How the channel integrals are evaluated for the channels where each costs milliseconds
        or a solve needs many (noisy ``abs``, ``relu`` and ``door``, ``logit``, a custom channel):
        ``"tabulated"`` (default) reads a lazily built
        piecewise-Chebyshev table in ``sqrt(rho - q)`` shared by all models with the same
        channel, noise and ``rho`` (accurate to ~1e-10 relative, a few microseconds per call
        once built; :meth:`equations.channels.Channel.se_bayes`); ``"direct"`` integrates at
        every call. The other channels always integrate directly (microseconds).

    Notes
    -----
    Observables: ``overlap`` (``q``), ``q_hat``, ``mse`` (``E (w* - w_hat)^2 = rho - q``, evaluated as
    ``prior.mmse(q_hat(q))`` which equals ``rho - q`` at a fixed point but keeps its relative
    accuracy when it is tiny), ``gen_error`` (+-1 labels: probability that the Bayes-optimal
    classifier errs on a fresh sample, for ``sign`` ``arccos(sqrt(q / (rho + noise))) / pi``;
    otherwise ``E (y - E[y | data, x])^2``), ``label_mse`` (``E (y - E[y | data, x])^2`` for
    every channel; for +-1 labels ``4 E Z(+1) Z(-1)``), for +-1 labels also ``bayes_error`` (the
    0/1 error of the Bayes-optimal classifier, ``= gen_error``) and ``gibbs_error`` (the 0/1
    error of a label drawn with a posterior sample of ``w``, ``2 E Z(+1) Z(-1)``; ``sign``:
    ``arccos(q / (rho + noise)) / pi``; :meth:`equations.channels.Channel.label_errors`),
    ``free_entropy`` and ``mutual_information`` (per variable, nats). They are meant at fixed
    points.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("glm_bayes", prior="rademacher", channel="sign", alpha=1.3)
    >>> sol = fixedpoint.solve(m)            # doctest: +SKIP
    """

    prior: str = "gaussian"
    channel: str = "sign"
    alpha: float = 1.0
    noise: float = 0.0
    rho: float = 1.0
    integrals: str = "tabulated"
    gamma: float | None = None
    width: float | None = None

    name: ClassVar[str] = "glm_bayes"
    state_names: ClassVar[tuple[str, ...]] = ("q",)
    #: physics names for figures (``labels=`` of :mod:`fixedpoint.plotting`); ``noise`` is the
    #: channel's noise variance Delta
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "noise": r"$\Delta$", "rho": r"$\rho$", "q": r"overlap $q$",
        "overlap": r"overlap $q$", "q_hat": r"$\hat q$", "mse": "MSE", "gen_error": "generalisation error",
        "free_entropy": r"free entropy $\phi$", "mutual_information": r"$I(w^*;Y|X)/d$",
        "gamma": r"$\gamma$", "width": r"$K$", "label_mse": "label MSE", "gibbs_error": "Gibbs error",
        "bayes_error": "Bayes error",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"prior": "rademacher", "channel": "sign", "alpha": 1.3},
        {"prior": "gaussian", "channel": "sign", "alpha": 2.0},
        {"prior": "gaussian", "channel": "abs", "alpha": 0.8},
        {"prior": "gauss_bernoulli", "channel": "linear", "alpha": 0.6, "noise": 1e-4, "rho": 0.3},
        {"prior": "gaussian", "channel": "relu", "alpha": 1.5, "noise": 0.1},
        {"prior": "rademacher", "channel": "logit", "alpha": 1.5, "gamma": 4.0},
        {"prior": "gaussian", "channel": "door", "alpha": 2.0},
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {
            "prior": {"allowed": _PRIORS, "doc": "law of the teacher's entries, E w*^2 = rho"},
            "channel": {"allowed": tuple(sorted(CHANNELS)),
                        "doc": "output channel (or a Channel object: equations.custom.CustomChannel)"},
            "alpha": {"range": (0.0, None), "open": (True, True), "doc": "sample ratio n/d"},
            "noise": {"range": (0.0, None), "open": (False, True), "doc": "noise variance of the channel"},
            "rho": {"range": (0.0, 1.0), "open": (True, False),
                    "doc": "fraction of non-zero entries (must be 1 for gaussian and rademacher)"},
            "integrals": {"allowed": _INTEGRALS,
                          "doc": "channel integrals of noisy abs / relu / door, logit and custom channels: tabulated "
                                 "once, or direct at each call"},
            "gamma": {"range": (0.0, None), "open": (True, True),
                      "doc": "inverse temperature of the logit channel, P(y|z) = sigmoid(gamma y z) (logit only; "
                             "None: 1)"},
            "width": {"range": (0.0, None), "open": (False, True),
                      "doc": "half-width K of the door channel, y = sign(|z| - K) (door only; None: 0.674)"}})

    def __post_init__(self):
        if not isinstance(self.prior, str) or self.prior not in _PRIORS:
            raise ValueError(f"prior must be one of {', '.join(_PRIORS)}; got {self.prior!r}")
        custom = isinstance(self.channel, Channel)
        if not custom and (not isinstance(self.channel, str) or self.channel not in CHANNELS):
            raise ValueError(f"channel must be one of {', '.join(sorted(CHANNELS))}; got {self.channel!r}")
        if not isinstance(self.integrals, str) or self.integrals not in _INTEGRALS:
            raise ValueError(f"integrals must be one of {', '.join(_INTEGRALS)}; got {self.integrals!r}")
        alpha = _real("alpha", self.alpha)
        if not alpha > 0:
            raise ValueError(f"alpha (the sample ratio n/d) must be > 0, got {alpha}")
        noise = _real("noise", self.noise)
        if not noise >= 0:
            raise ValueError(f"noise (a variance) must be >= 0, got {noise}")
        rho = _real("rho", self.rho)
        if not 0.0 < rho <= 1.0:
            raise ValueError(f"rho must be in (0, 1], got {rho}")
        if self.prior in ("gaussian", "rademacher") and rho != 1.0:
            raise ValueError(f"rho must be 1 for the {self.prior} prior (use gauss_bernoulli or sparse_rademacher), "
                             f"got {rho}")
        # the channels' own parameters: None is the channel's default (CHANNEL_PARAMETERS), and a
        # parameter of another channel must stay None
        own = {}
        mine = {} if custom else CHANNEL_PARAMETERS.get(self.channel, {})
        for k, owner, positive in (("gamma", "logit", True), ("width", "door", False)):
            v = getattr(self, k)
            if v is None:
                continue
            v = _real(k, v)
            if not (v > 0 if positive else v >= 0):
                raise ValueError(f"{k} (of the {owner} channel) must be {'> 0' if positive else '>= 0'}, got {v}")
            if k not in mine:
                raise ValueError(f"{k} is a parameter of the {owner} channel only: leave it None for "
                                 f"channel={self.channel!r}, got {v}")
            own[k] = v
            object.__setattr__(self, k, v)
        for k, v in (("alpha", alpha), ("noise", noise), ("rho", rho)):
            object.__setattr__(self, k, v)
        # derived objects, not dataclass fields (rebuilt by dataclasses.replace)
        object.__setattr__(self, "_prior", Prior(self.prior, rho, 1.0))
        if custom:  # the model's noise is the channel's (sweeps and diagrams over noise replace the model)
            if self.channel.noise not in (0.0, noise):
                raise ValueError(f"noise: give the channel's noise variance to the model (noise={self.channel.noise}), "
                                 f"not to the channel object; got noise={noise}")
            ch = self.channel if self.channel.noise == noise else dataclasses.replace(self.channel, noise=noise)
        else:
            ch = make_channel(self.channel, noise, **own)
        object.__setattr__(self, "_channel", ch)

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``q = 1e-6 rho``; ``"informed"``: ``q = rho (1 - 1e-6)`` (see the
        module constants for why not exactly ``rho``)."""
        if start == "uninformed":
            return np.array([_EPS_UNINFORMED * self.rho])
        if start == "informed":
            return np.array([self.rho * (1.0 - _EPS_INFORMED)])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """``q = 0`` when the channel is even in ``z`` (``abs``, ``door``); the priors are
        symmetric."""
        return np.array([0.0]) if self._channel.even and self._prior.symmetric else None

    def bounds(self):
        return np.array([0.0]), np.array([self.rho])

    def residual_scale(self, x) -> np.ndarray:
        """``rho - q``: the MSE, which the fixed point must resolve in relative terms however
        close to perfect recovery it is (see :func:`fixedpoint.solvers.make_tolerance`)."""
        return np.array([self.rho - float(np.asarray(x, dtype=float).ravel()[0])])

    def _divergence_exponent(self) -> float:
        """``s = (alpha c - d) / 2`` for noiseless continuous labels, else 0.

        ``c`` is the fraction of labels with a continuous law given ``z`` (``linear``, ``abs``:
        1; ``relu``: 1/2, the other half being exactly 0; ``sign``: 0) and ``d`` the Renyi
        information dimension of the prior (``gaussian`` 1, ``gauss_bernoulli`` ``rho``, the
        discrete priors 0). Near ``q = rho`` the free entropy along the fixed points is
        ``s log(1 / (rho - q)) + O(1)``: ``alpha Psi_out`` contributes ``(alpha c / 2) log(1/V)``
        and ``-I_P0(q_hat)``, ``q_hat ~ alpha c / V``, contributes ``-(d / 2) log(1/V)``; and the
        state evolution contracts toward ``V = 0`` at the rate ``V_new / V -> d / (alpha c)``, so
        that perfect recovery is a stable fixed point exactly when ``s > 0`` (Barbier et al.
        2019, Sec. on noiseless compressed sensing: ``alpha_IT = rho`` for Gauss-Bernoulli).
        """
        if self.noise > 0:
            return 0.0
        c = {"linear": 1.0, "abs": 1.0, "relu": 0.5}.get(self.channel, 0.0)
        if c == 0.0:
            return 0.0
        d = {"gaussian": 1.0, "gauss_bernoulli": self.rho}.get(self.prior, 0.0)
        return 0.5 * (self.alpha * c - d)

    def free_entropy_divergence(self, x) -> float:
        """The coefficient ``s`` of ``log(1 / (rho - q))`` in the free entropy along the branch
        through the fixed point ``x``, 0 where the free entropy is finite.

        Non-zero only for noiseless continuous labels (:meth:`_divergence_exponent`), at ``q =
        rho`` itself, or at a state within ``1e-6 rho`` of it when ``s > 0`` (perfect recovery is
        then attracting and the state is on its branch: near ``q = rho`` the map contracts toward
        it geometrically, so no other fixed point lies there). The engine compares the branches
        of a first-order transition by this coefficient first, so that the information-theoretic
        threshold does not depend on how close to ``q = rho`` a solve stopped.
        """
        s = self._divergence_exponent()
        if s == 0.0:
            return 0.0
        V = self.rho - self._clip(float(np.asarray(x, dtype=float).ravel()[0]))
        if V == 0.0 or (s > 0 and V <= _EPS_INFORMED * self.rho):
            return s
        return 0.0

    def _clip(self, q):
        return min(max(float(q), 0.0), self.rho)

    def _hat(self, q):
        """``(q_hat, psi_out, V)`` at overlap ``q`` (``V = rho - q``, exact in floating point)."""
        V = self.rho - q
        hat, psi = self._se(q)
        return self.alpha * hat, psi, V

    def _se(self, q):
        """``(E g_out^2, Psi_out)`` at ``q``, ``V = rho - q``."""
        return self._channel.se_bayes(q, self.rho, tabulated=self.integrals == "tabulated")

    def update(self, x) -> np.ndarray:
        """``q -> prior.overlap(alpha E g_out^2)`` (returns NaN for a non-finite state)."""
        q = float(np.asarray(x, dtype=float).ravel()[0])
        if not math.isfinite(q):
            return np.array([math.nan])
        q_hat, _, _ = self._hat(self._clip(q))
        if math.isnan(q_hat):
            return np.array([math.nan])
        if q_hat == math.inf:
            return np.array([self.rho])
        return np.array([float(self._prior.overlap(q_hat))])

    def jacobian(self, x) -> np.ndarray:
        """``d q_new / d q = prior.overlap_derivative(q_hat) alpha d hat / d q`` (1 x 1).

        The prior factor is exact (``E[Var(w|Y)^2]``); ``d hat / dq`` comes from
        :meth:`equations.channels.Channel.se_bayes_derivative` (the table's Chebyshev derivative,
        or a second-order finite difference of the direct integral), accurate to ~1e-9
        relative. At ``q = rho`` (``q_hat = inf``) it is 0.
        """
        q = self._clip(float(np.asarray(x, dtype=float).ravel()[0]))
        V = self.rho - q
        if V == 0.0:
            return np.zeros((1, 1))
        q_hat, _, _ = self._hat(q)
        if not math.isfinite(q_hat):
            return np.zeros((1, 1))
        dover = float(self._prior.overlap_derivative(q_hat))
        dhat = self._channel.se_bayes_derivative(q, self.rho, tabulated=self.integrals == "tabulated")
        return np.array([[dover * self.alpha * dhat]])

    def _prior_averages(self, q_hat):
        if q_hat == math.inf:
            discrete = self.prior in ("rademacher", "sparse_rademacher")
            if discrete:  # I(w; Y) at infinite SNR: the entropy of the prior
                r = self.rho
                h = math.log(2.0) if r == 1.0 else -(1 - r) * math.log1p(-r) - r * math.log(r / 2.0)
            else:
                h = math.inf
            return {"mmse": 0.0, "overlap": self.rho, "mutual_information": h}
        return self._prior.averages(q_hat)

    def free_entropy(self, x) -> float:
        """``phi(q) = psi_P0(q_hat) + alpha Psi_out(q) - q q_hat / 2`` at ``q_hat = alpha E g^2``.

        Written as ``-I_P0(q_hat) + q_hat (rho - q) / 2 + alpha Psi_out`` (``psi_P0(r) = r rho / 2
        - I_P0(r)``) so that ``q = rho`` (``q_hat = inf``, ``rho - q = 0``) has its limit: finite
        for a discrete prior with the noiseless sign channel; for noiseless continuous labels on
        the perfect-recovery branch ``+inf`` or ``-inf`` according to the sign of the coefficient
        :meth:`free_entropy_divergence` (the exponent of ``log(1/(rho - q))`` along the branch),
        never the large finite value at wherever a solve stopped.
        """
        s = self.free_entropy_divergence(x)
        if s != 0.0:
            return math.copysign(math.inf, s)
        q = self._clip(float(np.asarray(x, dtype=float).ravel()[0]))
        q_hat, psi, V = self._hat(q)
        mi = self._prior_averages(q_hat)["mutual_information"]
        if V == 0.0:
            # finite limit: a discrete prior with the noiseless sign channel, or a noisy channel
            # (q_hat (rho - q) -> 0 along the branch)
            return float(-mi + self.alpha * psi)
        return float(-mi + 0.5 * q_hat * V + self.alpha * psi)

    def free_entropy_rs(self, q: float, q_hat: float) -> float:
        """The replica-symmetric potential ``psi_P0(q_hat) + alpha Psi_out(q) - q q_hat / 2`` at
        independent ``(q, q_hat)``, ``0 <= q < rho``, ``0 <= q_hat < inf``; its stationary points
        are the fixed points of :meth:`update`."""
        q = float(q)
        q_hat = float(q_hat)
        _, psi = self._se(q)
        return float(self._prior.free_entropy(q_hat) + self.alpha * psi - 0.5 * q * q_hat)

    def observables(self, x) -> dict[str, float]:
        q = self._clip(float(np.asarray(x, dtype=float).ravel()[0]))
        q_hat, psi, V = self._hat(q)
        av = self._prior_averages(q_hat)
        mse = float(av["mmse"])
        # at a fixed point V = rho - q = mse; mse keeps its relative accuracy when tiny
        tab = self.integrals == "tabulated" and mse <= self.rho
        errors = self._channel.label_errors(q, mse, rho=self.rho if tab else None)
        # the 0/1 error of the Bayes classifier for +-1 labels, the label MSE otherwise
        gen = errors.get("bayes_error", errors["label_mse"])
        phi = self.free_entropy(np.array([q]))
        _, psi_rho = self._se(self.rho)
        if math.isinf(psi_rho):
            mi = math.inf
        else:
            mi = -phi + self.alpha * psi_rho
        out = {
            "overlap": float(q),
            "q_hat": float(q_hat),
            "mse": mse,
            "gen_error": float(gen),
            "free_entropy": float(phi),
            "mutual_information": float(mi),
        }
        out.update(errors)
        return out

    # ------------------------------------------------------------------ finite size
    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """GAMP on one instance of size ``d`` (``n = round(alpha d)``), started uninformed.

        The start is a random vector of norm ``0.1 sqrt(rho d)`` (an algorithm started at random:
        overlap with ``w*`` of order ``1/sqrt(d)``), posterior variances ``rho``. Returns
        ``overlap`` (``w_hat . w* / d``; for an even channel with the sign of ``w_hat`` that aligns
        it, as the state evolution's), ``mse`` (``|w_hat - w*|^2 / d``), ``gen_error`` and
        ``label_mse`` measured on ``max(n, 4000)`` fresh samples with the Bayes predictor of the
        channel (+-1 labels: also ``bayes_error`` and ``gibbs_error``, a label drawn from GAMP's
        posterior predictive ``Z_out(.; omega, V)``), and ``iterations``.
        """
        from ._simulate.gamp import gamp

        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
        rng = np.random.default_rng(seed)
        n = max(1, int(round(self.alpha * d)))
        w_star = self._prior.sample(d, rng)
        X = rng.standard_normal((n, d))
        y = self._channel.sample(X @ w_star / math.sqrt(d), rng)
        w0 = 0.1 * math.sqrt(self.rho) * rng.standard_normal(d)
        out = gamp(X, y, self._prior, self._channel, w0=w0, max_iter=1000)
        w = out["w"]
        if self._channel.even and w @ w_star < 0:
            # an even channel cannot tell w* from -w*: report the estimate with the sign that
            # aligns it (as the state evolution's overlap does; predictions do not change)
            w = -w
        n_test = max(n, 4000)
        Xt = rng.standard_normal((n_test, d))
        yt = self._channel.sample(Xt @ w_star / math.sqrt(d), rng)
        omega = Xt @ w / math.sqrt(d)
        V = max(out["V"], 1e-300)
        pred = self._channel.predict(omega, V)
        res = {"overlap": float(w @ w_star / d), "mse": float(np.mean((w - w_star) ** 2))}
        if self._channel.classification:
            # GAMP's posterior predictive Z_out(.; omega, V): its mean is the posterior-mean label
            # and a label drawn from it is the label of a posterior sample of w
            p_plus = np.exp(self._channel.z_out(np.ones(n_test), omega, np.full(n_test, V))[0])
            gen = float(np.mean(pred != yt))
            res["label_mse"] = float(np.mean((yt - (2.0 * p_plus - 1.0)) ** 2))
            res["gibbs_error"] = float(np.mean(np.where(rng.random(n_test) < p_plus, 1.0, -1.0) != yt))
            res["bayes_error"] = gen
        else:
            gen = float(np.mean((yt - pred) ** 2))
            res["label_mse"] = gen
        res["gen_error"] = gen
        res["iterations"] = float(out["iterations"])
        return res


# ---------------------------------------------------------------------- helpers


def algorithmic_line(model: GLMBayes, param: str, bracket, over: dict, *, level: float | None = None, **kwargs):
    """The algorithmic threshold in ``param`` (where GAMP, i.e. the state evolution started
    uninformed, starts to succeed) as a function of a second parameter.

    ``level=None``: the end of the uninformed branch (engine ``kind="spinodal"``), the
    algorithmic threshold of a first-order transition (e.g. the binary perceptron).
    ``level=L``: where the uninformed branch's ``mse`` crosses ``L`` (engine ``kind="level"``):
    for compressed sensing with a small noise the uninformed MSE falls by orders of magnitude
    over a narrow window of ``alpha``, sometimes without a fold (the branch steepens but stays
    continuous, e.g. Gauss-Bernoulli ``rho >= 0.3``), so that a level between the noise floor and
    the failure MSE is the robust definition, e.g.
    ``algorithmic_line(get("glm_bayes", prior="gauss_bernoulli", channel="linear", noise=1e-8),
    "alpha", lambda rho: (rho, 0.99), over={"rho": rhos}, level=1e-4)``.
    ``bracket`` may be a callable of the second parameter's value. Returns ``(values,
    thresholds, converged)`` numpy arrays.
    """
    import dataclasses

    import fixedpoint

    # close to the threshold the uninformed iteration sits on a plateau for O(1e4) iterations
    # (critical slowing down, as GAMP itself does): allow for it
    kwargs.setdefault("max_iter", 200_000)
    (p2, values), = over.items()
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, math.nan)
    ok = np.zeros(values.shape, dtype=bool)
    for i, v in enumerate(values):
        m = dataclasses.replace(model, **{p2: float(v)})
        br = bracket(float(v)) if callable(bracket) else bracket
        if level is None:
            thr = fixedpoint.threshold(m, param, br, kind="spinodal", start="uninformed", **kwargs)
        else:
            thr = fixedpoint.threshold(m, param, br, kind="level", start="uninformed", observable="mse",
                                       level=float(level), **kwargs)
        out[i] = thr.value
        ok[i] = thr.converged
    return values, out, ok
