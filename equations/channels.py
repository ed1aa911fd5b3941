"""Output channels of generalised linear models: ``Z_out``, ``g_out`` and their integrals.

A channel is the conditional law ``P_out(y | z)`` of a label ``y`` given the pre-activation
``z = x.w / sqrt(d)``. Inference needs its Gaussian-smoothed partition function::

    Z_out(y; omega, V) = E_{z ~ N(omega, V)} P_out(y | z),

the output function ``g_out = d_omega log Z_out = (E[z | y, omega, V] - omega) / V`` and its
derivative ``d g_out / d omega = (Var[z | y, omega, V] / V - 1) / V`` (GAMP uses both). State
evolution of the Bayes-optimal GLM (Barbier, Krzakala, Macris, Miolane, Zdeborova, PNAS 2019,
arXiv 1708.03395, eqs. of Theorem 1 and Sec. 3) needs, at ``omega ~ N(0, q)``, ``V = rho - q``
and ``y ~ Z_out(.; omega, V)``::

    hat(q)  = E_{omega, y} [ g_out(y; omega, V)^2 ]                 (so q_hat = alpha hat(q))
    psi(q)  = E_{omega} integral dy Z_out log Z_out                  (Psi_out of the paper)
    gen(q)  = E (y - yhat)^2 of the Bayes predictor yhat = E[y | omega, V]   (regression)
              or P(y != sign omega)                                           (classification)

These are the quantities the paper writes ``Psi_Pout(q; rho) = E log int Dw P_out(Y | sqrt(q) V
+ sqrt(rho - q) w)`` and ``r = 2 alpha d Psi_Pout / dq = alpha E g_out^2``; the mapping to our
normalisation is the identity (their ``n`` is our ``d``, their ``m / n`` our ``alpha``, their
``Phi_{mu i} / sqrt(n)`` our ``x / sqrt(d)``).

Channels (DESIGN.md): ``linear`` ``y = z + sqrt(noise) xi``; ``sign`` ``y = sign(z + sqrt(noise)
xi)`` (probit for ``noise > 0``); ``abs`` ``y = |z| + sqrt(noise) xi`` (real phase retrieval);
``relu`` ``y = max(z, 0) + sqrt(noise) xi``; ``logit`` ``P(y = +-1 | z) = sigmoid(gamma y (z +
sqrt(noise) xi))`` (parameter ``gamma > 0``); ``door`` ``y = sign(|z + sqrt(noise) xi| - K)``
(parameter ``width = K >= 0``; the symmetric door of Barbier et al. 2019). Adding a channel is
adding one class below with its ``Z_out`` kernel and its state-evolution integrals.

Numerics (why it is written this way). At high signal-to-noise ratio ``V = rho - q`` goes down
to 1e-10 while ``omega`` has width ``sqrt(q) ~ 1``: a fixed Gauss-Hermite rule in ``omega``
cannot see the region ``|omega| < sqrt(V)`` where the sign of ``z`` is ambiguous, although it
carries a relative weight ``sqrt(V / q)`` of the answer. So:

* ``linear``: everything in closed form.
* ``sign`` and noiseless ``relu``: the integrals are rewritten in the scaled
  variable ``u = omega / sqrt(S)`` (``S = V + noise``), ``u ~ N(0, sigma^2)``, ``sigma^2 = q/S``;
  the part of the integrand that differs from its constant asymptote is exactly ``phi(u)`` times
  a smooth, slowly growing function ``G(u)``; and
  ``E_{N(0, sigma^2)}[phi(u) G(u)] = E_{N(0, tau^2)}[G(u)] / sqrt(2 pi (1 + sigma^2))`` with
  ``tau^2 = sigma^2 / (1 + sigma^2) <= 1``: a Gauss-Hermite rule of width ``tau`` integrates it
  to machine precision for every ``q`` in ``[0, rho]`` (derivations in the kernel comments).
  Noiseless ``abs`` reduces the same way to ``phi``-factored functions that are not analytic at
  ``u = 0``; their Gaussian averages are done exactly in Fourier space (one 1-D trapezoidal rule).
* noisy ``abs`` and ``relu``: no such reduction; a two-level composite Gauss-Legendre rule
  (12 nodes per panel): in ``y``, uniform panels of width ``3 sqrt(S)`` over ``+-8 sqrt(S)``
  around the branch centres, refined geometrically (ratio 2) down to half the width
  ``sqrt(S noise / V)`` of the points where the posterior switches branch (and of ``sqrt(noise)``
  around ``y = 0`` for ``relu``); in ``omega``, the constant asymptote of the integrand is
  subtracted where the ``omega`` range is cut at ``8 sqrt(S)``, and the panels (12 nodes, width
  at most ``4 min(sqrt q, sqrt S)``) are refined geometrically (ratio 5) down to ``sqrt(V) / 4``
  at ``omega = 0`` (sign ambiguity of ``z``). Adaptive quadrature agrees to ~1e-11 relative
  (``E g^2``) and ~1e-12 absolute (``psi``) for ``q / rho`` in ``{0, 0.5, 1 - 1e-4, 1 - 1e-10}``,
  noise in ``{1e-3, 0.1, 1}``; one evaluation costs 1-3 ms (vs ~10 us for the reduced
  channels). When ``V / noise`` is at
  most 0.5 / 1 (both channels), 2 (``relu``) or 3 (``abs``), the ``y`` rule is instead one
  Gauss-Hermite rule per mixture component of ``Z_out`` (order 40 / 64 / 100 / 80), centred on the component and scaled
  to its width ``sqrt(S)`` or ``sqrt(noise)``: the truncation factors then vary on the scale
  ``sqrt(S noise / V) >= sqrt(S / 3)`` and the integrand is smooth on the component widths;
  and when the sign-ambiguity core ``12 sqrt(V)`` is small against the ``omega`` panel width,
  the geometric ``omega`` grading is replaced by three panels on the core plus uniform panels
  (beyond the core the integrand is analytic up to ``e^-72`` terms). These cost 0.5-1.5 ms per
  evaluation and agree with adaptive quadrature to ~1e-10 (``relu`` near ``V = noise``) or
  better. For larger ``V / noise`` an edge of width
  ``~ sqrt(noise)`` sits inside the ``sqrt(S)`` bulk: fixed Gauss-Hermite rules converge slowly
  there (relative errors 1e-7-1e-3 at ``V / noise = 5-10`` with 40-100 nodes), and so does a
  Gauss-Hermite rule in ``omega`` (zeros of ``Z_out`` at complex ``omega`` approach the real
  axis as ``|y|`` grows); there the composite rule stays.

* ``logit``: ``Z_out = E_{z ~ N(omega, S)} sigmoid(gamma y z)`` has no closed form. In ``z``
  the integrands ``sigmoid(-gamma z) N(z; a, S)`` (and with ``sigmoid'``) are log-concave with
  curvature ``>= 1/S``: a composite Gauss-Legendre rule on ``+-10 sqrt(S)`` around their modes
  (found by bisection), panels ``<= 2 sqrt(S)`` refined geometrically to ``2 / gamma`` next to
  ``z = 0`` (the sigmoid's poles at ``+-i pi / gamma``) is accurate to rounding whether the
  sigmoid is sharp (``gamma sqrt(S) >> 1``) or smooth against the Gaussian; the smaller
  ``Z_out`` is integrated directly (relative accuracy in the tails) and the larger is one minus
  it. In ``omega`` the integrands are analytic, smooth on ``max(sqrt S, 1 / gamma)`` and vanish
  beyond ``10 sqrt(S) + 45 / gamma``: uniform panels of that width (``<= sqrt q``). Adaptive
  quadrature agrees to ~1e-12 for ``gamma`` in ``{0.5, 2, 20}``. ~0.5-5 ms per evaluation:
  tabulated like the noisy kinked channels (also without noise), including the integrals of
  the label errors.
* ``door``: ``Z_out`` in closed form with ``H``; every integrand over ``omega`` vanishes beyond
  ``12 sqrt(S)`` of the edges ``|omega| = K``, so uniform panels of width ``<= min(sqrt S, sqrt
  q)`` on that window (at most ~24, with a panel edge at the switch of the Bayes decision) are
  accurate to ~1e-12 for every ``V`` down to 1e-10, at ~50 us per evaluation; with noise
  tabulated like the noisy kinked channels (the noisy door's iteration contracts slowly near
  weak recovery: tens of evaluations per solve), the table holding ``E g^2 / q`` with its
  closed-form limit at ``q = 0`` (:meth:`Door._curvature`).

Every claim above is checked in ``tests/equations/test_channels.py`` against adaptive
``scipy.integrate.quad`` at ``q / rho`` in ``{0, 0.5, 1 - 1e-4, 1 - 1e-10}``.

Tables. On the Bayes-optimal line ``V = rho - q`` the integrals are smooth functions of the one
variable ``s = sqrt(V)``, and they do not depend on ``alpha`` or on the prior. For the noisy
kinked channels (and the noisy door), whose direct integrals cost milliseconds, :meth:`Channel.se_bayes` (used by
:class:`equations.glm_bayes.GLMBayes` unless ``integrals="direct"``) therefore reads a lazily
built piecewise-Chebyshev table (:func:`_se_table`, :mod:`fixedpoint.tabulate`), one per
``(channel, noise, rho)``: a few microseconds per call once the pieces a solve visits are built.
For ``abs`` and ``door`` (even channels) the table holds ``K = E g^2 / q`` (with its exact limit at
``q = 0``, :func:`_noisy_curvature`, :meth:`Door._curvature`), so that ``E g^2`` keeps its relative accuracy as ``q -> 0``; the
direct rule drops its asymptote subtraction when the Gaussian cut-off truncates the ``omega``
integral, so that it keeps it too.
"""

from __future__ import annotations

import abc
import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit

from fixedpoint.quadrature import gauss_hermite, log_phi, logH, mills, phi, sigmoid as _sigmoid, sorted_copy
from fixedpoint.tabulate import LazyChebyshev

__all__ = ["Channel", "Linear", "Sign", "Abs", "ReLU", "Logit", "Door", "CHANNELS", "CHANNEL_PARAMETERS", "make_channel"]

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_2PIE = math.log(2.0 * math.pi * math.e)
_SQRT_2PI = math.sqrt(2.0 * math.pi)

#: Gauss-Hermite order of the width-tau rules (integrands smooth, |u| <= ~10 tau)
_N_TAU = 80
#: Gauss-Legendre order per panel of the composite rules
_N_GL = 12


