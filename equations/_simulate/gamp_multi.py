"""Generalised approximate message passing (GAMP) for Bayes-optimal multi-index models.

Aubin, Maillard, Barbier, Krzakala, Macris, Zdeborova, "The committee machine: computational to
statistical gaps in learning a two-layers neural network", NeurIPS 2018, Algorithm 1, with
``p``-dimensional denoisers. For i.i.d. Gaussian data the per-sample and per-variable ``p x p``
covariances concentrate, so the uniform-variance (averaged) form is used::

    V        = mean_i C_i                                   (p x p covariance of the pre-activations)
    omega_mu = sum_i A_mu,i w_hat_i - V g_mu^{t-1}          (Onsager-corrected estimate of z_mu)
    g, dg    = g_out(y; omega, V), d g_out / d omega        (target.channel)
    Lambda   = -alpha mean_mu dg_mu                         (p x p, ~ Q_hat)
    B_i      = sum_mu A_mu,i g_mu + Lambda w_hat_i
    w_hat_i, C_i = mean and covariance of P(w | B_i, Lambda) ~ P0(w) exp(B_i.w - w.Lambda w / 2),

with ``A = X / sqrt(d)``, ``alpha = n / d`` and ``w_hat_i in R^p`` the row ``i`` of the ``d x p``
estimate ``W_hat`` (the column ``i`` of ``W*``). Gaussian prior: ``w_hat_i = (I + Lambda)^{-1}
B_i``, ``C = (I + Lambda)^{-1}``; Rademacher prior (i.i.d. +-1 entries): the ``2^p`` sign vectors
are enumerated (log-sum-exp). Its fixed points track the state evolution of
:class:`equations.multi_index.MultiIndex`.

Safeguards. ``V`` and ``Lambda`` are symmetrised and their eigenvalues floored (``V`` at
``1e-12``, so that the channel's Cholesky factor and ``V^{-1}`` exist; ``Lambda`` at 0, so that
``I + Lambda`` is invertible and the binary posterior is a proper distribution): at finite ``d``
the empirical average of ``-dg`` can have a slightly negative eigenvalue in a direction that is
not learned. No damping is used by default (it was not needed in the tested cases).

Symmetries of the target. When the label law is invariant under a signed permutation ``P`` of
the hidden directions (``g(z P) = g(z)``: the hidden units of a committee can be exchanged,
``sign(z_1 z_2)`` is invariant under ``z -> -z`` and ``z_1 <-> z_2``) the posterior is too (both
priors are invariant under signed permutations), and GAMP started at random may converge to any
image ``W* P`` of the teacher. The reported overlaps are those of ``W_hat P`` (``Q -> P^T Q``) for the element
``P`` of that group (found by testing ``g`` on random points) that maximises ``tr(P^T Q)``.
On a non-specialised branch (``Q ~ 1 1^T`` for a committee) the choice does not matter in the
large-``d`` limit; at finite ``d`` choosing the maximum biases ``overlap`` upward by a fraction of
the ``O(1/sqrt(d))`` fluctuation of ``Q_11 + Q_22 - Q_12 - Q_21``. The singular values of ``Q``
(``Q_sv[k]``, decreasing) are invariant under the group and need no alignment.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from fixedpoint.gaussian import sparse_rule, tensor_rule

from ..targets import sign_patterns

__all__ = ["simulate_multi_index", "gamp_multi", "symmetry_group"]

#: eigenvalue floor of V (the channel needs V^{-1})
_V_FLOOR = 1e-12


def _sym_floor(M, floor):
    """Symmetric part of ``M`` with its eigenvalues floored at ``floor``."""
    M = 0.5 * (M + M.T)
    lam, U = np.linalg.eigh(M)
    if lam[0] >= floor:
        return M
    lam = np.maximum(lam, floor)
    return (U * lam) @ U.T


def _denoise(prior, B, Lam):
    """Posterior means ``(d, p)`` and average covariance ``(p, p)`` of ``P(w | B_i, Lambda)``."""
    p = Lam.shape[0]
    if prior == "gaussian":
        C = np.linalg.inv(np.eye(p) + Lam)
        C = 0.5 * (C + C.T)
        return B @ C, C
    if prior == "rademacher":
        S = sign_patterns(p)                                      # (2^p, p)
        quad = 0.5 * np.einsum("ca,ab,cb->c", S, Lam, S)
        logits = B @ S.T - quad[None, :]                          # (d, 2^p)
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        mean = P @ S
        second = np.einsum("ic,ca,cb->ab", P, S, S) / B.shape[0]
        C = second - mean.T @ mean / B.shape[0]
        return mean, 0.5 * (C + C.T)
    raise ValueError(f"unknown prior {prior!r}")


def gamp_multi(X, y, target, prior, noise, *, W0, max_iter: int = 300, tol: float = 1e-7,
               damping: float = 0.0):
    """Run multi-index GAMP on ``y ~ P_out(. | X W* ^T / sqrt(d))``.

    Parameters
    ----------
    X : ndarray (n, d)
        Inputs with i.i.d. ``N(0, 1)`` entries.
    y : ndarray (n,)
        Labels.
    target : equations.targets.Target
        Its ``channel`` gives ``g_out`` and its Jacobian.
    prior : {"gaussian", "rademacher"}
        Law of the teacher's entries (unit variance).
    noise : float
        Output noise variance (continuous targets).
    W0 : ndarray (d, p)
        Initial estimate; the covariances start at the prior's, ``I``.
    max_iter, tol : int, float
        Stop when the root-mean-square change of ``W_hat`` is below ``tol`` (relative to the
        prior's unit scale).
    damping : float
        Weight of the old ``W_hat`` and ``C`` (0 = none).

    Returns
    -------
    dict with ``W`` (``d x p`` estimate), ``C`` (average posterior covariance), ``iterations``,
    ``converged``.
    """
    n, d = X.shape
    p = target.p
    A = X / math.sqrt(d)
    alpha = n / d
    W = np.array(W0, dtype=float)
    C = np.eye(p)
    g = np.zeros((n, p))
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        V = _sym_floor(C, _V_FLOOR)
        omega = A @ W - g @ V
        _, g, dg = target.channel(y, omega, V, noise)
        Lam = _sym_floor(-alpha * dg.mean(axis=0), 0.0)
        B = A.T @ g + W @ Lam
        W_new, C_new = _denoise(prior, B, Lam)
        if damping > 0.0:
            W_new = damping * W + (1.0 - damping) * W_new
            C_new = damping * C + (1.0 - damping) * C_new
        if not np.all(np.isfinite(W_new)):
            break
        change = math.sqrt(float(np.mean((W_new - W) ** 2)))
        W, C = W_new, C_new
        if change < tol:
            converged = True
            break
    return {"W": W, "C": 0.5 * (C + C.T), "iterations": it, "converged": converged}


def symmetry_group(target, noise: float = 0.0):
    """The signed permutations ``P`` (``p x p``) with ``g(z P) = g(z)``, tested on 512 random
    points (exactly for a signs target, to ``1e-10`` for a continuous one). Always contains ``I``."""
    p = target.p
    rng = np.random.default_rng(12345)
    z = rng.standard_normal((512, p))
    y0 = target.sample(z, 0.0, rng)
    out = []
    for perm in itertools.permutations(range(p)):
        for signs in itertools.product((1.0, -1.0), repeat=p):
            P = np.zeros((p, p))
            P[list(perm), range(p)] = signs
            y1 = target.sample(z @ P, 0.0, rng)
            if np.allclose(y1, y0, rtol=1e-10, atol=1e-10):
                out.append(P)
    return out


def _predict(target, omega, V, noise):
    """Bayes predictions for the pre-activation estimates ``omega`` (n, p) with covariance ``V``.

    Signs targets: ``(argmax_c P(c), sum_c c P(c))`` with ``P(c) = Z_out(c; omega, V)`` (the
    labels' probabilities sum to one). Continuous: ``E[y | omega, V] = E_{z ~ N(omega, V)} g(z)``
    by a tensor Gauss-Hermite rule (40 points per axis for p <= 2, 14 for p = 3, Smolyak level 5
    beyond), twice (as the label and the posterior mean)."""
    n, p = omega.shape
    if target.kind == "signs":
        logz = np.stack([target.channel(np.full(n, c), omega, V, noise)[0] for c in target.values], axis=1)
        prob = np.exp(logz - logz.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        return target.values[np.argmax(prob, axis=1)], prob @ target.values
    u, wu = tensor_rule(p, (40, 40, 14)[p - 1]) if p <= 3 else sparse_rule(p, 5)
    lam, U = np.linalg.eigh(0.5 * (V + V.T))
    L = U * np.sqrt(np.clip(lam, 0.0, None))
    pred = np.empty(n)
    for chunk in np.array_split(np.arange(n), max(1, n // 500)):
        Z = omega[chunk, None, :] + (u @ L.T)[None, :, :]
        vals = np.asarray(target.g(Z.reshape(-1, p)), dtype=float).reshape(chunk.size, u.shape[0])
        pred[chunk] = vals @ wu
    return pred, pred


def simulate_multi_index(model, d: int, seed: int, *, max_iter: int = 300, tol: float = 1e-7,
                         damping: float = 0.0) -> dict[str, float]:
    """GAMP on one instance of the multi-index model ``model`` of size ``d`` (``n = round(alpha
    d)``), started uninformed.

    The teacher ``W*`` (``p x d``) has i.i.d. entries from the model's prior; the start ``W_hat``
    has i.i.d. ``N(0, 0.01)`` entries (an algorithm started at random: overlaps of order
    ``1/sqrt(d)``) and covariance ``I``.

    Returns
    -------
    dict of floats: ``Q[i,j]`` (``i <= j``, the symmetric part of ``Q = W_hat^T W*^T / d``
    after aligning ``W_hat`` with the teacher over the target's symmetry group, see the module
    docstring: GAMP may learn the hidden units of a committee in a permuted order), ``Q_sv[k]``
    (singular values of ``Q``, decreasing), ``overlap`` (``tr Q / p``), ``mse`` (``|W_hat -
    W*|^2 / (d p)``), ``specialisation`` (mean diagonal minus mean off-diagonal entry of ``Q``),
    ``gen_error`` and ``label_mse`` measured on ``max(n, 4000)`` fresh samples with the Bayes
    predictor at ``omega = X W_hat / sqrt(d)``, ``V = C`` (signs targets: 0/1 error of the most
    probable label, and squared error of the posterior-mean label; continuous: both the squared
    error of ``E[y | omega, V]``), ``iterations`` and ``converged`` (1.0 or 0.0).
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    d = int(d)
    target = model._target
    p = model.p
    rng = np.random.default_rng(seed)
    n = max(1, int(round(model.alpha * d)))
    if model.prior == "gaussian":
        W_star = rng.standard_normal((p, d))
    else:
        W_star = rng.choice(np.array([-1.0, 1.0]), size=(p, d))
    X = rng.standard_normal((n, d))
    y = target.sample(X @ W_star.T / math.sqrt(d), model.noise, rng)
    W0 = 0.1 * rng.standard_normal((d, p))
    out = gamp_multi(X, y, target, model.prior, model.noise, W0=W0, max_iter=max_iter, tol=tol, damping=damping)
    W, C = out["W"], out["C"]

    # align over the symmetries of the target: W_hat -> W_hat P maps Q -> P^T Q (module docstring)
    Q_raw = W.T @ W_star.T / d                                    # (p, p): student x teacher
    group = symmetry_group(target, model.noise)
    best = max(group, key=lambda P: float(np.trace(P.T @ Q_raw)))
    W_al = W @ best                                               # columns re-ordered / flipped
    Q = W_al.T @ W_star.T / d
    Qs = 0.5 * (Q + Q.T)

    n_test = max(n, 4000)
    Xt = rng.standard_normal((n_test, d))
    yt = target.sample(Xt @ W_star.T / math.sqrt(d), model.noise, rng)
    label, mean = _predict(target, Xt @ W / math.sqrt(d), _sym_floor(C, _V_FLOOR), model.noise)
    if target.kind == "signs":
        gen = float(np.mean(label != yt))
    else:
        gen = float(np.mean((yt - label) ** 2))
    lmse = float(np.mean((yt - mean) ** 2))

    res = {}
    for i in range(p):
        for j in range(i, p):
            res[f"Q[{i},{j}]"] = float(Qs[i, j])
    for k, s in enumerate(np.linalg.svd(Q, compute_uv=False)):
        res[f"Q_sv[{k}]"] = float(s)
    off = (Qs.sum() - np.trace(Qs)) / (p * (p - 1)) if p > 1 else 0.0
    res.update({
        "overlap": float(np.trace(Q)) / p,
        "mse": float(np.mean((W_al.T - W_star) ** 2)),
        "specialisation": float(np.trace(Qs) / p - off),
        "gen_error": gen,
        "label_mse": lmse,
        "iterations": float(out["iterations"]),
        "converged": 1.0 if out["converged"] else 0.0,
    })
    return res
