r"""Gaussian mixtures with single-index labels: ERM and its single-Gaussian equivalent (``mixture_single_index``).

Data (DESIGN.md conventions: ``alpha = n/d``, pre-activations ``x.w/sqrt(d)``). A teacher
``theta* in R^d`` and a second direction ``u`` orthogonal to it, both of squared norm ``d``
(i.i.d. ``N(0, 1)`` entries, orthonormalised). Each sample comes from cloud ``c = 1..K`` with
probability ``weights[c]``::

    x = (a_c theta* + b_c u) / sqrt(d) + sqrt(var_c) z + (eta_1 theta* + eta_2 u) / sqrt(d),
    z ~ N(0, I_d),   eta ~ N(0, C_c),       a_c = mean_par[c],  b_c = mean_perp[c],
    C_c = [[cov_par[c], cov_cross[c]], [cov_cross[c], cov_perp[c]]],

so that cloud ``c`` has mean ``mu_c = (a_c theta* + b_c u)/sqrt(d)`` (``a_c`` its component along
the teacher, ``b_c`` the orthogonal one, ``|mu_c|^2 = a_c^2 + b_c^2``) and covariance ``var_c I_d``
plus the block ``C_c`` in the plane ``(theta*, u)`` (its variance along the teacher is ``var_c +
cov_par[c]``; ``var_c I_2 + C_c`` must be positive semi-definite, with a positive variance along
the teacher, so ``C_c`` may also remove variance). The label is a single-index function of the
teacher field ``nu = theta*.x / sqrt(d)`` whatever the cloud:

* ``channel="linear"``: ``y = nu + sqrt(noise) xi``;
* ``channel="sign"``: ``y = sign(nu + sqrt(noise) xi)``;
* ``channel="random"``: ``y = +-1`` fair coins independent of ``x`` (storage problems).

This is the setting of Pesce, Krzakala, Loureiro, Stephan, "Are Gaussian data all you need?
Extents and limits of universality in high-dimensional generalized linear estimation", ICML 2023
(arXiv 2302.08923): Gaussian-mixture inputs, single-index labels, and the question when a single
Gaussian with the mixture's mean and covariance gives the same test and training errors. Their
answer depends on how the means and covariances of the clouds align with the teacher; here the
alignment is what the parameters state: each cloud's mean components ``(a_c, b_c)`` and covariance
block ``C_c`` in the plane of the teacher and of one orthogonal direction ``u``, and its isotropic
bulk ``var_c`` (means along or orthogonal to the teacher, clouds that differ in their variance
along it). The paper's cluster probabilities, means and covariances are our ``weights[c]``,
``mu_c`` and ``var_c I + C_c``, its penalty strength our ``reg``; our means are normalised so that
``|mu_c|^2 = a_c^2 + b_c^2`` is of order one while each coordinate of the bulk has variance
``var_c`` (the paper's text was not at hand when this was written: compare its normalisation with
this one before comparing numbers).

The estimator minimises ``sum_nu loss(y_nu, x_nu.w/sqrt(d) + b) + reg/2 |w|^2`` (``penalty="l2"``;
``reg |w|_1`` for ``"l1"``), ``b`` an unpenalised bias with ``bias=True`` (0 otherwise); losses
square (every channel), logistic and hinge (``+-1`` labels). Order parameters: ``m = w.theta*/d``,
``m_perp = w.u/d``, ``q = |w|^2/d``, the susceptibility ``V`` and ``b``.

Fields. In cloud ``c`` the teacher field ``nu`` and the field along ``u``, ``beta = u.x/sqrt(d)``,
are jointly Gaussian with means ``(a_c, b_c)`` and covariance ``var_c I_2 + C_c``; the student's
field is ``omega = b + m nu + m_perp beta + sqrt(var_c (q - m^2 - m_perp^2)) xi`` (the part of
``w`` outside the plane sees only the bulk). So ``(nu, omega)`` is bivariate Gaussian: mean
``(a_c, b + m a_c + m_perp b_c)``, ``Var nu = tau_c^2 = var_c + C_aa``, ``Cov(nu, omega) = m tau_c^2 +
m_perp C_ab``, ``Var omega = S_c = var_c (q - m^2 - m_perp^2) + (m, m_perp)(var_c I + C_c)(m,
m_perp)^T``; the proximal variance is ``var_c V`` (the plane is two directions out of ``d``: it does
not enter the trace). With ``f = (prox_{var_c V loss(y,.)}(omega) - omega)/(var_c V)`` and ``E_c``
the average over cloud ``c``, the replica equations (Loureiro, Sicuro, Gerbelot, Pacco, Krzakala,
Zdeborova, "Learning Gaussian mixtures with generalized linear models: precise asymptotics in
high-dimensions", NeurIPS 2021, with covariances ``var_c I + C_c`` and a single-index teacher
shared by the clouds, as in Pesce et al.) are::

    m_hat      = alpha sum_c rho_c ( E_c[f nu]   - var_c m      E_c f' )
    m_perp_hat = alpha sum_c rho_c ( E_c[f beta] - var_c m_perp E_c f' )
    q_hat      = alpha sum_c rho_c var_c E_c f^2
    V_hat      = -alpha sum_c rho_c var_c E_c f'
    0          = sum_c rho_c E_c f                                    (stationarity in b)

and on the weights' side the ridge / soft-thresholding formulas of :mod:`equations.glm_erm` with
the field ``B = m_hat theta* + m_perp_hat u + sqrt(q_hat) g`` (``l2``: ``V = 1/(reg + V_hat)``, ``m =
m_hat V``, ``m_perp = m_perp_hat V``, ``q = (m_hat^2 + m_perp_hat^2 + q_hat) V^2``; ``l1``: the
same with ``V = 2 H(t)/V_hat``). They are the stationarity conditions of the energy::

    e = Psi_w(m_hat, m_perp_hat, q_hat, V_hat) + m m_hat + m_perp m_perp_hat - q V_hat/2 + V q_hat/2
        + alpha sum_c rho_c E_c M_{var_c V}(y, omega)

(``M`` the Moreau envelope; ``e`` is the minimal training objective per dimension), derived with
``d omega / d m = nu - var_c m xi/sqrt(var_c (q - m^2 - m_perp^2))`` and Stein's lemma on ``xi``.
The bias is a fifth state entry, moved by a Newton step on its condition inside the map (as in
``gmm_erm``). ``E_c[f beta]`` reduces to the ``(nu, omega)`` integrals by regressing ``beta`` on
``nu`` (Stein's lemma on the residual): ``E[f beta] = b_c E f + (C_ab/tau^2)(E[f nu] - a_c E f) +
m_perp (var_c + C_bb - C_ab^2/tau^2) E f'``. With ``K = 1``, ``a = b = 0``, ``C = 0`` and ``var = 1``
the equations are those of ``glm_erm`` (``m_perp = 0``; tests: to 1e-10).

Integrals. For ``+-1`` labels the average over ``nu`` given ``omega`` is done in closed form
(``nu | omega`` is Gaussian, ``N(mu(omega), s^2)``): ``P(y = +1 | omega) = H(-mu/sqrt(s^2 +
noise))`` and ``E[nu 1{y = +1} | omega] = mu P(+1 | omega) + s^2 phi(mu/sqrt(s^2 + noise))/sqrt(s^2
+ noise)`` (sign), ``1/2`` and ``mu/2`` (random). The remaining integral over ``omega`` is a
composite 16-node Gauss-Legendre rule on ``+-12`` standard deviations cut at the kinks of the
proximal operators of both labels, at their zero margins (the training error's jumps), at 0 (the
test error's), at the label's transition ``mu(omega) = 0`` and at points around it spaced
geometrically on its width ``sqrt(s^2 + noise) S/|Cov(nu, omega)|`` (so a sharp transition, at a
student nearly aligned with the teacher, is resolved), with panels no wider than 1.5 standard
deviations (1 where the logistic loss bends). For the linear channel (square loss) every average
is a Gaussian moment, in closed form. Tests: against ``scipy.integrate.nquad`` to 1e-9.

Observables: ``m``, ``m_perp``, ``q``, ``V``, ``b``, ``cosine = m/sqrt(q)``; ``gen_error`` (0/1 test
error of ``sign(omega)`` for ``+-1`` labels, ``E (y - omega)^2`` on a fresh noisy label for the
linear channel), ``train_loss`` (mean loss at the minimiser), ``train_error`` (``+-1`` labels:
fraction of training samples with a negative fitted margin; linear channel: the mean squared
training residual ``E (y - z)^2``).

Gaussian equivalent. :meth:`MixtureSingleIndex.gaussian_equivalent` is the same model with one
cloud of the mixture's mean ``sum_c rho_c mu_c`` and covariance ``sum_c rho_c (var_c I + C_c) +
sum_c rho_c (mu_c - mu)(mu_c - mu)^T``: bulk ``sum_c rho_c var_c`` and the rest in the plane, so the
class represents it exactly. ``solve(model)`` against ``solve(model.gaussian_equivalent())`` shows
where universality holds (e.g. means orthogonal to the teacher, symmetric about 0, with equal
covariances: the optimal ``m_perp`` is 0 and both see the same fields) and where it breaks (means
along the teacher: ``nu`` is bimodal in the mixture, Gaussian in the equivalent; clouds that
differ in their variance along the teacher). With random labels the minimal training loss of
clouds sharing one covariance, whatever their means, is that of the Gaussian equivalent (Gerace,
Krzakala, Loureiro, Stephan, Zdeborova, "Gaussian universality of perceptrons with random labels",
Phys. Rev. E 2024, arXiv 2205.13303); clouds of different variances break it (tests).

Least squares, ``reg -> 0``. For the square loss, equal bulk variances ``var_c = var`` and ``alpha >
1`` the equations close: ``var V = 1/(alpha - 1)``, ``(m, m_perp, b)`` solve the population normal
equations of ``y`` on ``(nu, beta)`` (and 1 with a bias), and the mean squared training residual is::

    E_train = (1 - 1/alpha) R,     R = min_{m, m_perp, b} E (y - b - m nu - m_perp beta)^2

(:func:`least_squares_train_error`; 0 for ``alpha < 1``, interpolation), which depends on the data
only through the second moments of ``(y, nu, beta)``: for the linear channel it is the same for
the mixture and its Gaussian equivalent whatever the means (the "strong universality" of the
least-squares training error announced by Pesce et al.; derived here from the equations above and
tested against them, not copied from the paper).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit

from fixedpoint.quadrature import H, phi
from .._registry import parameter_table, register
from ..glm_erm import PENALTIES, _legendre, _omega_kinks, _omega_zero_margin, _prior
from ..losses import LOGISTIC, _loss, _prox_full, loss_code
from .classification import _check_real, _panels

__all__ = ["MixtureSingleIndex", "least_squares_train_error"]

CHANNELS = ("linear", "sign", "random")
LOSSES = ("square", "logistic", "hinge")
#: the losses each channel takes (the classification losses need +-1 labels)
CHANNEL_LOSSES = {"linear": ("square",), "sign": LOSSES, "random": LOSSES}
MAX_CLOUDS = 4
T_LINEAR, T_SIGN, T_RANDOM = 0, 1, 2

_WINDOW = 12.0  # omega window: +-12 standard deviations (Gaussian mass outside: 3.6e-33)
_BEND = 10.0
#: panel ends around the label's transition, in units of its width (H(16) ~ 1e-58: flat beyond)
_TRANSITION = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
# per-cloud integrals: E f, E f^2, E f', E[f nu], E loss, E Moreau, train error, test error
_NI = 8


@njit(cache=True)
def _omega_panels(code, mean, sd, Vc, delta, wstar, wtr):
    """Panel ends of the ``omega`` rule for a cloud: the window ``mean +- 12 sd`` cut at the
    kinks and zero margins of both labels' proximal operators (``+-`` each), at 0, at the label
    transition ``wstar`` and around it at multiples of its width ``wtr`` (``wtr <= 0``: none)."""
    lo = mean - _WINDOW * sd
    hi = mean + _WINDOW * sd
    cuts = np.empty(32)
    kinks = np.empty(4)
    nk = _omega_kinks(code, Vc, delta, kinks)
    k = 0
    for i in range(nk):
        cuts[k] = kinks[i]
        cuts[k + 1] = -kinks[i]
        k += 2
    t0 = _omega_zero_margin(code, Vc, delta)
    cuts[k] = t0
    cuts[k + 1] = -t0
    cuts[k + 2] = 0.0
    k += 3
    if code == LOGISTIC:
        cuts[k] = -Vc - _BEND
        cuts[k + 1] = Vc + _BEND
        k += 2
    if wtr > 0.0:
        cuts[k] = wstar
        k += 1
        for r in _TRANSITION:
            cuts[k] = wstar - r * wtr
            cuts[k + 1] = wstar + r * wtr
            k += 2
    return _panels(cuts, k, lo, hi, sd, code == LOGISTIC, -Vc - _BEND, Vc + _BEND)


@njit(cache=True)
def _label_factors(tcode, mu, s2, noise):
    """``(P(y=+1 | omega), E[nu 1{y=+1} | omega], E[nu 1{y=-1} | omega])`` for ``nu | omega ~
    N(mu, s2)``."""
    if tcode == T_RANDOM:
        return 0.5, 0.5 * mu, 0.5 * mu
    den2 = s2 + noise
    if den2 <= 0.0:
        pp = 1.0 if mu > 0.0 else (0.5 if mu == 0.0 else 0.0)
        return pp, mu * pp, mu * (1.0 - pp)
    den = math.sqrt(den2)
    pp = H(-mu / den)
    g = s2 * phi(mu / den) / den
    return pp, mu * pp + g, mu * (1.0 - pp) - g


@njit(cache=True, error_model="numpy")
def _cloud_integrals(code, tcode, noise, delta, a, tau2, mean, S, K, Vc, glx, glw, out):
    """Write ``[E f, E f^2, E f', E f nu, E loss, E Moreau, train error, test error]`` of one cloud
    to ``out``: ``nu ~ N(a, tau2)``, ``omega`` of mean ``mean``, variance ``S``, ``Cov(nu, omega) = K``,
    proximal variance ``Vc`` (module docstring)."""
    out[:] = 0.0
    if tcode == T_LINEAR:  # square loss, y = nu + sqrt(noise) xi: Gaussian moments
        c = 1.0 + Vc
        r = a - mean
        r2 = r * r + tau2 + noise - 2.0 * K + S
        out[0] = r / c
        out[1] = r2 / (c * c)
        out[2] = -1.0 / c
        out[3] = (tau2 + a * a - K - mean * a) / c
        out[4] = 0.5 * r2 / (c * c)
        out[5] = 0.5 * r2 / c
        out[6] = r2 / (c * c)  # mean squared training residual E (y - z)^2
        out[7] = r2
        return
    if S <= 0.0:  # omega is deterministic (w = 0 outside the label-free part)
        pp, np_, nm = _label_factors(tcode, a, tau2, noise)
        pm = 1.0 - pp
        zp, fp, dfp = _prox_full(code, 1.0, mean, Vc, delta)
        zm, fm, dfm = _prox_full(code, 1.0, -mean, Vc, delta)
        lp = _loss(code, 1.0, zp, delta)
        lm = _loss(code, 1.0, zm, delta)
        out[0] = pp * fp - pm * fm
        out[1] = pp * fp * fp + pm * fm * fm
        out[2] = pp * dfp + pm * dfm
        out[3] = np_ * fp - nm * fm
        out[4] = pp * lp + pm * lm
        out[5] = pp * (lp + 0.5 * Vc * fp * fp) + pm * (lm + 0.5 * Vc * fm * fm)
        out[6] = pp * (1.0 if zp < 0.0 else (0.5 if zp == 0.0 else 0.0)) + pm * (
            1.0 if zm < 0.0 else (0.5 if zm == 0.0 else 0.0))
        out[7] = 0.5 if mean == 0.0 else (pm if mean > 0.0 else pp)
        return
    sd = math.sqrt(S)
    slope = K / S  # E[nu | omega] = a + slope (omega - mean)
    s2 = max(tau2 - K * slope, 0.0)
    wstar = 0.0
    wtr = 0.0
    if tcode == T_SIGN and K != 0.0:
        wstar = mean - a / slope
        wtr = math.sqrt(s2 + noise) / abs(slope)
    t0 = _omega_zero_margin(code, Vc, delta)
    plo, phi_ = _omega_panels(code, mean, sd, Vc, delta, wstar, wtr)
    zprev_p = math.nan
    zprev_m = math.nan
    for p in range(plo.shape[0]):
        half = 0.5 * (phi_[p] - plo[p])
        mid = 0.5 * (plo[p] + phi_[p])
        neg_p = mid < t0  # margin of y = +1 negative (t0 is a panel end)
        neg_m = mid > -t0  # margin of y = -1 negative
        for j in range(glx.shape[0]):
            om = mid + half * glx[j]
            wt = half * glw[j] * phi((om - mean) / sd) / sd
            pp, np_, nm = _label_factors(tcode, a + slope * (om - mean), s2, noise)
            pm = 1.0 - pp
            zp, fp, dfp = _prox_full(code, 1.0, om, Vc, delta, zprev_p)
            zm, fm, dfm = _prox_full(code, 1.0, -om, Vc, delta, zprev_m)
            zprev_p = zp
            zprev_m = zm
            lp = _loss(code, 1.0, zp, delta)
            lm = _loss(code, 1.0, zm, delta)
            # y = -1: f(omega) = -f_+(-omega), f'(omega) = f_+'(-omega)
            out[0] += wt * (pp * fp - pm * fm)
            out[1] += wt * (pp * fp * fp + pm * fm * fm)
            out[2] += wt * (pp * dfp + pm * dfm)
            out[3] += wt * (np_ * fp - nm * fm)
            out[4] += wt * (pp * lp + pm * lm)
            out[5] += wt * (pp * (lp + 0.5 * Vc * fp * fp) + pm * (lm + 0.5 * Vc * fm * fm))
            out[6] += wt * ((pp if neg_p else 0.0) + (pm if neg_m else 0.0))
            out[7] += wt * (pm if mid > 0.0 else pp)


@njit(cache=True, error_model="numpy")
def _msi_step(code, tcode, l1, alpha, reg, noise, delta, bias, clouds, x, glx, glw):
    """The whole map at ``x = (m, m_perp, q, V, b)``: ``[m, m_perp, q, V, b, m_hat, m_perp_hat,
    q_hat, V_hat, Psi_w, train_loss, moreau, train_error, gen_error, E f]``.

    ``clouds[c] = (rho, a, b, var, C_aa, C_ab, C_bb)``.
    """
    m, s, q, V, b = x[0], x[1], x[2], x[3], x[4]
    out = np.full(15, np.nan)
    if not (q >= 0.0 and V >= 0.0 and math.isfinite(q) and math.isfinite(V) and math.isfinite(m)
            and math.isfinite(s) and math.isfinite(b)):
        return out
    I = np.empty(_NI)
    mh = 0.0
    sh = 0.0
    qh = 0.0
    Vh = 0.0
    Ef = 0.0
    Edf = 0.0
    tl = 0.0
    mor = 0.0
    te = 0.0
    ge = 0.0
    for c in range(clouds.shape[0]):
        rho, ac, bc, var, caa, cab, cbb = (clouds[c, 0], clouds[c, 1], clouds[c, 2], clouds[c, 3], clouds[c, 4],
                                          clouds[c, 5], clouds[c, 6])
        tau2 = var + caa
        vb = var + cbb
        mean = b + m * ac + s * bc
        S = var * (q - m * m - s * s) + m * m * tau2 + 2.0 * m * s * cab + s * s * vb
        if S < 0.0:
            S = 0.0  # q >= m^2 + m_perp^2 holds up to rounding at the fixed point
        K = m * tau2 + s * cab
        _cloud_integrals(code, tcode, noise, delta, ac, tau2, mean, S, K, var * V, glx, glw, I)
        Efb = bc * I[0] + (cab / tau2) * (I[3] - ac * I[0]) + s * (vb - cab * cab / tau2) * I[2]
        mh += rho * (I[3] - var * m * I[2])
        sh += rho * (Efb - var * s * I[2])
        qh += rho * var * I[1]
        Vh -= rho * var * I[2]
        Ef += rho * I[0]
        Edf += rho * I[2]
        tl += rho * I[4]
        mor += rho * I[5]
        te += rho * I[6]
        ge += rho * I[7]
    mh *= alpha
    sh *= alpha
    qh *= alpha
    Vh *= alpha
    mn, qn, Vn, psi = _prior(l1, reg, 1.0, mh, qh + sh * sh, Vh)
    out[0] = mn
    out[1] = sh * Vn
    out[2] = qn
    out[3] = Vn
    if bias:
        # Newton step on E f = 0 (d/db E f = E f' <= 0; exact for the square loss), within a trust
        # radius: for the hinge E f' vanishes when no field sits on a kink
        radius = 4.0 * (math.sqrt(max(q, 0.0)) + V) + 0.05
        step = -Ef / Edf if Edf < 0.0 else (radius if Ef > 0.0 else -radius)
        out[4] = b + max(-radius, min(radius, step))
    else:
        out[4] = 0.0
    out[5] = mh
    out[6] = sh
    out[7] = qh
    out[8] = Vh
    out[9] = psi
    out[10] = tl
    out[11] = mor
    out[12] = te
    out[13] = ge
    out[14] = Ef
    return out


def _tuple(name, value, k, *, default=None):
    if value is None and default is not None:
        return (float(default),) * k
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {value!r}") from None
    if arr.ndim != 1 or (k is not None and arr.size != k):
        raise ValueError(f"{name} must be a sequence of {k if k is not None else '1 to 4'} numbers (one per cloud), "
                         f"got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return tuple(float(v) for v in arr)


def least_squares_train_error(model: "MixtureSingleIndex", n_nodes: int = 200) -> float:
    """Closed form of the least-squares training error at ``reg -> 0+`` (module docstring):
    ``(1 - 1/alpha)_+ R``, ``R`` the mean squared error of the best linear predictor of ``y`` from
    ``(nu, beta)`` (and a constant with ``bias=True``), computed from the second moments of ``(y,
    nu, beta)``. Valid for the square loss with equal bulk variances ``var_c``.

    ``E[y nu]``, ``E y`` and ``E y^2`` per cloud: linear ``a, a^2 + tau^2 + noise``...; sign: ``E
    sign(nu + sqrt(noise) xi) = 1 - 2 H(a/sqrt(tau^2 + noise))``, ``E[nu sign(.)] = a (1 - 2H) + 2
    tau^2 phi(a/sqrt(tau^2+noise))/sqrt(tau^2+noise)``, ``E y^2 = 1``; random: 0, 0, 1.
    """
    if model.loss != "square":
        raise ValueError(f"least_squares_train_error needs loss='square', got {model.loss!r}")
    if len(set(model.var)) != 1:
        raise ValueError(f"least_squares_train_error needs equal bulk variances var, got {model.var!r}")
    if model.alpha <= 1.0:
        return 0.0
    # second moments of (1, nu, beta, y)
    G = np.zeros((4, 4))
    for rho, a, bc, var, caa, cab, cbb in model._clouds():
        tau2 = var + caa
        mean = np.array([1.0, a, bc])
        cov = np.array([[0.0, 0.0, 0.0], [0.0, tau2, cab], [0.0, cab, var + cbb]])
        M = cov + np.outer(mean, mean)
        if model.channel == "linear":
            Ey, Eynu, Ey2 = a, tau2 + a * a, tau2 + a * a + model.noise
            Eybeta = cab + a * bc
        elif model.channel == "sign":
            sd = math.sqrt(tau2 + model.noise)
            Ey = 1.0 - 2.0 * float(H(a / sd))
            g = 2.0 * phi(a / sd) / sd
            Eynu = a * Ey + tau2 * g
            Eybeta = bc * Ey + cab * g  # Stein: Cov(beta, y) = Cov(beta, nu) E[dy/dnu]
            Ey2 = 1.0
        else:
            Ey, Eynu, Eybeta, Ey2 = 0.0, 0.0, 0.0, 1.0
        G[:3, :3] += rho * M
        G[3, :3] += rho * np.array([Ey, Eynu, Eybeta])
        G[3, 3] += rho * Ey2
    G[:3, 3] = G[3, :3]
    idx = [0, 1, 2] if model.bias else [1, 2]
    X = G[np.ix_(idx, idx)]
    c = G[3, idx]
    coef = np.linalg.lstsq(X, c, rcond=None)[0]
    R = float(G[3, 3] - c @ coef)
    return (1.0 - 1.0 / model.alpha) * R


@register
@dataclass(frozen=True)
class MixtureSingleIndex:
    """ERM on a mixture of Gaussian clouds with single-index labels: state ``(m, m_perp, q, V, b)``.

    Parameters
    ----------
    loss : {"square", "logistic", "hinge"}
        Training loss (:mod:`equations.losses`); logistic and hinge need ``+-1`` labels.
    penalty : {"l2", "l1"}
        ``reg/2 |w|^2`` or ``reg |w|_1``.
    alpha : float
        Sample ratio ``n / d > 0``.
    reg : float
        Penalty strength ``> 0`` (``>= 0`` for the square loss with ``alpha > 1``).
    channel : {"linear", "sign", "random"}
        Labels ``y = nu + sqrt(noise) xi``, ``sign(nu + sqrt(noise) xi)``, or fair coins.
    noise : float
        Teacher noise variance ``>= 0``.
    weights : tuple of float
        Probabilities ``rho_c > 0`` of the ``K <= 4`` clouds, summing to 1.
    mean_par, mean_perp : tuple of float
        Each cloud's mean component along the teacher (``a_c = theta*.mu_c sqrt(d)/d``) and along
        the orthogonal direction ``u`` (``b_c``).
    var : tuple of float
        Each cloud's isotropic (bulk) variance ``> 0``.
    cov_par, cov_cross, cov_perp : tuple of float, optional
        Each cloud's extra covariance block ``C_c`` in the plane ``(theta*, u)`` (``None``: zeros);
        ``var_c I_2 + C_c`` must be positive semi-definite with ``var_c + cov_par[c] > 0``.
    bias : bool
        Fit an unpenalised bias ``b`` (``b = 0`` otherwise).

    Notes
    -----
    Equations, observables, the Gaussian equivalent and references: module docstring.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> mix = equations.get("mixture_single_index", loss="logistic", channel="sign", alpha=2.0, reg=0.1,
    ...                     mean_par=(1.0, -1.0), mean_perp=(0.0, 0.0))
    >>> e_mix = fixedpoint.solve(mix)["gen_error"]
    >>> e_gauss = fixedpoint.solve(mix.gaussian_equivalent())["gen_error"]   # differ: means along the teacher
    """

    loss: str = "square"
    penalty: str = "l2"
    alpha: float = 2.0
    reg: float = 0.1
    channel: str = "sign"
    noise: float = 0.0
    weights: tuple = (0.5, 0.5)
    mean_par: tuple = (0.0, 0.0)
    mean_perp: tuple = (1.0, -1.0)
    var: tuple = (1.0, 1.0)
    cov_par: tuple | None = None
    cov_cross: tuple | None = None
    cov_perp: tuple | None = None
    bias: bool = False

    name: ClassVar[str] = "mixture_single_index"
    state_names: ClassVar[tuple[str, ...]] = ("m", "m_perp", "q", "V", "b")
    unique_fixed_point: ClassVar[bool] = True
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "reg": r"$\lambda$", "noise": r"$\Delta$", "m": r"$m$",
        "m_perp": r"$m_\perp$", "q": r"$q$", "V": r"$V$", "b": r"bias $b$", "cosine": r"$m/\sqrt{q}$",
        "gen_error": "test error", "train_loss": "training loss", "train_error": "training error",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        dict(loss="logistic", channel="sign", alpha=2.0, reg=0.1, mean_par=(1.0, -1.0), mean_perp=(0.0, 0.0)),
        dict(loss="square", channel="linear", alpha=1.5, reg=0.05, noise=0.1, weights=(0.3, 0.7),
             mean_par=(0.5, -0.2), mean_perp=(1.0, 0.0), var=(1.0, 0.5), cov_par=(0.5, 0.0),
             cov_cross=(0.2, 0.0), cov_perp=(0.0, 0.3)),
        dict(loss="hinge", channel="sign", alpha=3.0, reg=0.05, noise=0.1, weights=(0.25, 0.25, 0.5),
             mean_par=(0.0, 0.0, 0.0), mean_perp=(1.0, -1.0, 0.0), var=(0.5, 0.5, 1.0), bias=True),
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        positive = {"range": (0.0, None), "open": (True, True)}
        return parameter_table(cls, {
            "loss": {"allowed": LOSSES, "doc": "training loss (logistic, hinge: +-1 labels only)"},
            "penalty": {"allowed": PENALTIES, "doc": "reg/2 |w|^2 (l2) or reg |w|_1 (l1)"},
            "alpha": {**positive, "doc": "sample ratio n/d"},
            "reg": {"range": (0.0, None), "open": (False, True),
                    "doc": "penalty strength (0 only for the square loss with alpha > 1)"},
            "channel": {"allowed": CHANNELS, "doc": "labels: nu + noise, sign(nu + noise), or fair coins"},
            "noise": {"range": (0.0, None), "open": (False, True), "doc": "teacher noise variance"},
            "weights": {"doc": f"probabilities of the K <= {MAX_CLOUDS} clouds, > 0, summing to 1 (a JSON list)"},
            "mean_par": {"doc": "each cloud's mean component along the teacher (a JSON list, one per cloud)"},
            "mean_perp": {"doc": "each cloud's mean component along u, orthogonal to the teacher (a JSON list)"},
            "var": {"doc": "each cloud's isotropic variance > 0 (a JSON list)"},
            "cov_par": {"doc": "each cloud's extra variance along the teacher (a JSON list; null: zeros)"},
            "cov_cross": {"doc": "each cloud's extra covariance of the teacher and u directions (null: zeros)"},
            "cov_perp": {"doc": "each cloud's extra variance along u (a JSON list; null: zeros)"},
            "bias": {"allowed": (False, True), "doc": "fit an unpenalised bias b"},
        })

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {', '.join(PENALTIES)}; got {self.penalty!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {self.channel!r}")
        if self.loss not in CHANNEL_LOSSES[self.channel]:
            raise ValueError(f"loss {self.loss!r} is not available with channel={self.channel!r} "
                             f"(allowed: {', '.join(CHANNEL_LOSSES[self.channel])})")
        if not isinstance(self.bias, (bool, np.bool_)):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        object.__setattr__(self, "bias", bool(self.bias))
        inf = dict(lo_open=True, hi_open=True)
        object.__setattr__(self, "alpha", _check_real("alpha", self.alpha, 0.0, None, **inf, what="finite and > 0"))
        object.__setattr__(self, "reg", _check_real("reg", self.reg, 0.0, None, lo_open=False, hi_open=True,
                                                    what="finite and >= 0"))
        object.__setattr__(self, "noise", _check_real("noise", self.noise, 0.0, None, lo_open=False, hi_open=True,
                                                      what="finite and >= 0 (a variance)"))
        w = _tuple("weights", self.weights, None)
        k = len(w)
        if not 1 <= k <= MAX_CLOUDS:
            raise ValueError(f"weights must have 1 to {MAX_CLOUDS} entries (one per cloud), got {self.weights!r}")
        if min(w) <= 0.0 or abs(sum(w) - 1.0) > 1e-9:
            raise ValueError(f"weights must be > 0 and sum to 1, got {self.weights!r}")
        object.__setattr__(self, "weights", w)
        for name in ("mean_par", "mean_perp", "var"):
            object.__setattr__(self, name, _tuple(name, getattr(self, name), k))
        for name in ("cov_par", "cov_cross", "cov_perp"):
            object.__setattr__(self, name, _tuple(name, getattr(self, name), k, default=0.0))
        for c in range(k):
            v, caa, cab, cbb = self.var[c], self.cov_par[c], self.cov_cross[c], self.cov_perp[c]
            if v <= 0.0:
                raise ValueError(f"var must be > 0 (a variance), got {self.var!r}")
            if v + caa <= 0.0 or v + cbb < 0.0 or (v + caa) * (v + cbb) - cab * cab < -1e-12 * (v + caa) * (v + cbb):
                raise ValueError(f"cloud {c}: var I + [[cov_par, cov_cross], [cov_cross, cov_perp]] must be positive "
                                 f"semi-definite with var + cov_par > 0, got var={v}, cov=({caa}, {cab}, {cbb})")
        if self.reg == 0.0 and not (self.loss == "square" and self.alpha > 1.0):
            raise ValueError(f"reg = 0 is allowed only for the square loss with alpha > 1 (a unique minimiser); "
                             f"got loss={self.loss!r}, alpha={self.alpha}. Use a small reg > 0 for the limit")

    # -------------------------------------------------------------- the map
    def _clouds(self) -> np.ndarray:
        return np.ascontiguousarray(np.column_stack([self.weights, self.mean_par, self.mean_perp, self.var,
                                                     self.cov_par, self.cov_cross, self.cov_perp]))

    def _full(self, x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        if x.shape != (5,):
            raise ValueError(f"the state must have 5 entries (m, m_perp, q, V, b), got shape {x.shape}")
        glx, glw = _legendre()
        tcode = CHANNELS.index(self.channel)
        return _msi_step(loss_code(self.loss), tcode, self.penalty == "l1", self.alpha, self.reg, self.noise,
                         1.0, self.bias, self._clouds(), x, glx, glw)

    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``m = 0.01``, ``m_perp = 0``, ``q = V = 1``, ``b = 0`` (a random start's
        chance overlap, at unit norm); ``"informed"``: ``m = q = V = 1``. The problem is convex:
        both reach the same fixed point."""
        if isinstance(start, str) and start == "uninformed":
            return np.array([0.01, 0.0, 1.0, 1.0, 0.0])
        if isinstance(start, str) and start == "informed":
            return np.array([1.0, 0.0, 1.0, 1.0, 0.0])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def bounds(self):
        return np.array([-np.inf, -np.inf, 0.0, 0.0, -np.inf]), np.full(5, np.inf)

    def domain_violation(self, x) -> str | None:
        """``q >= m^2 + m_perp^2`` (Cauchy-Schwarz: ``theta*`` and ``u`` are orthonormal directions)."""
        x = np.asarray(x, dtype=float)
        if x.shape == (5,) and x[2] < (x[0] ** 2 + x[1] ** 2) * (1.0 - 1e-12):
            return f"q = {x[2]:.6g} < m^2 + m_perp^2 = {x[0] ** 2 + x[1] ** 2:.6g}"
        return None

    def update(self, x) -> np.ndarray:
        """One step of the replica equations ``(m, m_perp, q, V, b) -> hats -> (m, m_perp, q, V, b)``."""
        return self._full(x)[:5].copy()

    def hats(self, x) -> dict[str, float]:
        """The conjugate variables at the state ``x``."""
        out = self._full(x)
        return {"m_hat": float(out[5]), "m_perp_hat": float(out[6]), "q_hat": float(out[7]), "V_hat": float(out[8])}

    def energy(self, x) -> float:
        """The replica energy (module docstring): the minimal training objective per dimension at
        the fixed point, stationary there in every entry of the state."""
        m, s, q, V, _ = (float(v) for v in x)
        out = self._full(x)
        return float(out[9] + m * out[5] + s * out[6] - 0.5 * q * out[8] + 0.5 * V * out[7] + self.alpha * out[11])

    def free_entropy(self, x) -> float:
        """``-energy(x)``."""
        return -self.energy(x)

    def observables(self, x) -> dict[str, float]:
        x = np.asarray(x, dtype=float)
        m, s, q, V, b = (float(v) for v in x)
        out = self._full(x)
        return {"m": m, "m_perp": s, "q": q, "V": V, "b": b, "cosine": m / math.sqrt(q) if q > 0 else 0.0,
                "gen_error": float(out[13]), "train_loss": float(out[10]), "train_error": float(out[12])}

    def gaussian_equivalent(self) -> "MixtureSingleIndex":
        """The same model with one Gaussian cloud of the mixture's mean and covariance (module
        docstring): bulk variance ``sum rho_c var_c``, mean ``sum rho_c (a_c, b_c)``, and in the plane
        ``sum rho_c [C_c + (var_c - var) I + (mu_c - mu)(mu_c - mu)^T]``."""
        rho = np.array(self.weights)
        var = float(rho @ np.array(self.var))
        mu = np.column_stack([self.mean_par, self.mean_perp])
        mbar = rho @ mu
        C = np.zeros((2, 2))
        for c in range(len(rho)):
            dv = self.var[c] - var
            d = mu[c] - mbar
            C += rho[c] * (np.array([[self.cov_par[c] + dv, self.cov_cross[c]], [self.cov_cross[c], self.cov_perp[c] + dv]])
                           + np.outer(d, d))
        return dataclasses.replace(self, weights=(1.0,), mean_par=(float(mbar[0]),), mean_perp=(float(mbar[1]),),
                                   var=(var,), cov_par=(float(C[0, 0]),), cov_cross=(float(C[0, 1]),),
                                   cov_perp=(float(C[1, 1]),))

    def field_errors(self, m: float, m_perp: float, q: float, b: float) -> float:
        """The test error of the estimator with overlaps ``(m, m_perp, q)`` and bias ``b`` (the
        ``gen_error`` of :meth:`observables`, at any overlaps: the simulation's exact error)."""
        out = self._full(np.array([m, m_perp, q, 1.0, b]))
        return float(out[13])

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """Fit one instance of size ``d`` (:mod:`equations._simulate.mixture_single_index`) and
        measure ``m, m_perp, q, b`` from the weights, the training loss and error on the data, and
        the exact test error given the weights."""
        from .._simulate.mixture_single_index import simulate_mixture_single_index

        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
            raise ValueError(f"d must be an integer >= 2, got {d!r}")
        return simulate_mixture_single_index(self, int(d), seed)