def _gauss_legendre(n):
    x, w = np.polynomial.legendre.leggauss(n)
    # map to [0, 1]
    return np.ascontiguousarray(0.5 * (x + 1.0)), np.ascontiguousarray(0.5 * w)


#: composite rule of the noisy kinked channels: Gauss-Legendre nodes on [0, 1], panel width in
#: units of sqrt(S) (Gaussian bulk), half-span in units of sqrt(S), finest panels at the branch
#: switches in units of their widths; against the same rule refined to (20 nodes, width 0.25,
#: span 14, finest 0.1) over V / noise in [2.1, 1e5], q in {0, (rho - V) / 2, rho - V}, noise in
#: {1e-3, 0.1, 1}, rho in {0.3, 1}: <= 1.5e-11 relative (E g^2), 2e-13 absolute (psi), where 8
#: nodes, width 2, span 10 and finest 0.25 gave 8e-10 and 2e-9 for as many points
_GL = _gauss_legendre(_N_GL)
_COARSE = 3.0
_SPAN = 8.0
_Y_FINEST = 0.5
#: Gauss-Hermite orders per mixture component of the y rule of the noisy kinked channels, by
#: the largest V / noise where each is used (beyond: the composite y rule above); omega rules:
#: graded Gauss-Legendre (12 nodes, panels <= 4 min(sqrt q, sqrt S), ratio 5), or, when the
#: sign-ambiguity core 12 sqrt(V) is below a quarter of that panel width, 3 panels of 16 nodes on
#: the core and uniform panels beyond (the integrand is analytic there up to e^-72 terms).
#: Against the composite rules refined to (16 nodes, width 0.25, span 14) over V / noise in
#: [1e-13, 1e3], q in {0, (rho - V) / 2, rho - V}, noise in {1e-3, 0.1, 1}, rho in {0.3, 1}:
#: <= 4e-9 relative (E g^2) / absolute (psi) where the composite y rule is used, as before, and
#: <= 1e-10 with the Gauss-Hermite y rules (<= 3e-10 for relu at 1 < V / noise <= 2).
_GH_Y_ORDERS = {2: ((0.5, 40), (1.0, 64), (3.0, 80)), 3: ((0.5, 40), (1.0, 64), (2.0, 100))}
_GL_OM_GRADED = _gauss_legendre(12)
_GL_OM_CORE = _gauss_legendre(16)
_OM_COARSE = 4.0
_OM_RATIO = 5.0


# ============================================================================ scalar kernels


@njit(cache=True)
def _log_npdf(y, mean, var):
    d = y - mean
    return -0.5 * (_LOG_2PI + math.log(var)) - 0.5 * d * d / var


@njit(cache=True)
def _dmills(x):
    """``M'(x)`` for the inverse Mills ratio ``M = phi / H``: ``M (M - x)`` (in (0, 1))."""
    m = mills(x)
    return m * (m - x)


@njit(cache=True)
def _mills_ratio(x):
    """``R(x) = H(x) / phi(x)`` for ``x >= 0`` (the classical Mills ratio), no underflow."""
    return 1.0 / mills(x)


# ---- sign channel: G(u) = M(u) + M(-u) (phi-factored hat integrand), K(u) (entropy)


@njit(cache=True)
def _sign_se_kernel(q, S, nodes, weights):
    """State-evolution integrals of ``y = sign(z + sqrt(noise) xi)``; ``S = V + noise > 0``.

    With ``u = omega / sqrt(S) ~ N(0, sigma^2)``, ``sigma^2 = q / S``:
    ``Z_out(+-1) = H(-+u)``, ``g_out = +- M(-+u) / sqrt(S)`` (``M = phi / H``), so
    ``E g^2 = E_u phi(u) [M(u) + M(-u)] / S`` and
    ``psi = E_u [H(u) log H(u) + H(-u) log H(-u)] = E_u phi(u) K(u)``, ``K = log H(u) / M(u) +
    log H(-u) / M(-u)``; then ``E_{N(0,s^2)} phi G = E_{N(0,tau^2)} G / sqrt(2 pi (1 + s^2))``.
    Returns ``(E g^2, psi)``.
    """
    tau = math.sqrt(q / (q + S))
    acc_g = 0.0
    acc_k = 0.0
    for i in range(nodes.shape[0]):
        u = tau * nodes[i]
        mp = mills(u)
        mm = mills(-u)
        acc_g += weights[i] * (mp + mm)
        acc_k += weights[i] * (logH(u) / mp + logH(-u) / mm)
    # 1 / sqrt(2 pi (1 + sigma^2)) = sqrt(S / (2 pi (S + q)))
    pref = math.sqrt(S / (2.0 * math.pi * (S + q)))
    hat = acc_g / math.sqrt(2.0 * math.pi * S * (S + q))
    return hat, pref * acc_k


# ---- noiseless abs channel (phase retrieval)


@njit(cache=True)
def _abs0_se_kernel(q, V, h, kmax):
    """State evolution of noiseless ``y = |z|`` at ``V > 0``. Returns ``(E g^2, psi)``.

    In ``u = omega / sqrt(V)``, ``y = sqrt(V) |u + zeta|``: ``g_out = (x tanh(x u) - u) /
    sqrt(V)`` with ``x = u + zeta``; the posterior variance of ``z`` averages to
    ``E Var(z | y, omega) / V = e^{-u^2/2} F(u)``, ``F(u) = E_x x^2 sech(x u)`` (shift
    ``x -> x + u`` and symmetrise ``x -> -x``), and ``E g^2 = (1 - E_u e^{-u^2/2} F) / V``.
    Likewise ``int Z log Z = -log(2 pi e V) / 2 + e^{-u^2/2} G(u)``, ``G = E_x c(x u)``,
    ``c(a) = cosh(a) log(1 + e^{-2|a|}) + |a| e^{-|a|}``. With ``u ~ N(0, q / V)``:
    ``E e^{-u^2/2} f(u) = sqrt(V / rho) E_{u ~ N(0, tau^2)} f``, ``tau^2 = q / rho``.

    ``F`` and ``G`` are not analytic at ``u = 0`` (poles of ``sech(x u)`` cross the real
    ``x`` axis for imaginary ``u``), so a Gauss-Hermite rule in ``u`` converges slowly. Instead
    use the Fourier transforms ``sech(a) = 1/2 int sech(pi k/2) e^{i k a} dk`` and
    ``c(a) = 1/2 int e^{i k a} / ((1 + k^2) cosh(pi k/2)) dk`` (Mellin integral
    ``int t^{s-1} log(1+t) dt = pi / (s sin pi s)``) and ``E_{x,u} e^{i k x u} = (1 + k^2
    tau^2)^{-1/2}``:

        E F = A(tau) = int_0^inf sech(pi k/2) (1 + tau^2 k^2)^{-3/2} dk,
        E G = B(tau) = int_0^inf (1 + tau^2 k^2)^{-1/2} / ((1 + k^2) cosh(pi k/2)) dk,

    integrands analytic in the strip ``|Im k| < 1``: the trapezoidal rule with step ``h``
    has error ``~ exp(-2 pi / h)``.
    """
    rho = q + V
    t2 = q / rho
    A = 0.0
    B = 0.0
    n = int(kmax / h) + 1
    for i in range(n + 1):
        k = i * h
        e = math.exp(-0.5 * math.pi * k)
        sech = 2.0 * e / (1.0 + e * e)
        s = 1.0 + t2 * k * k
        f = 0.5 if i == 0 else 1.0
        A += f * sech / (s * math.sqrt(s))
        B += f * sech / (math.sqrt(s) * (1.0 + k * k))
    A *= h
    B *= h
    r = math.sqrt(V / rho)
    # at q = 0, g_out = 0 identically (even channel): keep the trivial fixed point exact
    hat = (1.0 - r * A) / V if q > 0.0 else 0.0
    psi = -0.5 * (_LOG_2PIE + math.log(V)) + r * B
    return hat, psi


# ---- noiseless relu channel


@njit(cache=True)
def _relu0_se_kernel(q, V, nodes, weights):
    """State evolution of noiseless ``y = max(z, 0)`` at ``V > 0``. Returns ``(E g^2, psi)``.

    With ``u = omega / sqrt(V)``: ``y = 0`` has mass ``H(u)`` and ``g = -M(u) / sqrt(V)``;
    ``y > 0`` has density ``N(y; omega, V)`` and ``g = (y - omega) / V``. Hence
    ``V E[g^2 | omega] = 1 - m(u)``, ``m(u) = H(u) + u phi(u) - phi(u)^2 / H(u)``, and
    ``m(u) + m(-u) - 1 = -phi(u) [M(u) + M(-u)]``: so ``E_u m = 1/2 - E_u phi G / 2``.
    ``int Z log Z = H(u) log H(u) - H(-u) log(2 pi e V) / 2 + u phi(u) / 2`` (reference
    measure: a unit atom at ``y = 0`` plus Lebesgue on ``y > 0``), whose average is
    ``-log(2 pi e V) / 4 + E_u phi K / 2`` with the ``K`` of the sign channel.
    """
    tau = math.sqrt(q / (q + V))
    acc_g = 0.0
    acc_k = 0.0
    for i in range(nodes.shape[0]):
        u = tau * nodes[i]
        mp = mills(u)
        mm = mills(-u)
        acc_g += weights[i] * (mp + mm)
        acc_k += weights[i] * (logH(u) / mp + logH(-u) / mm)
    pref = math.sqrt(V / (2.0 * math.pi * (V + q)))
    hat = (0.5 + 0.5 * pref * acc_g) / V
    psi = -0.25 * (_LOG_2PIE + math.log(V)) + 0.5 * pref * acc_k
    return hat, psi


# ---- Bayes-optimal generalisation errors (noise-free part; the noise adds `noise`)


@njit(cache=True)
def _abs_gen_kernel(q, V, nodes, weights):
    """``E_omega Var(|z| | omega)`` for ``z ~ N(omega, V)``, ``omega ~ N(0, q)``, ``V > 0``.

    ``Var(|z|) / V = 1 + u^2 - (E|z| / sqrt V)^2``, ``E|z| / sqrt V = |u| + 2 e``,
    ``e = phi(u) (1 - |u| R(|u|))`` (``R = H / phi``), so ``Var / V = 1 - phi(u) P(u)`` with
    ``P = 4 |u| (1 - |u| R) + 4 phi(u) (1 - |u| R)^2``: phi-factored as for the sign channel.
    """
    tau = math.sqrt(q / (q + V))
    acc = 0.0
    for i in range(nodes.shape[0]):
        a = abs(tau * nodes[i])
        t = 1.0 - a * _mills_ratio(a)
        acc += weights[i] * (4.0 * a * t + 4.0 * phi(a) * t * t)
    pref = math.sqrt(V / (2.0 * math.pi * (V + q)))
    return V * (1.0 - pref * acc)


