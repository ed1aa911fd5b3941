"""Generalised approximate message passing (GAMP) for the Bayes-optimal GLM.

Rangan, "Generalized approximate message passing for estimation with random linear mixing",
ISIT 2011, with the Bayes-optimal denoisers: the output function ``g_out`` of
:mod:`equations.channels` and the posterior mean of :mod:`equations.priors`. For i.i.d.
Gaussian data the variances concentrate, so the scalar-variance form is used:

    V_t      = mean_i v_i                                   (variance of the pre-activations)
    omega    = A w_hat - V_t g_{t-1}                         (Onsager-corrected estimate of z)
    g, dg    = g_out(y; omega, V_t), d g_out / d omega
    Sigma    = 1 / (-alpha mean_mu dg_mu)                   (sum_mu A_mu,i^2 = alpha on average)
    R        = w_hat + Sigma A^T g
    w_hat, v = E, Var of w under y' = R / sqrt(Sigma) = sqrt(1 / Sigma) w + z,

with ``A = X / sqrt(d)``, ``alpha = n / d``. Its fixed points track the state evolution
``q_t``; at convergence ``q = w_hat . w* / d``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["gamp"]


def gamp(X, y, prior, channel, *, w0=None, max_iter: int = 300, tol: float = 1e-7, damping: float = 0.0):
    """Run GAMP on ``y ~ P_out(. | X w / sqrt(d))``.

    Parameters
    ----------
    X : ndarray (n, d)
        Inputs with i.i.d. ``N(0, 1)`` entries.
    y : ndarray (n,)
        Labels.
    prior : equations.priors.Prior
        Prior of the weights (its ``denoise`` is the input denoiser).
    channel : equations.channels.Channel
        Output channel (its ``z_out`` gives ``g_out`` and its derivative).
    w0 : ndarray (d,), optional
        Initial estimate (default: zero); its variance starts at ``prior.second_moment``.
    max_iter, tol : int, float
        Stop when the root-mean-square change of ``w_hat`` is below ``tol``.
    damping : float
        Weight of the old ``w_hat`` and ``v`` (0 = none).

    Returns
    -------
    dict with ``w`` (estimate), ``v`` (posterior variances), ``V`` (last output variance),
    ``iterations``, ``converged``.
    """
    n, d = X.shape
    A = X / math.sqrt(d)
    alpha = n / d
    w = np.zeros(d) if w0 is None else np.array(w0, dtype=float)
    v = np.full(d, prior.second_moment)
    g = np.zeros(n)
    converged = False
    V = float(np.mean(v))
    it = 0
    for it in range(1, max_iter + 1):
        V = max(float(np.mean(v)), 1e-300)
        omega = A @ w - V * g
        _, g, dg = channel.z_out(y, omega, np.full(n, V))
        prec = -alpha * float(np.mean(dg))
        if not np.isfinite(prec) or prec <= 0.0:
            prec = 1e-12
        sigma = 1.0 / prec
        R = w + sigma * (A.T @ g)
        w_new, v_new = prior.denoise(R / math.sqrt(sigma), 1.0 / sigma)
        if damping > 0.0:
            w_new = damping * w + (1.0 - damping) * w_new
            v_new = damping * v + (1.0 - damping) * v_new
        change = math.sqrt(float(np.mean((w_new - w) ** 2)))
        w, v = w_new, v_new
        if change < tol * max(1.0, math.sqrt(prior.second_moment)):
            converged = True
            break
    return {"w": w, "v": v, "V": float(np.mean(v)), "iterations": it, "converged": converged}
