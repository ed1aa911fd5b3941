r"""The Gaussian covariate model: ERM on random features or on a given feature spectrum.

Problem (DESIGN.md conventions, ``alpha = n/d``). A student fits ``w`` in a feature space of
dimension ``p`` by minimising::

    sum_mu loss(y_mu, w.v_mu/sqrt(p)) + reg/2 |w|^2                      (penalty "l2")

with the losses of :mod:`equations.losses` (square, logistic, hinge, huber, absolute), on labels
``y = z* + sqrt(noise) xi`` (``channel="linear"``) or ``y = sign(z* + sqrt(noise) xi)``
(``channel="sign"``). Two kinds of features:

* ``features="random_features"`` (Gerace, Loureiro, Krzakala, Mezard, Zdeborova, "Generalisation
  error in learning with random features and the hidden manifold model", ICML 2020, arXiv
  2002.09339): inputs ``x ~ N(0, I_d)``, features ``v = sigma(F x/sqrt(d))`` with ``F_ij ~
  N(0, 1)`` (``p x d``, ``p_over_d = p/d``), *not* centred; teacher ``z* = theta.x/sqrt(d)``,
  ``theta ~ N(0, I_d)`` (``rho = 1``).
* ``features="spectra"`` (Loureiro, Gerbelot, Cui, Goldt, Krzakala, Mezard, Zdeborova,
  "Learning curves of generic features maps for realistic datasets with a teacher-student
  model", NeurIPS 2021, arXiv 2102.08127): Gaussian features ``v ~ N(0, Omega)`` shared by
  teacher and student, given in the eigenbasis of ``Omega`` by its eigenvalues ``spectrum =
  (omega_k)`` and the teacher's coefficients ``teacher = (theta_k)``, ``z* = theta.v/sqrt(p)``,
  ``p = len(spectrum)``, ``rho = mean_k(omega_k theta_k^2)``; here ``alpha = n/p``.
  :func:`power_law` builds the source/capacity spectra of kernel methods.

Order parameters (per feature, ``p``): ``m = E[z* lambda]``, ``q = E[lambda^2]`` of the
student's field ``lambda = w.v/sqrt(p)`` (centred: see the constant direction below) and the
susceptibility ``V`` (``= tr(Omega H^-1)/p``, ``H`` the Hessian of the objective, for a smooth
loss).

Equations (Loureiro et al. 2021, their replica formulas for the Gaussian covariate model). The
fields ``(z*, lambda)`` are jointly Gaussian with covariance ``[[rho, m], [m, q]]`` whatever the
features, so the channel side is exactly :mod:`equations.glm_erm`'s, with ``alpha_p = n/p``
samples per feature::

    m_hat = alpha_p E[d/dz* f_out],   q_hat = alpha_p E[f_out^2],   V_hat = -alpha_p E[d f_out/d omega]

(the same kernels, imported: ``_class_integrals`` for the sign teacher, ``_linear_integrals`` for
the linear one). Only the weights' side changes. With ``R = (reg I + V_hat Omega)^-1`` and ``c =
p dm/dw`` the teacher's direction in feature space (``c = Omega theta`` for shared features,
``c = sqrt(p) kappa_1 F theta/d`` for random features)::

    V = tr(Omega R)/p
    m = m_hat c^T R c/p
    q = m_hat^2 c^T R Omega R c/p + q_hat tr(Omega R Omega R)/p

(the minimiser of ``V_hat w^T Omega w/2 - (m_hat c + sqrt(q_hat) Omega^{1/2} g).w + reg
|w|^2/2``). In the eigenbasis of ``Omega`` these are spectral means, computed by a Numba loop
(a point costs milliseconds with 1e5 modes). With ``omega_k``, ``c_k^2 = omega_k^2 theta_k^2``::

    V = mean(omega/(reg + V_hat omega)),   m = m_hat mean(c^2/(reg + V_hat omega)),
    q = mean((m_hat^2 c^2 omega + q_hat omega^2)/(reg + V_hat omega)^2)

which are Loureiro et al.'s equations for ``Phi = Psi = Omega`` (their ``gamma = p/k = 1``;
their hats are ours, their ``lambda`` our ``reg``). ``spectrum = (1,)*N, teacher = (1,)*N``
is :mod:`equations.glm_erm` with ``rho = 1`` (tested to 1e-10 for each loss).

Random features. By the Gaussian equivalence (Gerace et al. 2020; Goldt, Loureiro, Reeves,
Krzakala, Mezard, Zdeborova, arXiv 2006.14709),
the features act, in these equations, as ``v = kappa_0 1 + kappa_1 F x/sqrt(d) + kappa_* z``,
``z ~ N(0, I_p)``, with ``kappa_0 = E sigma(xi)``, ``kappa_1 = E xi sigma(xi)``, ``kappa_*^2 =
E sigma(xi)^2 - kappa_0^2 - kappa_1^2`` (:func:`kappas`: computed by quadrature of the
activation, never tabled). So ``Omega = kappa_1^2 S + kappa_*^2 I`` with ``S = F F^T/d`` and
``c^T R c/p = kappa_1^2 psi <s R(s)>`` (``psi = p/d``, ``theta`` averaged out), where ``<.>`` is
the mean over the eigenvalues ``s`` of ``S``: in the limit ``d -> inf`` the Marchenko-Pastur law
of ratio ``psi`` (an atom ``1 - 1/psi`` at 0 when ``psi > 1``). Every mean the equations need
is a rational function of ``s`` with the single pole ``R(s) = 1/(a + b s)``, ``a = reg + V_hat
kappa_*^2``, ``b = V_hat kappa_1^2``, and so follows in closed form from the Stieltjes transform
``g(z) = <1/(s - z)>``, root of ``psi z g^2 + (z - 1 + psi) g + 1 = 0`` (as in Gerace et al.):
with ``B = a + b (1 - psi)``, ``D = sqrt(B^2 + 4 psi a b)``::

    <s R>    = 2/(a + b (1 + psi) + D)
    <R>      = 2/(B + D)  (B >= 0),   (D - B)/(2 psi a b)  (B < 0)
    <R^2>    = <R> (psi b <R> + 1)/D,   <s R^2> = <s R>/D
    <s^2 R^2> = <s R> (2 a (1 + psi) + b (1 - psi)^2)/((D + a) D)

(written so that nothing cancels: every term is positive), and ``V = kappa_1^2 <sR> + kappa_*^2
<R>``, ``m = m_hat kappa_1^2 psi <sR>``, ``q = m_hat^2 kappa_1^2 psi <s omega R^2> + q_hat
<omega^2 R^2>`` with ``omega(s) = kappa_1^2 s + kappa_*^2``. The teacher's field has variance
``rho = 1``, more than the features can carry (``m^2/q < 1`` at any ``w``): the difference acts
as noise.

How ``kappa_0`` enters. The features are not centred: their mean ``kappa_0 1`` is a constant
direction of feature space, an eigenvector of ``Omega`` with the eigenvalue ``kappa_0^2 p`` (a
spike), and the component ``a = w.1/sqrt(p)`` of the weights along it adds ``b = kappa_0 a`` to
every prediction: a bias. Its penalty ``reg a^2/2`` is of order one against a data term of order
``n``, so in the limit it is an unpenalised bias, stationary where ``E f_out(y, lambda + b) =
0``. For the two teachers here (odd: ``(y, lambda) -> (-y, -lambda)`` leaves the law of the
centred problem invariant) and these losses (functions of ``y z`` or ``y - z``), ``b = 0`` is
that stationary point, so the estimator's shift along ``1`` vanishes and ``kappa_0`` drops out of
the asymptotic equations (the spike's contribution ``kappa_0^2 p/(reg + V_hat kappa_0^2 p)/p``
to ``V`` is ``O(1/p)``). The simulator keeps the features uncentred, and the tests check it
against these equations for the ReLU (``kappa_0 = 1/sqrt(2 pi)``).

Limits. ``p_over_d -> inf``: the feature kernel ``v.v'/p`` tends to ``kappa_0^2 + kappa_1^2 x.x'/d
+ kappa_*^2 delta_{x x'}``, and ridge regression on the features becomes kernel ridge regression,
i.e. ridge regression on ``x`` with the penalty ``(reg + kappa_*^2)/kappa_1^2``
(:func:`equations.glm_erm.ridge_closed_form`; tested). Ridge on spectra is checked against the
deterministic equivalent of Hastie, Montanari, Rosset, Tibshirani, "Surprises in
high-dimensional ridgeless least squares interpolation", Ann. Statist. 50 (2022).

Deep random targets (Cui, Krzakala, Zdeborova, "Bayes-optimal learning of deep random networks
of extensive width", ICML 2023, arXiv 2302.00375). With ``target_activations`` the random
features learn a deep network with random Gaussian weights ``z* = a.h_L/sqrt(k_L)``, ``h_l =
sigma_l(W_l h_(l-1)/sqrt(k_(l-1)))``, ``h_0 = x``, widths ``k_l`` proportional to ``d``. From
``n = O(d)`` samples only its linear part can be learned: it acts as the noisy linear target
``sqrt(rho) theta.x/sqrt(d) + sqrt(noise_eff) xi`` of :func:`deep_equivalent` (``rho`` and
``noise_eff`` from the layers' kappas at their preactivations' variances), so the equations
above hold with ``rho`` for the teacher's field variance and ``noise + noise_eff`` for the noise;
the widths drop out. :func:`deep_bayes_optimal` is the Bayes-optimal test error in closed form
(:func:`bayes_optimal_linear`), which ridge regression on the inputs (:func:`deep_ridge_model`)
reaches at ``reg = noise_eff/rho`` (the paper's statement; tested to 1e-8 through
:func:`fixedpoint.optimize`); for classification (``channel="sign"``) the Bayes-optimal classifier
is :func:`deep_bayes_classification` (a :mod:`equations.glm_bayes` model), which optimally
regularised logistic regression approaches to 0.1% (tested), and kernel regression is the limit ``p_over_d -> inf``. The hidden
activations must be odd (``kappa_0 = 0``): a layer's mean would shift each unit of the next by a
random offset of order one, which this reduction does not cover. The simulator runs the actual
network (tested within three standard errors at ``d = 250``).

Energy (zero-temperature free energy per feature) at ``x = (m, q, V)`` with the hats of ``x``::

    e = Psi_w + m m_hat - q V_hat/2 + V q_hat/2 + alpha_p E[M_V(y, omega)],
    Psi_w = -(m_hat^2 c^T R c/p + q_hat V)/2

stationary at the fixed point (tested), where it is the training objective per feature
(``alpha_p train_loss + reg |w|^2/(2p)``). The problem is convex: the fixed point is unique.

Mapping onto GCMProject (github.com/IdePHICS/GCMProject, ``state_evolution/models``): their
``sample_complexity`` is ``n/p`` (our ``alpha_p``; ``alpha = n/d`` here for random features; their
ridge hats ``V_hat = alpha/(1 + V)`` are ours), their ``_update_overlaps`` takes the same spectral
means (with the teacher's direction normalised by their ``gamma = k/p``, ``k`` the teacher's
dimension: our ``c_k^2`` is their ``(U^T Phi theta)_k^2/gamma``), and their
``state_evolution/data_models/single_layer_hmm.py`` tables erf's ``kappa_*`` and tanh's ``kappa_1,
kappa_*`` rounded to six decimals (``0.200364``; ``0.605706, 0.165576``; the others are closed
forms there); :func:`kappas` agrees with them to that rounding (tested). Side by side on the same
matrices (``benchmarks/bench_gcm_project.py``) the fixed points agree to 1e-11 for their square
losses and, once their logistic integrals are made exact, to 1e-12 (tested against their numbers).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit

from ._registry import parameter_table, register
from .glm_erm import T_SIGN, _check_number, _class_integrals, _legendre, _linear_integrals, _teacher_rules
from .losses import LOSSES, loss_code

__all__ = ["GCMERM", "kappas", "power_law", "mp_moments", "ACTIVATIONS", "DEEP_ACTIVATIONS", "deep_equivalent",
           "bayes_optimal_linear", "deep_bayes_optimal", "deep_bayes_classification", "deep_ridge_model"]

FEATURES = ("random_features", "spectra")
CHANNELS = ("linear", "sign")
PENALTIES = ("l2",)
CLASSIFICATION_LOSSES = ("logistic", "hinge")
#: activations of the random features
ACTIVATIONS = ("erf", "relu", "tanh", "sign", "sigmoid", "linear")
#: activations of a deep random target's layers: the odd ones (``kappa_0 = 0``)
DEEP_ACTIVATIONS = ("erf", "tanh", "sign", "linear")
#: integrated by Gauss-Hermite: entire functions (the others have a kink, a jump or poles)
_ENTIRE = ("erf", "linear")
_N_GH = 120  # Gauss-Hermite nodes for the entire activations
_N_GL = 24  # Gauss-Legendre nodes per panel for the others


def _activation(name: str):
    from scipy.special import erf, expit

    return {"erf": erf, "relu": lambda u: np.maximum(u, 0.0), "tanh": np.tanh,
            "sign": lambda u: np.where(u > 0, 1.0, np.where(u < 0, -1.0, 0.0)), "sigmoid": expit,
            "linear": lambda u: u}[name]


@functools.lru_cache(maxsize=64)
def kappas(activation: str, variance: float = 1.0) -> tuple[float, float, float]:
    """``(kappa_0, kappa_1, kappa_*)`` of an activation (Gerace et al. 2020):
    ``kappa_0 = E sigma(xi)``, ``kappa_1 = E xi sigma(xi)``, ``kappa_*^2 = E sigma(xi)^2 -
    kappa_0^2 - kappa_1^2``, ``xi ~ N(0, 1)``. With ``variance = r`` the argument is ``u ~ N(0,
    r)`` and the decomposition ``sigma(u) = kappa_0 + kappa_1 u + kappa_* z`` (``z`` uncorrelated
    with ``u``): ``kappa_1 = E u sigma(u)/r``, ``kappa_*^2 = E sigma(u)^2 - kappa_0^2 - kappa_1^2
    r`` (the layers of a deep target, :func:`deep_equivalent`; ``0 < r <= 16``, where the rules
    below keep their accuracy).

    Computed by quadrature: a 120-node Gauss-Hermite rule for the entire activations (erf,
    linear); for the others 24-node Gauss-Legendre panels on either side of 0 (ends ``0, 0.75,
    1.5, 2.5, 3.5, 5, 7, 10, 40``) with the Gaussian weight: across the kink or jump at 0 of relu
    and sign Gauss-Hermite converges only algebraically, and for tanh and sigmoid (poles at ``+-i
    pi/2``) only like ``exp(-c sqrt(n))`` (120 nodes: 6e-12 off for tanh's ``kappa_*``). Both
    agree with 30-digit mpmath to 1e-13 relative (tests)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    if isinstance(variance, bool) or not isinstance(variance, (int, float, np.integer, np.floating)) or not (
            math.isfinite(float(variance)) and 0.0 < float(variance) <= 16.0):
        raise ValueError(f"variance must be a real number in (0, 16], got {variance!r}")
    sd = math.sqrt(float(variance))
    f0 = _activation(activation)
    f = (lambda u: f0(sd * u)) if sd != 1.0 else f0  # sigma(sqrt(r) xi): the kink stays at 0
    if activation not in _ENTIRE:
        gx, gw = np.polynomial.legendre.leggauss(_N_GL)
        ends = np.array([0.0, 0.75, 1.5, 2.5, 3.5, 5.0, 7.0, 10.0, 40.0])
        xs, ws = [], []
        for lo, hi in zip(ends[:-1], ends[1:]):
            h = 0.5 * (hi - lo)
            u = 0.5 * (lo + hi) + h * gx
            xs += [u, -u]
            ws += [h * gw, h * gw]
        x = np.concatenate(xs)
        w = np.concatenate(ws) * np.exp(-0.5 * np.concatenate(xs) ** 2) / math.sqrt(2.0 * math.pi)
    else:
        x, w = np.polynomial.hermite_e.hermegauss(_N_GH)
        w = w / math.sqrt(2.0 * math.pi)
    s = f(x)
    k0 = float(w @ s)
    k1 = float(w @ (x * s))  # E xi sigma(sqrt(r) xi) = sqrt(r) kappa_1
    var = float(w @ (s - k0) ** 2) - k1 * k1  # E (sigma - kappa_0)^2 - kappa_1^2 r: no kappa_0^2 cancellation
    return k0, k1 / sd, math.sqrt(max(var, 0.0))


def power_law(n_modes: int, capacity: float, source: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(spectrum, teacher)`` of a power law for ``features="spectra"``: the source/capacity
    conditions of kernel methods in the form of Cui, Loureiro, Krzakala, Zdeborova,
    "Generalization error rates in kernel regression: the crossover from the noiseless to noisy
    regime", NeurIPS 2021 (arXiv 2105.15004): eigenvalues ``omega_k ~ k^-capacity`` and teacher
    power per mode ``omega_k theta_k^2 ~ k^-(1 + 2 capacity source)``, ``k = 1..n_modes``.

    Normalised to our conventions: ``mean(omega) = 1`` (``tr Omega = p``, as for unit-variance
    features) and ``rho = mean(omega theta^2) = 1``. ``capacity > 1`` and ``source > 0`` are the
    usual ranges (any ``capacity > 0`` is accepted: ``n_modes`` is finite); ``theta_k > 0``.

    Example: ``equations.get("gcm_erm", features="spectra", **dict(zip(("spectrum", "teacher"),
    power_law(1000, 1.5, 0.5))), alpha=0.5, reg=1e-3)``.
    """
    if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or n_modes < 1:
        raise ValueError(f"n_modes must be an integer >= 1, got {n_modes!r}")
    for name, v in (("capacity", capacity), ("source", source)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not (
                math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"{name} must be a finite real number > 0, got {v!r}")
    k = np.arange(1, int(n_modes) + 1, dtype=float)
    omega = k ** -float(capacity)
    omega /= omega.mean()
    power = k ** -(1.0 + 2.0 * float(capacity) * float(source))
    power /= power.mean()
    theta = np.sqrt(power / omega)
    return tuple(float(v) for v in omega), tuple(float(v) for v in theta)


# ----------------------------------------------------------------------------- deep random targets


def _target_activations(value) -> tuple[str, ...]:
    """The validated tuple of a deep target's activations (a name is one layer)."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (tuple, list)) or len(value) == 0:
        raise ValueError(f"target_activations must be a non-empty tuple of activation names, got {value!r}")
    for a in value:
        if a not in DEEP_ACTIVATIONS:
            raise ValueError(f"target_activations must hold odd activations ({', '.join(DEEP_ACTIVATIONS)}: a "
                             f"layer's mean kappa_0 would shift the next layer by a random offset per unit); "
                             f"got {a!r}")
    return tuple(value)


def deep_equivalent(target_activations) -> dict:
    """The noisy linear target equivalent to a deep random network when ``n = O(d)``.

    The target (Cui, Krzakala, Zdeborova, "Bayes-optimal learning of deep random networks of
    extensive width", ICML 2023, arXiv 2302.00375) is ``z = a.h_L/sqrt(k_L)``, ``h_l =
    sigma_l(W_l h_(l-1)/sqrt(k_(l-1)))``, ``h_0 = x ~ N(0, I_d)``, all weights ``N(0, 1)``,
    widths ``k_l`` proportional to ``d``. Layer by layer, ``sigma_l(u) = kappa_1 u + kappa_*
    z_l`` with the kappas at the preactivation's variance ``r_l`` (:func:`kappas`; ``kappa_0 = 0``:
    odd activations) and ``z_l`` a part of ``h_l`` uncorrelated with every function of ``x`` of
    degree one, which, for learning from ``n = O(d)`` samples, acts as fresh Gaussian noise. So ::

        r_1 = 1,   r_(l+1) = kappa_1(r_l)^2 r_l + kappa_*(r_l)^2   (= E sigma_l(u)^2, u ~ N(0, r_l))
        rho   = prod_l kappa_1(r_l)^2                                 (the linear part's variance)
        noise = r_(L+1) - rho = sum_l kappa_*(r_l)^2 prod_(l'>l) kappa_1(r_l')^2

    and ``z = sqrt(rho) theta.x/sqrt(d) + sqrt(noise) xi``, ``theta ~ N(0, I_d)`` (isotropic: a
    product of independent Gaussian matrices applied to ``a``). The widths drop out of the
    limit (each ``|h_l|^2/k_l`` concentrates); they matter only at finite size. This is the
    paper's statement that the deep target is, for ``n = O(d)``, a noisy linear target with an
    effective noise built from the layers' kappas (derived here in our normalisation; we could
    not read the paper's equation numbers).

    Parameters
    ----------
    target_activations : tuple of str
        ``sigma_1, ..., sigma_L`` among :data:`DEEP_ACTIVATIONS` (a single name is one layer).

    Returns
    -------
    dict
        ``rho`` (variance of the learnable linear part), ``noise`` (the effective noise),
        ``variances`` (the preactivations' ``r_1..r_L``).
    """
    acts = _target_activations(target_activations)
    r, lin, variances = 1.0, 1.0, []
    for a in acts:
        variances.append(r)
        _, k1, ks = kappas(a, r)
        lin = k1 * k1 * lin
        r = k1 * k1 * r + ks * ks
    return {"rho": lin, "noise": max(r - lin, 0.0), "variances": tuple(variances)}


def bayes_optimal_linear(alpha: float, rho: float, noise: float) -> dict:
    """Bayes-optimal learning of ``y = theta.x/sqrt(d) + sqrt(noise) xi`` with ``theta ~ N(0, rho
    I_d)``, ``x ~ N(0, I_d)``, ``n = alpha d``: the posterior mean is ridge regression with
    ``reg = noise/rho`` (square loss ``(y - z)^2/2``, penalty ``reg/2 |w|^2``), and its error
    ``E = E (theta.x - theta_hat.x)^2/d`` is the positive root of the replica fixed point ``E =
    rho/(1 + rho alpha/(noise + E))``::

        E = 2 rho noise/(b + sqrt(b^2 + 4 rho noise)),   b = noise + rho (alpha - 1)

    (``rho max(1 - alpha, 0)`` at ``noise = 0``). Returns ``estimation_error = E``, ``gen_error =
    E + noise`` (the error on a fresh noisy label) and ``reg = noise/rho``."""
    for name, v, strict in (("alpha", alpha, True), ("rho", rho, True), ("noise", noise, False)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not (
                math.isfinite(float(v)) and (float(v) > 0 if strict else float(v) >= 0)):
            raise ValueError(f"{name} must be a finite real number {'> 0' if strict else '>= 0'}, got {v!r}")
    alpha, rho, noise = float(alpha), float(rho), float(noise)
    b = noise + rho * (alpha - 1.0)
    disc = math.sqrt(b * b + 4.0 * rho * noise)
    if noise == 0.0:
        E = rho * max(1.0 - alpha, 0.0)
    elif b >= 0.0:
        E = 2.0 * rho * noise / (b + disc)
    else:
        E = 0.5 * (disc - b)  # no cancellation for b < 0
    return {"estimation_error": E, "gen_error": E + noise, "reg": noise / rho}


def deep_bayes_optimal(alpha: float, target_activations, noise: float = 0.0) -> dict:
    """The Bayes-optimal test error of regression on a deep random target (:func:`deep_equivalent`)
    with ``n = alpha d`` samples and label noise ``noise``: :func:`bayes_optimal_linear` with the
    equivalent ``rho`` and the noise ``noise + noise_eff`` (Cui, Krzakala, Zdeborova 2023).
    ``gen_error`` is ``E (y - y_hat)^2`` on a fresh noisy label, ``reg`` the ridge penalty that
    reaches it (:func:`deep_ridge_model`)."""
    eq = deep_equivalent(target_activations)
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)) or not (
            math.isfinite(float(noise)) and float(noise) >= 0):
        raise ValueError(f"noise must be a finite real number >= 0, got {noise!r}")
    return bayes_optimal_linear(alpha, eq["rho"], float(noise) + eq["noise"])


def deep_bayes_classification(target_activations, alpha: float, noise: float = 0.0):
    """The Bayes-optimal classifier of ``y = sign(z + sqrt(noise) xi)`` for a deep random target
    ``z`` (Cui, Krzakala, Zdeborova 2023, their classification task): with the equivalent target
    (:func:`deep_equivalent`) the labels are ``sign(theta.x/sqrt(d) + sqrt((noise + noise_eff)/rho)
    xi)`` (the sign is blind to the scale ``sqrt(rho)``), a generalised linear model with a
    Gaussian prior. Returns that :mod:`equations.glm_bayes` model (``channel="sign"``); solved,
    its ``gen_error`` is the Bayes-optimal 0/1 test error. Not a closed form: a scalar fixed
    point (the paper's classification error is likewise the solution of one)."""
    from .glm_bayes import GLMBayes

    eq = deep_equivalent(target_activations)
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)) or not (
            math.isfinite(float(noise)) and float(noise) >= 0):
        raise ValueError(f"noise must be a finite real number >= 0, got {noise!r}")
    return GLMBayes(prior="gaussian", channel="sign", alpha=alpha, noise=(float(noise) + eq["noise"]) / eq["rho"])


