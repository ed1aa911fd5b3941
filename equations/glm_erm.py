r"""Empirical risk minimisation in the teacher-student GLM: replica equations ``(m, q, V)``.

Problem (DESIGN.md conventions). Inputs ``x_mu ~ N(0, I_d)``, ``mu = 1..n``, ``alpha = n/d``;
teacher ``w* ~ N(0, rho I_d)``, ``z*_mu = x_mu.w*/sqrt(d)`` and labels

* ``channel="linear"``: ``y = z* + sqrt(noise) xi``;
* ``channel="sign"``:   ``y = sign(z* + sqrt(noise) xi)`` (probit label noise);
* ``channel="outliers"``: ``y = (1 - c)(z* + sqrt(noise_in) xi) + c (beta z* + sqrt(noise_out) xi)``,
  ``c ~ Bernoulli(eps)`` (a fraction ``eps`` of outliers from a teacher scaled by ``beta``;
  Vilucchio, Troiani, Erba, Krzakala, "Asymptotic characterisation of robust empirical risk
  minimisation performance in the presence of outliers", 2023, arXiv 2305.18974, whose
  ``(Delta_in, Delta_out, epsilon, beta)`` are our ``(noise_in, noise_out, eps, beta)`` at
  ``rho = 1``; their Huber parameter ``a`` is our ``delta``, their ``Sigma`` our ``V``);
* ``channel="logit"``:  ``y = +-1`` with ``P(y = +1 | z*) = sigmoid(gamma (z* + sqrt(noise) xi))``
  (``gamma > 0``, default 1; Sur and Candes's logistic model with ``gamma_CS^2 = Var(x.beta)
  = gamma^2 rho``);
* ``channel="random"``: ``y = +-1`` fair coins independent of the teacher (storage problems; then
  ``m = m_hat = 0`` and ``gen_error = 1/2``);

the estimator minimises::

    sum_mu loss(y_mu, x_mu.w/sqrt(d)) + reg/2 ||w||^2        (penalty="l2")
    sum_mu loss(y_mu, x_mu.w/sqrt(d)) + reg ||w||_1          (penalty="l1")

with the losses of :mod:`equations.losses` (with ``bias=True`` an unpenalised intercept ``b`` is
added to every pre-activation, ``loss(y_mu, x_mu.w/sqrt(d) + b)``; with ``beta0`` the +-1 labels
are drawn from the channel at ``z* + beta0``); the hinge takes a margin ``kappa = margin > 0``
(default 1), ``max(0, kappa - y z)``. (``margin = 0`` is refused: that loss is positively
homogeneous and its minimiser is ``w = 0`` for every ``reg``. With an l2 penalty a margin is a
rescaling, ``w(kappa, reg) = kappa w(1, kappa reg)``; with ``channel="random"`` and ``reg -> 0+``
the norm ``q = kappa^2 / kappa_max(alpha)^2`` reaches 1 at Gardner's capacity
:func:`gardner_capacity`.) Order parameters: ``m = w.w*/d``, ``q = w.w/d``
and the susceptibility ``V`` (``= tr(Hessian^-1)/d`` for a smooth loss and l2 penalty).

Equations (Aubin, Krzakala, Lu, Zdeborova, NeurIPS 2020, arXiv 2006.06560, eqs. of Sec. 3 and
App. B; Loureiro et al., NeurIPS 2021, with identity covariances). With
``omega = sqrt(q) xi``, ``xi ~ N(0, 1)``, the teacher's field given ``xi`` is
``z* ~ N(omega*, V*)``, ``omega* = (m/sqrt q) xi``, ``V* = rho - m^2/q``, and
``f_out(y, omega) = (prox_{V loss(y,.)}(omega) - omega) / V``::

    m_hat = alpha E[ d/dz* E_{y|z*} f_out(y, omega) ]
    q_hat = alpha E[ f_out(y, omega)^2 ]
    V_hat = -alpha E[ d f_out(y, omega) / d omega ]

and on the prior side, with ``b = m_hat w* + sqrt(q_hat) g`` (variance ``s_b = m_hat^2 rho +
q_hat``)::

    l2:  V = 1/(reg + V_hat),  m = m_hat rho V,  q = s_b V^2
    l1:  w = soft(b, reg)/V_hat,  t = reg/sqrt(s_b),  V = 2 H(t)/V_hat,  m = m_hat rho V,
         q = 2 s_b [(1 + t^2) H(t) - t phi(t)] / V_hat^2

(``2 H(t)`` is the fraction of non-zero weights; the bracket ``= E (Z - t)_+^2`` is evaluated
without cancellation at large ``t``).

Mapping of the papers' normalisation to ours. Aubin et al. (i.i.d. Gaussian inputs, teacher
``w*`` with ``E w*^2 = rho_{w*}``, penalty ``lambda/2 ||w||^2``, pre-activations scaled so that
``z*`` has variance ``rho_{w*}``) is ours with ``reg = lambda``, ``rho = rho_{w*}``; their ``Sigma``
is our ``V`` and their ``(m_hat, q_hat, Sigma_hat)`` are our hats. Loureiro et al.'s Gaussian
covariate model reduces to these equations with ``Psi = Omega = Phi = I_d``, ``gamma = 1``,
``lambda = reg`` and teacher norm ``rho``. Their l1 counterpart (soft thresholding) is the
prior-side integral written above with a Gaussian teacher.

Teacher integrals in closed form.

* ``sign`` (and ``logit``, ``random`` below): every loss here depends on ``y = +-1`` through
  ``y z`` (or ``|y - z|``), so
  ``f_out(-1, omega) = -f_out(+1, -omega)``; the label is summed in closed form with
  ``P(y=+1 | xi) = H(-c xi)``, ``c = (m/sqrt q)/sqrt(V* + noise)``, and the Stein derivative in
  ``m_hat`` becomes a Gaussian density ``N(omega*; 0, V* + noise)``::

      m_hat = 2 alpha E_xi[ f_+(omega) exp(-c^2 xi^2/2) / sqrt(2 pi (V* + noise)) ]
      q_hat = 2 alpha E_xi[ H(-c xi) f_+(omega)^2 ]
      V_hat = -2 alpha E_xi[ H(-c xi) f_+'(omega) ]

  The remaining 1-D integral over ``xi`` is done by composite 16-node Gauss-Legendre panels
  (with the Gaussian weight). The line is cut at the kinks of the proximal operator, in ``xi =
  omega/sqrt(q)`` units (hinge: ``omega = 1, 1 - V``; huber: ``1 +- delta (1+V)``; absolute:
  ``1 +- V``) and at the zero-margin point; each piece is integrated over a window that follows
  the Gaussian weight from the piece's end nearest to 0 (``a``) out to ``sqrt(a^2 + 100)``, which
  leaves out less than ``e^-50`` of the piece's own Gaussian mass (:func:`_sign_panels`). So no
  piece is lost to a fixed cut-off: at small ``q`` the Huber kinks lie far out (``xi ~ 13`` at
  ``q = 0.0055``) and carry all of ``V_hat``, which the window keeps to full relative precision.
  Inside a window, panel ends are placed where the Gaussian weight has fallen by fixed factors
  (``xi = +-0.75 ... +-7`` in the bulk, spacing ``~1/a`` far out), at the transition of the
  teacher factor (``+-k/c``) and, for the logistic loss at large ``q``, along its bend. On each
  panel the integrand is analytic, so the rule converges exponentially: the tests check it
  against adaptive quadrature over the whole real line to 1e-10 relative (~1e-14 typically),
  also for hats of order 1e-37.
* ``logit`` and ``random``: the same fold (both teachers are odd, ``P(y=-1 | omega*) = P(y=+1 |
  -omega*)``), with ``H(-c xi)`` replaced by the teacher factor ``W(xi) = P(y=+1 | omega* = mq xi)
  = E_{z ~ N(omega*, V* + noise)} sigmoid(gamma z)`` and the Gaussian density of ``m_hat`` by
  ``dW/d omega* = gamma E[sigmoid(gamma z) sigmoid(-gamma z)]`` (Stein's lemma moved onto the
  teacher)::

      m_hat = 2 alpha E_xi[ f_+(omega) dW/domega* ],  q_hat = 2 alpha E_xi[ W f_+^2 ],  V_hat = -2 alpha E_xi[ W f_+' ]

  ``W`` and its derivative are themselves integrals over the teacher's Gaussian, done by a fixed
  composite Gauss-Legendre rule (:func:`_logit_factor`: the smaller of ``P+-`` directly, so both
  keep their relative precision in the tails; no probit approximation). They depend on
  ``(gamma, omega*, V* + noise)`` only through ``u = gamma |omega*|`` and ``a = gamma sqrt(V* +
  noise)``, for every model: the map reads them from one lazily built, process-wide table of
  ``log P`` and ``log dW`` in ``(u, a)`` (:class:`_LogitTable`, tensor Chebyshev boxes accepted
  at 1e-13 of their scale, the rule itself wherever a box is not accepted or the table ends), which
  makes the map ~15x cheaper than the rule at every node (~0.15 ms instead of ~2.5 ms at ``gamma
  = 2``); the tests check the table against the rule and the model's hats against nested adaptive
  quadrature, also for a sharp teacher (``gamma = 30``) at small ``V``. The random teacher has
  ``W = 1/2``, ``dW = 0``. The hinge margin enters as a shift of the
  argument: ``max(0, kappa - y z)`` is the margin-1 hinge at ``z + 1 - kappa``, so its kinks
  move to ``omega = kappa, kappa - V`` (the zero-margin point ``-V`` does not). The ``logit``
  generalisation error ``P(y != sign omega) = 2 int_0^inf phi(xi) P(y=-1 | mq xi) dxi`` uses the
  same factor.
* ``linear`` with a regression loss (square, huber, absolute): ``f_out`` depends only on the
  residual ``r = y - omega ~ N(0, rho + noise - 2m + q)``, so the hats are 1-D Gaussian
  integrals of piecewise polynomials, evaluated in closed form with ``H`` and ``phi``, and
  ``m_hat = V_hat = alpha E f'(r)``. The forms are written so that nothing cancels
  (:func:`_central_moments`, :func:`_tail_moments`): ``V_hat`` keeps its relative precision when
  the loss's active region holds a tiny fraction of the data. (The classification losses,
  logistic and hinge, need +-1 labels: ``channel`` sign, logit or random.)
* ``outliers`` with a regression loss: given the component, the residual is again Gaussian, so
  the residual is a two-component Gaussian mixture and every hat is the ``eps``-weighted sum of
  the linear closed forms above at the component's residual variance, ``rho + noise_in - 2m +
  q`` (inliers, weight ``1 - eps``) and ``beta^2 rho + noise_out - 2 beta m + q`` (outliers,
  weight ``eps``). The one change is in ``m_hat``: the Stein derivative ``d/dz*`` of an
  outlier's residual ``beta z* + ... - omega`` carries the factor ``beta``, so ``m_hat =
  alpha [(1 - eps) E_in f' + eps beta E_out f']`` while ``V_hat = alpha [(1 - eps) E_in f' +
  eps E_out f']`` (as in the saddle-point equations of Vilucchio et al.).
  :meth:`GLMERM.observables` names the paper's test errors and :func:`outlier_error_floor`
  gives their ``alpha -> infinity`` limits at fixed ``reg``.
* ``loss="tukey"`` (Tukey's biweight with ``tau = delta``; channels ``linear`` and ``outliers``)
  is not convex, and the replica-symmetric equations then hold with the *global* minimiser in
  the proximal operator and as long as the replicon condition holds (Vilucchio, Dandi, Pirio
  Rossignol, Gerbelot, Krzakala, "Asymptotics of non-convex generalized linear models in
  high-dimensions: a proof of the replica formula", 2025, arXiv 2502.20003, who apply it to this
  outlier model). Here they are implemented for ``V < 5/4``, where the proximal problem ``(u -
  r)^2/(2V) + t(u)`` is still strictly convex (``t'' >= -4/5``): the proximal operator is unique
  and Lipschitz, ``r = u + V t'(u)`` is increasing, and the residual integrals are taken over ``u``
  with that Jacobian (:func:`_tukey_moments`, Gauss-Legendre panels). At ``V >= 5/4`` the map
  returns nan and :meth:`GLMERM.explain` says why (the proximal operator jumps there, which these
  formulas do not handle). :meth:`GLMERM.observables` adds the ``replicon`` ``alpha E[(d f_out/
  d omega)^2] E[(d prox_w/d b)^2]``: the replica-symmetric fixed point is stable (and the
  prediction is that of the global minimiser) only while it is ``< 1``. The energy is still
  stationary at the fixed point; ``unique_fixed_point`` is assumed as for the convex losses.

Teacher offset and fitted bias. With ``beta0 != 0`` or ``bias=True`` the two labels no longer fold
onto one: at each node both ``P(y=+1 | mq xi + beta0)`` with the prox at ``sqrt(q) xi + b`` and
``P(y=-1 | -mq xi + beta0)`` with the prox at ``sqrt(q) xi - b`` are summed (two proximal
operators per node, both sets of kinks cut; :func:`_class_integrals`). The bias is an order
parameter: the state is ``(m, q, V, b)``, and ``b`` is stationary where ``E f_out(y, omega + b) =
0`` (the derivative of the energy in ``b``). The map updates it by one Newton step on that
condition, ``b <- b + E f_out / E[-f_out']`` (``E[-f_out'] = V_hat/alpha``), whose derivative in
``b`` vanishes at the fixed point, so the bias converges with the rest and no nested root solve is
needed. The step is capped at ``max(10, 2 |b|)`` (:func:`_bias_step`: far from the fixed point
``E[-f_out']`` can be tiny, and the hinge's bias once overflowed); a capped step vanishes only
where the Newton step does, so the fixed points are unchanged. For the logit teacher Candes and Sur's intercept is ``beta0_CS = gamma beta0``.

Energy (zero-temperature free energy) at the state ``x = (m, q, V)`` with the hats of ``x``::

    e = Psi_w(m_hat, q_hat, V_hat) + m m_hat - q V_hat/2 + V q_hat/2 + alpha E[M_V(y, omega)],

``Psi_w = E min_w [V_hat w^2/2 - b w + penalty(w)]``, ``M_V`` the Moreau envelope of the loss.
The fixed point is the stationary point of ``e`` and there ``e`` is the minimal training objective
per dimension (``alpha train_loss + reg q/2`` for l2). :meth:`GLMERM.free_entropy` returns
``-e`` (the engine's "larger wins" convention).

The problem is convex: the fixed point is unique (``unique_fixed_point = True``). (Tukey's loss
is not; the engine still treats its fixed point as unique, and the tests check that both starts
reach the same point where the replicon is below 1.)

Hard regimes for the iteration (the map is the replica map above, iterated as is):

* Huber loss with a small ``delta`` and an l1 penalty that keeps few weights: ``V_hat`` depends
  on ``q`` like ``exp(-xi_k^2/2)`` (``xi_k`` the kink in standard deviations), which gives the map
  an eigenvalue of order ``-xi_k^2``; an undamped solve can overshoot to a state where no data
  point is in the quadratic region (``V_hat`` underflows, the update is infinite).
  :meth:`GLMERM.explain` says so; ``fixedpoint.Damped(damping=0.9)`` converges there.
* Max margin (hinge, ``reg -> 0``, noiseless labels, large ``alpha``): the norm grows like
  ``alpha`` (``q ~ 0.99 alpha^2``), the plain map raises ``q`` by ~1 per step on the way up
  (hence the uninformed start at that norm, :meth:`GLMERM.initial_state`), the state sits
  ``1 - m^2/(rho q) ~ 6e-5`` (``alpha = 200``) from perfect alignment, where the map depends on
  ``m`` through the square root of that gap, and ``V`` is fixed only through ``reg V = 1 -
  alpha P(margin < 1)`` (``3e-5`` there): the slowest mode contracts by 0.998 per step and the map
  is linear only over relative changes of ``m`` below ~1e-6. Single solves at ``alpha = 120, 200``
  converge (tests); sweeps in ``alpha`` are the robust route.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit
from numpy.polynomial import chebyshev as _cheb

from fixedpoint.quadrature import H, phi, sigmoid, sorted_copy
from ._registry import parameter_table, register
from .losses import (ABSOLUTE, HINGE, HUBER, LOGISTIC, LOSSES, NONCONVEX_LOSSES, SQUARE, TUKEY, _loss, _prox_full,
                     _tukey, _tukey_curv, _tukey_psi, loss_code)


def _is_custom_loss(loss) -> bool:
    """Whether ``loss`` is an :class:`equations.custom.CustomLoss`. That module needs Numba's cfunc
    machinery at import, so it is imported by whoever builds a custom loss, never here: if it is
    not imported, ``loss`` cannot be one."""
    custom = sys.modules.get("equations.custom")
    return custom is not None and isinstance(loss, custom.CustomLoss)


__all__ = ["GLMERM", "separability_threshold", "gardner_capacity", "ridge_closed_form", "outlier_error_floor"]

PENALTIES = ("l2", "l1")
CHANNELS = ("linear", "sign", "logit", "random", "outliers")
CLASSIFICATION_LOSSES = ("logistic", "hinge")
OUTLIER_LOSSES = ("square", "huber", "absolute", "tukey")
FLOOR_LOSSES = ("square", "huber", "absolute")  # convex: outlier_error_floor's argument holds
TUKEY_V_MAX = 1.25  # Tukey: the proximal problem is convex (unique prox) for V < 5/4

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
#: codes of the teachers with +-1 labels in the kernels (``channel`` sign, logit, random)
T_SIGN, T_LOGIT, T_RANDOM = 0, 1, 2
LABEL_CHANNELS = ("sign", "logit", "random")
_XI_MAX = 10.0  # separability_threshold: |u| beyond 10 carries Gaussian mass < 1e-22 of the whole
_T_CUT = 50.0  # each xi window stops where the Gaussian mass beyond is < e^-50 of the piece's
_XI_UNDERFLOW = 38.5  # phi(xi) = 0 in double precision beyond
_N_PANEL = 16  # Gauss-Legendre nodes per panel
_N_TEACHER = 10  # ... and per panel of the logit teacher's own integral (_logit_factor)
_N_HERMITE = 48  # Gauss-Hermite nodes of the logit teacher's integral when its sigmoid is gentle


@functools.lru_cache(maxsize=8)
def _legendre(n: int = _N_PANEL):
    x, w = np.polynomial.legendre.leggauss(n)
    x = np.ascontiguousarray(x)
    w = np.ascontiguousarray(w)
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


@functools.lru_cache(maxsize=1)
def _teacher_rules():
    """The logit teacher's rules in one array each: 10-node Gauss-Legendre (its panels), then
    48-node Gauss-Hermite for ``N(0, 1)`` (weights summing to 1) for a gentle sigmoid."""
    x10, w10 = _legendre(_N_TEACHER)
    hx, hw = np.polynomial.hermite_e.hermegauss(_N_HERMITE)
    x = np.ascontiguousarray(np.concatenate([x10, hx]))
    w = np.ascontiguousarray(np.concatenate([w10, hw / math.sqrt(2.0 * math.pi)]))
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


@functools.lru_cache(maxsize=1)
def _rules():
    """The xi panels' 16-node rule followed by the logit teacher's rules (:func:`_teacher_rules`)."""
    x16, w16 = _legendre(_N_PANEL)
    tx, tw = _teacher_rules()
    x = np.concatenate([x16, tx])
    w = np.concatenate([w16, tw])
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
def _add_point(pts, k, r, wlo, whi):
    """Append the panel end ``r`` to ``pts[:k]`` when it lies strictly inside the window
    ``(wlo, whi)``; returns the new count."""
    if wlo < r < whi:
        pts[k] = r
        k += 1
    return k


@njit(cache=True)
def _sign_panels(code, q, V, delta, c, shift=0.0, bshift=0.0, xc=0.0):
    """Integration panels ``(lo, hi)`` over ``xi`` for :func:`_sign_integrals`.

    The integrand is ``phi(xi)`` times a teacher factor (``H(-c xi)``, or a Gaussian of width
    ``1/|c|`` in ``m_hat``) times functions of the proximal operator that are analytic between
    its kinks. The real line is cut into *pieces* at the kinks ``k/sqrt(q)`` and at the
    zero-margin point (where the training-error indicator jumps). Each piece is integrated over
    a window that follows the Gaussian weight from the piece's end nearest to ``xi = 0`` (its
    inner end ``a``; ``a = 0`` for the piece containing 0) out to ``reach = sqrt(a^2 + 2T)``,
    ``T = 50``. Since ``d log H(x)/dx <= -x``, ``H(reach) <= e^-T H(a)``: the Gaussian mass
    left out is below ``e^-50 ~ 2e-22`` *of the mass of the same piece*, wherever the piece is,
    so a piece far out (the Huber kinks at ``xi ~ 13`` when ``q`` is small) keeps its whole
    contribution. On a piece the prox factors are polynomials of degree <= 2 in ``xi`` (or
    bounded, logistic) and the teacher factor grows outward by at most a factor 2, so what each
    piece loses is below ``~2e-22 (1 + reach^2)`` of its absolute integral. A piece whose inner
    end is beyond ``|xi| = 38.5`` has ``phi = 0`` in double precision and contributes 0 (it
    carries less than the smallest double).

    Panel ends inside a window: where the Gaussian weight has fallen by ``e^-u``, ``u = 0.28,
    1.125, 3.125, 6.125, 12.5, 24.5``, from the inner end (``xi = sqrt(a^2 + 2u)``: for ``a = 0``
    the bulk grid ``0.75, 1.5, 2.5, 3.5, 5, 7``; far out a spacing ``~1/a``, the scale of the
    weight there); the same levels on the scale ``1/sqrt(1 + c^2)`` on a side where the teacher
    factor decays outward; the transition of the teacher factor, ``+-(0.5, 1, 2, 4, 8)/|c|``;
    for the logistic loss when ``sqrt(q) > 4``, the points where the prox crosses ``z = +-(0.5,
    ..., 45)`` (its bend, which is then narrower than the bulk grid). 16 nodes per panel then
    agree with 64 to ~1e-15.

    With a fitted bias ``b`` (``bshift``) the two labels see the prox at ``omega +- b`` (after the
    fold): both sets of kinks and zero-margin points are cut, and the teacher's transition sits
    at ``xi = -+xc``, ``xc = beta0/mq`` (an offset ``beta0`` of the teacher).
    """
    sq = math.sqrt(q)
    kinks = np.empty(6)
    nk = 0
    if sq > 0.0:
        tmp = np.empty(2)
        n = _omega_kinks(code, V, delta, tmp)
        for sg in (1.0, -1.0):
            if sg < 0.0 and bshift == 0.0:
                break
            for i in range(n):
                kinks[nk] = (tmp[i] - shift - sg * bshift) / sq  # a hinge margin moves its kinks (not its zero)
                nk += 1
            kinks[nk] = (_omega_zero_margin(code, V, delta) - sg * bshift) / sq
            nk += 1
    kinks = sorted_copy(kinks[:nk])
    ac = abs(c)
    # logistic: resolve its bend when one unit of omega is narrower than 1/4 in xi (16 nodes on a
    # 0.75-wide panel resolve a sigmoid of that width to ~1e-20: its poles are pi/4 away)
    bend_min = 4.0
    lo = np.empty(7 * 96)
    hi = np.empty(7 * 96)
    npan = 0
    pts = np.empty(96)
    for p in range(nk + 1):
        a = -math.inf if p == 0 else kinks[p - 1]
        b = math.inf if p == nk else kinks[p]
        if not b > a:
            continue  # coinciding kinks: an empty piece
        if a >= 0.0:
            inner = a
        elif b <= 0.0:
            inner = -b
        else:
            inner = 0.0
        if inner > _XI_UNDERFLOW:
            continue
        reach = math.sqrt(inner * inner + 2.0 * _T_CUT)
        wlo = max(a, -reach)
        whi = min(b, reach)
        # pts[2:k]: the panel ends inside the window (an int64, not the literal 2, which would
        # compile a second specialisation of _add_point)
        k = np.int64(2)
        for u in (0.28125, 1.125, 3.125, 6.125, 12.5, 24.5):
            r = math.sqrt(inner * inner + 2.0 * u)
            k = _add_point(pts, k, r, wlo, whi)
            k = _add_point(pts, k, -r, wlo, whi)
        k = _add_point(pts, k, 0.0, wlo, whi)
        if ac > 0.05:
            for cen in (-xc, xc):
                for t in (0.5, 1.0, 2.0, 4.0, 8.0):
                    r = t / ac
                    k = _add_point(pts, k, cen + r, wlo, whi)
                    k = _add_point(pts, k, cen - r, wlo, whi)
                if xc == 0.0:
                    break
                k = _add_point(pts, k, cen, wlo, whi)
        side = 1.0 if a >= 0.0 else (-1.0 if b <= 0.0 else 0.0)
        if side * c < -2.0:
            # away from 0 on the side where the teacher factor decays, the integrand falls like
            # phi(sqrt(1 + c^2) xi): the same levels on that faster scale
            for u in (0.28125, 1.125, 3.125, 6.125, 12.5, 24.5):
                r = side * math.sqrt(inner * inner + 2.0 * u / (1.0 + c * c))
                k = _add_point(pts, k, r, wlo, whi)
        if code == LOGISTIC and sq > bend_min:
            # the logistic prox bends where |z| ~ 1 (z = prox), i.e. over |omega - omega_0| of
            # order 1 + V/4, with poles of sigmoid(-z) at distance pi in z: panel ends where
            # z = +-(0.5, 1.5, 3, 6, 12, 24, 45) (sigmoid(-45) ~ 3e-20), mapped back through
            # omega = z - V sigmoid(-z)
            for t in (0.5, 1.5, 3.0, 6.0, 12.0, 24.0, 45.0):
                for zz in (-t, t):
                    r = (zz - V * sigmoid(-zz)) / sq
                    k = _add_point(pts, k, r - bshift / sq, wlo, whi)
                    if bshift != 0.0:
                        k = _add_point(pts, k, r + bshift / sq, wlo, whi)
        # panels between the sorted points; a point closer to its neighbour than a tenth of its
        # distance from the inner end is dropped (grid and teacher points that nearly coincide
        # would only add slivers: the panel it joins widens by < 10 %)
        ip = a if a >= 0.0 else (b if b <= 0.0 else 0.0)
        srt = sorted_copy(pts[2:k])
        last = wlo
        for i in range(srt.shape[0]):
            r = srt[i]
            d = 0.1 * abs(r - ip)
            if r - last <= d or whi - r <= d:
                continue
            lo[npan] = last
            hi[npan] = r
            npan += 1
            last = r
        lo[npan] = last
        hi[npan] = whi
        npan += 1
    return lo[:npan], hi[:npan]


@njit(cache=True)
def _logit_factor(mu, s, gamma, glx, glw, pts, hx, hw):
    """``(P+, P-, dP+/dmu)`` of the logit teacher, ``P+ = E_t sigmoid(gamma (mu + sqrt(s) t))``,
    ``t ~ N(0, 1)``, ``P- = 1 - P+``, each to relative precision (also far in the tails).

    The smaller of ``P+-`` is integrated (``P-(mu) = P+(-mu)``), the other is one minus it; the
    derivative is ``gamma E[sigmoid(x) sigmoid(-x)]`` (no cancellation). Both integrands
    ``phi(t) sigmoid(-gamma |mu| + a t)`` and ``phi(t) sigmoid(x) sigmoid(-x)``, ``a = gamma sqrt(s)``,
    are log-concave with ``-(log)'' >= 1`` and their modes lie in ``[0, U]``, ``U = min(a,
    max(t0, a/2))``, ``t0 = |mu|/sqrt(s)`` the sigmoid's transition; so the window ``[-8.5, U +
    8.5]`` leaves out less than ``~1e-16 (1 + a)`` of either integral. Composite Gauss-Legendre
    panels: ends on a Gaussian grid around 0 and around ``U`` (``+-0.9, 2.3, 4, 6``), and, where
    the sigmoid is steep on the Gaussian's scale (``a > 0.5``), at ``t0 +- 0.7 * 2.5^k / a``: the
    sigmoid's poles sit ``pi/a`` off the real axis above ``t0``, and panels that grow
    geometrically away from it keep each one well inside its analyticity ellipse. ``pts`` is a
    work buffer (>= 80 entries). Accuracy against mpmath: tests.

    When the sigmoid is gentle on the Gaussian's scale, ``a <= 1.1`` (its poles ``pi/a >= 2.9``
    off the real axis), the Gauss-Hermite rule ``(hx, hw)`` (48 nodes, weights summing to 1) is
    used instead: measured against mpmath (``mu`` from -20 to 3) it is within 6e-14 relative of
    the smaller probability and of the derivative there, at a fifth of the panels' cost.
    """
    if s <= 0.0:
        p = sigmoid(gamma * mu)
        pm = sigmoid(-gamma * mu)
        return p, pm, gamma * p * pm
    rs = math.sqrt(s)
    a = gamma * rs
    amu = abs(mu)
    if a <= 1.1:
        S = 0.0
        D = 0.0
        for j in range(hx.shape[0]):
            x = a * hx[j] - gamma * amu
            sp = sigmoid(x)
            S += hw[j] * sp
            D += hw[j] * sp * sigmoid(-x)
        D *= gamma
        if mu >= 0.0:
            return 1.0 - S, S, D
        return S, 1.0 - S, D
    t0 = amu / rs
    U = min(a, max(t0, 0.5 * a))
    lo = -8.5
    hi = U + 8.5
    k = 0
    for g in (-6.0, -4.0, -2.3, -0.9, 0.9, 2.3, 4.0, 6.0):
        if lo < g < hi:
            pts[k] = g
            k += 1
        r = U + g
        if U > 0.45 and lo < r < hi:
            pts[k] = r
            k += 1
    if a > 0.5:
        step = 0.7 / a
        while step < hi - lo and k < pts.shape[0] - 2:
            r = t0 - step
            if lo < r < hi:
                pts[k] = r
                k += 1
            r = t0 + step
            if lo < r < hi:
                pts[k] = r
                k += 1
            step *= 2.5
    for i in range(1, k):  # insertion sort of the few panel ends (no allocation)
        v = pts[i]
        j = i - 1
        while j >= 0 and pts[j] > v:
            pts[j + 1] = pts[j]
            j -= 1
        pts[j + 1] = v
    S = 0.0
    D = 0.0
    last = lo
    minw = 0.05 / max(a, 1.0)  # slivers between nearly coinciding ends are merged
    for i in range(k + 1):
        b = pts[i] if i < k else hi
        if i < k and b - last < minw:
            continue
        half = 0.5 * (b - last)
        mid = 0.5 * (b + last)
        for j in range(glx.shape[0]):
            t = mid + half * glx[j]
            w = half * glw[j] * math.exp(-0.5 * t * t)
            x = a * t - gamma * amu
            sp = sigmoid(x)
            S += w * sp
            D += w * sp * sigmoid(-x)
        last = b
    S *= _INV_SQRT_2PI
    D *= gamma * _INV_SQRT_2PI
    if mu >= 0.0:
        return 1.0 - S, S, D
    return S, 1.0 - S, D


@njit(cache=True)
def _teacher_factor(tcode, mu, s, gamma, glx, glw, pts):
    """``(P(y=+1), P(y=-1), dP(y=+1)/dmu)`` given the teacher's mean field ``mu`` and its
    variance ``s`` (``V* + noise``): probit ``H(-mu/sqrt s)``, logit (:func:`_logit_factor`) or
    random labels (1/2, independent of ``mu``)."""
    if tcode == T_SIGN:
        rs = math.sqrt(s)
        u = mu / rs
        return H(-u), H(u), phi(u) / rs
    if tcode == T_LOGIT:
        # tx, tw: the 10-node Gauss-Legendre rule of the panels, then the 48-node Gauss-Hermite rule
        return _logit_factor(mu, s, gamma, glx[:_N_TEACHER], glw[:_N_TEACHER], pts, glx[_N_TEACHER:],
                             glw[_N_TEACHER:])
    return 0.5, 0.5, 0.0


@njit(cache=True)
def _logit_factor_tab(mu, gamma, tab, ok, edges):
    """``(hit, P+, P-, dP+/dmu)`` of the logit teacher read from the per-map slice ``tab`` of the
    universal table (:class:`_LogitTable`); ``hit`` is False where the slice does not cover ``u =
    gamma |mu|`` (or its piece is not interpolated): the caller computes the factor there.

    ``tab[i, :, 0]`` and ``tab[i, :, 1]``: Chebyshev coefficients in ``u`` on ``[edges[i], edges[i + 1]]``
    of ``log p`` and ``log d`` at this map's ``a = gamma sqrt(s)``, where ``p(u, a) = E_t
    sigmoid(-u + a t)`` is the smaller of ``P+-`` and ``d(u, a) = E_t sigmoid(x) sigmoid(-x)``
    (``dP+/dmu = gamma d``); ``ok[i]`` says whether piece ``i`` is interpolated.
    """
    u = gamma * abs(mu)
    nb = tab.shape[0]
    if u < edges[nb]:
        i = 0
        j = nb
        while j - i > 1:  # edges[i] <= u < edges[j]
            k = (i + j) // 2
            if u >= edges[k]:
                i = k
            else:
                j = k
    else:
        i = nb
    if not (i < nb and ok[i]):
        return False, 0.0, 0.0, 0.0
    t = (2.0 * u - edges[i] - edges[i + 1]) / (edges[i + 1] - edges[i])
    n = tab.shape[1]
    b1 = 0.0
    b2 = 0.0
    c1 = 0.0
    c2 = 0.0
    for k in range(n - 1, 0, -1):
        b1, b2 = 2.0 * t * b1 - b2 + tab[i, k, 0], b1
        c1, c2 = 2.0 * t * c1 - c2 + tab[i, k, 1], c1
    p = math.exp(t * b1 - b2 + tab[i, 0, 0])
    D = gamma * math.exp(t * c1 - c2 + tab[i, 0, 1])
    if mu >= 0.0:
        return True, 1.0 - p, p, D
    return True, p, 1.0 - p, D


@njit(cache=True)
def _teacher_factor_t(tcode, mu, s, gamma, tx, tw, pts, tab, ok, edges):
    """:func:`_teacher_factor`, the logit teacher's read from ``tab`` where it covers ``mu``."""
    if tcode == T_LOGIT and tab.shape[0] > 0:
        hit, P, Pm, D = _logit_factor_tab(mu, gamma, tab, ok, edges)
        if hit:
            return P, Pm, D
    return _teacher_factor(tcode, mu, s, gamma, tx, tw, pts)


