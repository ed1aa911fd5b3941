"""Finite-size ERM on a two-cluster Gaussian mixture: the counterpart of ``gmm_erm``.

One instance: ``mu ~ N(0, I_d)``, ``n = round(alpha d)`` labels ``+-1`` with ``P(+1) =
balance``, ``x = y mu / sqrt(d) + sqrt(noise) z``; the estimator minimises ``sum loss(y, a.w + b)
+ penalty(w)`` with ``a = x / sqrt(d)`` and ``b`` fitted (unpenalised) or 0. Solvers:

* without a bias: :func:`equations._simulate.erm.fit` (the GLM ERM solvers);
* with a bias: the GLM ERM solvers with an intercept (:func:`equations._simulate.erm.fit_bias`:
  Newton on ``(w, b)`` for smooth losses with l2, the profile over ``b`` of the exact dual QP for
  hinge / absolute with l2, a linear programme with a free ``b`` for them with l1, FISTA with the
  intercept unpenalised for the smooth losses with l1).

Measured: ``m = mu.w/d``, ``q = w.w/d``, ``b``, the training loss and error on the data, and the
exact test errors given ``(w, b, mu)``: a fresh point of cluster ``c`` has the field ``y_c m_hat +
b + sqrt(noise q) xi`` with the instance's own ``m_hat``, so ``H((m + y_c b) / sqrt(noise q))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from ..losses import loss_value
from .erm import _one_blas_thread, fit, fit_bias


def sample_instance(alpha, d, noise, balance, rng):
    """``(A, y, mu)`` with ``A = x / sqrt(d)``."""
    n = max(2, int(round(alpha * d)))
    mu = rng.standard_normal(d)
    y = np.where(rng.random(n) < balance, 1.0, -1.0)
    A = (np.outer(y, mu) / math.sqrt(d) + math.sqrt(noise) * rng.standard_normal((n, d))) / math.sqrt(d)
    return A, y, mu


def simulate_gmm_erm(model, d: int, seed: int) -> dict[str, float]:
    """Observables of one instance of ``model`` (a :class:`equations.mixtures.GMMERM`)."""
    rng = np.random.default_rng(seed)
    A, y, mu = sample_instance(model.alpha, d, model.noise, model.balance, rng)
    with _one_blas_thread():
        if model.bias:
            w, b, _ = fit_bias(A, y, model.loss, model.penalty, float(model.reg), float(model.delta))
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
