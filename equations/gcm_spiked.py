r"""Spiked random features: ridge regression on the features of a two-layer network after one
large gradient step.

Paper: Hugo Cui, Luca Pesce, Yatin Dandi, Florent Krzakala, Yue M. Lu, Lenka Zdeborová, Bruno
Loureiro, "Asymptotics of feature learning in two-layer networks after one gradient-step", ICML
2024, arXiv 2402.04980 (its Result 3.3, implemented in the authors' code github.com/SPOC-group/
OneStepGD_asymptotics, ``theory.ipynb``; their finite-size experiments: ``Simulations.ipynb``). The random-matrix account of the same features is Dandi,
Pesce, Cui, Krzakala, Lu, Loureiro, "A random matrix theory perspective on the spectrum of learned
features and asymptotic generalization capabilities", 2024, arXiv 2410.18938.

The network (DESIGN.md conventions, ``x ~ N(0, I_d)``). First layer ``W0 = F/sqrt(d)``, ``F_ij ~
N(0, 1)`` (``p x d``, ``p_over_d = p/d``), readout at initialisation ``a0 = 1/sqrt(p)`` (all
units alike), labels ``y = sigma_*(theta.x/sqrt(d)) + sqrt(noise) xi``, ``|theta|^2 = d``. One
gradient step on the square loss with ``n0 = alpha0 d`` samples and the learning rate ``eta p``
(the paper's normalised learning rate ``eta`` is our ``eta``: their ``Simulations.ipynb`` steps
``W0 + eta_raw sqrt(p) G^T`` with ``eta_raw = eta sqrt(p)``) gives, in the proportional limit, a bulk rescaled by
``c`` plus a rank-one spike shared by every unit: the hidden preactivations become ::

    h_i = c F_i.x/sqrt(d) + r kappa,        kappa = v.x,   |v| = 1,

with the paper's spike strength ``r``, bulk scale ``c`` and the spike's alignment ``gamma =
v.theta/sqrt(d)`` with the teacher (:func:`spike_parameters`; ``mu_1 = E xi sigma(xi)``,
``mu_1* = E xi sigma_*(xi)``, ``mu_2* = E sigma_*(xi)^2 + noise``, ``s = E (sigma'(xi) -
mu_1)^2``)::

    r = eta mu_1 sqrt(mu_2*/alpha0 + mu_1*^2),   gamma = mu_1*/sqrt(mu_2*/alpha0 + mu_1*^2),
    c = sqrt(1 + eta^2 mu_2* s mu_1^2/alpha0)

(as in the authors' code, with the label noise added to ``mu_2*``, the squared norm of the
labels, as the derivation of the spike from the gradient ``(1/n0) sum_mu y_mu x_mu mu_1`` asks).
``eta = 0`` is plain random features. The hidden units' activation is odd (erf, tanh, linear), as
in the paper: then the network's output at initialisation vanishes in the limit and the mean of
``sigma''`` is 0. With a unit mean ``kappa_0 != 0`` (relu, sigmoid) the residual ``y - kappa_0``
of the step has a mean that rescales the bulk by ``1 + eta E[y - kappa_0] E sigma''`` and its
second moment is not ``mu_2*``, which these ``(r, c, gamma)`` do not include (measured: relu
units, tanh teacher, ``eta = 3``, ``alpha0 = 4``: the network after its step has the error
0.270, spiked features with these parameters 0.350). The readout ``w`` is then trained by ridge
regression on ``n = alpha d`` fresh samples of the features ``phi = sigma(h)``::

    min_w  sum_mu (y_mu - w.phi_mu/sqrt(p))^2/2 + reg/2 |w|^2.

Conditional Gaussian equivalence (the paper's). Given ``kappa``, the features are equivalent to
``phi_i = mu_0(kappa) + mu_1(kappa) c F_i.x/sqrt(d) + mu_2(kappa) z_i``, ``z ~ N(0, I_p)``, with ::

    mu_0(k) = E sigma(r k + c u),   mu_1(k) = E u sigma(r k + c u)/c,
    mu_2(k)^2 = E sigma(r k + c u)^2 - mu_0(k)^2 - c^2 mu_1(k)^2,      u ~ N(0, 1).

The spike makes every feature's mean a nonlinear function ``mu_0(kappa)`` of the projection on
the spike: the readout's component ``m = w.1/sqrt(p)`` along the constant direction, unpenalised
in the limit (its penalty is O(1) against a data term O(n)), adds ``mu_0(kappa) m`` to the
prediction; random features (``r = 0``) can only use it as a bias. The teacher is ``y =
sigma_*(gamma kappa + rho xi) + sqrt(noise) eps`` with ``rho = sqrt(1 - gamma^2)`` and ``xi`` the
teacher's direction orthogonal to the spike; its conditional moments are ``h(k) = E[sigma_*|k]``,
``h_1(k) = E[xi sigma_*|k]``, ``h_2(k) = E[sigma_*^2|k]``.

Order parameters (per feature, state ``(m, theta, psi, q1, q2, V1, V2)``, the names of the
authors' code): ``m`` above; ``theta = c w.F v/sqrt(p d)`` (the student's linear response to
``kappa``), ``psi = c w.F zeta/sqrt(p d)`` (to ``xi``, ``zeta`` the teacher's unit direction
orthogonal to ``v``), ``q1 = w.Omega w/p`` with ``Omega = c^2 F Pi F^T/d`` (``Pi`` the projector
orthogonal to ``v``), ``q2 = |w|^2/p``, and the susceptibilities ``V1 = tr(Omega H^-1)/p``, ``V2
= tr(H^-1)/p``. Given ``kappa`` the prediction is ``yhat = c(k) + mu_1(k) lambda_perp + mu_2(k)
lambda_z``, ``c(k) = mu_0(k) m + mu_1(k) k theta``, with Gaussian ``lambda_perp`` (variance
``q1``, covariance ``psi`` with ``xi``) and ``lambda_z`` (variance ``q2``), and the susceptibility
``V(k) = mu_1(k)^2 V1 + mu_2(k)^2 V2``. The conditional test error is ::

    E(k) = h_2(k) + noise - 2 c(k) h(k) - 2 mu_1(k) psi h_1(k) + c(k)^2 + mu_1(k)^2 q1 + mu_2(k)^2 q2

and ``gen_error = <E(k)>`` (``<.>`` the mean over ``kappa ~ N(0, 1)``), as the paper's.

Equations (the replica computation of the Gaussian covariate model, Loureiro et al. NeurIPS 2021,
conditioned on ``kappa``: the paper's Result 3.3 in our normalisation). Channel side, ``alpha_p =
n/p``::

    V1_hat = alpha_p <mu_1^2/(1 + V(k))>,            V2_hat = alpha_p <mu_2^2/(1 + V(k))>
    q1_hat = alpha_p <mu_1^2 E(k)/(1 + V(k))^2>,     q2_hat = alpha_p <mu_2^2 E(k)/(1 + V(k))^2>
    theta_hat = alpha_p <k mu_1 (h - c(k))/(1 + V(k))>,   psi_hat = alpha_p <mu_1 h_1/(1 + V(k))>
    m = <mu_0 (h - k mu_1 theta)/(1 + V(k))> / <mu_0^2/(1 + V(k))>

(``m`` from the stationarity of the unpenalised direction; ``m = 0`` when ``mu_0 = 0``, an odd
activation without a spike). Weights' side: ``F v`` is independent of ``Omega`` and ``F zeta``
is the teacher's direction of plain random features, so every trace is a Marchenko-Pastur mean
(:func:`equations.gcm.mp_moments`, ratio ``psi_pd = p/d``) of ``R(s) = 1/(A + B s)``, ``A = reg +
V2_hat``, ``B = c^2 V1_hat``::

    V1 = c^2 <sR>,  V2 = <R>,  theta = theta_hat c^2 psi_pd <R>,  psi = psi_hat c^2 psi_pd <sR>
    q1 = c^4 (theta_hat^2 psi_pd <sR^2> + psi_hat^2 psi_pd <s^2R^2> + q1_hat <s^2R^2>) + c^2 q2_hat <sR^2>
    q2 = c^2 (theta_hat^2 psi_pd <R^2> + psi_hat^2 psi_pd <sR^2> + q1_hat <sR^2>) + q2_hat <R^2>

which are the authors' code's spectral sums (their ``p = d``) in the Marchenko-Pastur limit.
``eta = 0`` gives ``gcm_erm(features="random_features", loss="square")`` exactly (the spike's
direction is then one more input direction, folded back by the Sherman-Morrison identity; tested
to 1e-10) with the teacher's linear part ``rho = mu_1*^2`` and the rest of it as noise.

The limit is not uniform at ``eta = 0``. For odd units ``mu_0(k) = r mu_1(0) k + O(r^2)``: at
any ``r > 0`` the constant direction, free in the limit, carries a linear function of ``kappa``
with ``m ~ 1/r``, so the error jumps between ``eta = 0`` and ``eta = 0+`` when the teacher has
a part along the spike (tanh units, linear teacher, ``alpha0 = 2``, ``alpha = 1``, ``reg = 0.1``:
0.587 at ``eta = 0``, 0.1955 at ``eta = 1e-6``). At finite size the penalty ``reg m^2/2`` of
that direction is negligible only when ``r sqrt(n) >> 1``: ridge on sampled features there
measures 0.558 at ``eta = 0.01`` (``r sqrt(d) = 0.23``, ``d = 1000``), 0.203 at ``eta = 0.3``
(``r sqrt(d) = 7``; theory 0.198). The equations describe steps with ``r sqrt(d) >> 1``, the
paper's regime (``eta`` of order one).

Checks (tests). ``eta = 0`` against :mod:`equations.gcm`; the Marchenko-Pastur weights' side
against the traces of a sampled ``F``; the coefficients against adaptive quadrature; ridge on
sampled spiked features (every order parameter, within three standard errors) and, in the
notebook ``structured_data``, on the actual network after its gradient step. The authors'
notebook prints the state of its solve at ``alpha = 0.2`` (tanh units, sin teacher, ``eta = 3``,
``alpha0 = 20``, ``p = d``, ``reg = 0.1``) and its error 0.048595388918; our error at that state
is the same to 1e-9 (which checks ``r, c, gamma``, the coefficients and ``E(k)``). Their fixed
points differ from ours by 0.6-3% in the error (``alpha = 0.2`` to 3) because their ``theta`` is
~1e-8 where ours is 0.057 at ``alpha = 1.6``; the sampled readouts measure ``theta = 0.070 +-
0.007`` there, so we keep the equations above.

Numerics. The functions of ``k`` do not depend on the state: they are tabulated once per model on
a Gauss-Legendre rule for ``kappa`` (panels on ``[-10, 10]`` split at 0, where a kinked teacher
``sigma_*(gamma k)`` bends when ``rho = 0``), each an inner Gaussian expectation on panels split
at the activation's kink (``_gauss_moments``; tested against adaptive quadrature to 1e-10). An
update is then a few weighted sums over the nodes and the closed-form Marchenko-Pastur means (two
small Numba kernels, the nodes and tables their arguments; a point costs milliseconds). The problem is convex (ridge): the fixed point is unique.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit

from ._registry import parameter_table, register
from .gcm import _activation, _mp_moments, kappas
from .glm_erm import _check_number

__all__ = ["SpikedRF", "spike_parameters", "conditional_coefficients", "plain_random_features",
           "one_step_improvement", "STUDENT_ACTIVATIONS", "TARGET_ACTIVATIONS"]

#: activations of the network's hidden units: odd ones (the step's reduction to ``(r, c, gamma)``
#: assumes the network's output at initialisation vanishes; module docstring)
STUDENT_ACTIVATIONS = ("erf", "tanh", "linear")
#: activations of the single-index teacher ``sigma_*``
TARGET_ACTIVATIONS = ("linear", "erf", "tanh", "sin", "relu", "sign", "sigmoid")
LOSSES = ("square",)
_KINKED = ("relu", "sign")  # a kink or jump at 0; the others are smooth
_L = 10.0  # Gaussian rules cover [-10, 10] standard deviations (tail mass 1.5e-23)
_N_PANEL = 8  # Gauss-Legendre panels on either side of the split point
_N_NODE = 20  # nodes per panel


def _fun(name):
    if name == "sin":
        return np.sin
    return _activation(name)


def _derivative(name):
    return {"erf": lambda u: 2.0 / math.sqrt(math.pi) * np.exp(-u * u), "tanh": lambda u: 1.0 - np.tanh(u) ** 2,
            "linear": lambda u: np.ones_like(u)}[name]


@functools.lru_cache(maxsize=1)
def _legendre_nodes():
    return np.polynomial.legendre.leggauss(_N_NODE)


def _split_rule(split):
    """Nodes ``z`` (shape ``(len(split), 2 * _N_PANEL * _N_NODE)``) and weights of ``E g(z)``, ``z ~
    N(0, 1)``: Gauss-Legendre panels on ``[-L, s]`` and ``[s, L]`` for each split point ``s``
    (clipped to ``[-L, L]``: an empty side has zero weights), the Gaussian density in the weights."""
    gx, gw = _legendre_nodes()
    s = np.clip(np.asarray(split, dtype=float), -_L, _L)[:, None]
    zs, ws = [], []
    for lo, hi in ((-_L + 0.0 * s, s), (s, _L + 0.0 * s)):
        h = (hi - lo) / _N_PANEL
        for j in range(_N_PANEL):
            a = lo + j * h
            zs.append(a + 0.5 * h * (gx[None, :] + 1.0))
            ws.append(0.5 * h * gw[None, :] + 0.0 * a)
    z = np.concatenate(zs, axis=1)
    w = np.concatenate(ws, axis=1) * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z, w


def _gauss_moments(name, mean, sd):
    """``(E g(t), E u g(t), E g(t)^2)`` for ``t = mean + sd u``, ``u ~ N(0, 1)``, one row per
    entry of ``mean`` (``sd > 0``); the rule is split where ``t`` crosses the kink at 0."""
    mean = np.asarray(mean, dtype=float)
    z, w = _split_rule(-mean / sd if name in _KINKED else np.zeros_like(mean))
    g = _fun(name)(mean[:, None] + sd * z)
    return (w * g).sum(axis=1), (w * z * g).sum(axis=1), (w * g * g).sum(axis=1)


def spike_parameters(eta: float, alpha0: float, activation: str, target_activation: str,
                     noise: float = 0.0) -> dict:
    """The spiked random features of one gradient step (module docstring; Cui et al. 2024, the
    authors' ``theory.ipynb``): ``r`` (spike strength), ``c`` (bulk scale), ``gamma`` (the spike's
    alignment with the teacher) from the normalised learning rate ``eta >= 0`` and the step's
    sample complexity ``alpha0 = n0/d > 0``. ``eta = 0``: ``r = 0``, ``c = 1`` (and ``gamma`` is
    irrelevant: no spike)."""
    _check_number("eta", eta, 0.0, strict=False, allowed=">= 0")
    _check_number("alpha0", alpha0, 0.0, strict=True, allowed="> 0")
    _check_number("noise", noise, 0.0, strict=False, allowed=">= 0")
    if activation not in STUDENT_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(STUDENT_ACTIVATIONS)}; got {activation!r}")
    if target_activation not in TARGET_ACTIVATIONS:
        raise ValueError(f"target_activation must be one of {', '.join(TARGET_ACTIVATIONS)}; "
                         f"got {target_activation!r}")
    mu1 = kappas(activation)[1]
    t0, t1, t2 = (float(v[0]) for v in _gauss_moments(target_activation, np.zeros(1), 1.0))
    mu2t = t2 + float(noise)
    z, w = _split_rule(np.zeros(1))
    s = float((w * (_derivative(activation)(z) - mu1) ** 2).sum())
    norm = math.sqrt(mu2t / float(alpha0) + t1 * t1)
    eta = float(eta)
    return {"r": eta * mu1 * norm, "c": math.sqrt(1.0 + eta * eta * mu2t * s * mu1 * mu1 / float(alpha0)),
            "gamma": t1 / norm if norm > 0 else 0.0}


def conditional_coefficients(activation, target_activation, r, c, gamma, kappa) -> dict:
    """The functions of ``kappa`` of the conditional equivalence at the points ``kappa``: ``mu0,
    mu1, mu2sq`` (student, module docstring) and ``h, h1, h2`` (teacher ``sigma_*(gamma k + rho
    xi)``, ``rho = sqrt(1 - gamma^2)``; ``h1 = 0`` when ``rho = 0``)."""
    kappa = np.atleast_1d(np.asarray(kappa, dtype=float))
    m0, m1, m2 = _gauss_moments(activation, r * kappa, c)
    mu1 = m1 / c
    mu2sq = np.maximum(m2 - m0 * m0 - m1 * m1, 0.0)  # E sigma^2 - mu0^2 - c^2 mu1^2, c mu1 = m1
    rho = math.sqrt(max(1.0 - gamma * gamma, 0.0))
    if rho > 0.0:
        h, h1, h2 = _gauss_moments(target_activation, gamma * kappa, rho)
    else:
        h = _fun(target_activation)(gamma * kappa)
        h1, h2 = np.zeros_like(h), h * h
    return {"mu0": m0, "mu1": mu1, "mu2sq": mu2sq, "h": h, "h1": h1, "h2": h2}


@functools.lru_cache(maxsize=64)
def _tables(activation, target_activation, r, c, gamma):
    """The conditional coefficients on the ``kappa`` rule, with its weights (read-only arrays)."""
    z, w = _split_rule(np.zeros(1))
    k, wk = z[0], w[0]
    co = conditional_coefficients(activation, target_activation, r, c, gamma, k)
    out = tuple(np.ascontiguousarray(a) for a in (k, wk, co["mu0"], co["mu1"], co["mu2sq"], co["h"], co["h1"],
                                                   co["h2"]))
    for a in out:
        a.flags.writeable = False
    return out


@njit(cache=True, error_model="numpy")
def _channel(k, wk, mu0, mu1, mu2sq, h, h1, h2, noise, x):
    """Means over ``kappa`` at the state ``x``: ``(V1_hat, V2_hat, q1_hat, q2_hat, theta_hat,
    psi_hat)/alpha_p``, the new ``m``'s numerator and denominator, ``gen_error``, ``<E(k)/(1 +
    V(k))^2>`` (train), the estimation error and ``<E(k)/(1 + V(k))>`` (the Moreau envelope)."""
    m, theta, psi, q1, q2, V1, V2 = x[0], x[1], x[2], x[3], x[4], x[5], x[6]
    s = np.zeros(12)
    for i in range(k.shape[0]):
        a1 = mu1[i] * mu1[i]
        Vk = a1 * V1 + mu2sq[i] * V2
        g = 1.0 / (1.0 + Vk)
        ck = mu0[i] * m + mu1[i] * k[i] * theta
        Ek = h2[i] + noise - 2.0 * ck * h[i] - 2.0 * mu1[i] * psi * h1[i] + ck * ck + a1 * q1 + mu2sq[i] * q2
        w = wk[i]
        s[0] += w * a1 * g
        s[1] += w * mu2sq[i] * g
        s[2] += w * a1 * Ek * g * g
        s[3] += w * mu2sq[i] * Ek * g * g
        s[4] += w * k[i] * mu1[i] * (h[i] - ck) * g
        s[5] += w * mu1[i] * h1[i] * g
        s[6] += w * mu0[i] * (h[i] - mu1[i] * k[i] * theta) * g
        s[7] += w * mu0[i] * mu0[i] * g
        s[8] += w * Ek
        s[9] += w * Ek * g * g
        s[10] += w * (Ek - noise)
        s[11] += w * Ek * g
    return s


@njit(cache=True, error_model="numpy")
def _weights(psi_pd, c2, reg, V1h, V2h, q1h, q2h, th, ph):
    """Weights' side: ``(theta, psi, q1, q2, V1, V2)`` from the hats (Marchenko-Pastur means)."""
    R1, R2, sR, sR2, s2R2 = _mp_moments(psi_pd, reg + V2h, c2 * V1h)
    theta = th * c2 * psi_pd * R1
    psi = ph * c2 * psi_pd * sR
    q1 = c2 * c2 * (th * th * psi_pd * sR2 + ph * ph * psi_pd * s2R2 + q1h * s2R2) + c2 * q2h * sR2
    q2 = c2 * (th * th * psi_pd * R2 + ph * ph * psi_pd * sR2 + q1h * sR2) + q2h * R2
    return theta, psi, q1, q2, c2 * sR, R1