@njit(cache=True)
def _logit_box_values(tcode, us, As, glx, glw):
    """``(log p, log d)`` of :class:`_LogitTable` on the grid ``us x As`` (``gamma = 1``, ``mu = u``,
    ``s = a^2``: the smaller probability at ``mu >= 0`` is ``P-``); ``glx, glw`` the map's rules
    (:func:`_rules`), sliced as :func:`_logit_step` does."""
    n = _N_PANEL
    tx = glx[n:]
    tw = glw[n:]
    pts = np.empty(80)
    out = np.empty((us.shape[0], As.shape[0], 2))
    for i in range(us.shape[0]):
        for j in range(As.shape[0]):
            _, pm, d = _teacher_factor(tcode, us[i], As[j] * As[j], 1.0, tx, tw, pts)
            out[i, j, 0] = math.log(pm) if pm > 0.0 else -math.inf
            out[i, j, 1] = math.log(d) if d > 0.0 else -math.inf
    return out


@njit(cache=True, error_model="numpy")
def _class_integrals(code, tcode, m, q, V, rho, noise, delta, gamma, shift, glx, glw, tx, tw, b=0.0, beta0=0.0):
    """+-1 labels (teacher ``tcode``: sign, logit, random): ``[I_m, I_q, I_V, train_loss, moreau,
    train_error, I_b]``.

    ``m_hat = alpha I_m``, ``q_hat = alpha I_q``, ``V_hat = alpha I_V``; then the mean loss, mean
    Moreau envelope and fraction of negative margins at the minimiser, and ``I_b = E f_out`` (the
    stationarity of a fitted bias ``b``: ``I_b = 0``). ``shift = 1 - margin`` for the hinge
    (``max(0, margin - y z)`` is the margin-1 hinge at ``z + shift``), 0 otherwise. With ``W(mu) =
    P(y=+1 | teacher mean mu)`` and ``D = dW/dmu``, the ``y = -1`` half is mapped onto ``y = +1``
    by ``xi -> -xi`` (every loss depends on ``y z``): at each node ``xi``, ``mu = mq xi``::

        +1: weight W(mu + beta0),  slope D(mu + beta0),  prox at omega = sqrt(q) xi + b + shift
        -1: weight 1 - W(-mu + beta0),  slope D(-mu + beta0),  prox at sqrt(q) xi - b + shift

    ``I_q = E[sum of weight f_+^2]``, ``I_V = -E[sum of weight f_+']``, ``I_m = E[sum of slope
    f_+]``, ``I_b = E[W f_+(+) - (1 - W) f_+(-)]``; without bias and offset both halves coincide
    (one prox per node). ``(glx, glw)``: the Gauss-Legendre rule of the xi panels; ``(tx, tw)``:
    the (shorter) one of the logit teacher's own panels (10 nodes agree with 16 to ~1e-12 there).
    """
    return _class_integrals_t(code, tcode, m, q, V, rho, noise, delta, gamma, shift, glx, glw, tx, tw, b, beta0,
                              np.empty((0, 1, 2)), np.empty(0, dtype=np.bool_), np.zeros(1))