@njit(cache=True)
def _relu_gen_kernel(q, V, nodes, weights):
    """``E_omega Var(max(z, 0) | omega)``, ``z ~ N(omega, V)``, ``omega ~ N(0, q)``, ``V > 0``.

    ``Var / V = v(u) = (u^2 + 1) Phi(u) + u phi(u) - (u Phi(u) + phi(u))^2``; ``v(u) + v(-u) - 1
    = phi(u) T(|u|)`` with, for ``a >= 0`` and ``R = H / phi``,
    ``T(a) = 2 a (a R - 1) + phi(a) (4 a R - 2 a^2 R^2 - 2)``; so ``E v = 1/2 + E phi T / 2``.
    """
    tau = math.sqrt(q / (q + V))
    acc = 0.0
    for i in range(nodes.shape[0]):
        a = abs(tau * nodes[i])
        R = _mills_ratio(a)
        acc += weights[i] * (2.0 * a * (a * R - 1.0) + phi(a) * (4.0 * a * R - 2.0 * a * a * R * R - 2.0))
    pref = math.sqrt(V / (2.0 * math.pi * (V + q)))
    return V * (0.5 + 0.5 * pref * acc)


# ---- logit channel: P(y | z) = sigmoid(gamma y z), noise on z (so that S = V + noise)


@njit(cache=True)
def _logit_moments(a, S, gamma, glx, glw):
    """``(Z_s, D_1, D_2) = E_{z ~ N(a, S)} [sigma(-gamma z), sigma'(gamma z), sigma''(gamma z)]``
    for ``a >= 0`` (``Z_s <= 1/2`` is the smaller of the two ``Z_out``; ``sigma' = sigma(x)
    sigma(-x)``, ``sigma'' = sigma' (sigma(-x) - sigma(x))``), each with its relative accuracy.

    The integrands are log-concave with curvature ``>= 1 / S``: each is below ``e^-50`` of its
    maximum beyond ``10 sqrt(S)`` of its mode (``Z_s``: root of ``(a - z) / S = gamma
    sigma(gamma z)`` in ``[a - gamma S, a]``; ``D_1``: of ``(a - z) / S = gamma (2 sigma(gamma
    z) - 1)`` in ``[0, a]``), found by bisection. On that range, a composite 12-node
    Gauss-Legendre rule with panels of width ``<= 2 sqrt(S)`` (the Gaussian) refined
    geometrically (ratio 2) down to ``2 / gamma`` around the point nearest to ``z = 0``: the poles
    of the sigmoid sit at ``z = +-i pi / gamma``, so the rule converges geometrically on every
    panel however sharp the sigmoid is against the Gaussian (``gamma sqrt(S)`` from 0 to 1e6).
    ``S = 0``: the sigmoid itself.
    """
    ga = gamma * a
    if S == 0.0:
        sm = _sigmoid(-ga)
        sp = _sigmoid(ga)
        d1 = sp * sm
        return sm, d1, d1 * (sm - sp)
    sS = math.sqrt(S)
    lo = a - gamma * S
    hi = a
    while hi - lo > 1e-3 * sS:
        mid = 0.5 * (lo + hi)
        if (a - mid) / S - gamma * _sigmoid(gamma * mid) > 0.0:
            lo = mid
        else:
            hi = mid
    zm = 0.5 * (lo + hi)
    lo = 0.0
    hi = a
    while hi - lo > 1e-3 * sS:
        mid = 0.5 * (lo + hi)
        if (a - mid) / S + gamma * (_sigmoid(-gamma * mid) - _sigmoid(gamma * mid)) > 0.0:
            lo = mid
        else:
            hi = mid
    zd = 0.5 * (lo + hi)
    zlo = min(zm, zd) - 10.0 * sS
    zhi = max(zm, zd) + 10.0 * sS
    coarse = 2.0 * sS
    fine = min(2.0 / gamma, coarse)
    c = min(max(0.0, zlo), zhi)
    edges = _graded_edges(zlo, zhi, np.array([c]), np.array([fine]), coarse, 2.0)
    norm = 1.0 / (sS * _SQRT_2PI)
    zs = 0.0
    d1 = 0.0
    d2 = 0.0
    for p in range(edges.shape[0] - 1):
        a0 = edges[p]
        h = edges[p + 1] - a0
        for i in range(glx.shape[0]):
            z = a0 + h * glx[i]
            d = z - a
            w = h * glw[i] * norm * math.exp(-0.5 * d * d / S)
            sm = _sigmoid(-gamma * z)
            sp = _sigmoid(gamma * z)
            zs += w * sm
            t = w * sp * sm
            d1 += t
            d2 += t * (sm - sp)
    return zs, d1, d2


@njit(cache=True)
def _logit_point(y, omega, S, gamma, glx, glw):
    """``(log Z, g, dg)`` of the logit channel, ``S = V + noise``: ``Z(y) = E sigma(gamma y z)``,
    ``Z'(y) = gamma y E sigma'(gamma z)``, ``Z''(y) = gamma^2 y E sigma''(gamma z)`` (``sigma'``
    even, ``sigma''`` odd), from :func:`_logit_moments` at ``|omega|``."""
    a = abs(omega)
    s = 1.0 if omega >= 0.0 else -1.0
    zs, d1, d2 = _logit_moments(a, S, gamma, glx, glw)
    if y * s > 0.0:
        lz = math.log1p(-zs)
        Z = 1.0 - zs
    else:
        if zs == 0.0:
            return -math.inf, 0.0, 0.0
        lz = math.log(zs)
        Z = zs
    g = y * gamma * d1 / Z
    return lz, g, gamma * gamma * y * s * d2 / Z - g * g


@njit(cache=True)
def _logit_se_kernel(q, S, gamma, glx, glw):
    """``(E sum_y Z g^2, E sum_y Z log Z, E min_y Z, E Z(+1) Z(-1))`` over ``omega ~ N(0, q)``.

    With ``Z_s(a)`` (``a = |omega|``) from :func:`_logit_moments`: ``sum_y Z g^2 = gamma^2
    D_1^2 / (Z_s (1 - Z_s))``. The integrands are even in ``omega`` and analytic, smooth on the
    scale ``max(sqrt(S), 1/gamma)`` (the sigmoid's poles at ``omega = +-i pi / gamma``, smoothed
    by the Gaussian of variance ``S``), and decay like ``Z_s``, below ``e^-40`` beyond ``10
    sqrt(S) + 45 / gamma``: uniform 12-node Gauss-Legendre panels of width ``min(sqrt q,
    max(sqrt S, 2 / gamma))`` on ``[0, min(10 sqrt q, 10 sqrt S + 45 / gamma)]``.
    """
    if q == 0.0:
        zs, d1, _ = _logit_moments(0.0, S, gamma, glx, glw)
        return (gamma * gamma * d1 * d1 / (zs * (1.0 - zs)), zs * math.log(zs) + (1.0 - zs) * math.log1p(-zs),
                zs, zs * (1.0 - zs))
    sq = math.sqrt(q)
    sS = math.sqrt(S)
    Om = min(10.0 * sq, 10.0 * sS + 45.0 / gamma)
    width = min(sq, max(sS, 2.0 / gamma))
    n = int(math.ceil(Om / width - 1e-12))
    h = Om / n
    J = 0.0
    P = 0.0
    B = 0.0
    G = 0.0
    for p in range(n):
        for i in range(glx.shape[0]):
            a = h * (p + glx[i])
            w = 2.0 * h * glw[i] * math.exp(-0.5 * a * a / q) / (sq * _SQRT_2PI)
            zs, d1, _ = _logit_moments(a, S, gamma, glx, glw)
            if zs > 0.0:
                J += w * gamma * gamma * d1 * (d1 / zs) / (1.0 - zs)
                P += w * (zs * math.log(zs) + (1.0 - zs) * math.log1p(-zs))
            B += w * zs
            G += w * zs * (1.0 - zs)
    return J, P, B, G


# ---- door channel: y = sign(|z| - K), noise on z (so that S = V + noise)


@njit(cache=True)
def _door_logs(a, sS, K):
    """``(log Z(+1), log Z(-1), log(sqrt(S) dZ(+1)/d omega))`` of the door at ``omega = a >= 0``.

    With ``x_1 = (a - K) / sqrt S``, ``x_2 = (a + K) / sqrt S``: ``Z(+1) = H(-x_1) + H(x_2)``,
    ``Z(-1) = H(x_1) - H(x_2)`` (as a difference of tails when ``x_1 >= 0``, else as the sum
    ``(erf(-x_1 / sqrt 2) + erf(x_2 / sqrt 2)) / 2``: no cancellation either way) and
    ``sqrt(S) Z'(+1) = phi(x_1) - phi(x_2) = phi(x_1) (1 - e^{-2 a K / S})``.
    """
    x1 = (a - K) / sS
    x2 = (a + K) / sS
    l1 = logH(-x1)
    l2 = logH(x2)
    mx = max(l1, l2)
    lzp = mx + math.log1p(math.exp(min(l1, l2) - mx))
    if K == 0.0:
        return lzp, -math.inf, -math.inf
    if x1 >= 0.0:
        lh1 = logH(x1)
        lzm = lh1 + math.log(-math.expm1(l2 - lh1))
    else:
        lzm = math.log(0.5 * (math.erf(-x1 / math.sqrt(2.0)) + math.erf(x2 / math.sqrt(2.0))))
    e = -math.expm1(-2.0 * a * K / (sS * sS))
    ld = log_phi(x1) + math.log(e) if e > 0.0 else -math.inf
    return lzp, lzm, ld


