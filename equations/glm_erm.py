r"""Empirical risk minimisation in the teacher-student GLM: replica equations ``(m, q, V)``.

Problem (DESIGN.md conventions). Inputs ``x_mu ~ N(0, I_d)``, ``mu = 1..n``, ``alpha = n/d``;
teacher ``w* ~ N(0, rho I_d)``, ``z*_mu = x_mu.w*/sqrt(d)`` and labels

* ``channel="linear"``: ``y = z* + sqrt(noise) xi``;
* ``channel="sign"``:   ``y = sign(z* + sqrt(noise) xi)`` (probit label noise);

the estimator minimises

    sum_mu loss(y_mu, x_mu.w/sqrt(d)) + reg/2 ||w||^2        (penalty="l2")
    sum_mu loss(y_mu, x_mu.w/sqrt(d)) + reg ||w||_1          (penalty="l1")

with the losses of :mod:`equations.losses`. Order parameters: ``m = w.w*/d``, ``q = w.w/d``
and the susceptibility ``V`` (``= tr(Hessian^-1)/d`` for a smooth loss and l2 penalty).

Equations (Aubin, Krzakala, Lu, Zdeborova, NeurIPS 2020, arXiv 2006.06560, eqs. of Sec. 3 and
App. B; Loureiro et al., NeurIPS 2021, with identity covariances). With
``omega = sqrt(q) xi``, ``xi ~ N(0, 1)``, the teacher's field given ``xi`` is
``z* ~ N(omega*, V*)``, ``omega* = (m/sqrt q) xi``, ``V* = rho - m^2/q``, and
``f_out(y, omega) = (prox_{V loss(y,.)}(omega) - omega) / V``:

    m_hat = alpha E[ d/dz* E_{y|z*} f_out(y, omega) ]
    q_hat = alpha E[ f_out(y, omega)^2 ]
    V_hat = -alpha E[ d f_out(y, omega) / d omega ]

and on the prior side, with ``b = m_hat w* + sqrt(q_hat) g`` (variance ``s_b = m_hat^2 rho +
q_hat``),

    l2:  V = 1/(reg + V_hat),  m = m_hat rho V,  q = s_b V^2
    l1:  w = soft(b, reg)/V_hat,  t = reg/sqrt(s_b),  V = 2 H(t)/V_hat,  m = m_hat rho V,
         q = 2 s_b [(1 + t^2) H(t) - t phi(t)] / V_hat^2.

Mapping of the papers' normalisation to ours. Aubin et al. (i.i.d. Gaussian inputs, teacher
``w*`` with ``E w*^2 = rho_{w*}``, penalty ``lambda/2 ||w||^2``, pre-activations scaled so that
``z*`` has variance ``rho_{w*}``) is ours with ``reg = lambda``, ``rho = rho_{w*}``; their ``Sigma``
is our ``V`` and their ``(m_hat, q_hat, Sigma_hat)`` are our hats. Loureiro et al.'s Gaussian
covariate model reduces to these equations with ``Psi = Omega = Phi = I_d``, ``gamma = 1``,
``lambda = reg`` and teacher norm ``rho``. Their l1 counterpart (soft thresholding) is the
prior-side integral written above with a Gaussian teacher.

Teacher integrals in closed form.

* ``sign``: every loss here depends on ``y = +-1`` through ``y z`` (or ``|y - z|``), so
  ``f_out(-1, omega) = -f_out(+1, -omega)``; the label is summed in closed form with
  ``P(y=+1 | xi) = H(-c xi)``, ``c = (m/sqrt q)/sqrt(V* + noise)``, and the Stein derivative in
  ``m_hat`` becomes a Gaussian density ``N(omega*; 0, V* + noise)``:

      m_hat = 2 alpha E_xi[ f_+(omega) exp(-c^2 xi^2/2) / sqrt(2 pi (V* + noise)) ]
      q_hat = 2 alpha E_xi[ H(-c xi) f_+(omega)^2 ]
      V_hat = -2 alpha E_xi[ H(-c xi) f_+'(omega) ]

  The remaining 1-D integral over ``xi`` is done by composite Gauss-Legendre panels (with the
  Gaussian weight) whose break points are the kinks of the proximal operator (hinge: ``omega = 1,
  1 - V``; huber: ``1 +- delta (1+V)``; absolute: ``1 +- V``), the transition of the teacher
  factor (``xi = 0, +-k/c``) and fixed points ``+-0.75 ... +-7`` up to ``|xi| = 10``. On each panel
  the integrand is analytic, so the rule converges exponentially: 16 nodes per panel agree with
  adaptive quadrature to 1e-10 (asserted by the tests; ~1e-15 at ordinary states) and with a
  48-node rule to 5e-13 for ``c`` up to ~1e3, where the teacher factor is a near step.
* ``linear`` with a regression loss (square, huber, absolute): ``f_out`` depends only on the
  residual ``r = y - omega ~ N(0, rho + noise - 2m + q)``, so the hats are 1-D Gaussian
  integrals of piecewise polynomials, evaluated in closed form with ``H`` and ``phi``, and
  ``m_hat = V_hat = alpha E f'(r)``. (The classification losses, logistic and hinge, need
  ``channel="sign"``.)

Energy (zero-temperature free energy) at the state ``x = (m, q, V)`` with the hats of ``x``:

    e = Psi_w(m_hat, q_hat, V_hat) + m m_hat - q V_hat/2 + V q_hat/2 + alpha E[M_V(y, omega)],

``Psi_w = E min_w [V_hat w^2/2 - b w + penalty(w)]``, ``M_V`` the Moreau envelope of the loss.
The fixed point is the stationary point of ``e`` and there ``e`` is the minimal training objective
per dimension (``alpha train_loss + reg q/2`` for l2). :meth:`GLMERM.free_entropy` returns
``-e`` (the engine's "larger wins" convention).

The problem is convex: the fixed point is unique (``unique_fixed_point = True``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from fixedpoint.quadrature import H, phi
from ._registry import register
from .losses import ABSOLUTE, HINGE, HUBER, LOGISTIC, LOSSES, SQUARE, _loss, _prox_full, loss_code

__all__ = ["GLMERM", "separability_threshold", "ridge_closed_form"]

PENALTIES = ("l2", "l1")
CHANNELS = ("linear", "sign")
CLASSIFICATION_LOSSES = ("logistic", "hinge")

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_XI_MAX = 10.0  # |xi| beyond 10 carries Gaussian mass < 1e-22
_N_PANEL = 16  # Gauss-Legendre nodes per panel


@functools.lru_cache(maxsize=8)
def _legendre(n: int = _N_PANEL):
    x, w = np.polynomial.legendre.leggauss(n)
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w)
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


# ----------------------------------------------------------------------------- teacher: sign


@njit(cache=True)
def _omega_kinks(code, V, delta, out):
    """Kinks in ``omega`` of ``prox_{V loss(+1, .)}``; returns how many were written."""
    if code == HINGE:
        out[0] = 1.0
        out[1] = 1.0 - V
        return 2
    if code == HUBER:
        out[0] = 1.0 - delta * (1.0 + V)
        out[1] = 1.0 + delta * (1.0 + V)
        return 2
    if code == ABSOLUTE:
        out[0] = 1.0 - V
        out[1] = 1.0 + V
        return 2
    return 0


@njit(cache=True)
def _omega_zero_margin(code, V, delta):
    """``omega`` at which ``prox_{V loss(+1, .)}(omega) = 0``: ``V * loss'(+1, 0)``."""
    if code == LOGISTIC:
        return -0.5 * V
    if code == HUBER:
        return -V * min(1.0, delta)
    return -V  # square, hinge, absolute: loss'(+1, 0) = -1