@njit(cache=True, error_model="numpy")
def _class_integrals_t(code, tcode, m, q, V, rho, noise, delta, gamma, shift, glx, glw, tx, tw, b, beta0, tab, ok, edges):
    """:func:`_class_integrals` with the logit teacher's factor read from the table slice ``tab``
    (:func:`_logit_factor_tab`; an empty ``tab`` computes it at every node)."""
    res = np.zeros(7)
    if not (q >= 0.0 and V > 0.0):
        res[:] = np.nan
        return res
    sq = math.sqrt(q)
    mq = m / sq if q > 0.0 else 0.0  # teacher field mean per unit xi
    if tcode == T_RANDOM:
        mq = 0.0  # the labels ignore the teacher
        beta0 = 0.0
    s = rho - mq * mq
    if s < 0.0:
        s = 0.0  # Cauchy-Schwarz m^2 <= rho q holds up to rounding at the fixed point
    s += noise
    s_eff = s
    if tcode == T_LOGIT:
        s = max(s, 0.0)
        s_eff = s + 3.3 / (gamma * gamma)  # the logistic's own width (variance pi^2/3 / gamma^2)
    else:
        s = max(s, 1e-30 * rho)
    c = mq / math.sqrt(s_eff)
    dens = 1.0 / math.sqrt(2.0 * math.pi * s) if s > 0.0 else 0.0
    fold = b == 0.0 and beta0 == 0.0
    om0 = _omega_zero_margin(code, V, delta)
    xc = beta0 / mq if (beta0 != 0.0 and abs(mq) > 1e-300) else 0.0
    plo, phi_ = _sign_panels(code, q, V, delta, c, shift, b, xc)
    pts = np.empty(80)
    zp = math.nan  # the nodes increase: the previous node's prox is a good first guess
    zm = math.nan
    for p in range(plo.shape[0]):
        lo = plo[p]
        hi = phi_[p]
        half = 0.5 * (hi - lo)
        mid = 0.5 * (lo + hi)
        # the panels are cut at the zero-margin points: a panel is wholly left of each or not,
        # decided at its midpoint (its end can land a rounding error on the wrong side)
        left_p = sq * mid + b <= om0 if q > 0.0 else False
        left_m = sq * mid - b <= om0 if q > 0.0 else False
        for j in range(glx.shape[0]):
            xi = mid + half * glx[j]
            wt = half * glw[j] * phi(xi)
            z, f, df = _prox_full(code, 1.0, sq * xi + b + shift, V, delta, zp)
            zp = z
            ell = _loss(code, 1.0, z, delta)
            if fold:
                if tcode == T_SIGN:
                    wp = 2.0 * H(-c * xi)  # factor 2: the y = -1 half by symmetry
                    dp = 2.0 * dens * math.exp(-0.5 * c * c * xi * xi)
                else:
                    P, _, D = _teacher_factor_t(tcode, mq * xi, s, gamma, tx, tw, pts, tab, ok, edges)
                    wp = 2.0 * P
                    dp = 2.0 * D
                res[0] += wt * f * dp
                res[1] += wt * wp * f * f
                res[2] -= wt * wp * df
                res[3] += wt * wp * ell
                res[4] += wt * wp * (ell + 0.5 * V * f * f)
                if left_p:
                    res[5] += wt * wp
                continue
            Pp, _, Dp = _teacher_factor_t(tcode, mq * xi + beta0, s, gamma, tx, tw, pts, tab, ok, edges)
            _, Pm, Dm = _teacher_factor_t(tcode, -mq * xi + beta0, s, gamma, tx, tw, pts, tab, ok, edges)
            z2, f2, df2 = _prox_full(code, 1.0, sq * xi - b + shift, V, delta, zm)
            zm = z2
            ell2 = _loss(code, 1.0, z2, delta)
            res[0] += wt * (f * Dp + f2 * Dm)
            res[1] += wt * (Pp * f * f + Pm * f2 * f2)
            res[2] -= wt * (Pp * df + Pm * df2)
            res[3] += wt * (Pp * ell + Pm * ell2)
            res[4] += wt * (Pp * (ell + 0.5 * V * f * f) + Pm * (ell2 + 0.5 * V * f2 * f2))
            if left_p:
                res[5] += wt * Pp
            if left_m:
                res[5] += wt * Pm
            res[6] += wt * (Pp * f - Pm * f2)
    return res


@njit(cache=True, error_model="numpy")
def _sign_integrals(code, m, q, V, rho, noise, delta, glx, glw):
    """Teacher ``sign`` channel, margin 1: :func:`_class_integrals` with ``tcode = T_SIGN``."""
    return _class_integrals(code, T_SIGN, m, q, V, rho, noise, delta, 1.0, 0.0, glx, glw, glx, glw)


@njit(cache=True)
def _class_gen_error(tcode, mq, s, gamma, glx, glw, xb=0.0, beta0=0.0):
    """``P(y != sign(omega + b))`` for a fresh sample, ``omega = sqrt(q) xi``: ``int phi(xi) [P(y=-1 |
    mq xi + beta0) 1{xi > xb} + P(y=+1 | ...) 1{xi < xb}] dxi`` with ``xb = -b/sqrt(q)``, on
    Gauss-Legendre panels over ``|xi| <= 12`` cut at ``xb`` and at the teacher's transition."""
    return _class_gen_error_t(tcode, mq, s, gamma, glx, glw, xb, beta0, np.empty((0, 1, 2)),
                              np.empty(0, dtype=np.bool_), np.zeros(1))


@njit(cache=True)
def _class_gen_error_t(tcode, mq, s, gamma, glx, glw, xb, beta0, tab, ok, edges):
    """:func:`_class_gen_error` with the logit teacher's factor read from the table slice ``tab``
    (:func:`_logit_factor_tab`; an empty ``tab`` computes it at every node)."""
    if tcode == T_RANDOM:
        return 0.5
    pts = np.empty(80)
    ends = np.empty(40)
    k = 0
    for g in (-9.0, -7.0, -5.0, -3.5, -2.5, -1.5, -0.75, 0.0, 0.75, 1.5, 2.5, 3.5, 5.0, 7.0, 9.0):
        ends[k] = g
        k += 1
    if -12.0 < xb < 12.0:
        ends[k] = xb
        k += 1
    c = abs(mq) / math.sqrt(s + (3.3 / (gamma * gamma) if tcode == T_LOGIT else 0.0))
    if c > 0.05:
        cen = -beta0 / mq
        for t in (-8.0, -4.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0):
            r = cen + t / c
            if -12.0 < r < 12.0:
                ends[k] = r
                k += 1
    srt = sorted_copy(ends[:k])
    tot = 0.0
    last = -12.0
    for i in range(k + 1):
        bnd = srt[i] if i < k else 12.0
        if bnd - last < 1e-9:
            continue
        half = 0.5 * (bnd - last)
        mid = 0.5 * (bnd + last)
        right = mid > xb
        for j in range(_N_TEACHER):  # glx, glw: the teacher's rules (_teacher_rules), 10-node GL first
            xi = mid + half * glx[j]
            Pp, Pm, _ = _teacher_factor_t(tcode, mq * xi + beta0, s, gamma, glx, glw, pts, tab, ok, edges)
            tot += half * glw[j] * phi(xi) * (Pm if right else Pp)
        last = bnd
    return tot


# ----------------------------------------------------------------------------- Gaussian pieces


@njit(cache=True)
def _tail_moments(t):
    """``(H(t), E (Z - t)_+, E (Z - t)_+^2)`` for ``Z ~ N(0, 1)``, ``t >= 0`` (``+inf`` allowed),
    each to full relative precision however far out ``t`` is.

    The closed forms ``phi(t) - t H(t)`` and ``(1 + t^2) H(t) - t phi(t)`` lose about
    ``log10(t^4/2)`` digits to cancellation (6 digits at ``t = 30``). Beyond ``t = 2`` the
    ratios ``r_n = J_n / J_(n-1)`` of ``J_n(t) = E (Z - t)_+^n / n!`` are used instead: from
    ``n J_n = J_(n-2) - t J_(n-1)`` (``J_(-1) = phi``), ``r_(n-1) = 1/(t + n r_n)``, a continued
    fraction evaluated from ``n = 120`` down, where it has converged to rounding for ``t >= 2``;
    every step adds positive numbers.
    """
    if t == math.inf:
        return 0.0, 0.0, 0.0
    h = H(t)
    if t <= 2.0:
        p = phi(t)
        return h, p - t * h, (1.0 + t * t) * h - t * p
    r = 0.0
    r1 = 0.0
    r2 = 0.0
    for n in range(120, 0, -1):
        r = 1.0 / (t + n * r)  # now r = r_(n-1)
        if n == 3:
            r2 = r
        elif n == 2:
            r1 = r
    m1 = h * r1
    return h, m1, 2.0 * m1 * r2


