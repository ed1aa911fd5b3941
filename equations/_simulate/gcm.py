"""Finite-size ERM in the Gaussian covariate model: the counterpart of :mod:`equations.gcm`.

One instance, ``n = round(alpha d)`` samples, the estimator

    w_hat = argmin_w  sum_mu loss(y_mu, a_mu.w) + reg/2 |w|^2,      a_mu = v_mu / sqrt(p),

computed by :func:`equations._simulate.erm.fit` (normal equations for the square loss, L-BFGS plus
a Newton step for logistic and huber, dual coordinate ascent for hinge and absolute).

* ``features="random_features"``: ``x ~ N(0, I_d)``, ``F_ij ~ N(0, 1)`` (``p = round(p_over_d d)``
  rows), features ``v = sigma(F x/sqrt(d))`` *not* centred, teacher ``theta ~ N(0, I_d)``, ``z* =
  theta.x/sqrt(d)``. The observables are measured on ``n_test = 20000`` fresh samples of the same
  instance: ``gen_error`` (squared error against a fresh noisy label, or the 0/1 error against a
  fresh sign label), ``m = mean(z* lambda)`` and ``q = mean(lambda^2)`` of the student's field
  ``lambda = w.v/sqrt(p)`` (the Monte-Carlo error of these, ~1e-2 relative, is part of each seed's
  spread and so of the tests' error bars).
* A deep random target (``target_activations``): the actual network ``z* = a.h_L/sqrt(k_L)``,
  ``h_l = sigma_l(W_l h_(l-1)/sqrt(k_(l-1)))``, ``h_0 = x``, ``k_l = round(target_widths[l] d)``,
  all weights ``N(0, 1)`` and fixed per instance (not its Gaussian equivalent); ``m =
  mean(z* lambda)`` (its nonlinear part is uncorrelated with ``lambda`` only in the limit).
* ``features="spectra"``: ``p = d`` features, the ``N`` given modes each repeated ``d/N`` times
  (``d`` must be a multiple of ``N``: the same spectral law), design ``v ~ N(0, diag(omega))``,
  teacher ``theta`` (likewise repeated). Everything is exact given ``w``: ``m = sum omega theta
  w/p``, ``q = sum omega w^2/p``, ``gen_error`` from ``(m, q)`` as in the theory (the fields are
  Gaussian), and ``V = tr(Omega H^-1)/p`` for the smooth losses (``H`` the Hessian).

``train_loss`` is the mean loss at the minimiser, ``train_error`` (sign teacher) the fraction of
negative margins.
"""

from __future__ import annotations

import math

import numpy as np

from ..losses import loss_value
from .erm import _derivs, _one_blas_thread, fit

__all__ = ["sample_gcm", "simulate_gcm"]

N_TEST = 20000


def _labels(z, channel, noise, rng):
    y = z + math.sqrt(noise) * rng.standard_normal(z.shape[0])
    return np.where(y >= 0.0, 1.0, -1.0) if channel == "sign" else y


def sample_gcm(model, d, rng):
    """The fixed parts of one random-features instance: ``(F, teacher)``, ``F`` of shape ``(p, d)``
    with ``p = round(p_over_d d)`` and ``N(0, 1)`` entries; ``teacher`` is ``theta ~ N(0, I_d)``
    (linear target) or the deep target's list ``[W_1, ..., W_L, a]`` (``W_l`` of shape ``(k_l,
    k_(l-1))``, ``k_0 = d``, ``a`` of length ``k_L``)."""
    p = max(1, int(round(float(model.p_over_d) * d)))
    F = rng.standard_normal((p, d))
    if model.target_activations is None:
        return F, rng.standard_normal(d)
    weights, k = [], d
    for ratio in model.target_widths:
        k_next = max(1, int(round(ratio * d)))
        weights.append(rng.standard_normal((k_next, k)))
        k = k_next
    weights.append(rng.standard_normal(k))
    return F, weights