@njit(cache=True)
def _sign_breaks(code, q, V, delta, c):
    sq = math.sqrt(q)
    pts = np.empty(40)
    k = 0
    pts[k] = -_XI_MAX
    pts[k + 1] = _XI_MAX
    pts[k + 2] = 0.0
    k += 3
    for a in (0.75, 1.5, 2.5, 3.5, 5.0, 7.0):
        pts[k] = a
        pts[k + 1] = -a
        k += 2
    ac = abs(c)
    if ac > 0.05:
        for a in (0.5, 1.0, 2.0, 4.0, 8.0):
            pts[k] = a / ac
            pts[k + 1] = -a / ac
            k += 2
    if sq > 0.0:
        kinks = np.empty(2)
        nk = _omega_kinks(code, V, delta, kinks)
        for i in range(nk):
            pts[k] = kinks[i] / sq
            k += 1
        pts[k] = _omega_zero_margin(code, V, delta) / sq
        k += 1
    pts = np.sort(pts[:k])
    out = np.empty(k)
    n = 0
    for i in range(k):
        p = pts[i]
        if p < -_XI_MAX or p > _XI_MAX:
            continue
        if n == 0 or p > out[n - 1]:
            out[n] = p
            n += 1
    return out[:n]


@njit(cache=True, error_model="numpy")
def _sign_integrals(code, m, q, V, rho, noise, delta, glx, glw):
    """Teacher ``sign`` channel: ``[I_m, I_q, I_V, train_loss, moreau, train_error]``.

    ``m_hat = alpha I_m``, ``q_hat = alpha I_q``, ``V_hat = alpha I_V``; the other entries are
    the mean loss, mean Moreau envelope and fraction of negative margins at the minimiser.
    """
    res = np.zeros(6)
    if not (q >= 0.0 and V > 0.0):
        res[:] = np.nan
        return res
    sq = math.sqrt(q)
    mq = m / sq if q > 0.0 else 0.0  # teacher field mean per unit xi
    s = rho - mq * mq
    if s < 0.0:
        s = 0.0  # Cauchy-Schwarz m^2 <= rho q holds up to rounding at the fixed point
    s += noise
    s = max(s, 1e-30 * rho)
    c = mq / math.sqrt(s)
    dens = 1.0 / math.sqrt(2.0 * math.pi * s)
    xi0 = _omega_zero_margin(code, V, delta) / sq if q > 0.0 else -math.inf
    br = _sign_breaks(code, q, V, delta, c)
    zprev = math.nan  # the nodes increase: the previous node's prox is a good first guess
    for p in range(br.shape[0] - 1):
        a = br[p]
        b = br[p + 1]
        half = 0.5 * (b - a)
        mid = 0.5 * (a + b)
        left = b <= xi0
        for j in range(glx.shape[0]):
            xi = mid + half * glx[j]
            wt = half * glw[j] * phi(xi)
            z, f, df = _prox_full(code, 1.0, sq * xi, V, delta, zprev)
            zprev = z
            pplus = 2.0 * H(-c * xi)  # factor 2: the y = -1 half by symmetry
            ell = _loss(code, 1.0, z, delta)
            res[0] += wt * 2.0 * f * dens * math.exp(-0.5 * c * c * xi * xi)
            res[1] += wt * pplus * f * f
            res[2] -= wt * pplus * df
            res[3] += wt * pplus * ell
            res[4] += wt * pplus * (ell + 0.5 * V * f * f)
            if left:
                res[5] += wt * pplus
    return res