@njit(cache=True)
def _central_moments(a):
    """``(P(|Z| <= a), E[Z^2; |Z| <= a])`` for ``a >= 0`` (``+inf`` allowed), to full relative
    precision also for tiny ``a`` (where ``1 - 2 H(a)`` and ``erf - 2 a phi(a)`` cancel): the
    first by ``erf``, the second by its Taylor series ``2 phi(0) sum_k (-1/2)^k a^(2k+3) /
    (k! (2k+3))`` below ``a = 1``."""
    if a == math.inf:
        return 1.0, 1.0
    p = math.erf(a / math.sqrt(2.0))
    if a >= 1.0:
        return p, p - 2.0 * a * phi(a)
    s = 0.0
    term = a * a * a  # a^(2k+3) (-1/2)^k / k!
    for k in range(30):
        s += term / (2 * k + 3)
        term *= -0.5 * a * a / (k + 1)
    return p, 2.0 * _INV_SQRT_2PI * s


# ----------------------------------------------------------------------------- teacher: linear


@njit(cache=True)
def _tukey_u_at(target, V, tau):
    """``u in [0, tau]`` with ``u + V t'(u) = target`` (monotone for ``V < 5/4``), by bisection."""
    lo = 0.0
    hi = tau
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if mid + V * _tukey_psi(mid, tau) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True, error_model="numpy")
def _tukey_moments(var, V, tau, glx, glw):
    """``(E f', E f^2, E loss, E (df/domega)^2)`` over ``r ~ N(0, var)`` for Tukey's biweight with
    threshold ``tau``; requires ``V < 5/4`` (nan otherwise).

    For ``V < 5/4`` the proximal problem ``(u - r)^2/(2V) + t(u)`` is strictly convex (``t'' >=
    -4/5``), so its minimiser is unique and ``r -> u`` is the inverse of the increasing map ``r(u)
    = u + V t'(u)``: ``u = r`` (``f = 0``) for ``|r| >= tau``, and inside the integrals are taken
    over ``u`` with ``dr = (1 + V t''(u)) du`` (no root finding at the nodes)::

        E f'   = 2 int_0^tau t''(u) p(r(u)) du          (f' = t''/(1 + V t''), times the Jacobian)
        E f^2  = 2 int_0^tau t'(u)^2 (1 + V t'') p du
        E loss = 2 int_0^tau t(u) (1 + V t'') p du + (tau^2/6) 2 H(tau/sigma)
        E f'^2 = 2 int_0^tau t''^2/(1 + V t'') p du

    with ``p`` the density of ``N(0, var)``. Panels end where ``r(u) = sigma (0.75, 1.5, 2.5, 3.5,
    5, 7)`` and the integral stops at ``r = 10 sigma`` (Gaussian mass beyond ``< e^-50``) or at
    ``tau``; for ``E f'^2`` also at ``u_c + (0, +-1, +-2, +-4, +-8) w`` around the dip of ``1 + V
    t''`` (``u_c = tau sqrt(3/5)``, ``w = tau sqrt((1 - 4V/5)/(12 V))``, the distance of its
    complex zeros). On each panel the integrand is analytic, 16 Gauss-Legendre nodes.
    """
    if not V < 1.25:
        return math.nan, math.nan, math.nan, math.nan
    if var < 0.0:
        var = 0.0
    sig = math.sqrt(var)
    if sig == 0.0:
        return 1.0 / (1.0 + V), 0.0, 0.0, 1.0 / (1.0 + V) ** 2
    # the window: u in [0, u_end], u_end = tau, or where r(u) = 10 sigma
    u_end = tau if 10.0 * sig >= tau else _tukey_u_at(10.0 * sig, V, tau)
    pts = np.empty(16)
    n = 0
    for t in (0.75, 1.5, 2.5, 3.5, 5.0, 7.0):
        if t * sig < tau:
            u = _tukey_u_at(t * sig, V, tau)
            if u < u_end:
                pts[n] = u
                n += 1
    # E f'^2 has 1/(1 + V t''), whose dip at u_c = tau sqrt(3/5) (t'' = -4/5) narrows as V -> 5/4:
    # 1 + V t'' ~ (1 - 4V/5) + 12 V (u - u_c)^2/tau^2, poles at distance w from the real axis
    uc = tau * math.sqrt(0.6)
    w = tau * math.sqrt((1.0 - 0.8 * V) / (12.0 * V))
    for k in (0.0, 1.0, -1.0, 2.0, -2.0, 4.0, -4.0, 8.0, -8.0):
        u = uc + k * w
        if 0.0 < u < u_end:
            pts[n] = u
            n += 1
    srt = sorted_copy(pts[:n])
    ends = np.empty(n + 2)
    ends[0] = 0.0
    m_ = 1
    for i in range(n):
        if srt[i] > ends[m_ - 1]:
            ends[m_] = srt[i]
            m_ += 1
    if u_end > ends[m_ - 1]:
        ends[m_] = u_end
        m_ += 1
    n = m_
    efp = 0.0
    ef2 = 0.0
    ell = 0.0
    e2 = 0.0
    inv = 1.0 / sig
    for p in range(n - 1):
        a = ends[p]
        b = ends[p + 1]
        half = 0.5 * (b - a)
        mid = 0.5 * (a + b)
        for j in range(glx.shape[0]):
            u = mid + half * glx[j]
            c = _tukey_curv(u, tau)
            ps = _tukey_psi(u, tau)
            jac = 1.0 + V * c
            dens = half * glw[j] * phi((u + V * ps) * inv) * inv
            efp += c * dens
            ef2 += ps * ps * jac * dens
            ell += _tukey(u, tau) * jac * dens
            e2 += c * c / jac * dens
    Ht, _, _ = _tail_moments(tau * inv)
    return 2.0 * efp, 2.0 * ef2, 2.0 * ell + tau * tau / 3.0 * Ht, 2.0 * e2


@njit(cache=True, error_model="numpy")
def _residual_moments(code, var, V, delta, glx, glw):
    """``(E f'(r), E f(r)^2, E loss(r, prox))`` over ``r ~ N(0, var)`` for a regression loss,
    ``f = (prox - omega)/V`` as a function of the residual ``r = y - omega`` (closed forms, or
    :func:`_tukey_moments`; nan for a loss that is not a function of the residual)."""
    if code == TUKEY:
        efp, ef2, ell, _ = _tukey_moments(var, V, delta, glx, glw)
        return efp, ef2, ell
    if var < 0.0:
        var = 0.0
    sig = math.sqrt(var)
    if code == SQUARE:
        ef2 = var / (1.0 + V) ** 2
        efp = 1.0 / (1.0 + V)
        ell = 0.5 * ef2
    elif code == HUBER:
        # quadratic part |r| <= delta (1+V): f = r/(1+V); linear part: |f| = delta
        thr = delta * (1.0 + V)
        a = thr / sig if sig > 0.0 else math.inf
        pin, inner = _central_moments(a)  # P(|u| <= a), E[u^2; |u| <= a]
        Ha, m1, _ = _tail_moments(a)
        ef2 = var / (1.0 + V) ** 2 * inner + 2.0 * delta * delta * Ha
        efp = pin / (1.0 + V)
        # loss at the prox: r^2/(2(1+V)^2) inside, delta (|r| - V delta) - delta^2/2 outside
        ell = 0.5 * var / (1.0 + V) ** 2 * inner + 2.0 * delta * sig * m1 + delta * delta * Ha
    elif code == ABSOLUTE:
        # |r| <= V: z = y, f = r/V; outside |f| = 1, loss |r| - V
        a = V / sig if sig > 0.0 else math.inf
        pin, inner = _central_moments(a)
        Ha, m1, _ = _tail_moments(a)
        ef2 = var / (V * V) * inner + 2.0 * Ha if sig > 0.0 else 0.0
        efp = pin / V
        ell = 2.0 * sig * m1
    else:
        return math.nan, math.nan, math.nan
    return efp, ef2, ell


@njit(cache=True, error_model="numpy")
def _linear_integrals(code, m, q, V, rho, noise, delta, glx, glw):
    """Teacher ``linear`` channel, regression losses, closed forms over ``r ~ N(0, sigma^2)``.

    Returns ``[I_m, I_q, I_V, train_loss, moreau, nan]`` as :func:`_sign_integrals`.
    """
    res = np.full(6, np.nan)
    if not (q >= 0.0 and V > 0.0):
        return res
    efp, ef2, ell = _residual_moments(code, rho + noise - 2.0 * m + q, V, delta, glx, glw)
    if not efp == efp:
        return res
    res[0] = efp
    res[1] = ef2
    res[2] = efp
    res[3] = ell
    res[4] = ell + 0.5 * V * ef2
    return res


@njit(cache=True, error_model="numpy")
def _outlier_integrals(code, m, q, V, rho, eps, beta, noise_in, noise_out, delta, glx, glw):
    """Teacher ``outliers`` channel (Vilucchio et al. 2023): the eps-weighted sum of the linear
    closed forms of the inliers (residual variance ``rho + noise_in - 2m + q``) and of the
    outliers (``beta^2 rho + noise_out - 2 beta m + q``); the outliers' Stein derivative
    ``d/dz*`` carries the factor ``beta``. Returns ``[I_m, I_q, I_V, train_loss, moreau, nan]``.
    """
    res = np.full(6, np.nan)
    if not (q >= 0.0 and V > 0.0):
        return res
    p_in, f2_in, l_in = _residual_moments(code, rho + noise_in - 2.0 * m + q, V, delta, glx, glw)
    p_out, f2_out, l_out = _residual_moments(code, beta * beta * rho + noise_out - 2.0 * beta * m + q, V, delta,
                                             glx, glw)
    if not (p_in == p_in and p_out == p_out):
        return res
    w_in = 1.0 - eps
    ef2 = w_in * f2_in + eps * f2_out
    ell = w_in * l_in + eps * l_out
    res[0] = w_in * p_in + eps * beta * p_out
    res[1] = ef2
    res[2] = w_in * p_in + eps * p_out
    res[3] = ell
    res[4] = ell + 0.5 * V * ef2
    return res


# ----------------------------------------------------------------------------- prior side


#: the smallest positive normal double (the floor of the l1 susceptibility, see :func:`_prior`)
_TINY = float(np.finfo(np.float64).tiny)


@njit(cache=True, error_model="numpy")
def _prior(l1, reg, rho, m_hat, q_hat, V_hat):
    """``(m, q, V, Psi_w)`` from the hats: l2 ridge shrinkage or l1 soft thresholding."""
    s_b = m_hat * m_hat * rho + q_hat
    if not l1:
        den = reg + V_hat
        V = 1.0 / den
        return m_hat * rho * V, s_b * V * V, V, -0.5 * s_b / den
    if reg == 0.0:
        Ht = 0.5
        second = 0.5
    else:
        sig = math.sqrt(s_b)
        t = reg / sig if sig > 0.0 else math.inf
        Ht, _, second = _tail_moments(t)  # P(|b| > reg)/2 and E (|b|/sig - t)_+^2 / 2
    # V = 2 H(t)/V_hat, floored at the smallest normal double: when the fraction of non-zero
    # weights 2 H(t) underflows (t > 38, an overshooting iterate while reg is large), V = 0 would
    # make the next map undefined (f_out = 0/0) although the fixed point itself, V ~ 2 H(t*)/V_hat
    # at a smaller t*, is representable (e.g. 1e-111); below the floor the exact value is not.
    V = max(2.0 * Ht / V_hat, _TINY)
    q = 2.0 * s_b * second / (V_hat * V_hat)
    return m_hat * rho * V, q, V, -s_b * second / V_hat


@njit(cache=True, inline="always")
def _copy_head(head, out):
    """``out[:head.size] = head`` as a loop: Numba's slice assignment from an array compiles, for
    its shape-mismatch error message, its string formatting (~3 s of CPU of a first solve)."""
    for k in range(head.size):
        out[k] = head[k]


@njit(cache=True, error_model="numpy")
def _sign_step(flags, params, cargs, x, glx, glw):
    """The whole map for a teacher with +-1 labels: ``[m, q, V, m_hat, q_hat, V_hat, Psi_w,
    train_loss, moreau, train_err, I_b, b_next]``; ``cargs = (teacher code, gamma, hinge shift 1 - margin,
    beta0, bias?)``; with a fitted bias the state is ``x = (m, q, V, b)``.

    ``flags = (loss code, sign teacher?, l1 penalty?)``, ``params = (alpha, reg, rho, noise, delta)``,
    ``x = (m, q, V)`` (arrays, so that the call from Python is cheap). One kernel per teacher
    (not one with a branch on ``flags[1]``): a first solve then compiles only the integrals its
    teacher uses.
    """
    rho, noise, delta = params[2], params[3], params[4]
    n = _N_PANEL  # glx, glw: the xi panels' rule, then the teacher's (_rules)
    bias = cargs[4] != 0.0
    b = x[3] if bias else 0.0
    I = _class_integrals(flags[0], np.int64(cargs[0]), x[0], x[1], x[2], rho, noise, delta, cargs[1], cargs[2],
                         glx[:n], glw[:n], glx[n:], glw[n:], b, cargs[3])
    out = np.empty(12)
    _copy_head(_assemble(flags, params, I), out)
    out[10] = I[6]
    out[11] = _bias_step(b, I[6], I[2]) if bias else 0.0
    return out


#: the shortest cap of the bias's Newton step (:func:`_bias_step`)
_BIAS_STEP_MIN = 10.0


@njit(cache=True)
def _bias_step(b, I_b, I_V):
    """The bias's update: a Newton step on its stationarity ``E f_out(y, omega + b) = 0``, whose
    ``b``-derivative is ``E f_out' = -I_V`` (so the map's derivative in ``b`` vanishes at the fixed
    point), no longer than ``max(10, 2 |b|)``. Far from the fixed point ``I_V`` can be tiny (the hinge
    with few points in its active region), and the plain step then overflowed: ``b`` = 1.7, 0.25,
    2.3, -52, 6e22 in five steps from the informed start (hinge, bias, ``alpha = 100``, ``reg = 1``,
    a noiseless logit teacher offset by ``beta0 = 3.16``). A capped step is zero only where the
    Newton step is, so the fixed points stay where they are, and near one the cap does not bind. At
    ``I_V = 0`` (no point at the hinge's kink) the Newton step is undefined: an infinite one is
    capped, a step of the cap's length along ``E f_out``; a NaN one (``0 / 0``) stays NaN, for the
    solver to report. (A cap of ``max(1, |b|)`` stopped the overflow too, but doubled the evaluations of a
    logistic solve whose intercept goes to 2.4, 17 to 30; at ``max(10, 2 |b|)`` eight bias solves,
    logistic, hinge and square losses with intercepts 0.7 to 2.4 from both starts, take the same
    evaluations as without a cap.)"""
    step = I_b / I_V
    cap = max(_BIAS_STEP_MIN, 2.0 * abs(b))
    if abs(step) > cap:
        step = math.copysign(cap, step)
    return b + step


@njit(cache=True)
def _logit_u_extent(code, m, q, V, rho, noise, delta, gamma, shift, b, beta0):
    """``max gamma |mu|`` over the nodes of :func:`_class_integrals_t` for the logit teacher (``mu
    = +-mq xi + beta0`` on the panels of :func:`_sign_panels`): how far in ``u`` the table slice
    must reach."""
    if not (q > 0.0 and V > 0.0):
        return 0.0
    sq = math.sqrt(q)
    mq = m / sq
    s = max(rho - mq * mq, 0.0) + noise
    c = mq / math.sqrt(s + 3.3 / (gamma * gamma))
    xc = beta0 / mq if (beta0 != 0.0 and abs(mq) > 1e-300) else 0.0
    lo, hi = _sign_panels(code, q, V, delta, c, shift, b, xc)
    if lo.shape[0] == 0:
        return 0.0
    return gamma * (abs(mq) * max(abs(lo[0]), abs(hi[-1])) + abs(beta0))


