"""Losses of empirical risk minimisation and their proximal operators, as Numba kernels.

A loss is a function ``loss(y, z)`` of a label ``y`` and a pre-activation ``z = x.w/sqrt(d)``
(DESIGN.md, glm_erm):

============  ==========================================================================
``square``    ``(y - z)^2 / 2``
``logistic``  ``log(1 + exp(-y z))``
``hinge``     ``max(0, 1 - y z)``
``huber``     ``h_delta(y - z)``, ``h_delta(r) = r^2/2`` if ``|r| <= delta`` else
              ``delta |r| - delta^2/2``
``absolute``  ``|y - z|``
``tukey``     Tukey's biweight ``t_delta(y - z)``, ``t_delta(r) = delta^2/6 [1 - (1 - r^2/delta^2)^3]``
              if ``|r| <= delta`` else ``delta^2/6`` (non-convex: not in :data:`LOSSES`)
============  ==========================================================================

The replica equations of ERM (Aubin et al. 2020; Loureiro et al. 2021) need, at each quadrature
node ``omega``, the proximal operator::

    z = prox_{V loss(y, .)}(omega) = argmin_z [ (z - omega)^2 / (2 V) + loss(y, z) ],

the channel "output function" ``f_out = (z - omega) / V`` (``= -d loss/dz`` at ``z``) and its
derivative ``d f_out / d omega = (dz/domega - 1) / V``. Closed forms for square, hinge, huber
and absolute; for the logistic loss a bracketed (safeguarded) Newton iteration on
``g(z) = z - omega - V y sigmoid(-y z)``, whose derivative is ``>= 1`` and whose root lies in
``[omega, omega + V y sigmoid(-y omega)]`` (for ``y > 0``; mirrored for ``y < 0``), so that it
converges for any ``V`` (tested up to ``1e6``) and ``|omega|`` (tested up to ``1e3``).

The kernels are scalar ``@njit(cache=True)`` functions dispatched on an integer loss code (a
plain branch, no function arguments, so they compile once and cache), and vectorised wrappers.

:data:`LOSSES` are the convex losses; :data:`NONCONVEX_LOSSES` (Tukey's biweight) have a
proximal operator that is unique only while the proximal problem stays convex (Tukey: ``V <
5/4``, since ``min t'' = -4/5``); beyond, :func:`prox_full` returns the global minimiser, which
jumps where two local minima exchange.
"""

from __future__ import annotations

import math

import numpy as np
from fixedpoint._jit import njit

from fixedpoint.quadrature import log1pexp, sigmoid

__all__ = [
    "LOSSES",
    "SQUARE",
    "LOGISTIC",
    "HINGE",
    "HUBER",
    "ABSOLUTE",
    "TUKEY",
    "NONCONVEX_LOSSES",
    "loss_code",
    "loss_value",
    "prox",
    "prox_full",
    "moreau",
]

LOSSES = ("square", "logistic", "hinge", "huber", "absolute")
SQUARE, LOGISTIC, HINGE, HUBER, ABSOLUTE = range(5)
NONCONVEX_LOSSES = ("tukey",)
TUKEY = 5


def loss_code(loss: str) -> int:
    """The integer code of a loss name (the kernels dispatch on it)."""
    if loss in NONCONVEX_LOSSES:
        return TUKEY
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES + NONCONVEX_LOSSES)}; got {loss!r}")
    return LOSSES.index(loss)


# ----------------------------------------------------------------------------- scalar kernels


@njit(cache=True)
def _loss(code, y, z, delta):
    """``loss(y, z)`` for the loss ``code``."""
    if code == SQUARE:
        r = y - z
        return 0.5 * r * r
    if code == LOGISTIC:
        return log1pexp(-y * z)
    if code == HINGE:
        return max(0.0, 1.0 - y * z)
    if code == HUBER:
        r = abs(y - z)
        if r <= delta:
            return 0.5 * r * r
        return delta * r - 0.5 * delta * delta
    if code == TUKEY:
        return _tukey(y - z, delta)
    return abs(y - z)  # ABSOLUTE


@njit(cache=True)
def _tukey(r, tau):
    """Tukey's biweight ``tau^2/6 [1 - (1 - s)^3]``, ``s = r^2/tau^2`` (``tau^2/6`` for ``s >= 1``),
    written as ``tau^2 s (3 - 3 s + s^2)/6`` (no cancellation at small ``r``)."""
    s = (r / tau) ** 2
    if s >= 1.0:
        return tau * tau / 6.0
    return tau * tau * s * (3.0 - 3.0 * s + s * s) / 6.0


@njit(cache=True)
def _tukey_psi(u, tau):
    """``t'(u) = u (1 - u^2/tau^2)^2`` inside, 0 outside."""
    s = (u / tau) ** 2
    if s >= 1.0:
        return 0.0
    return u * (1.0 - s) ** 2