# ----------------------------------------------------------------------------- teacher: linear


@njit(cache=True, error_model="numpy")
def _linear_integrals(code, m, q, V, rho, noise, delta):
    """Teacher ``linear`` channel, regression losses, closed forms over ``r ~ N(0, sigma^2)``.

    Returns ``[I_m, I_q, I_V, train_loss, moreau, nan]`` as :func:`_sign_integrals`.
    """
    res = np.full(6, np.nan)
    if not (q >= 0.0 and V > 0.0):
        return res
    var = rho + noise - 2.0 * m + q
    if var < 0.0:
        var = 0.0
    sig = math.sqrt(var)
    if code == SQUARE:
        ef2 = var / (1.0 + V) ** 2
        efp = 1.0 / (1.0 + V)
        ell = 0.5 * ef2
    elif code == HUBER:
        thr = delta * (1.0 + V)
        if sig > 0.0:
            a = thr / sig
            Ha = H(a)
            pa = phi(a)
        else:
            a, Ha, pa = math.inf, 0.0, 0.0
        inner = 1.0 - 2.0 * Ha - 2.0 * (a * pa if Ha > 0.0 else 0.0)  # int_{-a}^a u^2 phi
        ef2 = var / (1.0 + V) ** 2 * inner + 2.0 * delta * delta * Ha
        efp = (1.0 - 2.0 * Ha) / (1.0 + V)
        ell = 0.5 * var / (1.0 + V) ** 2 * inner + 2.0 * delta * sig * pa - (V * delta + 0.5 * delta) * delta * 2.0 * Ha
    elif code == ABSOLUTE:
        if sig > 0.0:
            a = V / sig
            Ha = H(a)
            pa = phi(a)
        else:
            a, Ha, pa = math.inf, 0.0, 0.0
        inner = 1.0 - 2.0 * Ha - 2.0 * (a * pa if Ha > 0.0 else 0.0)
        ef2 = var / (V * V) * inner + 2.0 * Ha
        efp = (1.0 - 2.0 * Ha) / V
        ell = 2.0 * sig * pa - 2.0 * V * Ha
    else:
        return res
    res[0] = efp
    res[1] = ef2
    res[2] = efp
    res[3] = ell
    res[4] = ell + 0.5 * V * ef2
    return res