@njit(cache=True, error_model="numpy")
def _logit_step(flags, params, cargs, x, glx, glw, tab, ok, edges):
    """:func:`_sign_step` for the logit teacher, its factor read from the table slice ``tab``
    (:class:`_LogitTable`)."""
    rho, noise, delta = params[2], params[3], params[4]
    n = _N_PANEL
    bias = cargs[4] != 0.0
    b = x[3] if bias else 0.0
    I = _class_integrals_t(flags[0], T_LOGIT, x[0], x[1], x[2], rho, noise, delta, cargs[1], cargs[2],
                           glx[:n], glw[:n], glx[n:], glw[n:], b, cargs[3], tab, ok, edges)
    out = np.empty(12)
    _copy_head(_assemble(flags, params, I), out)
    out[10] = I[6]
    out[11] = _bias_step(b, I[6], I[2]) if bias else 0.0
    return out


class _LogitTable:
    """Universal table of the logit teacher's factor: ``log p(u, a)`` and ``log d(u, a)``, ``p =
    E_t sigmoid(-u + a t)``, ``d = E_t sigmoid(x) sigmoid(-x)`` (``x = -u + a t``, ``t ~ N(0, 1)``),
    for ``u = gamma |mu| >= 0`` and ``a = gamma sqrt(V* + noise) >= 0``.

    Why: at a node ``xi`` of the hat integrals the teacher's factor is ``P+(mu) = E sigmoid(gamma
    (mu + sqrt(s) t))``, a 1-D integral of ~200 sigmoids (:func:`_logit_factor`, ~9 us), needed
    at ~300-600 nodes per map. It depends on ``(gamma, mu, s)`` only through ``(u, a)``, for every
    model, so one lazily built table serves them all. Boxes in ``(u, a)``: ``u`` cut at ``0, 4,
    ..., 64`` and then ``128, 256, ..., 4096`` (far out both logs are nearly linear or quadratic:
    their complex singularities, the zeros of ``p`` and ``d``, lie near ``Re u = 0``, at least
    ``~pi`` off the real axis), ``a`` in unit steps on ``[0, 32]``; each box a tensor Chebyshev
    interpolant of degree 24 x 24 on Chebyshev-Lobatto points (625 evaluations of
    :func:`_logit_factor`, ~6 ms, built the first time a map needs it; the boxes of one ``a`` are
    built in order of ``u``, so the table never depends on the order of the queries). Measured
    Chebyshev tails at degree 24: ~1e-16 of the box's scale. A box is accepted when its last three
    coefficients in each direction are below ``1e-13`` of its largest ``|log|``, else its queries
    compute the factor directly (as do ``u`` and ``a`` beyond the table). The logs keep the
    relative precision of the smaller probability far in its tail. Per map, the boxes of the
    map's ``a`` are contracted in ``a`` (:func:`_contract_a`) to 1-D Chebyshev series in ``u``,
    which the kernel reads (:func:`_logit_factor_tab`): well under a microsecond per node.
    """

    EDGES = np.concatenate([np.arange(0.0, 64.0, 4.0), 64.0 * 2.0 ** np.arange(7)])  # 0, 4, ..., 60, 64, ..., 4096
    WA = 1.0
    A_MAX = 32.0
    DEGREE = 24
    TOL = 1e-13
    MAX_DEPTH = 4

    def __init__(self):
        self._slabs = {}  # ia -> {"boxes": built, "pieces": [(lo, hi, coef)], "arrays": (edges, coef, ok)}
        self._lock = threading.Lock()
        self.evaluations = 0
        self.rejected = 0

    def _build(self, u0, u1, ia):
        """The coefficients ``(n + 1, n + 1, 2)`` of the box ``[u0, u1] x [ia, ia + 1] WA``, or
        ``None`` when its tails miss the tolerance."""
        n = self.DEGREE
        t = np.cos(np.pi * np.arange(n + 1) / n)
        us = 0.5 * (u0 + u1) + 0.5 * (u1 - u0) * t
        As = self.WA * (ia + 0.5 + 0.5 * t)
        glx, glw = _rules()
        vals = _logit_box_values(np.int64(T_LOGIT), us, As, glx, glw)
        self.evaluations += (n + 1) ** 2
        if not np.all(np.isfinite(vals)):
            return None
        coef = np.empty_like(vals)
        for k in range(2):
            cu = _cheb.chebfit(t, vals[:, :, k], n)  # along u, for each a: (n + 1, n + 1)
            coef[:, :, k] = _cheb.chebfit(t, cu.T, n).T  # then along a: coef[u degree, a degree]
            scale = np.max(np.abs(vals[:, :, k]))
            tail = max(np.max(np.abs(coef[-3:, :, k])), np.max(np.abs(coef[:, -3:, k])))
            if not tail <= self.TOL * scale:
                return None
        return coef

    def _pieces(self, u0, u1, ia, depth=0):
        """The box ``[u0, u1]`` (of slab ``ia``) as accepted pieces ``(lo, hi, coef or None)``,
        bisected in ``u`` up to ``MAX_DEPTH`` times where the tails miss the tolerance (e.g. the
        bend of ``log p`` at ``u ~ a^2`` inside a wide far box); a piece still missing it is
        computed directly. Depends on the box only, never on the queries."""
        pieces = []
        stack = [(u0, u1, 0)]
        while stack:  # iterative bisection, left pieces first
            lo, hi, dep = stack.pop()
            coef = self._build(lo, hi, ia)
            if coef is None and dep < self.MAX_DEPTH:
                mid = 0.5 * (lo + hi)
                stack.append((mid, hi, dep + 1))
                stack.append((lo, mid, dep + 1))
                continue
            if coef is None:
                self.rejected += 1
            pieces.append((lo, hi, coef))
        return pieces

    def _slab(self, ia, nbox):
        """Slab ``ia`` with its first ``nbox`` boxes built: ``(edges, coef, ok)`` arrays of its
        pieces (built on demand, in order of ``u``)."""
        slab = self._slabs.get(ia)
        if slab is None or slab["boxes"] < nbox:
            with self._lock:
                slab = self._slabs.get(ia)
                if slab is None:
                    slab = {"boxes": 0, "pieces": [], "arrays": None}
                    self._slabs[ia] = slab
                if slab["boxes"] < nbox:
                    for ib in range(slab["boxes"], nbox):
                        slab["pieces"].extend(self._pieces(float(self.EDGES[ib]), float(self.EDGES[ib + 1]), ia))
                    pcs = slab["pieces"]
                    n = self.DEGREE + 1
                    edges = np.array([p[0] for p in pcs] + [pcs[-1][1]])
                    coef = np.zeros((len(pcs), n, n, 2))
                    ok = np.zeros(len(pcs), dtype=np.bool_)
                    for k, p in enumerate(pcs):
                        if p[2] is not None:
                            coef[k] = p[2]
                            ok[k] = True
                    slab["arrays"] = (edges, coef, ok)
                    slab["boxes"] = nbox
        return slab["arrays"]

    def slice(self, a, u_max):
        """``(tab, ok, edges)`` for :func:`_logit_factor_tab` at ``a``, covering ``u <= u_max``
        (beyond the table the factor is computed); ``tab`` empty when ``a`` is beyond it."""
        if not (0.0 <= a < self.A_MAX) or not math.isfinite(u_max):
            return _EMPTY_TAB, _EMPTY_OK, _EMPTY_EDGES
        ia = int(a / self.WA)
        ta = (2.0 * a - (2.0 * ia + 1.0) * self.WA) / self.WA
        nbox = int(np.searchsorted(self.EDGES, max(u_max, 0.0), side="right"))
        nbox = min(max(nbox, 1), self.EDGES.shape[0] - 1)
        edges, coef, ok = self._slab(ia, nbox)
        npc = int(np.searchsorted(edges, self.EDGES[nbox], side="left"))  # the pieces of the first nbox boxes
        return _contract_a(coef, npc, ta), ok[:npc].copy(), edges[:npc + 1].copy()


@njit(cache=True)
def _contract_a(coef, nu, t):
    """``sum_k coef[i, :, k, :] T_k(t)`` for ``i < nu`` (Clenshaw in the table's ``a`` axis)."""
    n = coef.shape[2]
    out = np.empty((nu, coef.shape[1], coef.shape[3]))
    for i in range(nu):
        for d in range(coef.shape[1]):
            for f in range(coef.shape[3]):
                b1 = 0.0
                b2 = 0.0
                for k in range(n - 1, 0, -1):
                    b1, b2 = 2.0 * t * b1 - b2 + coef[i, d, k, f], b1
                out[i, d, f] = t * b1 - b2 + coef[i, d, 0, f]
    return out


_EMPTY_TAB = np.empty((0, 1, 2))
_EMPTY_OK = np.empty(0, dtype=np.bool_)
_EMPTY_EDGES = np.zeros(1)
#: the process-wide table of the logit teacher's factor (independent of the model)
_LOGIT_TABLE = _LogitTable()


@njit(cache=True, error_model="numpy")
def _linear_step(flags, params, x, glx, glw):
    """The whole map for the ``linear`` teacher (see :func:`_sign_step`; the nodes serve the
    Tukey loss)."""
    rho, noise, delta = params[2], params[3], params[4]
    I = _linear_integrals(flags[0], x[0], x[1], x[2], rho, noise, delta, glx, glw)
    return _assemble(flags, params, I)


@njit(cache=True, error_model="numpy")
def _outlier_step(flags, params, x, glx, glw):
    """The whole map for the ``outliers`` teacher (see :func:`_sign_step`); ``params[5:9] =
    (eps, beta, noise_in, noise_out)``."""
    I = _outlier_integrals(flags[0], x[0], x[1], x[2], params[2], params[5], params[6], params[7], params[8],
                           params[4], glx, glw)
    return _assemble(flags, params, I)


@njit(cache=True, error_model="numpy")
def _assemble(flags, params, I):
    """The student's side from the channel integrals ``I``, and the output of the map."""
    l1 = flags[2] != 0
    alpha, reg, rho = params[0], params[1], params[2]
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


def _G_plus_prime(a):
    """``d/da E_Z (a - Z)_+^2 = 2 (a Phi(a) + phi(a))``, vectorised."""
    from scipy.special import ndtr

    return 2.0 * (a * ndtr(a) + np.exp(-0.5 * a * a) * _INV_SQRT_2PI)


def separability_threshold(noise: float = 0.0, rho: float = 1.0, *, channel: str = "sign", gamma=None,
                           beta0: float = 0.0, bias: bool = False) -> float:
    """Sample ratio ``alpha_sep`` below which the training data are linearly separable.

    Labels ``y = +-1`` of Gaussian inputs drawn from the teacher's field ``X = z* ~ N(0, rho)``
    plus the offset ``beta0``: ``channel="sign"``: ``y = sign(X + beta0 + sqrt(noise) xi)``;
    ``"logit"``: ``P(y = +1 | X) = E_xi sigmoid(gamma (X + beta0 + sqrt(noise) xi))``;
    ``"random"``: ``P(y = +1) = 1/2`` whatever ``X``. The data ``{(x_mu, y_mu)}`` are separable
    w.h.p. iff ``alpha < alpha_sep`` (Candes and Sur, Ann. Stat. 48 (2020), "The phase transition
    for the existence of the maximum likelihood estimate in high-dimensional logistic
    regression", arXiv:1804.09753, Theorem 1; ``kappa = d/n = 1/alpha``)::

        1/alpha_sep = h = min_{t0, t1} E (t0 Y + t1 Y X - Z)_+^2,   Z ~ N(0, 1) independent,

    with ``t0 = 0`` for a hyperplane through the origin (``bias=False``) and free for a fitted
    intercept (``bias=True``). Their logistic model ``P(Y=1 | V) = sigmoid(beta0_CS + gamma_CS V)``,
    ``V ~ N(0, 1)``, is ours with ``gamma_CS = gamma sqrt(rho)`` and ``beta0_CS = gamma beta0``
    (``noise = 0``), and their ``h_MLE(beta0_CS, gamma_CS)`` is ``1/alpha_sep``.

    ``alpha_sep = 2`` for random labels (Cover 1965) and ``+inf`` for noiseless sign labels
    whose hyperplane the estimator can represent (``beta0 = 0``, or ``bias=True``). Below it,
    logistic and hinge losses with ``reg = 0`` have no finite minimiser.

    The old call ``separability_threshold(noise, rho)`` is the probit teacher without offset.
    """
    noise = float(noise)
    rho = float(rho)
    beta0 = float(beta0)
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be finite and >= 0, got {noise}")
    if not (rho > 0 and math.isfinite(rho)):
        raise ValueError(f"rho must be finite and > 0, got {rho}")
    if channel not in LABEL_CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(LABEL_CHANNELS)}; got {channel!r}")
    if gamma is not None and channel != "logit":
        raise ValueError(f"gamma is the logit teacher's parameter: it needs channel='logit', got {channel!r}")
    gamma = 1.0 if gamma is None else float(gamma)
    if not (gamma > 0 and math.isfinite(gamma)):
        raise ValueError(f"gamma must be finite and > 0, got {gamma}")
    if not math.isfinite(beta0):
        raise ValueError(f"beta0 must be finite, got {beta0}")
    if not isinstance(bias, (bool, np.bool_)):
        raise ValueError(f"bias must be True or False, got {bias!r}")
    return _separability_threshold(noise, rho, channel, gamma, beta0, bool(bias))


@functools.lru_cache(maxsize=256)
def _separability_threshold(noise, rho, channel, gamma, beta0, bias):
    from scipy.optimize import minimize, minimize_scalar

    if channel == "random":
        return 2.0  # Y independent of X: the minimum is at t = 0, E (-Z)_+^2 = 1/2 (and t0 = 0 by symmetry)
    if channel == "sign" and noise == 0.0 and (beta0 == 0.0 or bias):
        return math.inf
    # the law of (Y, X): X = sqrt(rho) u on composite Gauss-Legendre panels over |u| <= 10, cut where
    # the label probability moves (the teacher's transition at u_c = -beta0/sqrt(rho))
    glx, glw = _legendre(32)
    uc = -beta0 / math.sqrt(rho)
    width = math.sqrt(noise + (3.3 / gamma ** 2 if channel == "logit" else 0.0)) / math.sqrt(rho)
    cand = {-_XI_MAX, _XI_MAX, 0.0, *[sg * a for sg in (-1, 1) for a in (1, 2, 4, 6)]}
    if -_XI_MAX < uc < _XI_MAX:
        cand.add(uc)
    cand |= {uc + sg * a * width for sg in (-1, 1) for a in (0.25, 1, 3, 8)}
    pts = sorted(p for p in cand if -_XI_MAX <= p <= _XI_MAX)
    u, wu = [], []
    for a, b in zip(pts[:-1], pts[1:]):
        if b - a < 1e-12:
            continue
        u.append(0.5 * (a + b) + 0.5 * (b - a) * glx)
        wu.append(0.5 * (b - a) * glw)
    u = np.concatenate(u)
    wu = np.concatenate(wu) * np.exp(-0.5 * u * u) * _INV_SQRT_2PI
    x = math.sqrt(rho) * u
    if channel == "sign":
        from scipy.special import ndtr

        if noise > 0:
            pplus = ndtr((x + beta0) / math.sqrt(noise))
        else:
            pplus = (x + beta0 > 0).astype(float)
    else:
        buf = np.empty(80)
        tx, tw = _teacher_rules()
        pplus = np.array([_teacher_factor(T_LOGIT, v + beta0, noise, gamma, tx, tw, buf)[0] for v in x])
    wp = wu * pplus
    wm = wu * (1.0 - pplus)

    def h(t):
        t0, t1 = (t[0], t[1]) if bias else (0.0, t[0])
        a = t0 + t1 * x
        return float(np.dot(wp, _G_plus(a)) + np.dot(wm, _G_plus(-a)))

    def grad(t):
        t0, t1 = (t[0], t[1]) if bias else (0.0, t[0])
        a = t0 + t1 * x
        g = wp * _G_plus_prime(a) - wm * _G_plus_prime(-a)
        return np.array([g.sum(), np.dot(g, x)]) if bias else np.array([np.dot(g, x)])

    # h is convex with h(0) = 1/2; its minimiser has t1 <= 0 (labels correlate with X)
    if bias:
        res = minimize(h, np.array([0.0, -0.5]), jac=grad, method="BFGS", options={"gtol": 1e-13})
        val = res.fun
    else:
        res = minimize_scalar(lambda t: h([t]), bracket=(-1.0, 0.0), tol=1e-12)
        val = res.fun
    return 1.0 / min(val, 0.5)