@register
@dataclass(frozen=True)
class SpikedRF:
    """Ridge regression on spiked random features, the features of a two-layer network after one
    large gradient step (Cui et al., ICML 2024): state ``(m, theta, psi, q1, q2, V1, V2)``.

    Parameters
    ----------
    loss : {"square"}
        The readout's training loss ``(y - yhat)^2/2`` (the paper's setting).
    activation : {"erf", "tanh", "linear"}
        The hidden units' ``sigma`` (odd: module docstring).
    target_activation : {"linear", "erf", "tanh", "sin", "relu", "sign", "sigmoid"}
        The single-index teacher's ``sigma_*``.
    eta : float
        The paper's normalised learning rate ``>= 0`` of the first step (``0``: random features;
        a small ``eta > 0`` is the limit of a step with ``r sqrt(d) >> 1``, module docstring).
    alpha0 : float
        Samples of the first step per input dimension, ``n0/d > 0``.
    p_over_d : float
        Width per input dimension ``p/d > 0``.
    alpha : float
        Samples of the readout's ridge regression per input dimension, ``n/d > 0``.
    reg : float
        Ridge penalty ``> 0``.
    noise : float
        Label noise variance ``>= 0`` (in both batches).
    """

    loss: str = "square"
    activation: str = "tanh"
    target_activation: str = "tanh"
    eta: float = 1.0
    alpha0: float = 2.0
    p_over_d: float = 1.0
    alpha: float = 1.0
    reg: float = 0.1
    noise: float = 0.0

    name: ClassVar[str] = "spiked_random_features"
    state_names: ClassVar[tuple[str, ...]] = ("m", "theta", "psi", "q1", "q2", "V1", "V2")
    unique_fixed_point: ClassVar[bool] = True
    labels: ClassVar[dict[str, str]] = {
        "eta": r"$\tilde\eta$", "alpha0": r"$\alpha_0 = n_0/d$", "alpha": r"$\alpha = n/d$", "reg": r"$\lambda$",
        "p_over_d": r"$p/d$", "noise": r"$\Delta$", "m": r"$m$", "theta": r"$\theta$", "psi": r"$\psi$",
        "q1": r"$q_1$", "q2": r"$q_2$", "V1": r"$V_1$", "V2": r"$V_2$", "gen_error": "generalisation error",
        "train_loss": "training loss", "estimation_error": r"$E(y^* - \hat y)^2$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        dict(activation="tanh", target_activation="tanh", eta=2.0, alpha0=2.0, p_over_d=1.0, alpha=1.0, reg=0.1),
        dict(activation="erf", target_activation="relu", eta=1.0, alpha0=4.0, p_over_d=1.5, alpha=2.0, reg=0.05,
             noise=0.1),
        dict(activation="erf", target_activation="linear", eta=0.0, alpha0=1.0, p_over_d=0.5, alpha=1.0, reg=0.1),
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        positive = {"range": (0.0, None), "open": (True, True)}
        non_negative = {"range": (0.0, None), "open": (False, True)}
        return parameter_table(cls, {
            "loss": {"allowed": LOSSES, "doc": "readout loss (y - yhat)^2/2: ridge regression"},
            "activation": {"allowed": STUDENT_ACTIVATIONS, "doc": "hidden units' activation sigma"},
            "target_activation": {"allowed": TARGET_ACTIVATIONS, "doc": "single-index teacher sigma_*"},
            "eta": {**non_negative, "doc": "normalised learning rate of the one gradient step (0: random features; "
                                           "the limit is not uniform at 0+)"},
            "alpha0": {**positive, "doc": "samples of the gradient step per input dimension n0/d"},
            "p_over_d": {**positive, "doc": "hidden units per input dimension p/d"},
            "alpha": {**positive, "doc": "samples of the readout's ridge regression per input dimension n/d"},
            "reg": {**positive, "doc": "ridge penalty of the readout"},
            "noise": {**non_negative, "doc": "label noise variance"}})

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)} (the paper's ridge readout); got {self.loss!r}")
        if self.activation not in STUDENT_ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(STUDENT_ACTIVATIONS)}; got {self.activation!r}")
        if self.target_activation not in TARGET_ACTIVATIONS:
            raise ValueError(f"target_activation must be one of {', '.join(TARGET_ACTIVATIONS)}; "
                             f"got {self.target_activation!r}")
        _check_number("eta", self.eta, 0.0, strict=False, allowed=">= 0")
        _check_number("alpha0", self.alpha0, 0.0, strict=True, allowed="> 0")
        for name in ("p_over_d", "alpha", "reg"):
            _check_number(name, getattr(self, name), 0.0, strict=True, allowed="> 0")
        _check_number("noise", self.noise, 0.0, strict=False, allowed=">= 0")
        sp = spike_parameters(self.eta, self.alpha0, self.activation, self.target_activation, self.noise)
        object.__setattr__(self, "_spike", sp)
        object.__setattr__(self, "_tab", _tables(self.activation, self.target_activation, sp["r"], sp["c"],
                                                 sp["gamma"]))

    # -- internals
    @property
    def spike(self) -> dict:
        """``{"r", "c", "gamma"}`` of the step (:func:`spike_parameters`)."""
        return dict(self._spike)

    def _full(self, x):
        """``(new state, hats, channel sums)`` at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (7,):
            raise ValueError(f"the state of spiked_random_features is {self.state_names}, got shape {x.shape}")
        s = _channel(*self._tab, float(self.noise), x)
        ap = float(self.alpha) / float(self.p_over_d)
        V1h, V2h, q1h, q2h, th, ph = (ap * s[j] for j in range(6))
        # mu_0 = 0 (odd units, no spike: exactly, by the rule's symmetry): no constant direction to use
        m = s[6] / s[7] if s[7] > 1e-30 * (s[0] + s[1]) else 0.0
        c2 = self._spike["c"] ** 2
        theta, psi, q1, q2, V1, V2 = _weights(float(self.p_over_d), c2, float(self.reg), V1h, V2h, q1h, q2h, th, ph)
        return np.array([m, theta, psi, q1, q2, V1, V2]), np.array([V1h, V2h, q1h, q2h, th, ph]), s

    # -- protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``m = theta = psi = 0``, ``q1 = q2 = 0.01``, ``V1 = V2 = 1``;
        ``"informed"``: ``q1 = q2 = 1`` and the teacher's linear coefficients ``theta = gamma
        mu_1*``, ``psi = rho mu_1*`` (ridge is convex: both reach the same fixed point)."""
        if isinstance(start, str) and start == "uninformed":
            return np.array([0.0, 0.0, 0.0, 0.01, 0.01, 1.0, 1.0])
        if isinstance(start, str) and start == "informed":
            t1 = float(_gauss_moments(self.target_activation, np.zeros(1), 1.0)[1][0])
            g = self._spike["gamma"]
            return np.array([0.0, g * t1, math.sqrt(max(1.0 - g * g, 0.0)) * t1, 1.0, 1.0, 1.0, 1.0])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """None: the readout always correlates with the teacher."""
        return None

    def bounds(self):
        """``q1, q2 >= 0``, ``V1, V2 > 0`` (``m, theta, psi`` free)."""
        return (np.array([-np.inf, -np.inf, -np.inf, 0.0, 0.0, 0.0, 0.0]), np.full(7, np.inf))

    def update(self, x) -> np.ndarray:
        """One step of the equations (module docstring): state -> hats (and ``m``) -> state."""
        return self._full(x)[0]

    def hats(self, x) -> dict[str, float]:
        """``V1_hat, V2_hat, q1_hat, q2_hat, theta_hat, psi_hat`` at the state ``x``."""
        return dict(zip(("V1_hat", "V2_hat", "q1_hat", "q2_hat", "theta_hat", "psi_hat"),
                        (float(v) for v in self._full(x)[1])))

    def energy(self, x) -> float:
        """The replica energy per feature at ``x`` with the hats of ``x``, stationary at the fixed
        point (tested), where it is the training objective per feature ``alpha_p train_loss + reg
        q2/2`` (``alpha_p = n/p``)::

            e = Psi_w + theta theta_hat + psi psi_hat - (q1 V1_hat + q2 V2_hat)/2 + (V1 q1_hat + V2 q2_hat)/2
                + alpha_p <E(k)/(2 (1 + V(k)))>,
            Psi_w = -(theta_hat theta' + psi_hat psi' + q1_hat V1' + q2_hat V2')/2

        (primes: the weights' side's values, the minimum of the weights' quadratic form; the last
        term is the mean Moreau envelope ``(y - omega)^2/(2 (1 + V(k)))`` of the square loss; ``m``
        enters it only, so stationarity in ``m`` is its equation)."""
        x = np.asarray(x, dtype=np.float64)
        new, hats, s = self._full(x)
        V1h, V2h, q1h, q2h, th, ph = hats
        _, theta, psi, q1, q2, V1, V2 = x
        psi_w = -0.5 * (th * new[1] + ph * new[2] + q1h * new[5] + q2h * new[6])
        ap = float(self.alpha) / float(self.p_over_d)
        return float(psi_w + theta * th + psi * ph - 0.5 * (q1 * V1h + q2 * V2h) + 0.5 * (V1 * q1h + V2 * q2h)
                     + 0.5 * ap * s[11])

    def free_entropy(self, x) -> float:
        """``-energy(x)`` (larger is better)."""
        return -self.energy(x)

    def observables(self, x) -> dict[str, float]:
        """The state, ``gen_error = <E(k)>`` (the squared error on a fresh noisy label),
        ``estimation_error`` (against the noiseless ``sigma_*``) and ``train_loss = <E(k)/(1 +
        V(k))^2>/2`` (the mean of ``(y - yhat)^2/2`` on the training set: ridge's residual is the
        fresh one shrunk by ``1 + V(k)``)."""
        x = np.asarray(x, dtype=np.float64)
        _, _, s = self._full(x)
        res = {n: float(v) for n, v in zip(self.state_names, x)}
        res["gen_error"] = float(s[8])
        res["estimation_error"] = float(s[10])
        res["train_loss"] = 0.5 * float(s[9])
        return res

    def with_params(self, **params) -> "SpikedRF":
        return dataclasses.replace(self, **params)

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """The same ridge regression on one sampled instance of the spiked features (``p =
        round(p_over_d d)`` units, ``n = round(alpha d)`` samples): see
        :mod:`equations._simulate.gcm_spiked`."""
        from ._simulate.gcm_spiked import simulate_spiked

        return simulate_spiked(self, d, seed)