# ----------------------------------------------------------------------------- prior side


@njit(cache=True, error_model="numpy")
def _prior(l1, reg, rho, m_hat, q_hat, V_hat):
    """``(m, q, V, Psi_w)`` from the hats: l2 ridge shrinkage or l1 soft thresholding."""
    s_b = m_hat * m_hat * rho + q_hat
    if not l1:
        den = reg + V_hat
        V = 1.0 / den
        return m_hat * rho * V, s_b * V * V, V, -0.5 * s_b / den
    if reg == 0.0:
        t = 0.0
        Ht = 0.5
        second = 0.5
    else:
        sig = math.sqrt(s_b)
        t = reg / sig if sig > 0.0 else math.inf
        Ht = H(t)
        second = (1.0 + t * t) * Ht - t * phi(t) if Ht > 0.0 else 0.0
    V = 2.0 * Ht / V_hat
    q = 2.0 * s_b * second / (V_hat * V_hat)
    return m_hat * rho * V, q, V, -s_b * second / V_hat


@njit(cache=True, error_model="numpy")
def _step(flags, params, x, glx, glw):
    """The whole map: ``[m, q, V, m_hat, q_hat, V_hat, Psi_w, train_loss, moreau, train_err]``.

    ``flags = (loss code, sign teacher?, l1 penalty?)``, ``params = (alpha, reg, rho, noise, delta)``,
    ``x = (m, q, V)`` (arrays, so that the call from Python is cheap).
    """
    code, sign, l1 = flags[0], flags[1] != 0, flags[2] != 0
    alpha, reg, rho, noise, delta = params[0], params[1], params[2], params[3], params[4]
    m, q, V = x[0], x[1], x[2]
    if sign:
        I = _sign_integrals(code, m, q, V, rho, noise, delta, glx, glw)
    else:
        I = _linear_integrals(code, m, q, V, rho, noise, delta)
    m_hat = alpha * I[0]
    q_hat = alpha * I[1]
    V_hat = alpha * I[2]
    mn, qn, Vn, psi = _prior(l1, reg, rho, m_hat, q_hat, V_hat)
    out = np.empty(10)
    out[0] = mn
    out[1] = qn
    out[2] = Vn
    out[3] = m_hat
    out[4] = q_hat
    out[5] = V_hat
    out[6] = psi
    out[7] = I[3]
    out[8] = I[4]
    out[9] = I[5]
    return out


# ----------------------------------------------------------------------------- helpers


def _G_plus(a):
    """``E_Z (a - Z)_+^2 = (1 + a^2) Phi(a) + a phi(a)``, ``Z ~ N(0, 1)``, vectorised."""
    from scipy.special import ndtr

    return (1.0 + a * a) * ndtr(a) + a * np.exp(-0.5 * a * a) * _INV_SQRT_2PI