def gardner_capacity(margin: float = 0.0) -> float:
    """Gardner's storage capacity of the spherical perceptron at stability ``margin`` (kappa)::

        alpha_c(kappa) = 1 / int_{-kappa}^inf Dt (t + kappa)^2 = 1 / [(1 + kappa^2) Phi(kappa) + kappa phi(kappa)]

    (E. Gardner, J. Phys. A 21, 257 (1988)); ``alpha_c(0) = 2`` (Cover). In :class:`GLMERM` it is
    where the max-margin norm of the hinge with ``margin = kappa`` on random labels
    (``channel="random"``, ``reg -> 0+``) reaches ``q = 1``: below it the labels can be stored at
    stability ``kappa`` with ``|w|^2 = d``.
    """
    from scipy.special import ndtr

    k = float(margin)
    if not (k >= 0 and math.isfinite(k)):
        raise ValueError(f"margin must be finite and >= 0, got {margin!r}")
    return 1.0 / float((1.0 + k * k) * ndtr(k) + k * math.exp(-0.5 * k * k) * _INV_SQRT_2PI)


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


def _outlier_errors(m, q, rho, eps, beta, noise_in, noise_out):
    """The test errors of the ``outliers`` channel at ``(m, q)`` (:meth:`GLMERM.observables`)."""
    gamma = 1.0 - eps + eps * beta  # E[y z*]/rho: the outliers scale the teacher by beta
    label = (1.0 - eps) * rho + eps * beta * beta * rho  # E y^2 without the noise
    paper = label - 2.0 * gamma * m + q
    return {"gen_error": paper + (1.0 - eps) * noise_in + eps * noise_out,
            "gen_error_outliers": paper,
            "excess_gen_error": paper - eps * (1.0 - eps) * (1.0 - beta) ** 2 * rho}


def _population_slope(loss, eps, beta, noise_in, noise_out, delta, rho):
    """``c*`` minimising the population risk ``R(c) = E loss(y - c z*)`` of the outliers channel.

    Each component ``k`` (inliers: weight ``1 - eps``, slope ``b = 1``, noise ``noise_in``;
    outliers: ``eps``, ``beta``, ``noise_out``) has a Gaussian residual ``(b - c) z* +
    sqrt(noise) xi`` of variance ``s^2 = (b - c)^2 rho + noise``, and by Stein ``-R'(c)/rho =
    sum_k w_k (b_k - c) g(s_k)`` with ``g(s) = E loss''(s Z)``: ``1`` (square), ``erf(delta /
    (s sqrt 2))`` (huber), ``sqrt(2/pi)/s`` (absolute; ``(b - c) g`` stays bounded, a jump at
    ``s = 0``). ``R`` is convex, so ``-R'`` decreases and its zero (between ``1`` and ``beta``)
    is found by bracketing to ``1e-15``.
    """
    if loss == "square":
        return 1.0 - eps + eps * beta
    from scipy.optimize import brentq

    comps = ((1.0 - eps, 1.0, noise_in), (eps, float(beta), noise_out))

    def slope(c):
        total = 0.0
        for w, b, nz in comps:
            if w == 0.0:
                continue
            u = b - c
            s = math.sqrt(u * u * rho + nz)
            if loss == "huber":
                g = math.erf(delta / (s * math.sqrt(2.0))) if s > 0 else 1.0
                total += w * u * g
            elif s > 0.0:  # absolute: u sqrt(2/pi)/s, bounded by sqrt(2/(pi rho))
                total += w * u * math.sqrt(2.0 / math.pi) / s
            # s = 0 (u = 0, noiseless component): the kink of R, a jump of -R' across c = b that
            # the bracketing resolves; the value there does not matter
        return total

    lo, hi = min(1.0, beta), max(1.0, beta)
    if lo == hi or slope(lo) <= 0.0:
        return lo
    if slope(hi) >= 0.0:
        return hi
    return brentq(slope, lo, hi, xtol=1e-15, maxiter=500)


def outlier_error_floor(loss: str, eps: float, beta: float, noise_in: float, noise_out: float,
                        delta: float = 1.0, rho: float = 1.0) -> dict:
    """The ``alpha -> infinity`` limit of ERM on the ``outliers`` channel at fixed ``reg``.

    With ``n = alpha d`` samples the penalty's weight per sample vanishes, so the estimator
    tends to the minimiser of the population risk ``E loss(y - x.w/sqrt d)``. For a loss that is
    convex and even in the residual, a component of ``w`` orthogonal to ``w*`` only adds
    independent Gaussian noise to the residual, which cannot lower the risk (Jensen), so the
    limit is ``c* w*`` with ``c*`` minimising the 1-D risk ``E loss(y - c z*)``
    (:func:`_population_slope`): ``c* = 1 - eps + eps beta`` for the square loss, for huber
    and absolute a compromise between ``1`` and ``beta`` in which each component's pull is
    damped by its residual's spread (``c* = 0.829`` and ``0.846`` against the square loss's
    ``0.7`` at ``eps = 0.3, beta = 0, noise_in = 1, noise_out = 5``). The limits of the observables are then (``m = c*
    rho``, ``q = c*^2 rho``)::

        estimation_error   = rho (1 - c*)^2
        gen_error_outliers = rho [(1 - eps)(1 - c*)^2 + eps (beta - c*)^2]
        gen_error          = gen_error_outliers + (1 - eps) noise_in + eps noise_out

    For the square loss ``estimation_error = rho eps^2 (1 - beta)^2`` and ``gen_error_outliers
    = rho eps (1 - eps)(1 - beta)^2``, the Bayes-optimal ``alpha -> infinity`` value that
    Vilucchio, Troiani, Erba, Krzakala (2023, arXiv 2305.18974) subtract to define their excess
    generalisation error. The replica solution approaches these limits like ``1/alpha``.

    Returns
    -------
    dict
        ``c`` (= ``c*``) and the three limits above.
    """
    if loss not in FLOOR_LOSSES:
        raise ValueError(f"loss must be one of {', '.join(FLOOR_LOSSES)} (convex, so that the limit is c* w*); "
                         f"got {loss!r}")
    _check_number("eps", eps, 0.0, strict=False, allowed="in [0, 1)")
    if not eps < 1.0:
        raise ValueError(f"eps must be a finite real number in [0, 1), got {eps!r}")
    _check_number("beta", beta, -math.inf, strict=True, allowed="(finite)")
    _check_number("noise_in", noise_in, 0.0, strict=False, allowed=">= 0")
    _check_number("noise_out", noise_out, 0.0, strict=False, allowed=">= 0")
    _check_number("delta", delta, 0.0, strict=True, allowed="> 0")
    _check_number("rho", rho, 0.0, strict=True, allowed="> 0")
    eps, beta, rho = float(eps), float(beta), float(rho)
    c = _population_slope(loss, eps, beta, float(noise_in), float(noise_out), float(delta), rho)
    paper = rho * ((1.0 - eps) * (1.0 - c) ** 2 + eps * (beta - c) ** 2)
    return {"c": c, "estimation_error": rho * (1.0 - c) ** 2, "gen_error_outliers": paper,
            "gen_error": paper + (1.0 - eps) * float(noise_in) + eps * float(noise_out)}


def _check_number(name, value, low, *, strict, allowed):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number {allowed}, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not (v > low if strict else v >= low):
        raise ValueError(f"{name} must be a finite real number {allowed}, got {value!r}")


# ----------------------------------------------------------------------------- the model


class _StateNames:
    """``state_names``: ``(m, q, V)``, and ``b`` after them when the estimator fits a bias (on the
    class: the default model's)."""

    def __get__(self, obj, cls):
        return ("m", "q", "V", "b") if (obj is not None and obj.bias) else ("m", "q", "V")