@njit(cache=True)
def _tukey_curv(u, tau):
    """``t''(u) = (1 - s)(1 - 5 s)``, ``s = u^2/tau^2``, inside (``>= -4/5``, at ``s = 3/5``); 0 outside."""
    s = (u / tau) ** 2
    if s >= 1.0:
        return 0.0
    return (1.0 - s) * (1.0 - 5.0 * s)


@njit(cache=True)
def _tukey_prox_residual(r, V, tau):
    """The global minimiser ``u`` of ``(u - r)^2/(2V) + t(u)`` (``u = y - z``, ``r = y - omega``).

    For ``r >= 0`` the minimiser has ``u >= 0`` (``t`` is even). Candidates: ``u = r`` when
    ``r >= tau`` (``t`` flat there) and the roots of ``g(u) = u + V t'(u) - r`` on ``[0, tau]``,
    on each piece where ``g`` is monotone (cut where ``1 + V t''(u) = 0``, i.e. ``s = (6 -+ sqrt(16 -
    20/V))/10``, which exist for ``V >= 5/4``), by bisection to rounding; the smallest objective wins
    (ties: the smaller ``|u|``).
    """
    a = abs(r)
    sg = 1.0 if r >= 0.0 else -1.0
    best_u = math.nan
    best_e = math.inf
    if a >= tau:
        best_u = a
        best_e = tau * tau / 6.0
    cuts = np.empty(4)
    nc = 0
    cuts[nc] = 0.0
    nc += 1
    disc = 16.0 - 20.0 / V
    if disc > 0.0:
        for sgn in (-1.0, 1.0):
            sv = (6.0 + sgn * math.sqrt(disc)) / 10.0
            cuts[nc] = tau * math.sqrt(sv)
            nc += 1
    cuts[nc] = tau
    nc += 1
    for i in range(nc - 1):
        lo = cuts[i]
        hi = cuts[i + 1]
        glo = lo + V * _tukey_psi(lo, tau) - a
        ghi = hi + V * _tukey_psi(hi, tau) - a
        if glo == 0.0:
            u = lo
        elif ghi == 0.0:
            u = hi
        elif (glo < 0.0) == (ghi < 0.0):
            continue
        else:
            inc = glo < 0.0
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if mid <= lo or mid >= hi:
                    break
                gm = mid + V * _tukey_psi(mid, tau) - a
                if (gm < 0.0) == inc:
                    lo = mid
                else:
                    hi = mid
            u = 0.5 * (lo + hi)
        e = (u - a) ** 2 / (2.0 * V) + _tukey(u, tau)
        if e < best_e:
            best_e = e
            best_u = u
    return sg * best_u


@njit(cache=True)
def _prox_logistic(y, omega, V, z0=math.nan):
    """Root of ``z - omega - V y sigmoid(-y z) = 0`` by Newton safeguarded by bisection.

    ``z0`` is an optional first guess (used when it lies inside the bracket), e.g. the solution
    at a neighbouring quadrature node.
    """
    if y == 0.0 or V == 0.0:
        return omega
    # The root lies between omega and omega + V y sigmoid(-y omega) (the step at omega
    # overshoots because sigmoid(-y z) decreases along the step).
    end = omega + V * y * sigmoid(-y * omega)
    lo = min(omega, end)
    hi = max(omega, end)
    yy = y * y
    if lo <= z0 <= hi:
        z = z0
    else:
        # first iterate: one Newton step from omega (it stays inside the bracket)
        s = sigmoid(y * omega)
        z = omega + V * y * sigmoid(-y * omega) / (1.0 + V * yy * s * (1.0 - s))
        if not (lo <= z <= hi):
            z = 0.5 * (lo + hi)
    g_prev = math.inf
    for _ in range(400):
        sm = sigmoid(-y * z)
        g = z - omega - V * y * sm
        if abs(g) <= 2e-16 * (abs(z) + abs(omega) + V * abs(y) * sm):
            return z  # the residual is at the rounding level of its terms
        if g > 0.0:
            hi = z
        else:
            lo = z
        if abs(g) > 0.5 * abs(g_prev):
            # Newton is not converging fast (it can fall into a 2-cycle across the inflection
            # point of the sigmoid): bisect
            znew = 0.5 * (lo + hi)
        else:
            gp = 1.0 + V * yy * sm * (1.0 - sm)
            znew = z - g / gp
            if not (lo < znew < hi):
                znew = 0.5 * (lo + hi)  # Newton left the bracket: bisect
        g_prev = g
        if abs(znew - z) <= 2e-16 * max(1.0, abs(z)) or hi - lo <= 2e-16 * max(1.0, abs(z)):
            return znew
        z = znew
    return z