def deep_ridge_model(target_activations, **params) -> "GCMERM":
    """ERM directly on the inputs ``x`` (ridge, or any loss of :class:`GCMERM`) for a deep random
    target: the :class:`GCMERM` with ``features="spectra"``, one isotropic mode ``spectrum =
    (1,)``, ``teacher = (sqrt(rho),)`` and ``noise = noise + noise_eff`` (:func:`deep_equivalent`).
    Its ``gen_error`` is the test error against the deep target's fresh (noisy) labels; its
    ``alpha`` is ``n/d``. Example: ``fixedpoint.optimize(deep_ridge_model(("tanh", "tanh"),
    alpha=2.0), "reg", "gen_error", (1e-3, 10.0))`` reaches :func:`deep_bayes_optimal`.

    Random features and kernel regression on a deep target are :class:`GCMERM` itself, with
    ``target_activations`` (kernel regression: the limit ``p_over_d -> inf``)."""
    eq = deep_equivalent(target_activations)
    for name in ("features", "spectrum", "teacher", "activation", "p_over_d", "target_activations", "target_widths"):
        if name in params:
            raise ValueError(f"{name} is set by deep_ridge_model (ERM on the inputs of the deep target)")
    noise = params.pop("noise", 0.0)
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)) or not (
            math.isfinite(float(noise)) and float(noise) >= 0):
        raise ValueError(f"noise must be a finite real number >= 0, got {noise!r}")
    return GCMERM(features="spectra", spectrum=(1.0,), teacher=(math.sqrt(eq["rho"]),),
                  noise=float(noise) + eq["noise"], **params)