@register
@dataclass(frozen=True)
class GLMERM:
    """Empirical risk minimisation on a teacher-student GLM: state ``(m, q, V)``.

    Parameters
    ----------
    loss : {"square", "logistic", "hinge", "huber", "absolute", "tukey"} or CustomLoss
        Training loss ``loss(y, z)`` (see :mod:`equations.losses`); logistic and hinge are
        classification losses and need ``channel="sign"``; tukey (non-convex) is a regression
        loss (``V < 5/4`` only, module docstring). Your own smooth convex loss: an
        :class:`equations.custom.CustomLoss` (Numba cfuncs for the loss and its derivatives).
    penalty : {"l2", "l1"}
        ``reg/2 ||w||^2`` or ``reg ||w||_1``.
    alpha : float
        Sample ratio ``n/d > 0``.
    reg : float
        Penalty strength ``>= 0``; ``reg = 0`` needs ``alpha > 1`` (otherwise the minimiser is
        not unique, or its error diverges at ``alpha = 1``).
    channel : {"linear", "sign", "logit", "random", "outliers"}, optional
        Teacher: ``y = z* + sqrt(noise) xi``, ``y = sign(z* + sqrt(noise) xi)``, ``y = +-1`` with
        ``P(y=+1) = sigmoid(gamma (z* + sqrt(noise) xi))``, fair coins, or the linear teacher with
        a fraction ``eps`` of outliers (module docstring). By default
        (``None``) chosen from the loss: ``"sign"`` for the classification losses (logistic,
        hinge), ``"linear"`` for the regression losses; the model stores the choice.
    noise : float
        Teacher noise variance ``>= 0``.
    rho : float
        Teacher norm ``E w*^2 > 0``.
    delta : float
        Huber threshold ``> 0`` (used by ``loss="huber"``), or Tukey's ``tau`` (``loss="tukey"``).
    eps, beta, noise_in, noise_out : float
        The ``"outliers"`` channel (regression losses only): a fraction ``eps in [0, 1)`` of the
        labels are outliers ``beta z* + sqrt(noise_out) xi``, the others inliers ``z* +
        sqrt(noise_in) xi`` (``noise`` must stay 0 there). With another channel they must keep
        their defaults ``0``.
    gamma : float, optional
        The logit teacher's ``gamma > 0`` (``channel="logit"`` only; ``None`` means 1).
    margin : float, optional
        The hinge's margin ``kappa > 0``, loss ``max(0, kappa - y z)`` (``loss="hinge"`` only;
        ``None`` means 1, the usual hinge).
    beta0 : float
        Teacher offset: the label is drawn from the channel at ``z* + beta0`` (``channel`` sign or
        logit; Candes and Sur's intercept is ``gamma beta0`` for the logit teacher).
    bias : bool
        Fit an unpenalised bias ``b``: minimise ``sum loss(y, x.w/sqrt(d) + b) + penalty(w)``
        (+-1 labels only). The state is then ``(m, q, V, b)``; ``b`` solves ``E f_out(y, omega +
        b) = 0`` inside the fixed-point map (a Newton step on it per iteration).

    Equations, normalisation and references: module docstring.
    """

    loss: str = "square"
    penalty: str = "l2"
    alpha: float = 1.0
    reg: float = 1.0
    channel: str | None = None
    noise: float = 0.0
    rho: float = 1.0
    delta: float = 1.0
    eps: float = 0.0
    beta: float = 0.0
    noise_in: float = 0.0
    noise_out: float = 0.0
    gamma: float | None = None
    margin: float | None = None
    beta0: float = 0.0
    bias: bool = False

    name: ClassVar[str] = "glm_erm"
    state_names: ClassVar[tuple[str, ...]] = _StateNames()
    unique_fixed_point: ClassVar[bool] = True
    #: physics names for figures (``labels=`` of :mod:`fixedpoint.plotting`); ``reg`` is the
    #: penalty strength lambda, ``noise`` the teacher's noise variance Delta
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "reg": r"$\lambda$", "noise": r"$\Delta$", "rho": r"$\rho$",
        "delta": r"Huber $\delta$", "m": r"$m$", "q": r"$q$", "V": r"$V$",
        "gen_error": "generalisation error", "train_loss": "training loss",
        "estimation_error": r"$\|\hat w - w^*\|^2/d$", "train_error": "training error",
        "eps": r"outlier fraction $\epsilon$", "beta": r"$\beta$", "noise_in": r"$\Delta_{\rm in}$",
        "noise_out": r"$\Delta_{\rm out}$", "gen_error_outliers": r"$E_{\rm gen}$",
        "excess_gen_error": r"$E_{\rm gen} - \epsilon(1-\epsilon)(1-\beta)^2\rho$",
        "replicon": "replicon (RS stable < 1)",
        "gamma": r"$\gamma$", "margin": r"margin $\kappa$", "alpha_star": r"$\alpha_\star$",
        "sigma_star": r"$\sigma_\star$", "lambda_star": r"$\lambda_\star$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        dict(loss="logistic", alpha=2.0, reg=0.1, channel="sign"),
        dict(loss="huber", delta=1.0, channel="linear", noise=0.5, alpha=2.0, reg=0.1),
        dict(loss="square", alpha=0.5, reg=0.01, channel="linear", noise=0.1),
        dict(loss="hinge", alpha=3.0, reg=0.01, channel="sign", noise=0.1),
        dict(loss="absolute", penalty="l1", alpha=1.5, reg=0.2, channel="linear", noise=0.25),
        dict(loss="huber", delta=1.0, channel="outliers", eps=0.3, beta=0.0, noise_in=1.0, noise_out=5.0,
             alpha=10.0, reg=0.1),
        dict(loss="logistic", alpha=3.0, reg=0.1, channel="logit", gamma=2.0),
        dict(loss="logistic", alpha=3.0, reg=0.1, channel="logit", gamma=2.0, beta0=0.5, bias=True),
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        positive = {"range": (0.0, None), "open": (True, True)}
        non_negative = {"range": (0.0, None), "open": (False, True)}
        return parameter_table(cls, {
            "loss": {"allowed": LOSSES + NONCONVEX_LOSSES,
                     "doc": "training loss (logistic, hinge: classification; tukey: non-convex, regression), or an "
                            "equations.custom.CustomLoss"},
            "penalty": {"allowed": PENALTIES, "doc": "reg/2 |w|^2 (l2) or reg |w|_1 (l1)"},
            "alpha": {**positive, "doc": "sample ratio n/d"},
            "reg": {**non_negative, "doc": "penalty strength (reg = 0 needs alpha > 1)"},
            "channel": {"allowed": CHANNELS, "doc": "teacher channel; default: sign for a classification "
                                                    "loss, linear for a regression loss"},
            "noise": {**non_negative, "doc": "teacher noise variance"},
            "rho": {**positive, "doc": "teacher norm E w*^2"},
            "delta": {**positive, "doc": "Huber threshold, or Tukey's tau (loss=huber, tukey only)"},
            "eps": {"range": (0.0, 1.0), "open": (False, True), "doc": "fraction of outliers (channel=outliers)"},
            "beta": {"doc": "outliers' teacher scale, any finite real (channel=outliers)"},
            "noise_in": {**non_negative, "doc": "inliers' noise variance (channel=outliers)"},
            "noise_out": {**non_negative, "doc": "outliers' noise variance (channel=outliers)"},
            "gamma": {**positive, "doc": "logit teacher's inverse temperature, P(y=+1|z*) = sigmoid(gamma z*) "
                                         "(channel=logit only; default 1)"},
            "margin": {**positive, "doc": "hinge margin kappa, loss max(0, kappa - y z) (loss=hinge only; "
                                          "default 1)"},
            "beta0": {"doc": "teacher offset, any finite real: labels from the channel at z* + beta0 (channel sign "
                             "or logit)"},
            "bias": {"allowed": (False, True), "doc": "fit an unpenalised bias b (state (m, q, V, b); +-1 labels)"}})

    def __post_init__(self):
        custom = _is_custom_loss(self.loss)  # your own loss (equations.custom)
        if not custom and self.loss not in LOSSES + NONCONVEX_LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES + NONCONVEX_LOSSES)} or an "
                             f"equations.custom.CustomLoss; got {self.loss!r}")
        if self.channel is None:  # the teacher the loss is meant for: +-1 labels for a classification loss
            binary = self.loss.labels == "binary" if custom else self.loss in CLASSIFICATION_LOSSES
            object.__setattr__(self, "channel", "sign" if binary else "linear")
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {', '.join(PENALTIES)}; got {self.penalty!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {self.channel!r}")
        _check_number("alpha", self.alpha, 0.0, strict=True, allowed="> 0")
        _check_number("reg", self.reg, 0.0, strict=False, allowed=">= 0")
        _check_number("noise", self.noise, 0.0, strict=False, allowed=">= 0")
        _check_number("rho", self.rho, 0.0, strict=True, allowed="> 0")
        _check_number("delta", self.delta, 0.0, strict=True, allowed="> 0")
        _check_number("eps", self.eps, 0.0, strict=False, allowed="in [0, 1)")
        if not self.eps < 1.0:
            raise ValueError(f"eps must be a finite real number in [0, 1), got {self.eps!r}")
        _check_number("beta", self.beta, -math.inf, strict=True, allowed="(finite)")
        _check_number("noise_in", self.noise_in, 0.0, strict=False, allowed=">= 0")
        _check_number("noise_out", self.noise_out, 0.0, strict=False, allowed=">= 0")
        if self.channel == "outliers":
            if self.loss not in OUTLIER_LOSSES:
                raise ValueError(f"loss must be one of {', '.join(OUTLIER_LOSSES)} with channel='outliers' "
                                 f"(a regression loss); got {self.loss!r}")
            if self.noise != 0:
                raise ValueError(f"noise must stay 0 with channel='outliers' (the label noise is noise_in for the "
                                 f"inliers and noise_out for the outliers); got noise = {self.noise!r}")
        else:
            for name in ("eps", "beta", "noise_in", "noise_out"):
                if getattr(self, name) != 0:
                    raise ValueError(f"{name} is a parameter of channel='outliers' and must stay 0 with "
                                     f"channel={self.channel!r}; got {name} = {getattr(self, name)!r}")
        if self.loss in NONCONVEX_LOSSES and self.channel in LABEL_CHANNELS:
            raise ValueError(f"channel must be 'linear' or 'outliers' for the regression loss {self.loss!r}; "
                             f"got {self.channel!r}")
        if self.loss in CLASSIFICATION_LOSSES and self.channel not in LABEL_CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(LABEL_CHANNELS)} for the classification loss "
                             f"{self.loss!r} (labels +-1); got {self.channel!r}")
        if self.gamma is not None:
            _check_number("gamma", self.gamma, 0.0, strict=True, allowed="> 0")
            if self.channel != "logit":
                raise ValueError(f"gamma is the logit teacher's parameter: it needs channel='logit', got "
                                 f"channel={self.channel!r}")
        if self.margin is not None:
            _check_number("margin", self.margin, 0.0, strict=True, allowed="> 0")
            if self.loss != "hinge":
                raise ValueError(f"margin is the hinge loss's max(0, margin - y z): it needs loss='hinge', got "
                                 f"loss={self.loss!r}")
        _check_number("beta0", self.beta0, -math.inf, strict=True, allowed="(finite)")
        if self.beta0 != 0 and self.channel not in ("sign", "logit"):
            raise ValueError(f"beta0 (the teacher's offset) needs channel 'sign' or 'logit', got {self.channel!r}")
        if not isinstance(self.bias, (bool, np.bool_)):
            raise ValueError(f"bias must be True or False, got {self.bias!r}")
        if self.bias and self.channel not in LABEL_CHANNELS:
            raise ValueError(f"bias=True (a fitted intercept) needs +-1 labels (channel one of "
                             f"{', '.join(LABEL_CHANNELS)}), got channel={self.channel!r}")
        if custom and (self.channel not in ("sign", "linear") or self.bias or self.beta0 != 0):
            raise ValueError(f"a custom loss (equations.custom.CustomLoss) is integrated for the sign and linear "
                             f"teachers without offset or bias; got channel={self.channel!r}, beta0={self.beta0!r}, "
                             f"bias={self.bias!r}")
        if self.reg == 0 and self.alpha <= 1:
            raise ValueError(f"reg = 0 needs alpha > 1: with n <= d samples and no penalty the minimiser "
                             f"is not unique (alpha < 1) or its error diverges (alpha = 1); got "
                             f"alpha = {self.alpha}. Use reg > 0 (the limit reg -> 0+ is the "
                             f"minimum-norm interpolator / max-margin solution)")
        # the kernel's scalar arguments, converted once (update is called thousands of times)
        code = -1 if custom else loss_code(self.loss)
        flags = np.array([code, self.channel == "sign", self.penalty == "l1"], dtype=np.int64)
        params = np.array([self.alpha, self.reg, self.rho, self.noise, self.delta,
                           self.eps, self.beta, self.noise_in, self.noise_out], dtype=np.float64)
        flags.flags.writeable = False
        params.flags.writeable = False
        object.__setattr__(self, "_args", (flags, params))
        # +-1 labels: (teacher code, gamma, hinge shift 1 - margin) for _class_integrals
        cargs = np.array([LABEL_CHANNELS.index(self.channel) if self.channel in LABEL_CHANNELS else -1,
                          self._gamma, 1.0 - self._margin if self.loss == "hinge" else 0.0, float(self.beta0),
                          float(bool(self.bias))], dtype=np.float64)
        cargs.flags.writeable = False
        object.__setattr__(self, "_cargs", cargs)

    # -- internals
    @property
    def _gamma(self) -> float:
        """The logit teacher's ``gamma`` (1 when not given)."""
        return 1.0 if self.gamma is None else float(self.gamma)

    @property
    def _margin(self) -> float:
        """The hinge margin (1 when not given)."""
        return 1.0 if self.margin is None else float(self.margin)

    def _alpha_sep(self) -> float:
        """:func:`separability_threshold` of this model's labels (``inf`` for a linear teacher)."""
        if self.channel not in LABEL_CHANNELS:
            return math.inf
        return separability_threshold(float(self.noise), float(self.rho), channel=self.channel,
                                      gamma=self.gamma, beta0=float(self.beta0), bias=bool(self.bias))

    def _no_minimiser(self) -> bool:
        """Separable data with an unpenalised logistic/hinge loss: no finite minimiser."""
        return (self.reg == 0 and self.loss in CLASSIFICATION_LOSSES
                and self.alpha < self._alpha_sep())

    def _max_margin_scale(self) -> bool:
        """Hinge + l2 on separable data with ``reg < 2/alpha``: the uninformed start is put at the
        max-margin norm (see :meth:`initial_state`)."""
        return (self.loss == "hinge" and self.penalty == "l2" and self.channel in LABEL_CHANNELS
                and self.reg * self.alpha < 2.0 and self.alpha < self._alpha_sep())

    def _full(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (len(self.state_names),):
            raise ValueError(f"the state of glm_erm is {self.state_names}, got shape {x.shape}")
        flags, params = self._args
        if flags[0] < 0:
            from .custom import erm_step

            return erm_step(self, x)
        if self.channel in LABEL_CHANNELS:
            glx, glw = _rules()
            if self.channel == "logit" and x.shape[0] >= 3:
                tab, ok, edges = self._logit_slice(x)
                if tab.shape[0] > 0:
                    return _logit_step(flags, params, self._cargs, x, glx, glw, tab, ok, edges)
            return _sign_step(flags, params, self._cargs, x, glx, glw)
        glx, glw = _legendre()
        if self.channel == "outliers":
            return _outlier_step(flags, params, x, glx, glw)
        return _linear_step(flags, params, x, glx, glw)

    def _logit_slice(self, x):
        """The slice of :data:`_LOGIT_TABLE` that the map at ``x`` reads (logit teacher)."""
        m, q, V = float(x[0]), float(x[1]), float(x[2])
        if not (q > 0.0 and V > 0.0 and math.isfinite(m) and math.isfinite(q) and math.isfinite(V)):
            return _EMPTY_TAB, _EMPTY_OK, _EMPTY_EDGES
        gamma = self._gamma
        cargs = self._cargs
        b = float(x[3]) if self.bias else 0.0
        mq = m / math.sqrt(q)
        s = max(float(self.rho) - mq * mq, 0.0) + float(self.noise)
        u_max = _logit_u_extent(self._args[0][0], m, q, V, float(self.rho), float(self.noise),
                                float(self._args[1][4]), gamma, float(cargs[2]), b, float(cargs[3]))
        return _LOGIT_TABLE.slice(gamma * math.sqrt(s), u_max)

    # -- protocol
    def solver_coordinates(self):
        """``z = (atanh(m / sqrt(rho q)), log q, log V)`` and back: a bijection of the interior of
        the domain (``|m| < sqrt(rho q)`` by Cauchy-Schwarz, ``q, V > 0``) onto ``R^3``, in which
        the engine iterates and extrapolates (the answer is the same: the fixed point is
        unique). Near max-margin the state sits within 1e-5 of perfect alignment with ``q ~
        alpha^2``, where the map is stiff in ``(m, q, V)`` and nearly linear in ``z``."""
        rho = float(self.rho)

        def to_z(x):
            m, q, V = (float(v) for v in x[:3])
            with np.errstate(all="ignore"):
                a = m / math.sqrt(rho * q) if q > 0 else math.nan
                return np.array([math.atanh(a) if abs(a) < 1 else math.nan,
                                 math.log(q) if q > 0 else math.nan, math.log(V) if V > 0 else math.nan,
                                 *(float(v) for v in x[3:])])  # the bias b as it is

        def to_x(z):
            a, lq, lV = (float(v) for v in z[:3])
            q = math.exp(lq) if lq < 700 else math.inf
            return np.array([math.tanh(a) * math.sqrt(rho * q), q, math.exp(lV) if lV < 700 else math.inf,
                             *(float(v) for v in z[3:])])

        return to_z, to_x

    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: the overlap ``m/sqrt(rho q) = 0.1`` with the teacher that a random
        initialisation has by chance, at the norm ``q = 0.01 rho`` and ``V = 1`` (so ``m = 0.01
        rho``); ``"informed"``: ``m = q = rho``, ``V = 1``. The problem is convex, so both reach
        the same fixed point.

        One exception, for the hinge loss with an l2 penalty on separable data (``alpha <
        alpha_sep``, always for noiseless labels) and ``reg < 2/alpha``: the uninformed start
        keeps the overlap 0.1 but sits at the max-margin norm ``q = alpha^2`` instead of
        ``0.01 rho``. There the estimator approaches the max-margin one, whose norm grows like
        ``alpha`` (``q = 1/kappa^2 ~ 0.99 alpha^2`` at ``alpha >= 50`` for noiseless labels;
        any l2-regularised hinge minimiser has a smaller norm), and the replica map raises
        ``q`` by only ~1 per iteration on its way up from a small norm (the map is nearly
        scale-covariant while the margin plays no role), which took more than the iteration
        budget from ``q = 0.01`` at ``alpha >= 120`` (``q* = 14274``). ``reg < 2/alpha`` is
        where the bound ``q <= 2 alpha/reg`` (the objective at ``w = 0``) allows that norm.
        """
        b0 = [0.0] if self.bias else []  # the bias starts at 0
        if isinstance(start, str) and start == "uninformed":
            if self._max_margin_scale():
                q0 = (self._margin * float(self.alpha)) ** 2
                return np.array([0.1 * math.sqrt(self.rho * q0), q0, 1.0, *b0])
            return np.array([0.01 * self.rho, 0.01 * self.rho, 1.0, *b0])
        if isinstance(start, str) and start == "informed":
            return np.array([float(self.rho), float(self.rho), 1.0, *b0])
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """None: ERM always correlates with the teacher, ``m = 0`` is not a fixed point."""
        return None

    def bounds(self):
        """``q >= 0``, ``V > 0`` (``m`` free; ``m^2 <= rho q`` is checked by :meth:`explain`)."""
        lo, hi = [-np.inf, 0.0, 0.0], [np.inf, np.inf, np.inf]
        if self.bias:
            lo, hi = lo + [-np.inf], hi + [np.inf]
        return np.array(lo), np.array(hi)

    def update(self, x) -> np.ndarray:
        """One step of the replica equations ``(m, q, V) -> hats -> (m, q, V)``."""
        if self.reg == 0 and self._no_minimiser():
            return np.full(len(self.state_names), np.nan)  # reported by the engine, explained by explain()
        out = self._full(x)
        if self.bias:
            return np.array([out[0], out[1], out[2], out[11]])
        return out[:3].copy()

    def hats(self, x) -> dict[str, float]:
        """The conjugate variables ``m_hat, q_hat, V_hat`` at the state ``x``."""
        out = self._full(np.asarray(x, dtype=float))
        return {"m_hat": float(out[3]), "q_hat": float(out[4]), "V_hat": float(out[5])}

    def energy(self, x) -> float:
        """Replica energy ``e(x)`` (module docstring): the training objective per dimension at the
        fixed point, stationary there."""
        m, q, V = (float(v) for v in x[:3])
        out = self._full(np.asarray(x, dtype=float))
        m_hat, q_hat, V_hat, psi, moreau = out[3], out[4], out[5], out[6], out[8]
        return float(psi + m * m_hat - 0.5 * q * V_hat + 0.5 * V * q_hat + self.alpha * moreau)

    def free_entropy(self, x) -> float:
        """``-energy(x)`` (zero-temperature free entropy; larger is better)."""
        return -self.energy(x)

    def observables(self, x) -> dict[str, float]:
        """``m, q, V, gen_error, train_loss, estimation_error`` (and ``train_error`` for +-1
        labels): classification error ``arccos(m / sqrt(q (rho + noise)))/pi`` of a fresh noisy
        sign label, ``P(y != sign omega)`` for the logit teacher, 1/2 for random labels, or the
        regression error ``rho + noise - 2m + q``. Raises ``ValueError`` at a state outside the
        Cauchy-Schwarz domain ``m^2 <= rho q`` (no estimator has it).

        With ``loss="logistic"`` and a sign or logit teacher, also Sur and Candes's ``alpha_star =
        m/(gamma rho)``, ``sigma_star = sqrt(alpha (q - m^2/rho))`` and ``lambda_star = V`` (for
        ``reg = 0`` and the logit teacher these are the quantities of Sur and Candes, PNAS 116
        (2019) 14516, arXiv:1803.06964; defined for any ``reg`` by the same decomposition; the sign
        teacher counts as ``gamma = 1``). Mapping: their ``x_ij ~ N(0, 1/n)``, ``kappa = p/n =
        1/alpha`` and ``beta`` with ``Var(x.beta) = gamma_CS^2`` are ours with ``x_SC = x/sqrt(n)``,
        ``beta = gamma sqrt(alpha) w*`` (so ``gamma_CS^2 = gamma^2 rho``) and ``beta_hat =
        sqrt(alpha) w_hat``. The estimator's field splits as ``omega = (m/rho) z* + sqrt(q - m^2/rho)
        g``; their ``Q2 = alpha_* Q1 + sqrt(kappa) sigma_* Z`` (up to the sign convention of
        ``Q1``) with ``Q1 = gamma z*`` gives ``alpha_* = m/(gamma rho)`` and ``kappa sigma_*^2 = q -
        m^2/rho``; their ``prox_{lambda rho}`` is our ``prox_{V loss}``, so ``lambda_* = V``
        (their third equation ``1 - kappa = E[2 rho'(Q1)/(1 + lambda rho''(prox))]`` is our ``V
        V_hat = 1`` at ``reg = 0``). Checked against their system of equations solved
        independently (tests).

        ``channel="outliers"`` (module docstring, Vilucchio et al. 2023): ``gen_error`` keeps its
        meaning, the squared error on a fresh label drawn like the training labels (outliers and
        noise included); ``estimation_error = rho - 2m + q`` is the error against the clean labels
        ``z*`` (the paper's ``E_estim``); ``gen_error_outliers = rho (1 - eps + eps beta^2) -
        2 m (1 - eps + eps beta) + q`` is the paper's ``E_gen`` (a fresh label with outliers but
        no noise) and ``excess_gen_error`` that minus ``eps (1 - eps) (1 - beta)^2 rho``, its
        ``alpha -> infinity`` Bayes-optimal value.

        ``loss="tukey"`` adds ``replicon`` (module docstring; stable while ``< 1``)."""
        m, q, V = (float(v) for v in x[:3])
        b = float(x[3]) if self.bias else 0.0
        if m * m > self.rho * q * (1.0 + 1e-9) + 1e-300:
            raise ValueError(f"the state violates Cauchy-Schwarz: m^2 = {m * m:.6g} > rho q = {self.rho * q:.6g}")
        out = self._full(np.asarray(x, dtype=float))
        res = {"m": m, "q": q, "V": V}
        if self.bias:
            res["b"] = b
        if self.channel == "sign" and b == 0 and self.beta0 == 0:
            cosang = m / math.sqrt(q * (self.rho + self.noise)) if q > 0 else 0.0
            res["gen_error"] = math.acos(max(-1.0, min(1.0, cosang))) / math.pi
        elif self.channel == "outliers":
            res.update(_outlier_errors(m, q, self.rho, self.eps, self.beta, self.noise_in, self.noise_out))
        elif self.channel in LABEL_CHANNELS:
            mq = m / math.sqrt(q) if q > 0 else 0.0
            xb = -b / math.sqrt(q) if q > 0 else (-math.inf if b > 0 else math.inf)
            glx, glw = _teacher_rules()
            s_t = max(self.rho - mq * mq, 0.0) + self.noise
            if self.channel == "logit":  # the teacher's factor from the table (|xi| <= 12 there)
                tab, ok, edges = _LOGIT_TABLE.slice(self._gamma * math.sqrt(s_t),
                                             self._gamma * (abs(mq) * 12.0 + abs(float(self.beta0))))
                res["gen_error"] = float(_class_gen_error_t(T_LOGIT, mq, s_t, self._gamma, glx, glw, xb,
                                                            float(self.beta0), tab, ok, edges))
            else:
                res["gen_error"] = float(_class_gen_error(LABEL_CHANNELS.index(self.channel), mq, s_t, self._gamma,
                                                          glx, glw, xb, float(self.beta0)))
        else:
            res["gen_error"] = self.rho + self.noise - 2.0 * m + q
        res["train_loss"] = float(out[7])
        res["estimation_error"] = self.rho - 2.0 * m + q
        if self.loss == "tukey":
            res["replicon"] = self._replicon(m, q, V, float(out[5]))
        if self.channel in LABEL_CHANNELS:
            res["train_error"] = float(out[9])
        if self.loss == "logistic" and self.channel in ("sign", "logit"):
            # Sur and Candes's (alpha_*, sigma_*, lambda_*): the estimator's field is alpha_* times the
            # teacher's log-odds gamma z* plus an independent Gaussian of variance kappa sigma_*^2
            gamma = self._gamma if self.channel == "logit" else 1.0
            res["alpha_star"] = m / (gamma * self.rho)
            res["sigma_star"] = math.sqrt(max(q - m * m / self.rho, 0.0) * self.alpha)
            res["lambda_star"] = V
        return res

    def _replicon(self, m, q, V, V_hat) -> float:
        """Tukey: ``alpha E[(d f_out/d omega)^2] E[(d prox_w/d b)^2]`` (the replicon; the
        replica-symmetric solution is stable while it is ``< 1``). The channel factor is the
        eps-weighted :func:`_tukey_moments`; the penalty's is ``V^2`` (l2: ``d prox/db = 1/(reg +
        V_hat)``) or ``2 H(t)/V_hat^2 = V/V_hat`` (l1: ``1/V_hat`` on the kept weights)."""
        glx, glw = _legendre()
        comps = [(1.0, self.rho + self.noise - 2 * m + q)]
        if self.channel == "outliers":
            comps = [(1.0 - self.eps, self.rho + self.noise_in - 2 * m + q),
                     (self.eps, self.beta ** 2 * self.rho + self.noise_out - 2 * self.beta * m + q)]
        e2 = sum(w * _tukey_moments(var, V, float(self.delta), glx, glw)[3] for w, var in comps if w > 0)
        e1 = V * V if self.penalty == "l2" else V / V_hat
        return float(self.alpha * e2 * e1)

    def diagnostics(self, x) -> dict[str, float]:
        """What the map does at the state ``x`` (used by :meth:`explain`, and for inspection).

        Returns the hats, the next state ``(m_next, q_next, V_next)``, and

        * ``active_fraction``: the fraction of training points in the active region of the
          loss, where the prox has slope ``< 1`` (``|y - omega| <= delta (1+V)`` for huber, the
          kink ``1 - V <= y omega <= 1`` for hinge, ``|y - omega| <= V`` for absolute; 1 for the
          smooth losses). It is ``V_hat (1+V)/alpha`` (huber) or ``V_hat V/alpha`` (hinge,
          absolute): ``V_hat = 0`` means that no data point is there.
        * ``fraction_nonzero`` (l1 only): ``2 H(reg/sqrt(m_hat^2 rho + q_hat))``, the fraction of
          weights the soft threshold of the next step keeps (1 for l2).
        * ``kink_sd`` (huber, hinge, absolute): how many standard deviations of the field
          (``sqrt(q)`` for the sign teacher, the residual's for the linear one) separate the
          nearest edge of the active region from where the data are (``omega = 0`` for the
          sign teacher, ``r = 0`` for the linear one); 0 when it contains that point.
        """
        x = np.asarray(x, dtype=float)
        m, q, V = (float(v) for v in x[:3])
        out = self._full(x)
        m_hat, q_hat, V_hat = float(out[3]), float(out[4]), float(out[5])
        res = {"m_hat": m_hat, "q_hat": q_hat, "V_hat": V_hat, "m_next": float(out[0]),
               "q_next": float(out[1]), "V_next": float(out[2])}
        I_V = V_hat / self.alpha
        if self.loss == "huber":
            res["active_fraction"] = I_V * (1.0 + V)
        elif self.loss in ("hinge", "absolute"):
            res["active_fraction"] = I_V * V
        else:
            res["active_fraction"] = 1.0
        if self.penalty == "l1":
            s_b = m_hat * m_hat * self.rho + q_hat
            if self.reg == 0:
                res["fraction_nonzero"] = 1.0
            elif s_b > 0 and math.isfinite(s_b):
                res["fraction_nonzero"] = 2.0 * float(H(self.reg / math.sqrt(s_b)))
            else:
                res["fraction_nonzero"] = 0.0 if s_b == 0 else math.nan
        else:
            res["fraction_nonzero"] = 1.0
        if self.loss in ("huber", "hinge", "absolute") and q >= 0 and V > 0:
            if self.channel in LABEL_CHANNELS:
                kinks = {"huber": (1 - self.delta * (1 + V), 1 + self.delta * (1 + V)),
                         "hinge": (self._margin - V, self._margin), "absolute": (1 - V, 1 + V)}[self.loss]
                lo, hi = kinks
                gap = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
                scale = math.sqrt(q)
            else:
                half = self.delta * (1 + V) if self.loss == "huber" else V
                gap = 0.0  # the region |r| <= half always contains r = 0 ...
                var = self.rho + self.noise - 2 * m + q
                if self.channel == "outliers":  # the residual's mixture variance
                    var = ((1 - self.eps) * (self.rho + self.noise_in - 2 * m + q)
                           + self.eps * (self.beta ** 2 * self.rho + self.noise_out - 2 * self.beta * m + q))
                scale = math.sqrt(max(var, 0.0))
                if scale > 0:
                    res["region_sd"] = half / scale  # ... and is this many residual s.d. wide
            res["kink_sd"] = gap / scale if scale > 0 else (0.0 if gap == 0 else math.inf)
        return res

    def explain(self, x) -> str | None:
        """Why a solve failed, said only from what holds at the state ``x`` (:meth:`diagnostics`):
        separable data without penalty; a state that violates ``m^2 <= rho q``; an infinite
        update because ``V_hat = 0`` (no training point in the active region of the loss, the
        l1 susceptibility ``V = 2H(t)/V_hat`` then diverges); an l1 penalty that keeps less than
        1e-6 of the weights; a noiseless state within ``1e-3`` of perfect alignment, where the
        map is stiff; an update that overflows."""
        if self._no_minimiser():
            a_sep = self._alpha_sep()
            return (f"The training data are linearly separable at this alpha (alpha = {self.alpha:g} < "
                    f"alpha_sep = {a_sep:.6g}): loss={self.loss!r} with reg=0 has no finite minimiser "
                    f"(the norm of w diverges); use reg > 0.")
        x = np.asarray(x, dtype=float)
        if x.shape != (len(self.state_names),) or not np.all(np.isfinite(x)):
            return None
        m, q, V = (float(v) for v in x[:3])
        if m * m > self.rho * q * (1 + 1e-8):
            return f"The state violates Cauchy-Schwarz (m^2 = {m * m:.6g} > rho q = {self.rho * q:.6g})."
        if self.penalty == "l1" and q == 0.0 and V == 0.0:
            # the previous update: V = 2 H(t)/V_hat with H(t) = 0, i.e. t = reg/sqrt(s_b) > 38
            return ("The l1 penalty set every weight to zero at the last update (the fraction of non-zero weights "
                    "2H(reg/sqrt(m_hat^2 rho + q_hat)) underflowed to 0), and the map is undefined at w = 0 "
                    "(V = 0). Either reg is so large that the estimator is w = 0 (use a smaller reg), or the "
                    "iteration overshot: try fixedpoint.Damped(damping=0.95).")
        if q < 0 or V <= 0:
            return None
        if self.loss == "tukey" and not V < TUKEY_V_MAX:
            return (f"The state has V = {V:.4g} >= 5/4, where the proximal problem of Tukey's loss, (u - r)^2/(2V) + "
                    f"t(u), is no longer convex (t'' >= -4/5): its minimiser jumps between two branches and the "
                    f"replica equations implemented here (valid for V < 5/4) do not apply. Larger alpha or reg "
                    f"(smaller V), or a start with smaller V, may keep the iteration in that region.")
        d = self.diagnostics(x)
        facts = []
        frac = d["fraction_nonzero"]
        if self.penalty == "l1":
            facts.append(f"the fraction of non-zero weights at the next step is 2H(reg/sqrt(m_hat^2 rho + q_hat)) "
                         f"= {frac:.3g}")
        # with an l2 penalty and reg > 0, V = 1/(reg + V_hat) stays finite: V_hat = 0 is no failure there
        infinite_V = self.penalty == "l1" or self.reg == 0
        if not d["V_hat"] > 0.0 and self.loss in ("huber", "hinge", "absolute") and infinite_V:
            region = {"huber": "|y - omega| <= delta (1+V), the quadratic part of the Huber loss",
                      "hinge": "1 - V <= y omega <= 1, the kink of the hinge",
                      "absolute": "|y - omega| <= V, where the prox lands on y"}[self.loss]
            where = (f" (it begins {d['kink_sd']:.3g} standard deviations of omega out, where the Gaussian "
                     f"weight is below the smallest double)" if self.channel in LABEL_CHANNELS else
                     f" (it is {d.get('region_sd', 0.0):.3g} residual standard deviations wide)")
            conseq = ("so V_hat = 0 and the next susceptibility V = " +
                      ("2H(t)/V_hat" if self.penalty == "l1" else "1/(reg + V_hat)") +
                      " is not finite (a division by V_hat = 0)")
            msg = (f"No training point is in the active region of the loss at the last state (m={m:.4g}, "
                   f"q={q:.4g}, V={V:.4g}): {region}{where}, {conseq}. ")
            if facts:
                msg += facts[0][0].upper() + facts[0][1:] + ". "
            if frac >= 1e-6:
                msg += ("This is a state the iteration passed through, not the estimator: try "
                        "fixedpoint.Damped(damping=0.95) or a start with larger q.")
            else:
                msg += "The l1 penalty also sets almost every weight to zero here; a smaller reg may help."
            return msg
        if self.penalty == "l1" and frac < 1e-6:
            lp = (" With a piecewise-linear loss and an l1 penalty (a linear programme) the equations are "
                  "degenerate when almost every weight is zero." if self.loss in ("hinge", "absolute") else "")
            return (f"The l1 penalty sets almost every weight to zero at this reg ({facts[0]} at the last state): "
                    f"the estimator is w = 0 to that accuracy; use a smaller reg.{lp}")
        nxt = np.array([d["m_next"], d["q_next"], d["V_next"]])
        gap = 1.0 - m * m / (self.rho * q) if q > 0 else 1.0
        if self.channel == "sign" and self.noise == 0 and 0 < gap < 1e-3 and np.all(np.isfinite(nxt)):
            # noiseless labels: the teacher factor H(-c xi) has c = 1/sqrt(gap/(1 - gap)), so the map
            # depends on m through sqrt(gap): linear only over relative changes of m below ~gap
            return (f"The last state is close to perfect alignment with the teacher (1 - m^2/(rho q) = {gap:.3g}, "
                    f"noiseless labels), where the map depends on m through the square root of that gap: it is "
                    f"linear only over relative changes of m small against {gap / 2:.2g}, which makes the iteration "
                    f"slow (as near max margin at large alpha). A sweep in alpha (warm starts) gets there.")
        if not np.all(np.isfinite(nxt)):
            hats = ", ".join(f"{k} = {d[k]:.3g}" for k in ("m_hat", "q_hat", "V_hat"))
            return (f"The update overflows at the last state (m={m:.4g}, q={q:.4g}, V={V:.4g}; {hats}"
                    f"{'; ' + facts[0] if facts else ''}, fraction of training points in the active region of the "
                    f"loss {d['active_fraction']:.3g}).")
        return None

    def with_params(self, **params) -> "GLMERM":
        return dataclasses.replace(self, **params)

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """The same ERM solved on one sampled instance of dimension ``d`` (``n = round(alpha d)``);
        see :mod:`equations._simulate.erm`."""
        from ._simulate.erm import simulate_erm

        if _is_custom_loss(self.loss):
            from .custom import simulate_erm as simulate_custom

            return simulate_custom(self, d, seed)
        return simulate_erm(self, d, seed)
