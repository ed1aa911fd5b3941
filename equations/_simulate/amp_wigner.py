"""Finite-size spiked Wigner instances, Bayes-optimal AMP and the spectral estimator.

Model (DESIGN.md): ``Y_ij = sqrt(snr/n) x_i x_j + sqrt(Delta_{a(i) b(j)}) W_ij``, ``W`` symmetric
with ``N(0, 1)`` entries (the diagonal too), ``x_i ~ P_x`` i.i.d. with unit second moment, the
index ``i`` in group ``a(i)`` (one group with ``Delta = 1`` is the homogeneous model).

AMP (Lesieur, Krzakala, Zdeborova, J. Stat. Mech. 2017, eqs. for the symmetric rank-one case;
inhomogeneous version: Pak, Ko, Krzakala, "Optimal algorithms for the inhomogeneous spiked
Wigner model", 2023). With the Fisher score ``S_ij = sqrt(snr/n) Y_ij / Delta_ij``:

    B^t   = S xhat^t - Onsager^t,   Onsager_i^t = (snr/n) sum_j (v_j^t / Delta_ij) xhat_i^{t-1}
    A_i^t = (snr/n) sum_j (xhat_j^t)^2 / Delta_ij
    xhat^{t+1}, v^{t+1} = posterior mean, variance of x in the scalar channel
                          y = B / sqrt(A) = sqrt(A) x + z   (signal-to-noise A)

whose state evolution is ``m_a^{t+1} = overlap(snr sum_b c_b m_b^t / Delta_ab)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["sample_signal", "sample_instance", "amp", "spectral_overlap", "group_labels"]


def group_labels(n: int, fractions) -> np.ndarray:
    """Group index of each of the ``n`` coordinates, contiguous blocks of sizes ``round(c_a n)``."""
    fractions = np.asarray(fractions, dtype=float)
    sizes = np.floor(fractions * n + 0.5).astype(int)
    sizes[-1] = n - sizes[:-1].sum()
    if np.any(sizes < 1):
        raise ValueError(f"d={n} is too small for the group fractions {fractions.tolist()}")
    return np.repeat(np.arange(len(sizes)), sizes)


def sample_signal(prior, n: int, rng) -> np.ndarray:
    """``n`` entries of the signal with exactly ``round(rho n)`` non-zero ones (sparse priors).

    Fixing the support size removes the ``O(1/sqrt(rho n))`` fluctuation of ``|x|^2 / n`` (the
    effective signal-to-noise of the instance), which for sparse priors near a transition
    dominates the finite-size error; the asymptotic theory is the same as for i.i.d. entries.
    """
    if prior.rho >= 1.0:
        return prior.sample(n, rng)
    k = int(np.floor(prior.rho * n + 0.5))
    dense = type(prior)(prior.kind if prior.kind != "sparse_rademacher" else "rademacher", 1.0, prior.scale) \
        if prior.kind == "sparse_rademacher" else type(prior)("gaussian", 1.0, prior.scale)
    x = np.zeros(n)
    x[rng.choice(n, size=k, replace=False)] = dense.sample(k, rng)
    return x


def sample_instance(prior, snr: float, n: int, rng, labels=None, profile=None):
    """Draw ``(x, Y)``; ``labels`` (group of each index) and ``profile`` (K x K Delta) optional.

    The signal comes from :func:`sample_signal` (fixed support size for sparse priors).
    """
    x = sample_signal(prior, n, rng)
    g = rng.standard_normal((n, n))
    w = np.triu(g, 1)
    w = w + w.T + np.diag(np.diag(g))
    if profile is not None:
        delta = np.asarray(profile, dtype=float)[labels[:, None], labels[None, :]]
        w = np.sqrt(delta) * w
    y = math.sqrt(snr / n) * np.outer(x, x) + w
    return x, y


def amp(y, prior, snr: float, rng, labels=None, profile=None, init_overlap: float = 0.1, x_true=None,
        max_iter: int = 300, tol: float = 1e-6):
    """Bayes-optimal AMP on one instance.

    The start is ``xhat^0 = init_overlap * x + sqrt(1 - init_overlap^2) * xi`` with ``xi`` a
    fresh draw from the prior (a small random overlap, as a random start has at finite size),
    ``v^0 = 1 - init_overlap^2`` (when ``x_true`` is None, ``xhat^0 = xi``). Stops when the RMS
    change of ``xhat`` is below ``tol`` times its RMS (floored at 1e-4), or after ``max_iter``.

    Returns
    -------
    xhat, v : numpy.ndarray
        Posterior means and variances at the last iterate.
    iterations : int
    """
    n = y.shape[0]
    if labels is None:
        labels = np.zeros(n, dtype=int)
        profile = np.ones((1, 1))
    profile = np.asarray(profile, dtype=float)
    inv_profile = 1.0 / profile
    k = profile.shape[0]
    members = [np.flatnonzero(labels == grp) for grp in range(k)]
    # the Fisher score in single precision: the matrix-vector product is memory-bound and its
    # rounding (~1e-6 relative) is far below the O(1/sqrt(n)) fluctuations AMP tracks
    if k == 1:
        s = ((math.sqrt(snr / n) / profile[0, 0]) * y).astype(np.float32)
    else:
        s = (math.sqrt(snr / n) * y * inv_profile[labels[:, None], labels[None, :]]).astype(np.float32)
    xi = prior.sample(n, rng)
    if x_true is not None:
        xhat = init_overlap * x_true + math.sqrt(max(1.0 - init_overlap**2, 0.0)) * xi
    else:
        xhat = xi
    v = np.full(n, max(1.0 - init_overlap**2, 0.0))
    xhat_old = np.zeros(n)
    it = 0
    for it in range(1, max_iter + 1):
        # the profile is block-constant: A and the Onsager coefficient are sums over groups
        sum_x2 = np.array([float(xhat[idx] @ xhat[idx]) for idx in members])
        sum_v = np.array([float(v[idx].sum()) for idx in members])
        a_group = (snr / n) * (inv_profile @ sum_x2)
        ons_group = (snr / n) * (inv_profile @ sum_v)
        b = (s @ xhat.astype(np.float32)).astype(np.float64) - ons_group[labels] * xhat_old
        new = np.empty(n)
        new_v = np.empty(n)
        for grp, idx in enumerate(members):
            a = float(a_group[grp])
            if a <= 0:
                new[idx], new_v[idx] = 0.0, prior.second_moment
                continue
            new[idx], new_v[idx] = prior.denoise(b[idx] / math.sqrt(a), a)
        xhat_old, xhat, v = xhat, new, new_v
        # relative criterion: from a random start the estimate is tiny for a while (and shrinks
        # toward a stable trivial point), so an absolute one would stop before the escape
        change = math.sqrt(float(np.mean((xhat - xhat_old) ** 2)))
        if change < tol * max(math.sqrt(float(np.mean(xhat * xhat))), 1e-4):
            break
    return xhat, v, it


def spectral_overlap(y, x) -> float:
    """``|<u, x>| / (|u| |x|)`` for ``u`` the top eigenvector of ``Y`` (BBP: ``1 - 1/snr`` squared).

    The top eigenvector is found by Lanczos (``scipy.sparse.linalg.eigsh``), not a full
    diagonalisation.
    """
    from scipy.sparse.linalg import eigsh

    v0 = np.ones(y.shape[0])  # deterministic start: the result does not depend on a hidden RNG
    w, vecs = eigsh(y, k=1, which="LA", v0=v0, tol=1e-10)
    u = vecs[:, 0]
    return float(abs(u @ x) / (np.linalg.norm(u) * np.linalg.norm(x)))
