"""Finite-size ridge regression on spiked random features: the counterpart of
:mod:`equations.gcm_spiked`.

Two instances of the features after one gradient step:

* :func:`simulate_spiked` (the model's ``simulate``): the spiked features themselves, ``phi =
  sigma(c F x/sqrt(d) + r kappa)`` with ``F_ij ~ N(0, 1)`` (``p x d``, ``p = round(p_over_d
  d)``), the spike direction ``v = e_1`` (``kappa = x_1``) and the teacher ``sigma_*(gamma x_1 +
  rho x_2)`` (rotation invariance: any orthonormal pair gives the same law), ``(r, c, gamma)``
  from :func:`equations.gcm_spiked.spike_parameters`. This is the model the equations describe.
* :func:`one_step_network`: the actual network, ``W0 = F/sqrt(d)``, ``a0 = 1/sqrt(p)``, one
  gradient step of the square loss on ``n0 = round(alpha0 d)`` samples with the learning rate
  ``eta p`` (module docstring of :mod:`equations.gcm_spiked`), then the readout. It checks the
  reduction of the step to ``(r, c, gamma)``, which holds only in the limit.

Then ``n = round(alpha d)`` fresh samples, the readout ``w = argmin sum (y - phi.w/sqrt(p))^2/2 +
reg/2 |w|^2`` (normal equations), and the observables: ``gen_error`` on ``20000`` fresh samples
(noisy labels; ``estimation_error`` against the noiseless ``sigma_*``), ``train_loss``
(``mean (y - yhat)^2/2``) and, for the spiked features, the order parameters measured on ``w``:
``m = w.1/sqrt(p)``, ``theta = c w.F e_1/sqrt(p d)``, ``psi = c w.F e_2/sqrt(p d)``, ``q1 = w.Omega
w/p`` (``Omega = c^2 F Pi F^T/d``, ``Pi`` without ``e_1``), ``q2 = (|w|^2 - m^2)/p`` (the constant
direction, unpenalised in the limit, is not part of the theory's ``q2``: its share ``m^2/p`` is a
finite-size term), ``V1 = tr(Omega
H^-1)/p``, ``V2 = tr(H^-1)/p`` (``H`` the Hessian).
"""

from __future__ import annotations

import math

import numpy as np

from .erm import _one_blas_thread

__all__ = ["simulate_spiked", "one_step_network"]

N_TEST = 20000
_CHUNK = 4000


def _check_d(d):
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 3:
        raise ValueError(f"d must be an integer >= 3, got {d!r}")
    return int(d)


def _teacher(model, x, rng):
    """Noiseless and noisy labels of the rows ``x``: ``sigma_*(gamma x_1 + rho x_2)``."""
    from ..gcm_spiked import _fun

    g = model.spike["gamma"]
    z = _fun(model.target_activation)(g * x[:, 0] + math.sqrt(max(1.0 - g * g, 0.0)) * x[:, 1])
    return z, z + math.sqrt(float(model.noise)) * rng.standard_normal(x.shape[0])


def _ridge(A, y, reg):
    """``w`` and the inverse Hessian ``(A^T A + reg)^-1`` (``p x p``)."""
    p = A.shape[1]
    Hinv = np.linalg.inv(A.T @ A + reg * np.eye(p))
    return Hinv @ (A.T @ y), Hinv


def _test(model, features, w, rng):
    """``gen_error`` and ``estimation_error`` on fresh samples, in chunks."""
    d = features.d
    se = sn = 0.0
    done = 0
    while done < N_TEST:
        k = min(_CHUNK, N_TEST - done)
        x = rng.standard_normal((k, d))
        z, y = _teacher(model, x, rng)
        yhat = features(x) @ w
        se += float(np.sum((y - yhat) ** 2))
        sn += float(np.sum((z - yhat) ** 2))
        done += k
    return se / N_TEST, sn / N_TEST