# ----------------------------------------------------------------------------- the weights' side


@njit(cache=True)
def _mp_moments(psi, a, b):
    """``(<R>, <R^2>, <sR>, <sR^2>, <s^2R^2>)`` for ``R = 1/(a + b s)`` over the Marchenko-Pastur law
    of ratio ``psi`` (eigenvalues of ``F F^T/d``, ``F`` ``p x d``, ``psi = p/d``); ``a > 0``,
    ``b >= 0`` (module docstring: closed forms with positive terms only)."""
    B = a + b * (1.0 - psi)
    D = math.sqrt(B * B + 4.0 * psi * a * b)
    sR = 2.0 / (a + b * (1.0 + psi) + D)
    if B >= 0.0:
        R1 = 2.0 / (B + D)
    else:
        R1 = (D - B) / (2.0 * psi * a * b)
    R2 = R1 * (psi * b * R1 + 1.0) / D
    sR2 = sR / D
    s2R2 = sR * (2.0 * a * (1.0 + psi) + b * (1.0 - psi) ** 2) / ((D + a) * D)
    return R1, R2, sR, sR2, s2R2


def mp_moments(psi: float, a: float, b: float) -> dict:
    """The Marchenko-Pastur means ``<R>, <R^2>, <sR>, <sR^2>, <s^2R^2>`` of ``R(s) = 1/(a + b s)``
    (module docstring; ``psi > 0``, ``a > 0``, ``b >= 0``), for tests and notebooks."""
    if not (psi > 0 and a > 0 and b >= 0):
        raise ValueError(f"need psi > 0, a > 0, b >= 0; got psi={psi!r}, a={a!r}, b={b!r}")
    return dict(zip(("R", "R2", "sR", "sR2", "s2R2"), _mp_moments(float(psi), float(a), float(b))))