@njit(cache=True)
def _door_point(y, omega, S, K):
    """``(log Z, g, dg)`` of the door ``y = sign(|z| - K)``, ``S = V + noise``:
    ``Z''(+1) = (x_2 phi(x_2) - x_1 phi(x_1)) / S = -Z''(-1)``; ``Z'`` odd in ``omega``."""
    a = abs(omega)
    s = 1.0 if omega >= 0.0 else -1.0
    sS = math.sqrt(S)
    lzp, lzm, ld = _door_logs(a, sS, K)
    lz = lzp if y > 0.0 else lzm
    if lz == -math.inf:
        return -math.inf, 0.0, 0.0
    x1 = (a - K) / sS
    x2 = (a + K) / sS
    g = y * s * math.exp(ld - lz) / sS
    zpp = y * (x2 * math.exp(log_phi(x2) - lz) - x1 * math.exp(log_phi(x1) - lz)) / S
    return lz, g, zpp - g * g


@njit(cache=True)
def _door_terms(a, sS, K):
    lzp, lzm, ld = _door_logs(a, sS, K)
    zp = math.exp(lzp)
    zm = math.exp(lzm)
    J = math.exp(2.0 * ld - lzp - lzm) / (sS * sS) if zm > 0.0 and ld > -math.inf else 0.0
    P = zp * lzp + (zm * lzm if zm > 0.0 else 0.0)
    return J, P, min(zp, zm), zp * zm


@njit(cache=True)
def _door_se_kernel(q, S, K, glx, glw):
    """``(E sum_y Z g^2, E sum_y Z log Z, E min_y Z, E Z(+1) Z(-1))`` of the door over
    ``omega ~ N(0, q)`` (even in ``omega``: twice the integral over ``a = |omega| >= 0``).

    Every integrand vanishes (faster than ``e^-72``) farther than ``12 sqrt(S)`` from the
    edges ``|omega| = K`` of the door, where the label is ambiguous; so the rule is uniform
    12-node Gauss-Legendre panels of width ``<= min(sqrt S, sqrt q)`` on ``[max(0, K - 12
    sqrt S), min(10 sqrt q, K + 12 sqrt S)]`` (at most ~24 panels however small ``V``), with a
    panel edge where ``Z(+1) = Z(-1) = 1/2`` (the kink of ``min_y Z``).
    """
    sS = math.sqrt(S)
    if q == 0.0:
        return _door_terms(0.0, sS, K)
    sq = math.sqrt(q)
    lo = max(0.0, K - 12.0 * sS)
    hi = min(10.0 * sq, K + 12.0 * sS)
    if not hi > lo:
        return 0.0, 0.0, 0.0, 0.0
    # the Bayes decision switches where log Z(+1) = log Z(-1) (Z(+1) grows with |omega|)
    lzp0, lzm0, _ = _door_logs(lo, sS, K)
    lzp1, lzm1, _ = _door_logs(hi, sS, K)
    cut = -1.0
    if lzp0 < lzm0 and lzp1 > lzm1:
        b0 = lo
        b1 = hi
        for _ in range(200):
            mid = 0.5 * (b0 + b1)
            if mid <= b0 or mid >= b1:
                break
            lp, lm, _ = _door_logs(mid, sS, K)
            if lp < lm:
                b0 = mid
            else:
                b1 = mid
        cut = 0.5 * (b0 + b1)
    width = min(sS, sq)
    J = 0.0
    P = 0.0
    B = 0.0
    G = 0.0
    for part in range(2):
        if cut < 0.0:
            if part == 1:
                break
            u0, u1 = lo, hi
        elif part == 0:
            u0, u1 = lo, cut
        else:
            u0, u1 = cut, hi
        if not u1 > u0:
            continue
        n = int(math.ceil((u1 - u0) / width - 1e-12))
        h = (u1 - u0) / n
        for p in range(n):
            for i in range(glx.shape[0]):
                a = u0 + h * (p + glx[i])
                w = 2.0 * h * glw[i] * math.exp(-0.5 * a * a / q) / (sq * _SQRT_2PI)
                j, pp, b, gg = _door_terms(a, sS, K)
                J += w * j
                P += w * pp
                B += w * b
                G += w * gg
    return J, P, B, G


# ---- pointwise log Z_out and its omega-derivatives (GAMP, tests, noisy integrals)


@njit(cache=True)
def _abs_point(y, omega, V, D):
    """``(log Z, g, dg)`` of ``y = |z| + sqrt(D) xi`` (``D > 0``) at ``(omega, V > 0)``.

    ``Z = N(y; omega, S) H(x_+) + N(y; -omega, S) H(x_-)``, ``S = V + D``, ``v = V D / S``,
    ``x_+ = -(omega D + y V) / (S sqrt v)``, ``x_- = (omega D - y V) / (S sqrt v)`` (the
    posterior of ``z`` on each branch is ``N(m, v)`` truncated to that sign of ``z``).
    """
    S = V + D
    sv = math.sqrt(V * D / S)
    c = D / (S * sv)
    xp = -(omega * D + y * V) / (S * sv)
    xm = (omega * D - y * V) / (S * sv)
    lp = _log_npdf(y, omega, S) + logH(xp)
    lm = _log_npdf(y, -omega, S) + logH(xm)
    mx = max(lp, lm)
    if mx == -math.inf:
        return -math.inf, 0.0, 0.0
    ep = math.exp(lp - mx)
    em = math.exp(lm - mx)
    logZ = mx + math.log(ep + em)
    pp = ep / (ep + em)
    pm = 1.0 - pp
    d1p = (y - omega) / S + c * mills(xp)
    d1m = -(y + omega) / S - c * mills(xm)
    d2p = -1.0 / S - c * c * _dmills(xp)
    d2m = -1.0 / S - c * c * _dmills(xm)
    g = pp * d1p + pm * d1m
    dg = pp * d2p + pm * d2m + pp * pm * (d1p - d1m) ** 2
    return logZ, g, dg


@njit(cache=True)
def _relu_point(y, omega, V, D):
    """``(log Z, g, dg)`` of ``y = max(z, 0) + sqrt(D) xi`` (``D > 0``) at ``(omega, V > 0)``:
    ``Z = N(y; omega, S) H(x_+) + N(y; 0, D) H(omega / sqrt V)`` (``x_+`` as for ``abs``)."""
    S = V + D
    sv = math.sqrt(V * D / S)
    c = D / (S * sv)
    sV = math.sqrt(V)
    xp = -(omega * D + y * V) / (S * sv)
    u = omega / sV
    l1 = _log_npdf(y, omega, S) + logH(xp)
    l0 = _log_npdf(y, 0.0, D) + logH(u)
    mx = max(l1, l0)
    e1 = math.exp(l1 - mx)
    e0 = math.exp(l0 - mx)
    logZ = mx + math.log(e1 + e0)
    p1 = e1 / (e1 + e0)
    p0 = 1.0 - p1
    d11 = (y - omega) / S + c * mills(xp)
    d10 = -mills(u) / sV
    d21 = -1.0 / S - c * c * _dmills(xp)
    d20 = -_dmills(u) / V
    g = p1 * d11 + p0 * d10
    dg = p1 * d21 + p0 * d20 + p1 * p0 * (d11 - d10) ** 2
    return logZ, g, dg


@njit(cache=True)
def _point(kind, y, omega, V, D, par, glx, glw):
    """``(log Z_out, g_out, d g_out / d omega)`` for channel ``kind`` (0 linear, 1 sign,
    2 abs, 3 relu, 4 logit, 5 door), any ``noise D >= 0``, ``V > 0``; ``par`` is the channel's
    own parameter (logit: ``gamma``, door: ``width``; unused otherwise). Densities w.r.t.
    Lebesgue measure, except the labels +-1 (counting measure) and noiseless ``relu`` (unit atom
    at 0 plus Lebesgue)."""
    if kind == 4:
        return _logit_point(y, omega, V + D, par, glx, glw)
    if kind == 5:
        return _door_point(y, omega, V + D, par)
    if kind == 0:
        S = V + D
        return _log_npdf(y, omega, S), (y - omega) / S, -1.0 / S
    if kind == 1:
        S = V + D
        sS = math.sqrt(S)
        x = -y * omega / sS
        m = mills(x)
        return logH(x), y * m / sS, -_dmills(x) / S
    if kind == 2:
        if D > 0.0:
            return _abs_point(y, omega, V, D)
        if y < 0.0:
            return -math.inf, 0.0, 0.0
        a = y * omega / V
        aa = abs(a)
        # log(N(y; omega, V) + N(y; -omega, V)) = log N(y; 0, V) - omega^2/(2V) + log(2 cosh a)
        logZ = _log_npdf(y, 0.0, V) - 0.5 * omega * omega / V + aa + math.log1p(math.exp(-2.0 * aa))
        th = math.tanh(a)
        return logZ, (y * th - omega) / V, (y * y / V * (1.0 - th * th) - 1.0) / V
    # relu
    if D > 0.0:
        return _relu_point(y, omega, V, D)
    sV = math.sqrt(V)
    if y == 0.0:
        u = omega / sV
        return logH(u), -mills(u) / sV, -_dmills(u) / V
    if y < 0.0:
        return -math.inf, 0.0, 0.0
    return _log_npdf(y, omega, V), (y - omega) / V, -1.0 / V


@njit(cache=True)
def _point_vec(kind, y, omega, V, D, par, glx, glw):
    n = y.shape[0]
    lz = np.empty(n)
    g = np.empty(n)
    dg = np.empty(n)
    for i in range(n):
        lz[i], g[i], dg[i] = _point(kind, y[i], omega[i], V[i], D, par, glx, glw)
    return lz, g, dg


@njit(cache=True)
def _logH_mills(x):
    """``(log H(x), M(x) = phi(x) / H(x))`` with one evaluation of ``erfc``."""
    lh = logH(x)
    if x < 30.0:
        return lh, math.exp(log_phi(x) - lh)
    return lh, mills(x)


@njit(cache=True)
def _y_constants(kind, omega, V, D):
    """Constants of the ``y`` integrals at fixed ``(omega, V, D)``: ``S = V + D``, the posterior
    standard deviation ``sv`` on a branch, ``c = D / (S sv)``, ``log(2 pi S) / 2``,
    ``log(2 pi D) / 2`` and, for ``relu``, the dead branch's ``log H(omega / sqrt V)`` and
    ``omega``-derivative (independent of ``y``)."""
    S = V + D
    sv = math.sqrt(V * D / S)
    c = D / (S * sv)
    lnS = 0.5 * (_LOG_2PI + math.log(S))
    lnD = 0.5 * (_LOG_2PI + math.log(D))
    l0u = 0.0
    d0u = 0.0
    if kind == 3:
        sV = math.sqrt(V)
        l0u, mu = _logH_mills(omega / sV)
        d0u = -mu / sV
    return S, sv, c, lnS, lnD, l0u, d0u