@functools.lru_cache(maxsize=256)
def separability_threshold(noise: float, rho: float = 1.0) -> float:
    """Sample ratio ``alpha_sep`` below which the training data are linearly separable.

    For labels ``y = sign(z* + sqrt(noise) xi)`` of Gaussian inputs, the data ``{(x_mu, y_mu)}``
    are separable through the origin w.h.p. iff ``alpha < alpha_sep`` with (Candes and Sur,
    Ann. Stat. 2020, "The phase transition for the existence of the maximum likelihood estimate
    in high-dimensional logistic regression", without intercept; ``kappa = 1/alpha``)

        1/alpha_sep = min_t E (t Y X - Z)_+^2,   X = z* ~ N(0, rho), Z ~ N(0, 1).

    ``alpha_sep = 2`` for pure-noise labels (Cover) and ``+inf`` for noiseless labels. Below it,
    logistic and hinge losses with ``reg = 0`` have no finite minimiser.
    """
    from scipy.optimize import minimize_scalar

    noise = float(noise)
    rho = float(rho)
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    if not (rho > 0 and math.isfinite(rho)):
        raise ValueError(f"rho must be finite and > 0, got {rho}")
    if noise == 0.0:
        return math.inf
    from scipy.special import ndtr

    # X = sqrt(rho) u; Y = +1 w.p. Phi(X/sqrt(noise)); by symmetry E G(tYX) = 2 E_u Phi(.) G(t sqrt(rho) u)
    glx, glw = _legendre(32)
    width = math.sqrt(noise / rho)
    pts = sorted({-_XI_MAX, _XI_MAX, 0.0, *[s * a for s in (-1, 1) for a in (1, 2, 4, 6)],
                  *[s * a * width for s in (-1, 1) for a in (1, 3, 8) if a * width < _XI_MAX]})
    u, wu = [], []
    for a, b in zip(pts[:-1], pts[1:]):
        u.append(0.5 * (a + b) + 0.5 * (b - a) * glx)
        wu.append(0.5 * (b - a) * glw)
    u = np.concatenate(u)
    wu = np.concatenate(wu) * np.exp(-0.5 * u * u) * _INV_SQRT_2PI * 2.0 * ndtr(u / width)
    x = math.sqrt(rho) * u

    def h(t):
        return float(np.dot(wu, _G_plus(t * x)))

    # h is convex in t with h(0) = 1/2; its minimiser is at t <= 0 (labels correlate with X)
    res = minimize_scalar(h, bracket=(-1.0, 0.0), tol=1e-12)
    return 1.0 / min(res.fun, 0.5)


def ridge_closed_form(alpha: float, reg: float, rho: float = 1.0, noise: float = 0.0) -> dict:
    """Ridge regression on a linear teacher from the Marchenko-Pastur resolvent.

    With ``W = X^T X / d`` (``n = alpha d`` rows), ``g = tr(W + reg)^{-1}/d`` is the positive root
    of ``reg g^2 + (reg + alpha - 1) g - 1 = 0`` and ``g' = tr(W + reg)^{-2}/d =
    (g^2 + g)/(2 reg g + reg + alpha - 1)``; then ``V = g``, ``m = rho (1 - reg g)`` and
    ``q = rho (1 - 2 reg g + reg^2 g') + noise (g - reg g')``. Used by tests and the notebook.
    """
    if not reg > 0:
        raise ValueError(f"reg must be > 0 for the closed form, got {reg}")
    b = reg + alpha - 1.0
    g = (-b + math.sqrt(b * b + 4.0 * reg)) / (2.0 * reg)
    gp = (g * g + g) / (2.0 * reg * g + b)
    m = rho * (1.0 - reg * g)
    q = rho * (1.0 - 2.0 * reg * g + reg * reg * gp) + noise * (g - reg * gp)
    return {"m": m, "q": q, "V": g, "estimation_error": rho - 2 * m + q, "gen_error": rho + noise - 2 * m + q}


def _check_number(name, value, low, *, strict, allowed):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number {allowed}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not (v > low if strict else v >= low):
        raise ValueError(f"{name} must be a finite real number {allowed}, got {value!r}")


# ----------------------------------------------------------------------------- the model


