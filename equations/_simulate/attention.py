"""Finite-size training of the two-token dot-product attention: the counterpart of
:mod:`equations.attention`.

One instance: ``Q* ~ N(0, I_d)``, ``n = round(alpha d)`` sequences of two tokens ``x_l ~ N(0,
sigma^2 I_d)``, positional encodings ``p_1 = -p_2 = 1_d / sqrt(d)``; the objective::

    L(Q) = sum_mu |softmax_rows(h h^T) (X + P) - T(X)|_F^2 / (2 d) + reg/2 |Q|^2,
    h_l = (x_l + p_l).Q / sqrt(d),   T(X) = [(1 - omega) softmax_rows(s s^T) + omega A] X,

exactly as written (finite ``d``: the student's output keeps the positional encodings, as in the
authors' simulations), minimised by full-batch L-BFGS (scipy, analytic gradient) from

* ``start="positional"``: ``Q = 0.2 1_d`` (``m = 0.2``, no semantic component), or
* ``start="semantic"``: ``Q = 0.6 Q*`` (``theta = 0.6 sigma^2``, ``m`` of order ``1/sqrt(d)``).

The loss is non-convex: each start lands in its own basin (the positional and semantic local
minima of the theory). Observables: ``q = sigma^2 |Q|^2 / d``, ``m = 1_d.Q / d``, ``theta =
sigma^2 Q.Q* / d``, ``V`` (NaN: not measured), ``train_loss`` (mean loss per sequence at the
minimum, the leading-order loss of the theory being its ``d -> inf`` limit), ``energy = L / d``,
``test_error`` on ``N_TEST`` fresh sequences, ``baseline_error`` of the least-squares linear
attention ``B`` fitted on the training set (four parameters) and measured on the same fresh set.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

__all__ = ["simulate_attention", "attention_loss"]

N_TEST = 20000


def _softmax2(H):
    """Row softmax of a batch of 2x2 matrices ``H`` (shape (n, 2, 2))."""
    Z = H - H.max(axis=2, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=2, keepdims=True)


def _data(model, Qs, n, rng):
    d = Qs.shape[0]
    Z = model.sigma * rng.standard_normal((n, 2, d))
    s = Z @ Qs / math.sqrt(d)
    Tm = (1.0 - model.omega) * _softmax2(s[:, :, None] * s[:, None, :]) + model.omega * np.asarray(model.A)
    Y = Tm @ Z
    P = np.stack([np.ones(d), -np.ones(d)]) / math.sqrt(d)
    return Z + P, Y, Z


def attention_loss(Q, X, Y, reg):
    """``(L(Q), grad L)`` of the objective in the module docstring (``X``: inputs with positional
    encodings, shape (n, 2, d); ``Y``: targets)."""
    n, _, d = X.shape
    h = X @ Q / math.sqrt(d)                                   # (n, 2)
    S = _softmax2(h[:, :, None] * h[:, None, :])               # (n, 2, 2)
    D = S @ X - Y                                              # (n, 2, d)
    L = 0.5 * np.sum(D * D) / d + 0.5 * reg * Q @ Q
    G = np.einsum("nld,nkd->nlk", D, X) / d                    # dL/dS
    # softmax rows: dL/dH_lk = S_lk (G_lk - sum_j G_lj S_lj); H = h h^T
    GH = S * (G - np.sum(G * S, axis=2, keepdims=True))
    gh = np.einsum("nlk,nk->nl", GH + GH.transpose(0, 2, 1), h)
    grad = np.einsum("nl,nld->d", gh, X) / math.sqrt(d) + reg * Q
    return L, grad


def simulate_attention(model, d, seed, start="positional"):
    """One instance at dimension ``d``, trained from ``start``; see the module docstring."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    if start not in ("positional", "semantic", "uninformed", "informed"):
        raise ValueError(f"start must be 'positional' or 'semantic', got {start!r}")
    rng = np.random.default_rng(seed)
    d = int(d)
    Qs = rng.standard_normal(d)
    n = max(1, int(round(model.alpha * d)))
    X, Y, _ = _data(model, Qs, n, rng)
    if start in ("positional", "uninformed"):
        Q0 = 0.2 * np.ones(d)
    else:
        Q0 = 0.6 * Qs
    res = minimize(attention_loss, Q0, args=(X, Y, model.reg), jac=True, method="L-BFGS-B",
                   options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-15})
    Q = res.x
    s2 = model.sigma ** 2
    Xt, Yt, Zt = _data(model, Qs, N_TEST, rng)
    test = _pointwise_loss(Q, Xt, Yt)
    h = X @ Q / math.sqrt(d)
    S = _softmax2(h[:, :, None] * h[:, None, :])
    D = S @ X - Y
    train = 0.5 * np.sum(D * D, axis=(1, 2)) / d
    # least-squares linear (positional) attention: Y ~ B Z on the training set
    Zs = X - np.stack([np.ones(d), -np.ones(d)]) / math.sqrt(d)
    M = np.einsum("nld,nkd->lk", Zs, Zs)
    C = np.einsum("nld,nkd->lk", Y, Zs)
    B = np.linalg.solve(M.T, C.T).T
    Db = np.einsum("lk,nkd->nld", B, Zt) - Yt
    return {"q": float(s2 * Q @ Q / d), "m": float(np.sum(Q) / d), "theta": float(s2 * Q @ Qs / d),
            "V": math.nan, "train_loss": float(np.mean(train)), "energy": float(res.fun / d),
            "test_error": float(np.mean(test)),
            "baseline_error": float(np.mean(0.5 * np.sum(Db * Db, axis=(1, 2)) / d))}


def _pointwise_loss(Q, X, Y):
    d = X.shape[2]
    h = X @ Q / math.sqrt(d)
    S = _softmax2(h[:, :, None] * h[:, None, :])
    D = S @ X - Y
    return 0.5 * np.sum(D * D, axis=(1, 2)) / d
