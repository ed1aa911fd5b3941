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

Structured covariances (``spectrum_plus`` ...): coordinate ``i`` belongs to mode ``k = i // (d /
K)``; ``mu_i ~ N(0, c_k^2)`` and cluster ``c`` adds ``sqrt(noise s_{c,k}) z_i``; measured in
addition ``q_c = sum_i noise s_{c,k(i)} w_i^2 / d`` and the test errors ``H((m + y_c b) /
sqrt(q_c))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from ..losses import loss_value
from .erm import _one_blas_thread, fit, fit_bias


def sample_instance(alpha, d, noise, balance, rng, scales=None):
    """``(A, y, mu)`` with ``A = x / sqrt(d)``. ``scales = (s_plus, s_minus, c)``, per coordinate:
    the clusters' variances (times ``noise``) and the rms of ``mu`` (``None``: isotropic)."""
    n = max(2, int(round(alpha * d)))
    mu = rng.standard_normal(d)
    if scales is not None:
        mu = scales[2] * mu
    y = np.where(rng.random(n) < balance, 1.0, -1.0)
    z = rng.standard_normal((n, d))
    if scales is not None:
        z = z * np.where(y[:, None] > 0, np.sqrt(scales[0]), np.sqrt(scales[1]))
    A = (np.outer(y, mu) / math.sqrt(d) + math.sqrt(noise) * z) / math.sqrt(d)
    return A, y, mu


def simulate_gmm_erm(model, d: int, seed: int) -> dict[str, float]:
    """Observables of one instance of ``model`` (a :class:`equations.mixtures.GMMERM`)."""
    rng = np.random.default_rng(seed)
    scales = None
    if model.structured:
        reps = d // len(model.spectrum_plus)
        scales = tuple(np.repeat(np.asarray(v, dtype=float), reps)
                       for v in (model.spectrum_plus, model.spectrum_minus, model.mean_coefficients))
    A, y, mu = sample_instance(model.alpha, d, model.noise, model.balance, rng, scales)
    with _one_blas_thread():
        if model.bias:
            w, b, _ = fit_bias(A, y, model.loss, model.penalty, float(model.reg), float(model.delta))
        else:
            w, _ = fit(A, y, model.loss, model.penalty, float(model.reg), float(model.delta))
            b = 0.0
    z = A @ w + b
    m = float(w @ mu) / d
    q = float(w @ w) / d
    extra = {}
    if scales is None:
        qp = qm = model.noise * q
        overlap = m / math.sqrt(q) if q > 0 else 0.0
    else:
        qp = model.noise * float(scales[0] @ (w * w)) / d
        qm = model.noise * float(scales[1] @ (w * w)) / d
        overlap = m / math.sqrt(q * float(mu @ mu) / d) if q > 0 else 0.0
        extra = {"q_plus": qp, "q_minus": qm}
    plus = float(ndtr(-(m + b) / math.sqrt(qp))) if qp > 0 else math.nan
    minus = float(ndtr(-(m - b) / math.sqrt(qm))) if qm > 0 else math.nan
    return {"m": m, "q": q, "b": b, "overlap": overlap, **extra,
            "gen_error": model.balance * plus + (1.0 - model.balance) * minus,
            "gen_error_plus": plus, "gen_error_minus": minus,
            "train_loss": float(np.mean(loss_value(model.loss, y, z, model.delta))),
            "train_error": float(np.mean(y * z < 0))}