@njit(cache=True)
def _lz_g(kind, y, omega, V, D, S, sv, c, lnS, lnD, l0u, d0u):
    """``(log Z_out, g_out, log H(x_+), log of the second factor)`` of noisy ``abs`` (2) /
    ``relu`` (3): the lean version of :func:`_abs_point` / :func:`_relu_point` for the
    state-evolution integrals (no ``dg``; constants from :func:`_y_constants`). The last two
    are the truncation factors of the two mixture components of ``Z`` (for the Gauss-Hermite
    ``y`` rule)."""
    xp = -(omega * D + y * V) / (S * sv)
    lhp, mp = _logH_mills(xp)
    dp = y - omega
    l1 = -lnS - 0.5 * dp * dp / S + lhp
    d1 = dp / S + c * mp
    if kind == 2:
        xm = (omega * D - y * V) / (S * sv)
        lh0, mm = _logH_mills(xm)
        dm = y + omega
        l0 = -lnS - 0.5 * dm * dm / S + lh0
        d0 = -dm / S - c * mm
    else:
        lh0 = l0u
        l0 = -lnD - 0.5 * y * y / D + l0u
        d0 = d0u
    mx = max(l1, l0)
    if mx == -math.inf:
        return -math.inf, 0.0, lhp, lh0
    e1 = math.exp(l1 - mx)
    e0 = math.exp(l0 - mx)
    return mx + math.log(e1 + e0), (e1 * d1 + e0 * d0) / (e1 + e0), lhp, lh0


# ---- composite graded Gauss-Legendre rule for the noisy kinked channels


@njit(cache=True)
def _graded_edges(lo, hi, centers, fines, coarse, ratio):
    """Sorted panel edges of ``[lo, hi]``: uniform with step ``coarse``, refined geometrically
    (by ``ratio``) down to ``fines[k]`` on both sides of each ``centers[k]``."""
    nu = int(math.ceil((hi - lo) / coarse))
    cap = nu + 1 + 2
    for k in range(centers.shape[0]):
        cap += 1 + 2 * (int(math.log(max(coarse / fines[k], 1.0)) / math.log(ratio)) + 2)
    buf = np.empty(cap)
    n = 0
    for j in range(nu + 1):
        buf[n] = min(lo + j * (hi - lo) / nu, hi)
        n += 1
    for k in range(centers.shape[0]):
        c = centers[k]
        if c < lo or c > hi:
            continue
        buf[n] = c
        n += 1
        h = fines[k]
        while h < coarse:
            for sgn in (-1.0, 1.0):
                e = c + sgn * h
                if lo < e < hi:
                    buf[n] = e
                    n += 1
            h *= ratio
    e = sorted_copy(buf[:n])  # np.sort compiles a generic quicksort (~1.5 s)
    out = np.empty(n)
    m = 0
    tol = 1e-14 * (hi - lo)
    for i in range(n):
        if m == 0 or e[i] - out[m - 1] > tol:
            out[m] = e[i]
            m += 1
    return out[:m]


@njit(cache=True)
def _noisy_y_edges(kind, omega, V, D, cf, span):
    """Panel edges of the composite ``y`` rule of noisy ``abs`` (2) / ``relu`` (3) at ``omega``:
    split at the branch centres (``+-omega`` or ``omega`` and ``0``) and at the points where the
    truncation factors ``H(x_+-)`` switch (``y = -+omega D / V``, width ``sqrt(S D / V)``),
    graded down to a quarter of each local width."""
    S = V + D
    sS = math.sqrt(S)
    sD = math.sqrt(D)
    wt = math.sqrt(S * D / V)
    if kind == 2:
        a = abs(omega)
        lo = -a - span * sS
        hi = a + span * sS
        centers = np.array([omega, -omega, -omega * D / V, omega * D / V])
        fines = np.array([cf * sS, cf * sS, _Y_FINEST * wt, _Y_FINEST * wt])
    else:
        lo = min(omega - span * sS, -span * sD)
        hi = max(omega + span * sS, span * sD)
        centers = np.array([omega, 0.0, -omega * D / V])
        fines = np.array([cf * sS, _Y_FINEST * sD, _Y_FINEST * wt])
    return _graded_edges(lo, hi, centers, fines, cf * sS, 2.0)


@njit(cache=True)
def _noisy_inner(kind, omega, V, D, glx, glw, cf, span):
    """``(int dy Z g^2, int dy Z log Z)`` at fixed ``omega`` for noisy ``abs`` (2) / ``relu`` (3),
    composite Gauss-Legendre rule on :func:`_noisy_y_edges`."""
    edges = _noisy_y_edges(kind, omega, V, D, cf, span)
    S, sv, c, lnS, lnD, l0u, d0u = _y_constants(kind, omega, V, D)
    J = 0.0
    P = 0.0
    for p in range(edges.shape[0] - 1):
        a0 = edges[p]
        h = edges[p + 1] - a0
        for i in range(glx.shape[0]):
            y = a0 + h * glx[i]
            lz, g, _, _ = _lz_g(kind, y, omega, V, D, S, sv, c, lnS, lnD, l0u, d0u)
            if lz == -math.inf:
                continue
            z = math.exp(lz)
            J += h * glw[i] * z * g * g
            P += h * glw[i] * z * lz
    return J, P


@njit(cache=True)
def _noisy_curvature(kind, V, D, glx, glw, cf, span):
    """``int dy Z (d g / d omega)^2`` at ``omega = 0`` for noisy ``abs`` (2) / ``relu`` (3).

    For a channel even in ``z`` (``abs``) ``g = 0`` at ``omega = 0``, so ``E g^2 = q K(q)`` with
    ``K(0) = lim E g^2 / q = (1/2) d^2/d omega^2 int dy Z g^2 |_0 = int dy Z (dg)^2`` (the terms
    with ``g`` vanish; ``d/dV`` of the integrand vanishes at ``omega = 0``); equivalently
    ``E_y[(E[z^2 | y] - rho)^2] / rho^4``, the weak-recovery slope. Same rule as
    :func:`_noisy_inner`.
    """
    edges = _noisy_y_edges(kind, 0.0, V, D, cf, span)
    K = 0.0
    for p in range(edges.shape[0] - 1):
        a0 = edges[p]
        h = edges[p + 1] - a0
        for i in range(glx.shape[0]):
            y = a0 + h * glx[i]
            lz, g, dg = _point(kind, y, 0.0, V, D, 0.0, glx, glw)
            if lz == -math.inf:
                continue
            K += h * glw[i] * math.exp(lz) * dg * dg
    return K


@njit(cache=True)
def _gh_inner(kind, omega, V, D, yx, yw):
    """``(int dy Z g^2, int dy Z log Z)`` at fixed ``omega`` for noisy ``abs`` (2) / ``relu`` (3),
    by one Gauss-Hermite rule (``yx, yw``: nodes and weights of ``E_{N(0,1)}``) per mixture
    component of ``Z_out``, centred and scaled on it.

    ``Z = N(y; omega, S) H(x_+) + B(y)`` with ``B = N(y; -omega, S) H(x_-)`` (abs) or
    ``N(y; 0, D) H(omega / sqrt V)`` (relu): ``int Z f = E_{y ~ N(omega, S)} H(x_+) f +
    E_{y ~ N(-omega, S)} H(x_-) f`` (abs) or ``... + H(omega / sqrt V) E_{y ~ N(0, D)} f``
    (relu). Accurate only when ``V << D``: then the truncation factors ``H(x_+-)`` vary on the
    scale ``sqrt(S D / V) >> sqrt(S)`` and the posterior-branch switches of ``f`` are smooth on
    the component widths (a sharp edge of width ``~ sqrt(D)`` appears inside the ``sqrt(S)``
    bulk when ``V >~ D``; the caller then uses the composite rule).
    """
    S, sv, c, lnS, lnD, l0u, d0u = _y_constants(kind, omega, V, D)
    sS = math.sqrt(S)
    sD = math.sqrt(D)
    J = 0.0
    P = 0.0
    for comp in range(2):
        if comp == 0:
            cen = omega
            sd = sS
        elif kind == 2:
            cen = -omega
            sd = sS
        else:
            cen = 0.0
            sd = sD
        for i in range(yx.shape[0]):
            y = cen + sd * yx[i]
            lz, g, lhp, lh0 = _lz_g(kind, y, omega, V, D, S, sv, c, lnS, lnD, l0u, d0u)
            if lz == -math.inf:
                continue
            # Z / (density of this component's Gaussian) = its truncation factor
            e = yw[i] * math.exp(lhp if comp == 0 else lh0)
            J += e * g * g
            P += e * lz
    return J, P


@njit(cache=True)
def _inner(kind, omega, V, D, glx, glw, cf, span, yx, yw, gh_y):
    if gh_y:
        return _gh_inner(kind, omega, V, D, yx, yw)
    return _noisy_inner(kind, omega, V, D, glx, glw, cf, span)