@njit(cache=True, error_model="numpy")
def _rf_weights(psi, k1sq, kssq, rho, reg, m_hat, q_hat, V_hat):
    """Random features: ``(m, q, V, Psi_w)`` from the hats (Marchenko-Pastur closed forms)."""
    a = reg + V_hat * kssq
    b = V_hat * k1sq
    R1, R2, sR, sR2, s2R2 = _mp_moments(psi, a, b)
    V = k1sq * sR + kssq * R1
    cRc = rho * k1sq * psi * sR  # c^T R c / p
    cROmRc = rho * k1sq * psi * (k1sq * s2R2 + kssq * sR2)  # c^T R Omega R c / p
    om2R2 = k1sq * k1sq * s2R2 + 2.0 * k1sq * kssq * sR2 + kssq * kssq * R2
    m = m_hat * cRc
    q = m_hat * m_hat * cROmRc + q_hat * om2R2
    return m, q, V, -0.5 * (m_hat * m_hat * cRc + q_hat * V)


@njit(cache=True, error_model="numpy")
def _spectral_weights(omega, c2, reg, m_hat, q_hat, V_hat):
    """Given spectrum: ``(m, q, V, Psi_w)`` from the hats, one pass over the modes."""
    sV = 0.0
    sm = 0.0
    sq = 0.0
    for k in range(omega.shape[0]):
        o = omega[k]
        r = 1.0 / (reg + V_hat * o)
        sV += o * r
        sm += c2[k] * r
        sq += (m_hat * m_hat * c2[k] * o + q_hat * o * o) * r * r
    n = omega.shape[0]
    V = sV / n
    cRc = sm / n
    return m_hat * cRc, sq / n, V, -0.5 * (m_hat * m_hat * cRc + q_hat * V)