class _Features:
    """``x -> phi(x)/sqrt(p)`` for first-layer weights ``W`` (rows: units; preactivation ``W x``)."""

    def __init__(self, W, activation):
        from ..gcm_spiked import _fun

        self.W, self.f, self.d = W, _fun(activation), W.shape[1]

    def __call__(self, x):
        return self.f(x @ self.W.T) / math.sqrt(self.W.shape[0])


def _readout(model, features, rng):
    d = features.d
    n = max(1, int(round(float(model.alpha) * d)))
    x = rng.standard_normal((n, d))
    _, y = _teacher(model, x, rng)
    A = features(x)
    with _one_blas_thread():
        w, Hinv = _ridge(A, y, float(model.reg))
    res = {"train_loss": 0.5 * float(np.mean((y - A @ w) ** 2))}
    res["gen_error"], res["estimation_error"] = _test(model, features, w, rng)
    return w, Hinv, res


def simulate_spiked(model, d: int, seed: int) -> dict[str, float]:
    """Observables of one instance of the spiked features of ``model`` (a
    :class:`equations.gcm_spiked.SpikedRF`)."""
    d = _check_d(d)
    rng = np.random.default_rng(seed)
    p = max(1, int(round(float(model.p_over_d) * d)))
    F = rng.standard_normal((p, d))
    sp = model.spike
    r, c = sp["r"], sp["c"]
    W = c * F / math.sqrt(d)
    W[:, 0] += r  # the spike r 1 e_1^T: every unit gets r kappa, kappa = x_1
    w, Hinv, res = _readout(model, _Features(W, model.activation), rng)
    Fw = F.T @ w  # d-vector
    res["m"] = float(np.sum(w)) / math.sqrt(p)
    res["theta"] = c * float(Fw[0]) / math.sqrt(p * d)
    res["psi"] = c * float(Fw[1]) / math.sqrt(p * d)
    res["q1"] = c * c * float(Fw[1:] @ Fw[1:]) / (p * d)
    res["q2"] = (float(w @ w) - res["m"] ** 2) / p  # without the constant direction (the theory's q2)
    Fp = F[:, 1:]
    res["V1"] = c * c * float(np.sum((Hinv @ Fp) * Fp)) / (p * d)
    res["V2"] = float(np.trace(Hinv)) / p
    return res


def one_step_network(model, d: int, seed: int) -> dict[str, float]:
    """``gen_error``, ``estimation_error``, ``train_loss`` of the readout trained on the features of
    the actual network after one gradient step (module docstring), and the measured ``gamma`` (the
    cosine between the teacher and the top right singular vector of the step's update)."""
    from ..gcm_spiked import _derivative, _fun

    d = _check_d(d)
    rng = np.random.default_rng(seed)
    p = max(1, int(round(float(model.p_over_d) * d)))
    W0 = rng.standard_normal((p, d)) / math.sqrt(d)
    n0 = max(1, int(round(float(model.alpha0) * d)))
    x = rng.standard_normal((n0, d))
    _, y = _teacher(model, x, rng)
    pre = x @ W0.T
    a0 = 1.0 / math.sqrt(p)
    resid = y - _fun(model.activation)(pre).sum(axis=1) * a0 / math.sqrt(p)  # y - f(x; W0, a0)
    # gradient of sum_mu (y - f)^2/(2 n0) in W: -(1/n0) sum_mu resid_mu a0/sqrt(p) sigma'(W x_mu) x_mu^T
    G = (_derivative(model.activation)(pre) * resid[:, None]).T @ x * (a0 / (math.sqrt(p) * n0))
    W = W0 + float(model.eta) * p * G
    _, _, vt = np.linalg.svd(G, full_matrices=False)
    _, _, res = _readout(model, _Features(W, model.activation), rng)
    g = model.spike["gamma"]
    # the teacher's direction is g e_1 + rho e_2 (_teacher)
    res["gamma"] = abs(g * float(vt[0, 0]) + math.sqrt(max(1.0 - g * g, 0.0)) * float(vt[0, 1]))
    return res