@njit(cache=True)
def _noisy_se_kernel(kind, q, V, D, glx, glw, cf, span, yx, yw, gh_y, ox, ow, ocf, oratio):
    """``(E g^2, psi)`` for noisy ``abs`` / ``relu`` at ``V > 0``, ``D > 0``.

    ``E_{omega ~ N(0,q)} f = f_inf + 2 int_0^Omega N(omega; 0, q) (f_e(omega) - f_inf) domega``,
    ``f_e`` the even part of ``f`` and ``f_inf`` its limit at large ``|omega|``
    (abs: ``1/S``, ``-log(2 pi e S)/2``; relu: half of that plus half of the dead-unit values
    ``0``, ``-log(2 pi e D)/2``); the ``omega`` panels are graded (ratio ``oratio``) down to
    ``sqrt(V)/4`` at 0. The ``y`` integrals use :func:`_gh_inner` (nodes ``yx, yw``) if ``gh_y``,
    else the composite :func:`_noisy_inner`.
    """
    S = V + D
    if kind == 2:
        Jinf = 1.0 / S
        Pinf = -0.5 * (_LOG_2PIE + math.log(S))
    else:
        Jinf = 0.5 / S
        Pinf = -0.25 * (_LOG_2PIE + math.log(S)) - 0.25 * (_LOG_2PIE + math.log(D))
    if q == 0.0:
        J0, P0 = _inner(kind, 0.0, V, D, glx, glw, cf, span, yx, yw, gh_y)
        return J0, P0
    sq = math.sqrt(q)
    sS = math.sqrt(S)
    Om = min(9.0 * sq, span * sS)
    if 9.0 * sq <= span * sS:
        # the Gaussian cut-off truncates the omega integral, not the asymptote: integrate E g^2
        # itself, which for abs vanishes like q as q -> 0 (subtracting 1/S would cost its
        # relative accuracy to cancellation: ~1e-6 at q = 1e-10)
        Jinf = 0.0
    coarse = ocf * min(sq, sS)
    if oratio > 0.0:
        fine = min(0.25 * math.sqrt(V), coarse)
        edges = _graded_edges(0.0, Om, np.array([0.0]), np.array([fine]), coarse, oratio)
    else:
        # sign-ambiguity core [0, core] in 3 panels, then uniform panels of width <= coarse
        core = min(12.0 * math.sqrt(V), Om)
        nu = int(math.ceil((Om - core) / coarse - 1e-12)) if Om > core else 0
        ncore = 3 if core < coarse else int(math.ceil(core / coarse))
        edges = np.empty(ncore + nu + 1)
        for k in range(ncore + 1):
            edges[k] = core * k / ncore
        for k in range(1, nu + 1):
            edges[ncore + k] = core + (Om - core) * k / nu
    accJ = 0.0
    accP = 0.0
    for p in range(edges.shape[0] - 1):
        a0 = edges[p]
        h = edges[p + 1] - a0
        for i in range(ox.shape[0]):
            om = a0 + h * ox[i]
            Jp, Pp = _inner(kind, om, V, D, glx, glw, cf, span, yx, yw, gh_y)
            if kind == 3:
                Jm, Pm = _inner(kind, -om, V, D, glx, glw, cf, span, yx, yw, gh_y)
                Jp = 0.5 * (Jp + Jm)
                Pp = 0.5 * (Pp + Pm)
            w = h * ow[i] * math.exp(-0.5 * om * om / q) / (sq * _SQRT_2PI)
            accJ += w * (Jp - Jinf)
            accP += w * (Pp - Pinf)
    return Jinf + 2.0 * accJ, Pinf + 2.0 * accP


def _noisy_se(kind, q, V, D):
    """``(E g^2, psi)`` of noisy ``abs`` (2) / ``relu`` (3): Gauss-Hermite ``y`` rule per component
    while ``V / D`` is small enough (:data:`_GH_Y_ORDERS`), composite ``y`` rule otherwise;
    composite ``omega`` rule, graded or core-plus-uniform."""
    n_y = 0
    for ratio, n in _GH_Y_ORDERS[kind]:
        if V <= ratio * D:
            n_y = n
            break
    yx, yw = gauss_hermite(n_y if n_y else 8)
    if 48.0 * math.sqrt(V) <= _OM_COARSE * math.sqrt(min(q, V + D)):
        ox, ow, oratio = *_GL_OM_CORE, 0.0
    else:
        ox, ow, oratio = *_GL_OM_GRADED, _OM_RATIO
    return _noisy_se_kernel(kind, q, V, D, *_GL, _COARSE, _SPAN, yx, yw, n_y > 0, ox, ow, _OM_COARSE, oratio)


def _rule_switches(kind, D, rho):
    """The values of ``V`` in ``(0, rho)`` where :func:`_noisy_se` changes rule along the
    Bayes-optimal line ``q = rho - V`` (its value jumps there by up to its accuracy, ~1e-10):
    the Gauss-Hermite ``y`` orders (``V = r D``), the core-plus-uniform ``omega`` rule
    (``48 sqrt(V) = 4 sqrt(min(q, V + D))``) and the ``omega`` cut-off (``9 sqrt(q) = span
    sqrt(V + D)``). The tables put breakpoints there, so that each piece is smooth."""
    out = [r * D for r, _ in _GH_Y_ORDERS[kind]]
    k = (_OM_COARSE / 48.0) ** 2
    out.append(min(k * rho / (1.0 + k), k * D / (1.0 - k)))
    out.append((81.0 * rho - _SPAN**2 * D) / (81.0 + _SPAN**2))
    return sorted(v for v in out if 0.0 < v < rho)


# ============================================================================ channel classes


@dataclass(frozen=True)
class Channel(abc.ABC):
    """Base class: an output channel ``P_out(y | z)`` with noise variance ``noise >= 0``.

    Subclasses set ``name``, ``kind`` (kernel switch), ``even`` (``P_out(y | -z) = P_out(y | z)``
    up to relabelling, so that ``g_out = 0`` at ``omega = 0``), ``classification``.
    """

    noise: float = 0.0

    name: ClassVar[str] = ""
    kind: ClassVar[int] = -1
    even: ClassVar[bool] = False
    classification: ClassVar[bool] = False

    def __post_init__(self):
        if not isinstance(self.noise, (int, float, np.floating, np.integer)) or isinstance(self.noise, bool):
            raise ValueError(f"noise must be a real number >= 0, got {self.noise!r}")
        if not math.isfinite(self.noise) or self.noise < 0:
            raise ValueError(f"noise must be finite and >= 0 (a variance), got {self.noise!r}")

    def _par(self) -> float:
        """The channel's own parameter passed to the pointwise kernel (0 when it has none)."""
        return 0.0

    # -------------------------------------------------------------- pointwise
    def z_out(self, y, omega, V):
        """``(log Z_out, g_out, d g_out / d omega)`` at arrays ``y, omega, V`` (``V > 0``).

        ``Z_out(y; omega, V) = E_{z ~ N(omega, V)} P_out(y | z)``; for continuous ``y`` it is a
        density (noiseless ``relu``: unit atom at ``y = 0`` plus density on ``y > 0``).
        """
        y, omega, V = np.broadcast_arrays(np.asarray(y, float), np.asarray(omega, float), np.asarray(V, float))
        shape = y.shape
        lz, g, dg = _point_vec(
            self.kind,
            np.ascontiguousarray(y.ravel()),
            np.ascontiguousarray(omega.ravel()),
            np.ascontiguousarray(V.ravel()),
            float(self.noise),
            float(self._par()),
            *_GL,
        )
        return lz.reshape(shape), g.reshape(shape), dg.reshape(shape)

    # -------------------------------------------------------------- state evolution
    def se_integrals(self, q: float, V: float) -> tuple[float, float]:
        """``(hat, psi)``: ``E g_out^2`` and ``E int dy Z_out log Z_out`` at ``omega ~ N(0, q)``,
        posterior variance ``V`` (``V = rho - q`` in the Bayes-optimal GLM). ``hat`` is ``inf``
        at ``V + noise = 0`` (perfect knowledge, noiseless)."""
        q = float(q)
        V = float(V)
        if V == 0.0:
            return self._se_perfect(q)
        return self._se(q, V)

    #: the state-evolution integrals cost milliseconds (noisy kinked channels): tabulate them
    expensive: ClassVar[bool] = False

    def se_bayes(self, q: float, rho: float, tabulated: bool = True) -> tuple[float, float]:
        """:meth:`se_integrals` on the Bayes-optimal line ``V = rho - q``, ``0 <= q <= rho``.

        With ``tabulated`` and a channel whose integrals are expensive (noisy ``abs`` and
        ``relu``, 0.5-3 ms per call), the values come from a lazily built piecewise-Chebyshev table
        in ``s = sqrt(rho - q)`` (:func:`_se_table`), shared by every model with the same
        channel, noise and ``rho``: the integrals do not depend on ``alpha`` or on the prior, so
        a sweep or a phase diagram pays for them once. The table agrees with the direct
        integrals to ~1e-10 relative (tests).
        """
        q = float(q)
        rho = float(rho)
        if self._tabulates(tabulated) and q < rho:
            # (q = rho, V = 0, is the closed-form limit: no table needed)
            s = math.sqrt(max(rho - q, 0.0))
            vals = _se_table(self, rho)(min(s, math.sqrt(rho)))
            hat, psi = vals[0], vals[1]
            return float(hat * q if self.even else hat), float(psi)
        return self.se_integrals(q, rho - q)

    def se_bayes_derivative(self, q: float, rho: float, tabulated: bool = True) -> float:
        """``d hat / d q`` along ``V = rho - q`` (``hat = E g_out^2``), ``0 <= q < rho``.

        From the table's Chebyshev derivative (``d/dq = -d/ds / (2 s)``) where
        :meth:`se_bayes` tabulates; otherwise a second-order finite difference of the smooth
        integral (step ``1e-5 min(rho, rho - q)``, one-sided at ``q = 0``), accurate to ~1e-9
        relative.
        """
        q = float(q)
        rho = float(rho)
        V = rho - q
        if not V > 0.0:
            raise ValueError(f"q must be below rho (the derivative diverges at V = 0), got q={q}, rho={rho}")
        if self._tabulates(tabulated):
            s = min(math.sqrt(V), math.sqrt(rho))
            table = _se_table(self, rho)
            dhat = -table.derivative(s)[0] / (2.0 * s)
            # even channels tabulate K = hat / q: d(q K)/dq = K + q dK/dq
            return float(table(s)[0] + q * dhat if self.even else dhat)
        h = 1e-5 * min(rho, V)

        def hat(t):
            return self.se_integrals(t, rho - t)[0]

        if q - h >= 0.0:
            return (hat(q + h) - hat(q - h)) / (2.0 * h)
        return (-3.0 * hat(q) + 4.0 * hat(q + h) - hat(q + 2.0 * h)) / (2.0 * h)

    def _table_values(self, q, V):
        """The values :func:`_se_table` holds at ``(q, V)``: ``(E g^2, psi)`` (the logit channel
        adds the integrals of its label errors)."""
        return self.se_integrals(q, V)

    def _tabulates(self, tabulated):
        """Whether :meth:`se_bayes` reads a table: asked for, and the integrals are expensive."""
        return tabulated and self.expensive and self.noise > 0.0

    def _se_perfect(self, q):
        """Limit ``V -> 0``: ``omega = z``, ``Z_out = P_out``."""
        D = float(self.noise)
        if D == 0.0:
            # noiseless: discrete sign has zero conditional entropy; continuous labels +inf
            return math.inf, (0.0 if self.classification else math.inf)
        return self._se_perfect_noisy(q, D)

    def label_errors(self, q: float, V: float, rho=None) -> dict[str, float]:
        """Errors on a fresh label at overlap ``q``, posterior variance ``V`` (``V = rho - q`` at
        Bayes optimality), for the observables of :class:`equations.glm_bayes.GLMBayes`.

        ``label_mse``: ``E (y - E[y | omega, V])^2``, the square error of the Bayes-optimal
        (posterior-mean) prediction of the label. For +-1 labels also ``bayes_error``, the 0/1
        error ``E min_y Z_out(y; omega, V)`` of the Bayes-optimal classifier ``argmax_y Z_out``,
        and ``gibbs_error``, the probability that a label drawn from the posterior predictive
        (a posterior sample ``w``, then ``y ~ P_out(. | x.w / sqrt d)``) differs from the true
        one: by the Nishimori identity the sample and the teacher have overlap ``q`` and norm
        ``rho``, so both labels are drawn independently from ``Z_out(.; omega, V)`` and
        ``gibbs_error = 1 - E sum_y Z_out^2 = 2 E Z(+1) Z(-1)``, while ``label_mse = 1 - E (Z(+1) -
        Z(-1))^2 = 4 E Z(+1) Z(-1)``. ``rho`` (optional): ``V = rho - q``, so that a tabulating
        channel may read its table.
        """
        return {"label_mse": float(self.bayes_gen_error(q, V))}

    @abc.abstractmethod
    def bayes_gen_error(self, q: float, V: float) -> float:
        """Generalisation error of the Bayes-optimal predictor at overlap ``q``, variance ``V``:
        ``E (y - E[y | omega, V])^2`` (regression) or ``P(y != sign omega)`` (classification)."""

    @abc.abstractmethod
    def predict(self, omega, V):
        """Bayes-optimal prediction of ``y`` from ``omega`` and ``V`` (arrays)."""

    @abc.abstractmethod
    def sample(self, z, rng):
        """Labels ``y ~ P_out(. | z)`` for an array ``z``."""