def plain_random_features(model: SpikedRF) -> SpikedRF:
    """The same readout on the network at initialisation: ``model`` with ``eta = 0`` (for an odd
    teacher this is ``gcm_erm(features="random_features", loss="square")`` with the teacher's
    linear part, tested)."""
    if not isinstance(model, SpikedRF):
        raise ValueError(f"model must be a SpikedRF, got {type(model).__name__}")
    return dataclasses.replace(model, eta=0.0)


def one_step_improvement(model: SpikedRF, **solve_kw) -> dict:
    """``{"gen_error", "rf_gen_error", "improvement"}``: the test error of the readout after the
    step, the error of plain random features at the same parameters (:func:`plain_random_features`)
    and their difference ``rf_gen_error - gen_error``. Keywords go to :func:`fixedpoint.solve`;
    raises ``RuntimeError`` if a solve does not converge."""
    import fixedpoint

    out = {}
    for key, mod in (("gen_error", model), ("rf_gen_error", plain_random_features(model))):
        sol = fixedpoint.solve(mod, **solve_kw)
        if not sol.converged:
            raise RuntimeError(f"the solve of {mod!r} did not converge: {sol.message}")
        out[key] = float(sol["gen_error"])
    out["improvement"] = out["rf_gen_error"] - out["gen_error"]
    return out
