"""Finite-size ERM on a two-cluster Gaussian mixture: the counterpart of ``gmm_erm``.

One instance: ``mu ~ N(0, I_d)``, ``n = round(alpha d)`` labels ``+-1`` with ``P(+1) =
balance``, ``x = y mu / sqrt(d) + sqrt(noise) z``; the estimator minimises ``sum loss(y, a.w + b)
+ penalty(w)`` with ``a = x / sqrt(d)`` and ``b`` fitted (unpenalised) or 0. Solvers:

* without a bias: :func:`equations._simulate.erm.fit` (the GLM ERM solvers);
* with a bias: square + l2 by the normal equations of ``(w, b)``; logistic / huber + l2 by
  L-BFGS on ``(w, b)`` to gradient 1e-11; hinge / absolute + l2 by the exact dual QP of
  scikit-learn's ``SVC`` / ``SVR`` with a linear kernel (``epsilon = 0``), whose intercept is
  not penalised; l1 penalties by FISTA on ``(w, b)`` with soft thresholding of ``w`` only
  (smooth losses) or a linear programme with a free ``b`` (hinge, absolute).

Measured: ``m = mu.w/d``, ``q = w.w/d``, ``b``, the training loss and error on the data, and the
exact test errors given ``(w, b, mu)``: a fresh point of cluster ``c`` has the field ``y_c m_hat +
b + sqrt(noise q) xi`` with the instance's own ``m_hat``, so ``H((m + y_c b) / sqrt(noise q))``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from ..losses import loss_value
from .erm import _derivs, _one_blas_thread, fit


def sample_instance(alpha, d, noise, balance, rng):
    """``(A, y, mu)`` with ``A = x / sqrt(d)``."""
    n = max(2, int(round(alpha * d)))
    mu = rng.standard_normal(d)
    y = np.where(rng.random(n) < balance, 1.0, -1.0)
    A = (np.outer(y, mu) / math.sqrt(d) + math.sqrt(noise) * rng.standard_normal((n, d))) / math.sqrt(d)
    return A, y, mu


def _smooth_l2_bias(A, y, loss, reg, delta):
    from scipy.optimize import minimize

    n, d = A.shape

    def fun(v):
        w, b = v[:d], v[d]
        z = A @ w + b
        g1, _ = _derivs(loss, y, z, delta)
        val = float(np.sum(loss_value(loss, y, z, delta))) + 0.5 * reg * float(w @ w)
        return val, np.concatenate([A.T @ g1 + reg * w, [np.sum(g1)]])

    res = minimize(fun, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                   options={"maxiter": 20000, "gtol": 1e-11, "ftol": 1e-16, "maxcor": 30})
    return res.x[:d], float(res.x[d])


def _svm_l2_bias(A, y, loss, reg):
    from sklearn.svm import SVC, SVR

    if loss == "hinge":
        est = SVC(kernel="linear", C=1.0 / reg, tol=1e-10, max_iter=10_000_000)
    else:  # absolute = epsilon-insensitive with epsilon 0
        est = SVR(kernel="linear", C=1.0 / reg, epsilon=0.0, tol=1e-10, max_iter=10_000_000)
    est.fit(A, y)
    return np.asarray(est.coef_, dtype=float).ravel(), float(np.ravel(est.intercept_)[0])


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


def _lp_l1_bias(A, y, loss, reg):
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix, hstack, identity, vstack

    n, d = A.shape
    # variables: w+ (d), w- (d), b+ , b-, slack t (n) >= 0
    c = np.concatenate([np.full(2 * d, reg), [0.0, 0.0], np.ones(n)])
    one = csr_matrix(np.ones((n, 1)))
    As = csr_matrix(A)
    if loss == "hinge":  # t >= 1 - y (a.w + b)
        Y = csr_matrix(-(y[:, None] * A))
        yb = csr_matrix(-y[:, None])
        A_ub = hstack([Y, -Y, yb, -yb, -identity(n)], format="csr")
        b_ub = -np.ones(n)
    else:  # |y - a.w - b| <= t
        A_ub = vstack([hstack([As, -As, one, -one, -identity(n)]), hstack([-As, As, -one, one, -identity(n)])],
                      format="csr")
        b_ub = np.concatenate([y, -y])
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=(0, None), method="highs",
                  options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:
        raise RuntimeError(f"the linear programme failed: {res.message}")
    return res.x[:d] - res.x[d:2 * d], float(res.x[2 * d] - res.x[2 * d + 1])


def fit_with_bias(A, y, loss, penalty, reg, delta):
    """``(w, b)`` minimising ``sum loss(y, A w + b) + penalty(w)``, ``b`` unpenalised."""
    if penalty == "l2" or reg == 0:
        if loss == "square":
            n, d = A.shape
            B = np.hstack([A, np.ones((n, 1))])
            P = np.eye(d + 1) * reg
            P[d, d] = 0.0
            v = np.linalg.solve(B.T @ B + P, B.T @ y)
            return v[:d], float(v[d])
        if loss in ("logistic", "huber"):
            return _smooth_l2_bias(A, y, loss, reg, delta)
        return _svm_l2_bias(A, y, loss, reg)
    if loss in ("hinge", "absolute"):
        return _lp_l1_bias(A, y, loss, reg)
    return _fista_l1_bias(A, y, loss, reg, delta)


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