@dataclass(frozen=True)
class Linear(Channel):
    """``y = z + sqrt(noise) xi``: ``Z_out = N(y; omega, V + noise)``, all in closed form."""

    name: ClassVar[str] = "linear"
    kind: ClassVar[int] = 0

    def _se(self, q, V):
        S = V + self.noise
        return 1.0 / S, -0.5 * (_LOG_2PIE + math.log(S))

    def _se_perfect_noisy(self, q, D):
        return 1.0 / D, -0.5 * (_LOG_2PIE + math.log(D))

    def bayes_gen_error(self, q, V):
        return float(V + self.noise)

    def predict(self, omega, V):
        return np.asarray(omega, float)

    def sample(self, z, rng):
        return z + math.sqrt(self.noise) * rng.standard_normal(np.shape(z))


@dataclass(frozen=True)
class Sign(Channel):
    """``y = sign(z + sqrt(noise) xi)`` (probit for ``noise > 0``): ``Z_out(y) = H(-y omega /
    sqrt(V + noise))``; the integrals reduce to one smooth Gauss-Hermite integral."""

    name: ClassVar[str] = "sign"
    kind: ClassVar[int] = 1
    classification: ClassVar[bool] = True

    def _se(self, q, V):
        z, w = gauss_hermite(_N_TAU)
        return _sign_se_kernel(q, V + self.noise, z, w)

    def _se_perfect_noisy(self, q, D):
        return _sign_se_kernel(q, D, *gauss_hermite(_N_TAU))

    def bayes_gen_error(self, q, V):
        # (omega, z + sqrt(noise) xi) Gaussian with variances q, q + V + noise and covariance q:
        # P(sign differ) = arccos(sqrt(q / (q + S))) / pi = arctan(sqrt(S / q)) / pi (no
        # cancellation when S << q)
        S = V + self.noise
        if q == 0.0:
            return 0.5
        return float(math.atan(math.sqrt(S / q)) / math.pi)

    def label_errors(self, q, V, rho=None):
        # two labels drawn independently given omega are the signs of two Gaussians of variance
        # rho + noise = q + S with covariance q: they differ with probability arccos(q / (q + S))
        # / pi = arctan(sqrt(S (2 q + S)) / q) / pi (no cancellation when S << q)
        S = V + self.noise
        gibbs = 0.5 if q == 0.0 else math.atan(math.sqrt(S * (2.0 * q + S)) / q) / math.pi
        if S == 0.0:
            gibbs = 0.0
        return {"label_mse": float(2.0 * gibbs), "gibbs_error": float(gibbs),
                "bayes_error": float(self.bayes_gen_error(q, V))}

    def predict(self, omega, V):
        return np.where(np.asarray(omega) >= 0, 1.0, -1.0)

    def sample(self, z, rng):
        t = z + math.sqrt(self.noise) * rng.standard_normal(np.shape(z)) if self.noise > 0 else z
        return np.where(t >= 0, 1.0, -1.0)


@dataclass(frozen=True)
class Abs(Channel):
    """``y = |z| + sqrt(noise) xi`` (real phase retrieval); even in ``z``."""

    name: ClassVar[str] = "abs"
    kind: ClassVar[int] = 2
    even: ClassVar[bool] = True
    expensive: ClassVar[bool] = True

    def _se(self, q, V):
        if self.noise == 0.0:
            return _abs0_se_kernel(q, V, 0.1, 28.0)
        return _noisy_se(2, q, V, float(self.noise))

    def _se_perfect_noisy(self, q, D):
        # omega = z: Z = N(y; |omega|, D), g = sign(omega) (y - |omega|) / D
        return 1.0 / D, -0.5 * (_LOG_2PIE + math.log(D))

    def bayes_gen_error(self, q, V):
        if V == 0.0:
            return float(self.noise)
        return float(self.noise + _abs_gen_kernel(q, V, *gauss_hermite(_N_TAU)))

    def predict(self, omega, V):
        omega = np.asarray(omega, float)
        sV = np.sqrt(V)
        u = omega / sV
        from scipy.special import ndtr

        return omega * (1.0 - 2.0 * ndtr(-u)) + 2.0 * sV * np.exp(-0.5 * u * u) / _SQRT_2PI

    def sample(self, z, rng):
        return np.abs(z) + math.sqrt(self.noise) * rng.standard_normal(np.shape(z))


@dataclass(frozen=True)
class ReLU(Channel):
    """``y = max(z, 0) + sqrt(noise) xi``."""

    name: ClassVar[str] = "relu"
    kind: ClassVar[int] = 3
    expensive: ClassVar[bool] = True

    def _se(self, q, V):
        if self.noise == 0.0:
            return _relu0_se_kernel(q, V, *gauss_hermite(_N_TAU))
        return _noisy_se(3, q, V, float(self.noise))

    def _se_perfect_noisy(self, q, D):
        # omega = z: y = max(omega, 0) + noise; g = 1(omega > 0) (y - omega) / D
        return 0.5 / D, -0.5 * (_LOG_2PIE + math.log(D))

    def bayes_gen_error(self, q, V):
        if V == 0.0:
            return float(self.noise)
        return float(self.noise + _relu_gen_kernel(q, V, *gauss_hermite(_N_TAU)))

    def predict(self, omega, V):
        from scipy.special import ndtr

        omega = np.asarray(omega, float)
        sV = np.sqrt(V)
        u = omega / sV
        return omega * ndtr(u) + sV * np.exp(-0.5 * u * u) / _SQRT_2PI

    def sample(self, z, rng):
        return np.maximum(z, 0.0) + math.sqrt(self.noise) * rng.standard_normal(np.shape(z))


def _check_par(name, value, positive):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or not (value > 0 if positive else value >= 0):
        raise ValueError(f"{name} must be finite and {'> 0' if positive else '>= 0'}, got {value!r}")


@dataclass(frozen=True)
class Logit(Channel):
    """``P(y = +-1 | z) = sigmoid(gamma y (z + sqrt(noise) xi))`` (logistic labels of inverse
    temperature ``gamma``; ``noise``, if any, is Gaussian noise on the pre-activation).

    ``Z_out(y; omega, V) = E_{z ~ N(omega, V + noise)} sigmoid(gamma y z)`` has no closed form
    (the probit approximation is not used): :func:`_logit_moments` integrates it with a composite
    rule that stays accurate whether the sigmoid is sharp (``gamma sqrt(V + noise) >> 1``) or
    smooth against the Gaussian. ``gamma -> inf`` is the ``sign`` channel, ``gamma -> 0`` carries
    no information. The integrals cost ~1 ms: :meth:`se_bayes` tabulates them (also noiseless).
    """

    gamma: float = 1.0

    name: ClassVar[str] = "logit"
    kind: ClassVar[int] = 4
    classification: ClassVar[bool] = True
    expensive: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        _check_par("gamma", self.gamma, True)

    def _par(self):
        return float(self.gamma)

    def _tabulates(self, tabulated):
        return tabulated

    def _kernel(self, q, S):
        return _logit_se_kernel(q, S, float(self.gamma), *_GL)

    def _se(self, q, V):
        return self._kernel(q, V + self.noise)[:2]

    def _se_perfect(self, q):
        # V = 0: omega = z, Z_out = sigmoid(gamma y (z + noise)): finite also without noise
        # (cached: the mutual information needs it at every evaluation of the observables)
        return _logit_perfect(self, float(q))[:2]

    def _table_values(self, q, V):
        if V == 0.0:
            return _logit_perfect(self, float(q))
        return self._kernel(q, V + self.noise)

    def _table_breakpoints(self, rho):
        # the integrals change regime where sqrt(V + noise) crosses the sigmoid's width 1/gamma
        D = float(self.noise)
        return {math.sqrt(c / self.gamma**2 - D) for c in (1.0 / 64.0, 1.0, 64.0) if c / self.gamma**2 > D}

    def label_errors(self, q, V, rho=None):
        """See :meth:`Channel.label_errors`; with ``rho`` (and ``V <= rho``), on the Bayes-optimal
        line read from the table of :meth:`se_bayes` at ``sqrt(V)`` (``q = rho - V``)."""
        q = float(q)
        V = float(V)
        if rho is not None and 0.0 < V <= rho:
            _, _, B, G = _se_table(self, float(rho))(math.sqrt(V))
        else:
            _, _, B, G = self._table_values(q, V)
        return {"label_mse": float(4.0 * G), "gibbs_error": float(2.0 * G), "bayes_error": float(B)}

    def bayes_gen_error(self, q, V):
        # the Bayes-optimal classifier is sign(omega) (Z(+1) >= 1/2 exactly when omega >= 0)
        return float(self._table_values(float(q), float(V))[2])

    def predict(self, omega, V):
        return np.where(np.asarray(omega) >= 0, 1.0, -1.0)

    def sample(self, z, rng):
        z = np.asarray(z, float)
        t = z + math.sqrt(self.noise) * rng.standard_normal(z.shape) if self.noise > 0 else z
        p = 0.5 * (1.0 + np.tanh(0.5 * self.gamma * t))  # sigmoid(gamma t)
        return np.where(rng.random(z.shape) < p, 1.0, -1.0)


