"""Finite-size subspace clustering: one instance and Bayes-optimal AMP (the counterpart of ``subspace_clustering``).

Instance: ``U`` one-hot (``n = round(alpha d)`` points, clusters uniform), ``V`` with rows from
``rho N(0, I_k) + (1 - rho) delta_0`` (exactly ``round(rho d)`` rows in the support, which removes
the ``O(1/sqrt(rho d))`` fluctuation of the signal's norm; the asymptotic theory is the same),
``Y = sqrt(snr/d) V (U - c)^T + Z`` with ``c = 1/k`` (``centred``) or 0. The labels' prior is
that of ``u = e_c - c``.

AMP for ``Y = sqrt(snr/d) V U^T + Z`` (Lesieur, Krzakala, Zdeborova, J. Stat. Mech. 2017, the
bipartite low-rank AMP with matrix denoisers; the rank-one version is the authors' ``lowRAMP``
of ``lucpoisson/SubspaceClustering``). With ``S = sqrt(snr/d) Y``::

    B_v = S U_hat - V_hat (snr/d) sum_nu Sigma_u(nu),         A_v = (snr/d) U_hat^T U_hat
    V_hat, Sigma_v = posterior mean, covariance of each row of V in the channel (A_v, B_v)
    B_u = S^T V_hat - U_hat (snr/d) sum_i Sigma_v(i),         A_u = (snr/d) V_hat^T V_hat
    U_hat, Sigma_u = posterior mean, covariance of each row of U (the weights are the softmax of
                     B_u - diag(A_u)/2 + c A_u 1, the mean is the weights less c)

whose state evolution is the model's (``A_v -> alpha snr M_u``, ``A_u -> snr M_v``). Start: ``U_hat
= 1/k + eps (U - 1/k)`` (a small informative start, ``eps = 0.05`` by default, as the state
evolution's uninformed start is a small overlap with the signal; a random start needs
``O(log d)`` more iterations and a relabelling), ``V_hat = 0``.

Measured (the labels aligned by the best of the ``k!`` relabellings, ``k <= 6``): ``m_v`` (``tr(P
V_hat^T V)/(d (k - 1))``), ``m_v_mean``, ``m_u`` (``tr(P U_hat^T U)/(n (k - 1))``),
``label_overlap`` (``k m_u``), ``accuracy`` (fraction of points whose MAP cluster is the true
one), ``mse`` (``|V - V_hat|^2/(d k)``), and ``iterations``, ``converged``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["sample_instance", "amp", "simulate_clustering"]


def sample_instance(k, rho, alpha, snr, d, rng, centred=True):
    """``(U, V, Y)`` (``n x k`` one-hot, ``d x k``, ``d x n``)."""
    n = max(1, int(round(alpha * d)))
    labels = rng.integers(0, k, size=n)
    U = np.zeros((n, k))
    U[np.arange(n), labels] = 1.0
    V = np.zeros((d, k))
    s = int(math.floor(rho * d + 0.5)) if rho < 1.0 else d
    rows = rng.choice(d, size=s, replace=False) if rho < 1.0 else np.arange(d)
    V[rows] = rng.standard_normal((s, k))
    shift = 1.0 / k if centred else 0.0
    Y = math.sqrt(snr / d) * V @ (U - shift).T + rng.standard_normal((d, n))
    return U, V, Y


def _denoise_u(A, B, shift):
    """Posterior mean and summed covariance of rows ``e_c - shift``: the weights are the softmax of
    ``u.B - u.A u/2 = B_c - A_cc/2 + shift (A 1)_c + const``."""
    L = B - 0.5 * np.diag(A)[None, :] + shift * A.sum(axis=1)[None, :]
    L -= L.max(axis=1, keepdims=True)
    W = np.exp(L)
    W /= W.sum(axis=1, keepdims=True)
    cov_sum = np.diag(W.sum(axis=0)) - W.T @ W
    return W - shift, cov_sum


def _denoise_v(A, B, rho):
    """Posterior mean and summed covariance of rows from ``rho N(0, I) + (1 - rho) delta_0``."""
    k = A.shape[0]
    Sigma = np.linalg.inv(np.eye(k) + A)
    Sigma = 0.5 * (Sigma + Sigma.T)
    mu = B @ Sigma
    if rho >= 1.0:
        return mu, B.shape[0] * Sigma
    _, logdet = np.linalg.slogdet(np.eye(k) + A)
    s = 0.5 * np.einsum("ij,ij->i", B, mu) - 0.5 * logdet + math.log(rho / (1.0 - rho))
    pi = 0.5 * (1.0 + np.tanh(0.5 * s))  # sigmoid(s), stable
    mean = pi[:, None] * mu
    cov_sum = pi.sum() * Sigma + (mu * (pi * (1.0 - pi))[:, None]).T @ mu
    return mean, cov_sum


def amp(Y, k, rho, snr, U0, *, shift=0.0, max_iter=300, tol=1e-7, damping=0.0):
    """Bayes-optimal AMP from ``U_hat = U0``; returns ``(U_hat, V_hat, iterations, converged)``."""
    d, n = Y.shape
    S = math.sqrt(snr / d) * Y
    U_hat = U0.copy()
    V_hat = np.zeros((d, k))
    cov_u = np.zeros((k, k))
    c = snr / d
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        A_v = c * U_hat.T @ U_hat
        B_v = S @ U_hat - V_hat @ (c * cov_u)
        V_new, cov_v = _denoise_v(A_v, B_v, rho)
        if damping:
            V_new = damping * V_hat + (1.0 - damping) * V_new
        V_hat = V_new
        A_u = c * V_hat.T @ V_hat
        B_u = S.T @ V_hat - U_hat @ (c * cov_v)
        U_new, cov_u = _denoise_u(A_u, B_u, shift)
        if damping:
            U_new = damping * U_hat + (1.0 - damping) * U_new
        diff = float(np.mean((U_new - U_hat) ** 2))
        U_hat = U_new
        if it > 2 and diff < tol:
            converged = True
            break
    return U_hat, V_hat, it, converged


def _best_permutation(U_hat, U):
    k = U.shape[1]
    C = U_hat.T @ U  # C[a, b]: estimated cluster a against true b
    if k > 6:
        return np.arange(k)
    best, perm = -np.inf, None
    for p in itertools.permutations(range(k)):
        s = sum(C[p[b], b] for b in range(k))
        if s > best:
            best, perm = s, p
    return np.array(perm)


def simulate_clustering(model, d: int, seed: int, *, eps: float = 0.05, max_iter: int = 300) -> dict[str, float]:
    """One instance of size ``d`` (``n = round(alpha d)``) and AMP on it (module docstring)."""
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 4:
        raise ValueError(f"d must be an integer >= 4, got {d!r}")
    d = int(d)
    k, rho, snr = model.k, model.rho, model.snr
    rng = np.random.default_rng(seed)
    U, V, Y = sample_instance(k, rho, model.alpha, snr, d, rng, centred=model.centred)
    n = U.shape[0]
    shift = 1.0 / k if model.centred else 0.0
    U0 = 1.0 / k + eps * (U - 1.0 / k) - shift
    U_hat, V_hat, it, converged = amp(Y, k, rho, snr, U0, shift=shift, max_iter=max_iter)
    U_hat = U_hat + shift  # back to the posterior probabilities of the clusters (P U_hat is blind to it)
    perm = _best_permutation(U_hat, U)
    U_hat = U_hat[:, perm]
    V_hat = V_hat[:, perm]
    P = np.eye(k) - np.ones((k, k)) / k
    Mv = V_hat.T @ V / d
    Mu = U_hat.T @ U / n
    m_u = float(np.trace(P @ Mu)) / (k - 1)
    return {
        "m_v": float(np.trace(P @ Mv)) / (k - 1), "m_v_mean": float(Mv.sum()) / k,
        "m_u": m_u, "label_overlap": k * m_u,
        "accuracy": float(np.mean(np.argmax(U_hat, axis=1) == np.argmax(U, axis=1))),
        "mse": float(np.sum((V - V_hat) ** 2)) / (d * k),
        "iterations": float(it), "converged": float(converged),
    }
