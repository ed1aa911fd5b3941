"""GAMP for the Bayes-optimal sequence multi-index model with a tied attention target (``p = 1``).

Troiani, Cui, Dandi, Krzakala, Zdeborova, "Fundamental limits of learning in sequence
multi-index models and deep attention networks", ICML 2025 (arXiv 2502.00901): GAMP with a
channel acting on the ``L`` tokens of a sample jointly. Each of the ``n L`` rows
``x_{mu l} / sqrt(d)`` of the design is a row of an ordinary GAMP, except that the output
denoiser of sample ``mu`` takes its ``L`` pre-activation estimates together::

    V          = mean posterior variance of w (a scalar: p = 1, uniform-variance form),
    omega_mu,l = x_mu,l . w_hat / sqrt(d) - V g_mu,l^{t-1},
    g_mu       = (a_mu tanh(a_mu . omega_mu / V') - omega_mu) / V',   V' = V + noise,
    dg_mu,l    = (a_mu,l^2 (1 - tanh^2) / V' - 1) / V'                (the diagonal of d g / d omega),
    Lambda     = -(1/d) sum_{mu, l} dg_mu,l,
    B          = sum_{mu, l} x_mu,l g_mu,l / sqrt(d) + Lambda w_hat,
    w_hat      = B / (1 + Lambda),   V = 1 / (1 + Lambda)              (Gaussian prior),

with ``a_mu`` the representative of ``{z_mu, -z_mu}`` read off the output (the ``attention``
target's softmax is inverted as in :mod:`equations.sequence`; for ``scores``, ``a = y[:, 0] /
sqrt(y[0, 0])`` up to sign, the largest diagonal entry used as pivot). The estimate is known up
to the global sign of ``w*`` (the output is invariant under it), so overlaps are reported for the
sign that makes ``m = w_hat . w* / d`` non-negative. Its fixed points track the state evolution
of :class:`equations.sequence.SequenceMultiIndex`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["simulate_sequence", "gamp_sequence", "sample_outputs", "invert_outputs"]


def sample_outputs(target: str, Z):
    """Outputs ``(n, L, L)`` of ``target`` at the (noisy) pre-activations ``Z`` (``n x L``)."""
    Z = np.asarray(Z, dtype=float)
    S = Z[:, :, None] * Z[:, None, :]
    if target == "scores":
        return S
    S = S - S.max(axis=2, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=2, keepdims=True)


def invert_outputs(target: str, y):
    """A representative ``a`` (``n x L``) of ``{z, -z}`` from the outputs ``y`` (``n x L x L``)."""
    y = np.asarray(y, dtype=float)
    n, L, _ = y.shape
    if target == "scores":
        k = np.argmax(np.einsum("nii->ni", y), axis=1)
        piv = y[np.arange(n), k, k]
        col = y[np.arange(n), :, k]
        return col / np.sqrt(np.maximum(piv, 1e-300))[:, None]
    # attention, L = 2: u_12 = log(y_12 / y_11) = z_1 (z_2 - z_1), u_21 = z_2 (z_1 - z_2)
    u12 = np.log(y[:, 0, 1]) - np.log(y[:, 0, 0])
    u21 = np.log(y[:, 1, 0]) - np.log(y[:, 1, 1])
    delta = np.sqrt(np.maximum(-(u12 + u21), 1e-300))            # z_2 - z_1 (sign chosen +)
    return np.stack([u12 / delta, -u21 / delta], axis=1)


def gamp_sequence(X, a, noise: float, *, w0, max_iter: int = 300, tol: float = 1e-7):
    """Run GAMP on the observations ``{a_mu, -a_mu}``, ``a_mu = X_mu^T w* / sqrt(d) (+ noise)``.

    Parameters
    ----------
    X : ndarray (n, L, d)
        Inputs (``L`` tokens per sample) with i.i.d. ``N(0, 1)`` entries.
    a : ndarray (n, L)
        Representatives of the observed pre-activations, up to one sign per sample.
    noise : float
        Variance of the noise on each pre-activation.
    w0 : ndarray (d,)
        Initial estimate; the variance starts at the prior's, 1.

    Returns
    -------
    dict with ``w`` (estimate), ``V`` (posterior variance), ``iterations``, ``converged``.
    """
    n, L, d = X.shape
    A = X.reshape(n * L, d) / math.sqrt(d)
    af = a.reshape(n * L)
    w = np.array(w0, dtype=float)
    V = 1.0
    g = np.zeros(n * L)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        omega = A @ w - V * g
        Vp = V + noise
        x = np.sum((af * omega).reshape(n, L), axis=1) / Vp
        t = np.repeat(np.tanh(x), L)
        g = (af * t - omega) / Vp
        dg = (af * af * (1.0 - t * t) / Vp - 1.0) / Vp
        Lam = max(-float(dg.sum()) / d, 0.0)
        B = A.T @ g + Lam * w
        w_new = B / (1.0 + Lam)
        V = 1.0 / (1.0 + Lam)
        if not np.all(np.isfinite(w_new)):
            break
        change = math.sqrt(float(np.mean((w_new - w) ** 2)))
        w = w_new
        if change < tol:
            converged = True
            break
    return {"w": w, "V": V, "iterations": it, "converged": converged}


def simulate_sequence(model, d: int, seed: int, *, max_iter: int = 300, tol: float = 1e-7) -> dict[str, float]:
    """GAMP on one instance of ``model`` (:class:`equations.sequence.SequenceMultiIndex`) of size
    ``d`` (``n = round(alpha d)`` sequences of ``L`` tokens), started at random (``w_hat`` with
    i.i.d. ``N(0, 0.01)`` entries: an overlap of order ``1 / sqrt(d)``, as an algorithm started at
    random has).

    Returns
    -------
    dict of floats: ``Q[0,0]`` and ``overlap`` (``|w_hat . w*| / d``), ``q`` (``|w_hat|^2 / d``,
    equal to the overlap at the Bayes-optimal fixed point: Nishimori), ``mse`` (``|w_hat -
    w*|^2 / d`` for the better sign), ``label_mse`` (on ``max(n, 2000)`` fresh samples, the
    output predicted by the tensor Gauss-Hermite average of the target over ``z ~ N(omega, V +
    noise)``), ``iterations``, ``converged`` (1.0 or 0.0).
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    d = int(d)
    L = model.L
    rng = np.random.default_rng(seed)
    n = max(1, int(round(model.alpha * d)))
    w_star = rng.standard_normal(d)
    X = rng.standard_normal((n, L, d))
    Z = X @ w_star / math.sqrt(d) + math.sqrt(model.noise) * rng.standard_normal((n, L))
    a = invert_outputs(model.target, sample_outputs(model.target, Z))
    out = gamp_sequence(X, a, model.noise, w0=0.1 * rng.standard_normal(d), max_iter=max_iter, tol=tol)
    w, V = out["w"], out["V"]
    m = float(w @ w_star) / d
    if m < 0:
        w, m = -w, -m

    # label MSE on fresh samples: E[y | omega, V + noise] by a tensor Gauss-Hermite rule
    n_test = max(n, 2000)
    Xt = rng.standard_normal((n_test, L, d))
    Zt = Xt @ w_star / math.sqrt(d) + math.sqrt(model.noise) * rng.standard_normal((n_test, L))
    yt = sample_outputs(model.target, Zt)
    omega = Xt @ w / math.sqrt(d)
    k = 40 if L <= 2 else (12 if L == 3 else 6)
    x1, w1 = np.polynomial.hermite_e.hermegauss(k)
    w1 = w1 / w1.sum()
    grids = np.meshgrid(*([x1] * L), indexing="ij")
    nodes = np.stack([gr.ravel() for gr in grids], axis=1)
    weights = np.ones(nodes.shape[0])
    for gr in np.meshgrid(*([w1] * L), indexing="ij"):
        weights = weights * gr.ravel()
    sd = math.sqrt(V + model.noise)
    pred = np.empty_like(yt)
    for chunk in np.array_split(np.arange(n_test), max(1, n_test // 200)):
        Zs = omega[chunk, None, :] + sd * nodes[None, :, :]
        Ys = sample_outputs(model.target, Zs.reshape(-1, L)).reshape(chunk.size, nodes.shape[0], L, L)
        pred[chunk] = np.einsum("k,nkij->nij", weights, Ys)
    lmse = float(np.mean(np.sum((yt - pred) ** 2, axis=(1, 2))))
    return {"Q[0,0]": m, "overlap": m, "q": float(w @ w) / d, "mse": float(np.mean((w - w_star) ** 2)),
            "label_mse": lmse, "iterations": float(out["iterations"]),
            "converged": 1.0 if out["converged"] else 0.0}
