"""Finite-size ERM on a two-cluster Gaussian mixture: the counterpart of ``gmm_erm``.

One instance: ``mu ~ N(0, I_d)``, ``n = round(alpha d)`` labels ``+-1`` with ``P(+1) =
balance``, ``x = y mu / sqrt(d) + sqrt(noise) z``; the estimator minimises ``sum loss(y, a.w + b)
+ penalty(w)`` with ``a = x / sqrt(d)`` and ``b`` fitted (unpenalised) or 0. Solvers:

* without a bias: :func:`equations._simulate.erm.fit` (the GLM ERM solvers);
* with a bias: the GLM ERM solvers with an intercept (:func:`equations._simulate.erm.fit_bias`:
  Newton on ``(w, b)`` for smooth losses, the profile over ``b`` of the exact dual QP for hinge /
  absolute with l2, a linear programme with a free ``b`` for them with l1), and FISTA on ``(w,
  b)`` with soft thresholding of ``w`` only for the smooth losses with an l1 penalty.

Measured: ``m = mu.w/d``, ``q = w.w/d``, ``b``, the training loss and error on the data, and the
exact test errors given ``(w, b, mu)``: a fresh point of cluster ``c`` has the field ``y_c m_hat +
b + sqrt(noise q) xi`` with the instance's own ``m_hat``, so ``H((m + y_c b) / sqrt(noise q))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from ..losses import loss_value
from .erm import _derivs, _one_blas_thread, fit, fit_bias


def sample_instance(alpha, d, noise, balance, rng):
    """``(A, y, mu)`` with ``A = x / sqrt(d)``."""
    n = max(2, int(round(alpha * d)))
    mu = rng.standard_normal(d)
    y = np.where(rng.random(n) < balance, 1.0, -1.0)
    A = (np.outer(y, mu) / math.sqrt(d) + math.sqrt(noise) * rng.standard_normal((n, d))) / math.sqrt(d)
    return A, y, mu


def _fista_l1_bias(A, y, loss, reg, delta, tol=1e-11, max_iter=200000):
    n, d = A.shape
    curv = {"square": 1.0, "huber": 1.0, "logistic": 0.25}[loss]
    B = np.hstack([A, np.ones((n, 1))])
    L = curv * np.linalg.norm(B, 2) ** 2
    v = np.zeros(d + 1)
    x = v.copy()
    t = 1.0
    for _ in range(max_iter):
        g1, _ = _derivs(loss, y, B @ v, delta)
        u = v - (B.T @ g1) / L
        new = u.copy()
        new[:d] = np.sign(u[:d]) * np.maximum(np.abs(u[:d]) - reg / L, 0.0)  # the bias is not penalised
        if (v - new) @ (new - x) > 0:  # adaptive restart
            t = 1.0
            v = new.copy()
        else:
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            v = new + ((t - 1.0) / t_new) * (new - x)
            t = t_new
        diff = float(np.max(np.abs(new - x)))
        x = new
        if diff <= tol * max(1.0, float(np.max(np.abs(x)))):
            break
    return x[:d], float(x[d])


def fit_with_bias(A, y, loss, penalty, reg, delta):
    """``(w, b)`` minimising ``sum loss(y, A w + b) + penalty(w)``, ``b`` unpenalised: the GLM ERM
    solvers with an intercept (:func:`equations._simulate.erm.fit_bias`), and FISTA on ``(w, b)``
    for the smooth losses with an l1 penalty, which those do not cover."""
    if penalty == "l1" and reg > 0 and loss in ("square", "logistic", "huber"):
        return _fista_l1_bias(A, y, loss, reg, delta)
    w, b, _ = fit_bias(A, y, loss, penalty, reg, delta)
    return w, b


def simulate_gmm_erm(model, d: int, seed: int) -> dict[str, float]:
    """Observables of one instance of ``model`` (a :class:`equations.mixtures.GMMERM`)."""
    rng = np.random.default_rng(seed)
    A, y, mu = sample_instance(model.alpha, d, model.noise, model.balance, rng)
    with _one_blas_thread():
        if model.bias:
            w, b = fit_with_bias(A, y, model.loss, model.penalty, float(model.reg), float(model.delta))
        else:
            w, _ = fit(A, y, model.loss, model.penalty, float(model.reg), float(model.delta))
            b = 0.0
    z = A @ w + b
    m = float(w @ mu) / d
    q = float(w @ w) / d
    s = math.sqrt(model.noise * q)
    plus = float(ndtr(-(m + b) / s)) if s > 0 else math.nan
    minus = float(ndtr(-(m - b) / s)) if s > 0 else math.nan
    return {"m": m, "q": q, "b": b, "overlap": m / math.sqrt(q) if q > 0 else 0.0,
            "gen_error": model.balance * plus + (1.0 - model.balance) * minus,
            "gen_error_plus": plus, "gen_error_minus": minus,
            "train_loss": float(np.mean(loss_value(model.loss, y, z, model.delta))),
            "train_error": float(np.mean(y * z < 0))}