# ----------------------------------------------------------------------------- helpers


def _as_floats(name, value):
    """A tuple of finite floats from a list, tuple or 1-D array (``ValueError`` naming ``name``)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(f"{name} must be a sequence of real numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of real numbers, got {value!r}") from None
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a non-empty 1-D sequence of finite real numbers, got shape "
                         f"{arr.shape}")
    return tuple(float(v) for v in arr)


def _short(t):
    """A long tuple in a repr: its length and a sha256 prefix (so reprs, and the checkpoint
    fingerprints made of them, still tell different spectra apart)."""
    if t is None or len(t) <= 8:
        return repr(t)
    h = hashlib.sha256(np.asarray(t, dtype=np.float64).tobytes()).hexdigest()[:16]
    return f"<{len(t)} values, sha256 {h}>"


# ----------------------------------------------------------------------------- the model


@register
@dataclass(frozen=True, repr=False)
class GCMERM:
    """ERM in the Gaussian covariate model (random features or a given spectrum): state ``(m, q, V)``.

    Parameters
    ----------
    loss : {"square", "logistic", "hinge", "huber", "absolute"}
        Training loss (:mod:`equations.losses`); logistic and hinge need ``channel="sign"``.
    penalty : {"l2"}
        ``reg/2 |w|^2``.
    features : {"random_features", "spectra"}
        ``v = sigma(F x/sqrt(d))`` in the limit ``d -> inf`` (Marchenko-Pastur), or Gaussian
        features with the given ``spectrum`` and ``teacher`` (module docstring).
    activation : {"erf", "relu", "tanh", "sign", "sigmoid", "linear"}, optional
        ``sigma`` of the random features (default ``"erf"``; ``None`` with ``features="spectra"``).
    p_over_d : float, optional
        ``p/d > 0`` (random features; default 2; ``None`` with ``features="spectra"``).
    spectrum, teacher : tuple of float, optional
        ``features="spectra"`` only: the eigenvalues ``omega_k >= 0`` of the feature covariance
        (not all 0) and the teacher's coefficients ``theta_k`` in its eigenbasis (same length;
        lists and arrays are converted to tuples). :func:`power_law` builds them.
    alpha : float
        ``n/d`` (random features) or ``n/len(spectrum)`` (spectra), ``> 0``.
    reg : float
        Ridge penalty ``> 0``.
    channel : {"linear", "sign"}, optional
        Teacher; by default ``"sign"`` for logistic/hinge, ``"linear"`` otherwise.
    noise : float
        Teacher noise variance ``>= 0``.
    delta : float
        Huber threshold ``> 0`` (``loss="huber"``).
    target_activations : tuple of str, optional
        Random features only: a deep random target ``z = a.h_L/sqrt(k_L)``, ``h_l =
        sigma_l(W_l h_(l-1)/sqrt(k_(l-1)))`` with these activations (odd ones:
        :data:`DEEP_ACTIVATIONS`) instead of the linear ``theta.x/sqrt(d)`` (default ``None``).
        The equations use its equivalent noisy linear target (:func:`deep_equivalent`): ``rho``
        the linear part's variance and the noise ``noise + noise_eff``; ``channel`` is applied to
        ``z`` (``"sign"``: ``y = sign(z + sqrt(noise) xi)``).
    target_widths : tuple of float, optional
        ``k_l/d`` of the deep target's layers (default ``1`` each): used by :meth:`simulate`
        only, the limit does not depend on them.
    """

    loss: str = "square"
    penalty: str = "l2"
    features: str = "random_features"
    activation: str | None = None
    p_over_d: float | None = None
    spectrum: tuple | None = None
    teacher: tuple | None = None
    alpha: float = 1.0
    reg: float = 0.1
    channel: str | None = None
    noise: float = 0.0
    delta: float = 1.0
    target_activations: tuple | None = None
    target_widths: tuple | None = None

    name: ClassVar[str] = "gcm_erm"
    state_names: ClassVar[tuple[str, ...]] = ("m", "q", "V")
    unique_fixed_point: ClassVar[bool] = True
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "reg": r"$\lambda$", "noise": r"$\Delta$", "p_over_d": r"$p/d$",
        "delta": r"Huber $\delta$", "m": r"$m$", "q": r"$q$", "V": r"$V$",
        "gen_error": "generalisation error", "train_loss": "training loss", "train_error": "training error",
        "estimation_error": r"$E(z^* - \lambda)^2$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        dict(loss="square", activation="erf", p_over_d=2.0, alpha=1.0, reg=0.1, noise=0.1),
        dict(loss="logistic", activation="relu", p_over_d=1.5, alpha=2.0, reg=0.1),
        dict(loss="square", activation="relu", p_over_d=1.5, alpha=1.0, reg=0.1, noise=0.05,
             target_activations=("tanh", "tanh"), target_widths=(1.5, 0.8)),
        dict(loss="square", features="spectra", spectrum=power_law(100, 1.5, 0.5)[0],
             teacher=power_law(100, 1.5, 0.5)[1], alpha=0.5, reg=0.01, noise=0.01),
        dict(loss="hinge", features="spectra", spectrum=power_law(50, 2.0, 0.3)[0],
             teacher=power_law(50, 2.0, 0.3)[1], alpha=2.0, reg=0.05, channel="sign"),
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        positive = {"range": (0.0, None), "open": (True, True)}
        non_negative = {"range": (0.0, None), "open": (False, True)}
        return parameter_table(cls, {
            "loss": {"allowed": LOSSES, "doc": "training loss (logistic, hinge: need channel=sign)"},
            "penalty": {"allowed": PENALTIES, "doc": "reg/2 |w|^2"},
            "features": {"allowed": FEATURES, "doc": "random features sigma(F x/sqrt(d)) (Marchenko-Pastur limit) "
                                                     "or Gaussian features with a given spectrum"},
            "activation": {"allowed": ACTIVATIONS, "doc": "random features' activation (default erf; "
                                                          "features=random_features only)"},
            "p_over_d": {**positive, "doc": "number of features per input dimension p/d (default 2; "
                                            "features=random_features only)"},
            "spectrum": {"doc": "eigenvalues omega_k >= 0 of the feature covariance, a tuple (features=spectra)"},
            "teacher": {"doc": "teacher coefficients theta_k in the eigenbasis, a tuple of the spectrum's length "
                               "(features=spectra)"},
            "alpha": {**positive, "doc": "n/d (random features) or n/len(spectrum) (spectra)"},
            "reg": {**positive, "doc": "ridge penalty strength"},
            "channel": {"allowed": CHANNELS, "doc": "teacher: linear or sign (default: sign for logistic, hinge)"},
            "noise": {**non_negative, "doc": "teacher noise variance"},
            "delta": {**positive, "doc": "Huber threshold (loss=huber)"},
            "target_activations": {"doc": "a tuple: the layers' activations of a deep random target, each one of "
                                          f"{', '.join(DEEP_ACTIVATIONS)} (features=random_features; default None: "
                                          "the linear target)"},
            "target_widths": {"doc": "a tuple of k_l/d > 0 for the deep target's layers (simulate only; default 1 "
                                     "each)"}})

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {', '.join(PENALTIES)}; got {self.penalty!r}")
        if self.features not in FEATURES:
            raise ValueError(f"features must be one of {', '.join(FEATURES)}; got {self.features!r}")
        if self.channel is None:
            object.__setattr__(self, "channel", "sign" if self.loss in CLASSIFICATION_LOSSES else "linear")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {self.channel!r}")
        if self.loss in CLASSIFICATION_LOSSES and self.channel != "sign":
            raise ValueError(f"channel must be 'sign' for the classification loss {self.loss!r} (labels +-1); "
                             f"got {self.channel!r}")
        _check_number("alpha", self.alpha, 0.0, strict=True, allowed="> 0")
        _check_number("reg", self.reg, 0.0, strict=True, allowed="> 0")
        _check_number("noise", self.noise, 0.0, strict=False, allowed=">= 0")
        _check_number("delta", self.delta, 0.0, strict=True, allowed="> 0")
        if self.features == "random_features":
            for name in ("spectrum", "teacher"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is a parameter of features='spectra'; it must stay None with "
                                     f"features='random_features'")
            if self.activation is None:
                object.__setattr__(self, "activation", "erf")
            if self.p_over_d is None:
                object.__setattr__(self, "p_over_d", 2.0)
            if self.activation not in ACTIVATIONS:
                raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}")
            _check_number("p_over_d", self.p_over_d, 0.0, strict=True, allowed="> 0")
            k0, k1, ks = kappas(self.activation)
            rho = 1.0
            if self.target_activations is not None:
                acts = _target_activations(self.target_activations)
                object.__setattr__(self, "target_activations", acts)
                if self.target_widths is None:
                    object.__setattr__(self, "target_widths", (1.0,) * len(acts))
                widths = _as_floats("target_widths", self.target_widths)
                if len(widths) != len(acts) or any(w <= 0 for w in widths):
                    raise ValueError(f"target_widths must hold {len(acts)} ratios k_l/d > 0 (one per layer of "
                                     f"target_activations), got {self.target_widths!r}")
                object.__setattr__(self, "target_widths", widths)
                eq = deep_equivalent(acts)
                rho, deep_noise = eq["rho"], eq["noise"]
            elif self.target_widths is not None:
                raise ValueError("target_widths needs target_activations (the deep target's layers)")
            alpha_p = float(self.alpha) / float(self.p_over_d)
            omega = c2 = None
        else:
            for name in ("activation", "p_over_d", "target_activations", "target_widths"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is a parameter of features='random_features'; it must stay None with "
                                     f"features='spectra'")
            if self.spectrum is None or self.teacher is None:
                raise ValueError("features='spectra' needs both spectrum (the eigenvalues of the feature covariance) "
                                 "and teacher (the teacher's coefficients in its eigenbasis)")
            spectrum = _as_floats("spectrum", self.spectrum)
            teacher = _as_floats("teacher", self.teacher)
            if len(teacher) != len(spectrum):
                raise ValueError(f"teacher must have the spectrum's length {len(spectrum)}, got {len(teacher)}")
            object.__setattr__(self, "spectrum", spectrum)
            object.__setattr__(self, "teacher", teacher)
            omega = np.array(spectrum)
            if np.any(omega < 0) or not np.any(omega > 0):
                raise ValueError("spectrum must hold eigenvalues >= 0 of a covariance, not all 0")
            theta = np.array(teacher)
            c2 = omega * omega * theta * theta
            rho = float(np.mean(omega * theta * theta))
            if not (rho > 0 and math.isfinite(rho)):
                raise ValueError(f"the teacher's field variance rho = mean(spectrum * teacher^2) must be finite and "
                                 f"> 0, got {rho!r}")
            for arr in (omega, c2):
                arr.flags.writeable = False
            k0 = k1 = ks = math.nan
            alpha_p = float(self.alpha)
        if self.features == "spectra" or self.target_activations is None:
            deep_noise = 0.0
        object.__setattr__(self, "_rho", rho)
        object.__setattr__(self, "_deep_noise", deep_noise)
        object.__setattr__(self, "_alpha_p", alpha_p)
        object.__setattr__(self, "_kappas", (k0, k1, ks))
        object.__setattr__(self, "_modes", (omega, c2))
        object.__setattr__(self, "_code", loss_code(self.loss))

    def __repr__(self):
        parts = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("target_activations", "target_widths") and v is None:
                continue  # the linear target: reprs (and checkpoint fingerprints) as before
            parts.append(f"{f.name}={_short(v) if f.name in ('spectrum', 'teacher') else repr(v)}")
        return f"GCMERM({', '.join(parts)})"

    # -- internals
    @property
    def rho(self) -> float:
        """The teacher field's variance: 1 (random features) or ``mean(omega theta^2)`` (spectra); with a
        deep target, the variance of its linear part (:func:`deep_equivalent`)."""
        return self._rho

    def _full(self, x):
        """``[m, q, V, m_hat, q_hat, V_hat, Psi_w, train_loss, moreau, train_error]`` at ``x``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (3,):
            raise ValueError(f"the state of gcm_erm is ('m', 'q', 'V'), got shape {x.shape}")
        m, q, V = float(x[0]), float(x[1]), float(x[2])
        rho, noise, delta = self._rho, float(self.noise) + self._deep_noise, float(self.delta)
        glx, glw = _legendre()  # the channel side is glm_erm's, with its rules
        if self.channel == "sign":
            tx, tw = _teacher_rules()
            I = _class_integrals(self._code, T_SIGN, m, q, V, rho, noise, delta, 1.0, 0.0, glx, glw, tx, tw)
        else:
            I = _linear_integrals(self._code, m, q, V, rho, noise, delta, glx, glw)
        ap = self._alpha_p
        m_hat, q_hat, V_hat = ap * I[0], ap * I[1], ap * I[2]
        reg = float(self.reg)
        if self.features == "random_features":
            _, k1, ks = self._kappas
            mn, qn, Vn, psi = _rf_weights(float(self.p_over_d), k1 * k1, ks * ks, rho, reg, m_hat, q_hat, V_hat)
        else:
            omega, c2 = self._modes
            mn, qn, Vn, psi = _spectral_weights(omega, c2, reg, m_hat, q_hat, V_hat)
        return np.array([mn, qn, Vn, m_hat, q_hat, V_hat, psi, I[3], I[4], I[5]])

    # -- protocol
    def solver_coordinates(self):
        """``z = (atanh(m/sqrt(rho q)), log q, log V)`` and back, as in :mod:`equations.glm_erm`."""
        rho = float(self._rho)

        def to_z(x):
            m, q, V = (float(v) for v in x[:3])
            with np.errstate(all="ignore"):
                a = m / math.sqrt(rho * q) if q > 0 else math.nan
                return np.array([math.atanh(a) if abs(a) < 1 else math.nan,
                                 math.log(q) if q > 0 else math.nan, math.log(V) if V > 0 else math.nan])

        def to_x(z):
            a, lq, lV = (float(v) for v in z[:3])
            q = math.exp(lq) if lq < 700 else math.inf
            return np.array([math.tanh(a) * math.sqrt(rho * q), q, math.exp(lV) if lV < 700 else math.inf])

        return to_z, to_x

    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``m = q = 0.01 rho``, ``V = 1`` (the overlap 0.1 of a random start);
        ``"informed"``: ``m = q = rho``, ``V = 1``. Convex: both reach the same fixed point."""
        if isinstance(start, str) and start == "uninformed":
            return np.array([0.01 * self._rho, 0.01 * self._rho, 1.0])
        if isinstance(start, str) and start == "informed":
            return np.array([self._rho, self._rho, 1.0])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """None: the estimator always correlates with the teacher."""
        return None

    def bounds(self):
        """``q >= 0``, ``V > 0`` (``m`` free)."""
        return np.array([-np.inf, 0.0, 0.0]), np.array([np.inf, np.inf, np.inf])

    def update(self, x) -> np.ndarray:
        """One step of the replica equations ``(m, q, V) -> hats -> (m, q, V)``."""
        return self._full(x)[:3].copy()

    def hats(self, x) -> dict[str, float]:
        """``m_hat, q_hat, V_hat`` at the state ``x``."""
        out = self._full(x)
        return {"m_hat": float(out[3]), "q_hat": float(out[4]), "V_hat": float(out[5])}

    def energy(self, x) -> float:
        """The replica energy per feature (module docstring), stationary at the fixed point."""
        m, q, V = (float(v) for v in np.asarray(x, dtype=float)[:3])
        out = self._full(x)
        m_hat, q_hat, V_hat, psi, moreau = out[3], out[4], out[5], out[6], out[8]
        return float(psi + m * m_hat - 0.5 * q * V_hat + 0.5 * V * q_hat + self._alpha_p * moreau)

    def free_entropy(self, x) -> float:
        """``-energy(x)`` (larger is better)."""
        return -self.energy(x)

    def observables(self, x) -> dict[str, float]:
        """``m, q, V, gen_error, train_loss, estimation_error`` (and ``train_error`` for the sign
        teacher). ``gen_error``: ``E (y - yhat)^2 = rho + noise - 2m + q`` (linear teacher) or the
        0/1 error ``arccos(m/sqrt(q (rho + noise)))/pi`` (sign teacher) of a fresh sample;
        ``estimation_error = rho - 2m + q = E (z* - lambda)^2``, the error of the student's field
        against the teacher's noiseless one (``|w - theta|^2_Omega/p`` for spectra). With a deep
        target ``noise`` is ``noise + noise_eff`` in these and the noiseless field is the whole
        network's, of variance ``rho + noise_eff`` (:func:`deep_equivalent`).
        ``train_loss``: the mean training loss at the minimiser. Raises ``ValueError`` outside
        ``m^2 <= rho q``."""
        m, q, V = (float(v) for v in np.asarray(x, dtype=float)[:3])
        rho = self._rho
        if m * m > rho * q * (1.0 + 1e-9) + 1e-300:
            raise ValueError(f"the state violates Cauchy-Schwarz: m^2 = {m * m:.6g} > rho q = {rho * q:.6g}")
        out = self._full(x)
        res = {"m": m, "q": q, "V": V}
        if self.channel == "sign":
            cosang = m / math.sqrt(q * (rho + self.noise + self._deep_noise)) if q > 0 else 0.0
            res["gen_error"] = math.acos(max(-1.0, min(1.0, cosang))) / math.pi
        else:
            res["gen_error"] = rho + self.noise + self._deep_noise - 2.0 * m + q
        res["train_loss"] = float(out[7])
        res["estimation_error"] = rho + self._deep_noise - 2.0 * m + q
        if self.channel == "sign":
            res["train_error"] = float(out[9])
        return res

    def with_params(self, **params) -> "GCMERM":
        return dataclasses.replace(self, **params)

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """The same ERM on one sampled instance: random features with ``d`` inputs and ``p =
        round(p_over_d d)`` features, or (spectra) ``d`` is ignored and the design is Gaussian with
        the given spectrum; see :mod:`equations._simulate.gcm`."""
        from ._simulate.gcm import simulate_gcm

        return simulate_gcm(self, d, seed)
