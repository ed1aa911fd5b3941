"""Finite-size ERM on a Gaussian mixture with single-index labels: the counterpart of
``mixture_single_index``.

One instance: ``theta*`` and ``u`` with i.i.d. ``N(0, 1)`` entries, orthonormalised to ``e1 =
theta*/|theta*|``, ``e2`` (so ``|theta*|^2 = |u|^2 = d`` exactly and ``theta*.u = 0``); ``n =
round(alpha d)`` samples, each from cloud ``c`` with probability ``weights[c]``: the bulk ``sqrt(var_c)
z`` with its components along ``e1, e2`` replaced by a draw of ``(nu, beta) ~ N((a_c, b_c), var_c I_2 +
C_c)`` (so ``C_c`` may also remove variance); labels from ``nu = x.e1``. The estimator is fitted by
:func:`equations._simulate.erm.fit` (or :func:`~equations._simulate.erm.fit_bias` with a bias) on ``A
= x / sqrt(d)``.

Measured: ``m = w.theta*/d``, ``m_perp = w.u/d``, ``q = w.w/d``, ``b``, ``cosine``; the training loss
and error on the data (``+-1`` labels: the fraction of negative margins; linear channel: the mean
squared residual); and the exact test error given ``(w, b)``: a fresh sample's fields are those of
the theory at the instance's own overlaps (:meth:`MixtureSingleIndex.field_errors`).
"""

from __future__ import annotations

import math

import numpy as np

from ..losses import loss_value
from .erm import _one_blas_thread, fit, fit_bias


def sample_instance(model, d, rng, n=None):
    """``(A, y, theta, u)`` with ``A = x / sqrt(d)`` and ``n = round(alpha d)`` samples (or ``n``)."""
    n = max(2, int(round(model.alpha * d))) if n is None else int(n)
    g = rng.standard_normal((d, 2))
    e, _ = np.linalg.qr(g)
    e1, e2 = e[:, 0], e[:, 1]
    c = rng.choice(len(model.weights), size=n, p=np.array(model.weights))
    x = rng.standard_normal((n, d))
    x -= np.outer(x @ e1, e1) + np.outer(x @ e2, e2)
    var = np.array(model.var)
    x *= np.sqrt(var[c])[:, None]
    plane = np.empty((n, 2))
    for k in range(len(model.weights)):
        idx = np.flatnonzero(c == k)
        v = model.var[k]
        cov = np.array([[v + model.cov_par[k], model.cov_cross[k]], [model.cov_cross[k], v + model.cov_perp[k]]])
        w, U = np.linalg.eigh(cov)
        L = U * np.sqrt(np.maximum(w, 0.0))
        plane[idx] = np.array([model.mean_par[k], model.mean_perp[k]]) + rng.standard_normal((idx.size, 2)) @ L.T
    x += np.outer(plane[:, 0], e1) + np.outer(plane[:, 1], e2)
    nu = plane[:, 0]
    if model.channel == "linear":
        y = nu + math.sqrt(model.noise) * rng.standard_normal(n)
    elif model.channel == "sign":
        y = np.where(nu + math.sqrt(model.noise) * rng.standard_normal(n) >= 0.0, 1.0, -1.0)
    else:
        y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return x / math.sqrt(d), y, math.sqrt(d) * e1, math.sqrt(d) * e2


def simulate_mixture_single_index(model, d: int, seed: int) -> dict[str, float]:
    """Observables of one instance of ``model`` (a :class:`equations.mixtures.MixtureSingleIndex`)."""
    rng = np.random.default_rng(seed)
    A, y, theta, u = sample_instance(model, d, rng)
    with _one_blas_thread():
        if model.bias:
            w, b, V = fit_bias(A, y, model.loss, model.penalty, float(model.reg), 1.0)
        else:
            (w, V), b = fit(A, y, model.loss, model.penalty, float(model.reg), 1.0), 0.0
    z = A @ w + b
    m, s, q = float(w @ theta) / d, float(w @ u) / d, float(w @ w) / d
    if model.channel == "linear":
        train_error = float(np.mean((y - z) ** 2))
    else:
        train_error = float(np.mean(y * z < 0))
    return {"m": m, "m_perp": s, "q": q, "b": b, "V": float(V) if model.penalty == "l2" else math.nan,
            "cosine": m / math.sqrt(q) if q > 0 else 0.0,
            "gen_error": model.field_errors(m, s, q, b),
            "train_loss": float(np.mean(loss_value(model.loss, y, z, 1.0))), "train_error": train_error}