def _teacher_field(model, teacher, x):
    """``z*`` of the inputs ``x`` (rows): linear, or the deep network layer by layer."""
    from ..gcm import _activation

    if model.target_activations is None:
        return x @ teacher / math.sqrt(x.shape[1])
    h = x
    for W, act in zip(teacher[:-1], model.target_activations):
        h = _activation(act)(h @ W.T / math.sqrt(h.shape[1]))
    return h @ teacher[-1] / math.sqrt(h.shape[1])


def _rf_data(model, F, teacher, n, rng):
    """``n`` samples: the scaled design ``v/sqrt(p)`` (features not centred) and the teacher's field."""
    from ..gcm import _activation

    d = F.shape[1]
    x = rng.standard_normal((n, d))
    v = _activation(model.activation)(x @ F.T / math.sqrt(d))
    return v / math.sqrt(F.shape[0]), _teacher_field(model, teacher, x)


def simulate_gcm(model, d: int, seed: int) -> dict[str, float]:
    """Observables of one instance of ``model`` (a :class:`equations.gcm.GCMERM`)."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    d = int(d)
    rng = np.random.default_rng(seed)
    reg, delta = float(model.reg), float(model.delta)
    if model.features == "random_features":
        F, theta = sample_gcm(model, d, rng)
        n = max(1, int(round(float(model.alpha) * d)))
        A, z = _rf_data(model, F, theta, n, rng)
        y = _labels(z, model.channel, model.noise, rng)
        with _one_blas_thread():
            w, _ = fit(A, y, model.loss, "l2", reg, delta)
        At, zt = _rf_data(model, F, theta, N_TEST, rng)
        lam = At @ w
        yt = _labels(zt, model.channel, model.noise, rng)
        res = {"m": float(np.mean(zt * lam)), "q": float(np.mean(lam * lam))}
        if model.channel == "sign":
            res["gen_error"] = float(np.mean(np.where(lam >= 0.0, 1.0, -1.0) != yt))
        else:
            res["gen_error"] = float(np.mean((yt - lam) ** 2))
        res["estimation_error"] = float(np.mean((zt - lam) ** 2))
    else:
        N = len(model.spectrum)
        if d % N:
            raise ValueError(f"d must be a multiple of len(spectrum) = {N} (each mode is repeated d/N times), "
                             f"got d = {d}")
        r = d // N
        omega = np.repeat(np.asarray(model.spectrum, dtype=float), r)
        theta = np.repeat(np.asarray(model.teacher, dtype=float), r)
        p = d
        n = max(1, int(round(float(model.alpha) * p)))
        A = rng.standard_normal((n, p)) * np.sqrt(omega) / math.sqrt(p)
        z = A @ theta
        y = _labels(z, model.channel, model.noise, rng)
        with _one_blas_thread():
            w, _ = fit(A, y, model.loss, "l2", reg, delta)
        m = float(np.sum(omega * theta * w)) / p
        q = float(np.sum(omega * w * w)) / p
        rho = float(np.sum(omega * theta * theta)) / p
        res = {"m": m, "q": q}
        if model.loss in ("square", "logistic", "huber"):
            _, g2 = _derivs(model.loss, y, A @ w, delta)
            H = A.T @ (A * g2[:, None]) + reg * np.eye(p)
            res["V"] = float(np.sum(omega * np.diag(np.linalg.inv(H)))) / p
        if model.channel == "sign":
            cosang = m / math.sqrt(q * (rho + model.noise)) if q > 0 else 0.0
            res["gen_error"] = math.acos(max(-1.0, min(1.0, cosang))) / math.pi
        else:
            res["gen_error"] = rho + float(model.noise) - 2.0 * m + q
        res["estimation_error"] = rho - 2.0 * m + q
    z_train = A @ w
    res["train_loss"] = float(np.mean(loss_value(model.loss, y, z_train, delta)))
    if model.channel == "sign":
        res["train_error"] = float(np.mean(y * z_train < 0))
    return res