@njit(cache=True)
def _prox_full(code, y, omega, V, delta, z0=math.nan):
    """``(z, f_out, df_out/domega)`` of ``z = prox_{V loss(y,.)}(omega)``, ``f_out = (z-omega)/V``.

    ``f_out`` is computed from the optimality condition (``-loss'(z)``) where it is smooth, so that
    it keeps full precision when ``V`` is large. ``z0``: optional first guess (logistic only).
    """
    if code == SQUARE:
        z = (omega + V * y) / (1.0 + V)
        return z, (y - omega) / (1.0 + V), -1.0 / (1.0 + V)
    if code == LOGISTIC:
        z = _prox_logistic(y, omega, V, z0)
        sm = sigmoid(-y * z)
        c = y * y * sm * (1.0 - sm)  # loss''(z)
        return z, y * sm, -c / (1.0 + V * c)
    if code == HINGE:
        u = y * omega
        if u >= 1.0:
            return omega, 0.0, 0.0
        if u + V * y * y <= 1.0:
            return omega + V * y, y, 0.0
        z = 1.0 / y  # on the kink y z = 1
        return z, (z - omega) / V, -1.0 / V
    if code == HUBER:
        r0 = y - omega
        if abs(r0) <= delta * (1.0 + V):
            return omega + V * r0 / (1.0 + V), r0 / (1.0 + V), -1.0 / (1.0 + V)
        sg = 1.0 if r0 > 0.0 else -1.0
        return omega + V * delta * sg, delta * sg, 0.0
    if code == TUKEY:
        u = _tukey_prox_residual(y - omega, V, delta)
        c = _tukey_curv(u, delta)
        # f = -d loss/dz = t'(u); df/domega = -t''/(1 + V t'') (0 on the flat part)
        return y - u, _tukey_psi(u, delta), -c / (1.0 + V * c)
    # ABSOLUTE
    r0 = y - omega
    if abs(r0) <= V:
        return y, r0 / V, -1.0 / V
    sg = 1.0 if r0 > 0.0 else -1.0
    return omega + V * sg, sg, 0.0


@njit(cache=True)
def _prox_array(code, y, omega, V, delta, z, f, df):
    for i in range(omega.shape[0]):
        z[i], f[i], df[i] = _prox_full(code, y[i], omega[i], V, delta)


@njit(cache=True)
def _loss_array(code, y, z, delta, out):
    for i in range(z.shape[0]):
        out[i] = _loss(code, y[i], z[i], delta)


# ----------------------------------------------------------------------------- vectorised API


def _check_V(V):
    V = float(V)
    if not (V > 0 and math.isfinite(V)):
        raise ValueError(f"V must be a finite positive number, got {V}")
    return V


def _check_delta(delta):
    delta = float(delta)
    if not (delta > 0 and math.isfinite(delta)):
        raise ValueError(f"delta must be a finite positive number, got {delta}")
    return delta


def prox_full(loss: str, y, omega, V: float, delta: float = 1.0):
    """Proximal operator, output function and its derivative, vectorised.

    Parameters
    ----------
    loss : str
        One of :data:`LOSSES`.
    y, omega : array_like
        Labels and points (broadcast together).
    V : float
        Step (the ERM order parameter ``V > 0``).
    delta : float
        Huber threshold (ignored by the other losses).

    Returns
    -------
    z, f_out, df_out : numpy.ndarray
        ``z = argmin_z (z - omega)^2/(2V) + loss(y, z)``, ``f_out = (z - omega)/V`` and
        ``d f_out / d omega``.
    """
    code = loss_code(loss)
    V = _check_V(V)
    delta = _check_delta(delta)
    y, omega = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(omega, dtype=float))
    shape = y.shape
    yf = np.ascontiguousarray(y.ravel())
    of = np.ascontiguousarray(omega.ravel())
    z = np.empty_like(of)
    f = np.empty_like(of)
    df = np.empty_like(of)
    _prox_array(code, yf, of, V, delta, z, f, df)
    return z.reshape(shape), f.reshape(shape), df.reshape(shape)


def prox(loss: str, y, omega, V: float, delta: float = 1.0):
    """``prox_{V loss(y, .)}(omega)``, vectorised (see :func:`prox_full`)."""
    return prox_full(loss, y, omega, V, delta)[0]


def loss_value(loss: str, y, z, delta: float = 1.0):
    """``loss(y, z)``, vectorised."""
    code = loss_code(loss)
    delta = _check_delta(delta)
    y, z = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(z, dtype=float))
    out = np.empty(y.size)
    _loss_array(code, np.ascontiguousarray(y.ravel()), np.ascontiguousarray(z.ravel()), delta, out)
    return out.reshape(y.shape)


def moreau(loss: str, y, omega, V: float, delta: float = 1.0):
    """Moreau envelope ``min_z (z - omega)^2/(2V) + loss(y, z)``, vectorised."""
    z, f, _ = prox_full(loss, y, omega, V, delta)
    return loss_value(loss, y, z, delta) + 0.5 * V * f * f