@register
@dataclass(frozen=True)
class GLMERM:
    """Empirical risk minimisation on a teacher-student GLM: state ``(m, q, V)``.

    Parameters
    ----------
    loss : {"square", "logistic", "hinge", "huber", "absolute"}
        Training loss ``loss(y, z)`` (see :mod:`equations.losses`); logistic and hinge need
        ``channel="sign"``.
    penalty : {"l2", "l1"}
        ``reg/2 ||w||^2`` or ``reg ||w||_1``.
    alpha : float
        Sample ratio ``n/d > 0``.
    reg : float
        Penalty strength ``>= 0``; ``reg = 0`` needs ``alpha > 1`` (otherwise the minimiser is
        not unique, or its error diverges at ``alpha = 1``).
    channel : {"linear", "sign"}
        Teacher: ``y = z* + sqrt(noise) xi`` or ``y = sign(z* + sqrt(noise) xi)``.
    noise : float
        Teacher noise variance ``>= 0``.
    rho : float
        Teacher norm ``E w*^2 > 0``.
    delta : float
        Huber threshold ``> 0`` (used by ``loss="huber"`` only).

    Equations, normalisation and references: module docstring.
    """

    loss: str = "square"
    penalty: str = "l2"
    alpha: float = 1.0
    reg: float = 1.0
    channel: str = "linear"
    noise: float = 0.0
    rho: float = 1.0
    delta: float = 1.0

    name: ClassVar[str] = "glm_erm"
    state_names: ClassVar[tuple[str, ...]] = ("m", "q", "V")
    unique_fixed_point: ClassVar[bool] = True
    examples: ClassVar[tuple[dict, ...]] = (
        dict(loss="logistic", alpha=2.0, reg=0.1, channel="sign"),
        dict(loss="huber", delta=1.0, channel="linear", noise=0.5, alpha=2.0, reg=0.1),
        dict(loss="square", alpha=0.5, reg=0.01, channel="linear", noise=0.1),
        dict(loss="hinge", alpha=3.0, reg=0.01, channel="sign", noise=0.1),
        dict(loss="absolute", penalty="l1", alpha=1.5, reg=0.2, channel="linear", noise=0.25),
    )

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {', '.join(PENALTIES)}; got {self.penalty!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {self.channel!r}")
        _check_number("alpha", self.alpha, 0.0, strict=True, allowed="> 0")
        _check_number("reg", self.reg, 0.0, strict=False, allowed=">= 0")
        _check_number("noise", self.noise, 0.0, strict=False, allowed=">= 0")
        _check_number("rho", self.rho, 0.0, strict=True, allowed="> 0")
        _check_number("delta", self.delta, 0.0, strict=True, allowed="> 0")
        if self.loss in CLASSIFICATION_LOSSES and self.channel != "sign":
            raise ValueError(f"channel must be 'sign' for the classification loss {self.loss!r} "
                             f"(labels +-1); got {self.channel!r}")
        if self.reg == 0 and self.alpha <= 1:
            raise ValueError(f"reg = 0 needs alpha > 1: with n <= d samples and no penalty the minimiser "
                             f"is not unique (alpha < 1) or its error diverges (alpha = 1); got "
                             f"alpha = {self.alpha}. Use reg > 0 (the limit reg -> 0+ is the "
                             f"minimum-norm interpolator / max-margin solution)")
        # the kernel's scalar arguments, converted once (update is called thousands of times)
        flags = np.array([loss_code(self.loss), self.channel == "sign", self.penalty == "l1"], dtype=np.int64)
        params = np.array([self.alpha, self.reg, self.rho, self.noise, self.delta], dtype=np.float64)
        flags.flags.writeable = False
        params.flags.writeable = False
        object.__setattr__(self, "_args", (flags, params))

    # -- internals
    def _no_minimiser(self) -> bool:
        """Separable data with an unpenalised logistic/hinge loss: no finite minimiser."""
        return (self.reg == 0 and self.loss in CLASSIFICATION_LOSSES
                and self.alpha < separability_threshold(float(self.noise), float(self.rho)))

    def _full(self, x):
        glx, glw = _legendre()
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (3,):
            raise ValueError(f"the state of glm_erm is (m, q, V), got shape {x.shape}")
        return _step(self._args[0], self._args[1], x, glx, glw)

    # -- protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``m = 0.01 rho, q = 0.01 rho, V = 1`` (a small overlap with the teacher,
        as a random initialisation has); ``"informed"``: ``m = q = rho``, ``V = 1``. The problem
        is convex, so both reach the same fixed point."""
        if isinstance(start, str) and start == "uninformed":
            return np.array([0.01 * self.rho, 0.01 * self.rho, 1.0])
        if isinstance(start, str) and start == "informed":
            return np.array([float(self.rho), float(self.rho), 1.0])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """None: ERM always correlates with the teacher, ``m = 0`` is not a fixed point."""
        return None

    def bounds(self):
        """``q >= 0``, ``V > 0`` (``m`` free; ``m^2 <= rho q`` is checked by :meth:`explain`)."""
        return np.array([-np.inf, 0.0, 0.0]), np.array([np.inf, np.inf, np.inf])

    def update(self, x) -> np.ndarray:
        """One step of the replica equations ``(m, q, V) -> hats -> (m, q, V)``."""
        if self.reg == 0 and self._no_minimiser():
            return np.full(3, np.nan)  # reported by the engine, explained by explain()
        return self._full(x)[:3].copy()

    def hats(self, x) -> dict[str, float]:
        """The conjugate variables ``m_hat, q_hat, V_hat`` at the state ``x``."""
        out = self._full(np.asarray(x, dtype=float))
        return {"m_hat": float(out[3]), "q_hat": float(out[4]), "V_hat": float(out[5])}

    def energy(self, x) -> float:
        """Replica energy ``e(x)`` (module docstring): the training objective per dimension at the
        fixed point, stationary there."""
        m, q, V = (float(v) for v in x)
        out = self._full(np.asarray(x, dtype=float))
        m_hat, q_hat, V_hat, psi, moreau = out[3], out[4], out[5], out[6], out[8]
        return float(psi + m * m_hat - 0.5 * q * V_hat + 0.5 * V * q_hat + self.alpha * moreau)

    def free_entropy(self, x) -> float:
        """``-energy(x)`` (zero-temperature free entropy; larger is better)."""
        return -self.energy(x)

    def observables(self, x) -> dict[str, float]:
        """``m, q, V, gen_error, train_loss, estimation_error`` (and ``train_error`` for
        ``channel="sign"``): classification error ``arccos(m / sqrt(q (rho + noise)))/pi`` of a
        fresh noisy label, or the regression error ``rho + noise - 2m + q``. Raises ``ValueError``
        at a state outside the Cauchy-Schwarz domain ``m^2 <= rho q`` (no estimator has it)."""
        m, q, V = (float(v) for v in x)
        if m * m > self.rho * q * (1.0 + 1e-9) + 1e-300:
            raise ValueError(f"the state violates Cauchy-Schwarz: m^2 = {m * m:.6g} > rho q = {self.rho * q:.6g}")
        out = self._full(np.asarray(x, dtype=float))
        res = {"m": m, "q": q, "V": V}
        if self.channel == "sign":
            cosang = m / math.sqrt(q * (self.rho + self.noise)) if q > 0 else 0.0
            res["gen_error"] = math.acos(max(-1.0, min(1.0, cosang))) / math.pi
        else:
            res["gen_error"] = self.rho + self.noise - 2.0 * m + q
        res["train_loss"] = float(out[7])
        res["estimation_error"] = self.rho - 2.0 * m + q
        if self.channel == "sign":
            res["train_error"] = float(out[9])
        return res

    def explain(self, x) -> str | None:
        """Why a solve failed, when the physics knows: separable data without penalty, or a state
        that violates ``m^2 <= rho q``."""
        if self._no_minimiser():
            a_sep = separability_threshold(float(self.noise), float(self.rho))
            return (f"The training data are linearly separable at this alpha (alpha = {self.alpha:g} < "
                    f"alpha_sep = {a_sep:.6g}): loss={self.loss!r} with reg=0 has no finite minimiser "
                    f"(the norm of w diverges); use reg > 0.")
        x = np.asarray(x, dtype=float)
        if x.shape == (3,) and np.all(np.isfinite(x)) and x[0] ** 2 > self.rho * x[1] * (1 + 1e-8):
            return (f"The state violates Cauchy-Schwarz (m^2 = {x[0] ** 2:.6g} > rho q = {self.rho * x[1]:.6g}).")
        if self.penalty == "l1" and x.shape == (3,) and np.all(x == 0.0):
            return ("The l1 penalty set every weight to zero (the fraction of non-zero weights underflowed): the "
                    "estimator is w = 0 at this reg; use a smaller reg.")
        if self.penalty == "l1" and x.shape == (3,) and np.all(np.isfinite(x)) and x[1] >= 0 and x[2] > 0:
            out = self._full(x)
            s_b = out[3] ** 2 * self.rho + out[4]
            if s_b > 0 and self.reg > 0:
                frac = 2.0 * float(H(self.reg / math.sqrt(s_b)))
                if frac < 1e-6 or not np.all(np.isfinite(out[:3])):
                    lp = (" With a piecewise-linear loss and an l1 penalty (a linear programme) the equations are "
                          "degenerate when almost every weight is zero." if self.loss in ("hinge", "absolute") else "")
                    return (f"The l1 penalty sets almost every weight to zero at this reg (fraction of non-zero "
                            f"weights 2H(reg/sqrt(m_hat^2 rho + q_hat)) = {frac:.3g} near the last state): the "
                            f"estimator is w = 0 to that accuracy; use a smaller reg.{lp}")
        return None

    def with_params(self, **params) -> "GLMERM":
        return dataclasses.replace(self, **params)

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """The same ERM solved on one sampled instance of dimension ``d`` (``n = round(alpha d)``);
        see :mod:`equations._simulate.erm`."""
        from ._simulate.erm import simulate_erm

        return simulate_erm(self, d, seed)