@functools.lru_cache(maxsize=1024)
def _logit_perfect(channel, q):
    return channel._kernel(q, float(channel.noise))


@dataclass(frozen=True)
class Door(Channel):
    """Symmetric door ``y = sign(|z + sqrt(noise) xi| - K)``, ``K = width`` (Barbier, Krzakala,
    Macris, Miolane, Zdeborova, PNAS 2019, arXiv 1708.03395, where ``K = 0.674`` makes the labels
    balanced at ``rho = 1``); even in ``z``.

    ``Z_out(+1) = H((K - omega) / sqrt S) + H((K + omega) / sqrt S)``, ``S = V + noise``, and
    ``Z_out(-1) = 1 - Z_out(+1)``, each with its relative accuracy (:func:`_door_logs`). The
    integrals over ``omega`` live within ``12 sqrt(S)`` of ``|omega| = K``
    (:func:`_door_se_kernel`): ~300 evaluations, tens of microseconds, for every ``V``; with
    noise, :meth:`se_bayes` tabulates them (a noisy door iterates tens of times near weak recovery).
    Weak recovery (instability of ``q = 0``): ``alpha_WR = S^2 H(k) (1 - 2 H(k)) / (2 rho^2 k^2
    phi(k)^2)``, ``k = K / sqrt(S)``, ``S = rho + noise`` (:meth:`weak_recovery_threshold`).
    """

    width: float = 0.674

    name: ClassVar[str] = "door"
    kind: ClassVar[int] = 5
    even: ClassVar[bool] = True
    classification: ClassVar[bool] = True
    #: ~50-300 us per evaluation, and the noisy door's iteration contracts slowly near its weak
    #: recovery point (tens of iterations): tabulated with noise, like the noisy kinked channels
    expensive: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        _check_par("width", self.width, False)

    def _par(self):
        return float(self.width)

    def _kernel(self, q, S):
        return _door_se_kernel(q, S, float(self.width), *_GL)

    def _se(self, q, V):
        return self._kernel(q, V + self.noise)[:2]

    def _se_perfect_noisy(self, q, D):
        return self._kernel(q, D)[:2]

    def _curvature(self, V):
        """``K(0) = lim_{q -> 0} E g^2 / q = Z''(0)^2 / (Z(+1) Z(-1))`` at ``omega = 0`` (``g = 0``
        there): ``4 k^2 phi(k)^2 / (S^2 2 H(k) (1 - 2 H(k)))``, ``k = K / sqrt(S)``, ``S = V +
        noise`` (the table of :func:`_se_table` holds ``E g^2 / q`` of this even channel)."""
        S = float(V) + self.noise
        k = self.width / math.sqrt(S)
        if k == 0.0:
            return 0.0  # K = 0: every label is +1, no information
        h = 0.5 * math.erfc(k / math.sqrt(2.0))
        if h == 0.0:
            return 0.0  # k > 38: phi(k)^2 / H(k) ~ k phi(k) underflows with it
        ph = math.exp(-0.5 * k * k) / _SQRT_2PI
        return 4.0 * k * k * ph * ph / (S * S * 2.0 * h * (1.0 - 2.0 * h))

    def _table_breakpoints(self, rho):
        # the integrals change regime where sqrt(V + noise) crosses the door's half-width K
        D = float(self.noise)
        return {math.sqrt(c * self.width**2 - D) for c in (1.0 / 64.0, 1.0 / 4.0, 1.0) if c * self.width**2 > D}

    def weak_recovery_threshold(self, rho: float) -> float:
        """``alpha`` where ``q = 0`` loses stability for a prior of second moment ``rho`` whose
        overlap is ``rho^2 q_hat + O(q_hat^2)`` (every symmetric prior): ``1 / (rho^2 K_0)``,
        ``K_0 = lim_{q -> 0} E g^2 / q = Z''(0)^2 / (Z(+1) Z(-1)) = 4 k^2 phi(k)^2 / (S^2 2 H(k)
        (1 - 2 H(k)))`` at ``omega = 0``, ``V = rho``; equivalently ``rho^2 / E_y[(E[z^2 | y] -
        rho)^2]`` (the module docstring of :mod:`equations.glm_bayes`). ``inf`` for ``K = 0``."""
        S = float(rho) + self.noise
        k = self.width / math.sqrt(S)
        if k == 0.0:
            return math.inf
        h = 0.5 * math.erfc(k / math.sqrt(2.0))
        ph = math.exp(-0.5 * k * k) / _SQRT_2PI
        return S * S * h * (1.0 - 2.0 * h) / (2.0 * rho * rho * k * k * ph * ph)

    def label_errors(self, q, V, rho=None):
        S = float(V) + self.noise
        if S == 0.0:
            return {"label_mse": 0.0, "gibbs_error": 0.0, "bayes_error": 0.0}
        _, _, B, G = self._kernel(float(q), S)
        return {"label_mse": float(4.0 * G), "gibbs_error": float(2.0 * G), "bayes_error": float(B)}

    def bayes_gen_error(self, q, V):
        return self.label_errors(q, V)["bayes_error"]

    def predict(self, omega, V):
        from scipy.special import ndtr

        a = np.abs(np.asarray(omega, float))
        sS = np.sqrt(np.asarray(V, float) + self.noise)
        zp = ndtr((a - self.width) / sS) + ndtr(-(a + self.width) / sS)
        return np.where(zp >= 0.5, 1.0, -1.0)

    def sample(self, z, rng):
        z = np.asarray(z, float)
        t = z + math.sqrt(self.noise) * rng.standard_normal(z.shape) if self.noise > 0 else z
        return np.where(np.abs(t) > self.width, 1.0, -1.0)


#: registry of channels by name
CHANNELS: dict[str, type[Channel]] = {c.name: c for c in (Linear, Sign, Abs, ReLU, Logit, Door)}
#: the channels' own parameters (beyond ``noise``), with their defaults
CHANNEL_PARAMETERS: dict[str, dict[str, float]] = {"logit": {"gamma": 1.0}, "door": {"width": 0.674}}


#: relative tolerance of the tables of the noisy kinked channels (on their Chebyshev tails): a
#: few times the accuracy of the direct integrals (~1e-11, ~1e-10 for relu near V = noise), so
#: that their rounding-level scatter never forces a bisection
_TABLE_RTOL = 2e-10


@functools.lru_cache(maxsize=1024)
def _se_table(channel: Channel, rho: float) -> LazyChebyshev:
    """Lazy piecewise-Chebyshev table of ``s -> se_integrals(rho - s^2, s^2)`` on
    ``[0, sqrt(rho)]`` (``s = sqrt(V)``), one per process and ``(channel, noise, rho)``; up to
    1024 are kept (~10 kB each), enough for a phase diagram whose rows sweep the noise.

    Why ``s``: at small ``V`` the integrals have a ``sqrt(V)`` term (the sign of ``z`` is
    ambiguous on ``|omega| < sqrt(V)``), analytic in ``s`` but not in ``q``. Initial
    breakpoints: where the direct rule switches (:func:`_rule_switches`; its small jumps there
    would otherwise force bisections down to the jump), and on the scale of the noise,
    ``sqrt(noise) (1/8, 8, 64)``; below ``sqrt(noise) / 8`` the functions are polynomial-like
    (Chebyshev tails ~1e-15 at degree 16), above they are smooth on the scale of the piece.
    Pieces of degree 16, 32, then 64, then bisection (:class:`fixedpoint.tabulate.LazyChebyshev`;
    degree 8 never sufficed, 64 saves bisections on the widest piece): a full table costs 50-200
    evaluations of the direct integrals (0.05-0.8 s); a solve builds only the pieces its iterates
    visit (one or two).
    """
    D = float(channel.noise)
    top = math.sqrt(rho)
    if channel.kind in (2, 3):
        inner = {math.sqrt(V) for V in _rule_switches(channel.kind, D, rho)}
        inner |= {c * math.sqrt(D) for c in (0.125, 8.0, 64.0)}
    else:
        inner = set(channel._table_breakpoints(rho))
        if D > 0.0:
            inner |= {c * math.sqrt(D) for c in (0.125, 8.0, 64.0)}
    bp = [0.0] + sorted(b for b in inner if 0.0 < b < top) + [top]

    def f(s):
        # V = s^2 and q = rho - s^2 each without cancellation where it is small (exactly 0 at
        # the ends s = 0 and s = sqrt(rho))
        if s < 0.5 * top:
            V = s * s
            q = rho - V
        else:
            q = max((top - s) * (top + s), 0.0)
            V = rho - q
        if not channel.even:
            return channel._table_values(q, V)
        # even channel: E g^2 = q K(q) vanishes at q = 0; tabulate K so that E g^2 keeps its
        # relative accuracy down to q = 0 (it drives the escape from, and the stability of, q = 0)
        if q == 0.0:
            if channel.kind == 5:  # door: closed form
                return channel._curvature(V), channel.se_integrals(0.0, V)[1]
            return _noisy_curvature(channel.kind, V, D, *_GL, _COARSE, _SPAN), channel.se_integrals(0.0, V)[1]
        hat, psi = channel.se_integrals(q, V)
        return hat / q, psi

    return LazyChebyshev(f, bp, rtol=_TABLE_RTOL, atol=1e-14, degrees=(16, 32, 64))


def make_channel(name: str, noise: float = 0.0, **params) -> Channel:
    """The channel ``name`` (one of :data:`CHANNELS`) with noise variance ``noise`` and its own
    parameters (:data:`CHANNEL_PARAMETERS`: ``gamma`` of ``logit``, ``width`` of ``door``)."""
    if name not in CHANNELS:
        raise ValueError(f"channel must be one of {sorted(CHANNELS)}, got {name!r}")
    allowed = CHANNEL_PARAMETERS.get(name, {})
    for k in params:
        if k not in allowed:
            raise ValueError(f"{k} is not a parameter of the {name} channel (its parameters: "
                             f"{', '.join(['noise', *allowed])})")
    return CHANNELS[name](noise, **params)
