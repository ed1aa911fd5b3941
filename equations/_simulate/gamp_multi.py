"""Generalised approximate message passing (GAMP) for Bayes-optimal multi-index models.

Rangan, "Generalized approximate message passing for estimation with random linear mixing",
ISIT 2011 (arXiv:1010.5141), with ``p``-dimensional denoisers: Aubin, Maillard, Barbier,
Krzakala, Macris, Zdeborova, "The committee machine: computational to statistical gaps in
learning a two-layers neural network", NeurIPS 2018 (arXiv:1806.05451), Algorithm 1; Troiani,
Dandi, Defilippis, Zdeborova, Loureiro, Krzakala, "Fundamental computational limits of weak
learnability in high-dimensional multi-index models", AISTATS 2025 (arXiv:2405.15480). With
``A = X / sqrt(d)`` (``n x d``), ``w_hat_i in R^p`` the row ``i`` of the ``d x p`` estimate
(the column ``i`` of ``W*``) and ``C_i`` its ``p x p`` posterior covariance, each iteration is::

    V_mu      = sum_i A_mu,i^2 C_i                                 (p x p, one per sample)
    omega_mu  = sum_i A_mu,i w_hat_i - V_mu g_mu                   (Onsager: the previous g)
    g_mu      = g_out(y_mu; omega_mu, V_mu) = grad_omega log Z_out (target.channel's integrals)
    Lambda_i  = sum_mu A_mu,i^2 g_mu g_mu^T                        (p x p, one per coordinate)
    B_i       = sum_mu A_mu,i g_mu + Lambda_i w_hat_i              (Onsager)
    w_hat_i, C_i = mean and covariance of P(w | B_i, Lambda_i) ~ P0(w) exp(B_i.w - w.Lambda_i w / 2).

Gaussian prior: ``w_hat_i = (I + Lambda_i)^{-1} B_i``, ``C_i = (I + Lambda_i)^{-1}``; Rademacher
prior (i.i.d. +-1 entries): the ``2^p`` sign vectors are enumerated (log-sum-exp). The channel
quantities are the exact integrals of :mod:`equations.targets` that the state evolution of
:class:`equations.multi_index.MultiIndex` averages (orthant probabilities for signs targets,
the radial route for ``norm2`` at ``p <= 2`` and the Fourier route beyond, Gauss-Hermite atoms for
other continuous ones),
evaluated at each sample's own ``V_mu``.

``norm2`` (measured at ``p = 2``, noise 0.1, ``alpha = 2``; state evolution ``Q = 0.624 I``).
``|z|^2`` is invariant under every rotation of ``z``, so the reported ``Q`` is aligned by the best
rotation (orthogonal Procrustes, :func:`rotation_invariant`) rather than a signed permutation:
aligned so, ``Q`` is symmetric positive semi-definite with the singular values as its
eigenvalues, and ``overlap`` is their mean. GAMP tracks the state evolution only at larger ``d``
than the other targets. From the uninformed start, 400 iterations, two instances: at ``d = 2000``
singular values (0.641, 0.599) and (0.643, 0.617), ``overlap`` 0.620 and 0.630 (0.556 and 0.524
when aligned by signed permutations), ``mse`` 0.408 and 0.407 against the state evolution's
0.376; at ``d = 1000`` (0.647, 0.531) and (0.556, 0.077), the latter held at an anisotropic point
through 1500 iterations that the state evolution's plain map leaves in a few steps
(``diag(0.555, 0.076)`` to ``(0.524, 0.145)``, ``(0.505, 0.230)``, ``(0.495, 0.313)``); damping 0.5
or ``variances="uniform"`` did not help there. None of these runs met ``tol`` (``converged = 0``):
the estimate drifts along the rotations, and even with the change measured up to the best
rotation it stalled near 4e-4 at ``d = 300`` while the second singular value still crept up. The
per-sample channel is exact (``log Z_out`` and ``g`` within 2e-10 of a trapezoid rule of 2401
points per axis, ``dg`` within 2e-6, at anisotropic and isotropic ``V``). Started at the state
evolution's fixed point (``W0 = 0.62 W* + sqrt(0.62 * 0.38) N(0, 1)``, ``C0 = 0.38 I``), its
singular values settle within 60 iterations at (0.805, 0.657), (0.701, 0.639), (0.644, 0.621)
for ``d`` = 500, 1000, 2000 (``C`` about 0.28, 0.29, 0.365 times ``I``): the finite-size gap
closes as ``d`` grows. (With ``precision="jacobian"`` it collapses: (0.07, 0.008) at ``d = 1000``.)
At ``p = 3`` (the Fourier channel; noise 0.1, ``alpha = 2.5``, state evolution ``Q = 0.44488 I``,
``mse`` 0.55512, label MSE 4.9125), four instances at ``d = 2000``, 400 iterations from the
uninformed start (about 115 s each on one core): ``overlap`` 0.435, 0.456, 0.483, 0.449, mean
0.456 +- 0.010 (standard error); ``mse`` 0.565 +- 0.015; label MSE on fresh samples 4.99 +- 0.12:
each within 1.1 standard errors of the state evolution. The singular values of a single instance
are spread ((0.475, 0.453, 0.376), (0.564, 0.473, 0.332)), and none met ``tol``, as at ``p = 2``; one
instance at ``d = 1000`` gave ``overlap`` 0.397. At ``p = 4`` (``alpha = 3``, noise 0.1; state evolution
``Q = 0.34577 I``, ``mse`` 0.65423, label MSE 7.1435; its overlap has four equal eigenvalues, the
eigenspace route of :mod:`equations._norm2_fourier`), four instances at ``d = 2000`` (190 to 270 s
each): ``overlap`` 0.338 +- 0.011, ``mse`` 0.678 +- 0.014, label MSE 7.34 +- 0.12: within 0.8, 1.7 and
1.6 standard errors.

``variances="uniform"`` replaces ``V_mu`` and ``Lambda_i`` by their averages (for i.i.d. Gaussian
inputs they concentrate on them: the same state evolution).

The input precision ``Lambda_i``. Rangan's GAMP has ``Lambda_i = -sum_mu A_mu,i^2 d g_mu``
(``precision="jacobian"``). For a Bayes-optimal channel the two forms have the same average on the
Nishimori line (``E[-d g_out] = E[g_out g_out^T] = Q_hat / alpha`` when ``omega`` and ``V`` are the
posterior's), hence the same state evolution; the square form is the default because it is
positive semi-definite by construction and stays equal to the variance of the noise in ``B_i``
off that line. Off it the Jacobian form fails: ``-d g_mu`` is indefinite for a single sample
(for ``sign(z_1 z_2)`` at ``omega = 0``, ``-d g = -y (2 / pi) s`` with ``s`` the swap), and a
random start is off the line by a factor of order one for a target without a trivial direction
(its self-overlap and its overlap with the teacher both grow from ``O(1/d)`` at the same rate
``alpha * 4 / pi^2`` for ``sign(z_1 z_2)``, so their ratio stays random). Measured on
``sign(z_1 z_2)``, ``alpha = 5``, ``d = 1000``: with the Jacobian form the sum had eigenvalues
``(-0.1, 1.4)`` where ``alpha mean g g^T`` had ``(3.8, 4.4)``; ``B_i`` then outgrows ``Lambda_i``,
``|w_hat|^2 / d`` passes 1 and the iteration falls into a period-2 cycle in which the second
estimated direction changes sign at every step (seed 1: no convergence in 300 iterations, with
averaged or per-sample variances); with the square form the same instance converges
monotonically, in 99 iterations, to an overlap of 0.826 (state evolution: 0.8235). The
Jacobian form is kept for comparison: its ``Lambda_i`` is projected onto the PSD cone (eigenvalues
clipped at 0, the minimal change that keeps ``I + Lambda_i`` invertible and the binary posterior
proper).

Safeguards. ``V_mu`` is symmetrised and its eigenvalues floored at ``1e-12`` (the channel needs
``V^{-1}``). A signs-target label that is improbable under ``N(omega_mu, V_mu)`` (below ``1e-6``)
is computed in log space (:func:`equations.targets._log_label`): the exact orthant sums have an
absolute accuracy of about ``1e-16`` (inclusion-exclusion and Owen's T cancel), so their ``grad
pi / pi`` was meaningless in the far tail (``~1e280`` at probability ``4e-21``, which a single
sample turned into a non-finite estimate, so such samples used to be dropped); the log-space
route is accurate to ~1e-12 relative there, and every sample is kept.

Damping. ``damping`` damps both sides, ``(g, d g)`` after the channel and ``(w_hat, C)`` after
the denoiser, so that the Onsager terms use the quantities they correct for (Vila, Schniter,
Rangan, Krzakala, Zdeborova, "Adaptive damping and mean removal for the generalized approximate
message passing algorithm", ICASSP 2015). It is off by default, because it can stop a target
without a trivial direction from being learned: for ``sign(z_1 z_2)`` the linearisation at
``Q = 0`` has the eigenvalues ``+-r``, ``r = alpha 4 / pi^2``, and the mode of eigenvalue ``-r``
(the difference of the two estimated columns changes sign at each step) is part of the signal.
Damping ``beta`` turns its factor into ``beta - (1 - beta) r`` (-0.55 at ``alpha = 3``, ``beta =
0.3``): it decays during the growth out of the random start, the two columns become equal, and
the swap symmetry of the target keeps them equal: measured at ``alpha = 3``, ``d = 1000`` (seed
1), a rank-one fixed point with overlap 0.106 where the state evolution has 0.2427, against 0.223
undamped on the same instance.

Start. The state evolution's uninformed start is a small overlap in every direction (``Q =
1e-6 1 1^T / p + 1e-8 I``): at finite ``d`` the smallest informative start is a random ``W0``
with i.i.d. ``N(0, 1/d)`` entries (self-overlap ``I / d``, overlap with the teacher of the same
order) and ``C = I``. A target whose ``Q = 0`` is unstable (``sign(z_1 z_2)`` above ``alpha_c =
pi^2 / 4``) grows out of it in ``log(d) / log(alpha 4 / pi^2)`` iterations; near ``alpha_c``
this and the slow convergence of the state evolution itself (Jacobian eigenvalues close to 1)
make finite-``d`` runs long and their fixed points spread widely between instances (at ``alpha =
3``, ``d = 1000``: overlaps 0.308, 0.223, 0.165 on three instances; the overlaps settle within
about 150 iterations, while the estimate itself still drifts by a factor ~0.99 per iteration after
600, so ``converged`` needs more than ``max_iter``).

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

from fixedpoint.gaussian import legendre_rule, sparse_rule, tensor_rule

from .._norm2_fourier import norm2_channel_fourier
from ..targets import _N_LOG_GL, _N_OWEN, _continuous_channel, _norm2_channel, _signs_channel, sign_patterns

__all__ = ["simulate_multi_index", "gamp_multi", "symmetry_group", "rotation_invariant"]

#: eigenvalue floor of V (the channel needs V^{-1})
_V_FLOOR = 1e-12
#: default damping (weight of the old iterate)
DEFAULT_DAMPING = 0.0


# ----------------------------------------------------------------------------- per-sample channel


def _sym_floor(M, floor):
    """Symmetric part of ``M`` with its eigenvalues floored at ``floor``."""
    M = 0.5 * (M + M.T)
    lam, U = np.linalg.eigh(M)
    if lam[0] >= floor:
        return M
    lam = np.maximum(lam, floor)
    return (U * lam) @ U.T


def _sym_floor_batch(M, floor):
    """Symmetric parts of the stacked ``(k, p, p)`` matrices ``M`` with eigenvalues floored at
    ``floor`` (only the matrices that need it are decomposed)."""
    M = 0.5 * (M + np.swapaxes(M, 1, 2))
    lam, U = np.linalg.eigh(M)
    bad = lam[:, 0] < floor
    if np.any(bad):
        lb = np.maximum(lam[bad], floor)
        M[bad] = np.einsum("kab,kb,kcb->kac", U[bad], lb, U[bad])
    return M


def _channel(target, y_idx, y, omega, V, noise, jac):
    """``(g, dg)`` for each sample, ``V`` of shape ``(n, p, p)`` (one covariance per sample); ``dg``
    only with ``jac`` (zero otherwise) for a signs target."""
    n, p = omega.shape
    g = np.empty((n, p))
    dg = np.empty((n, p, p))
    logz = np.empty(n)
    if target.kind == "signs":
        nodes, weights = legendre_rule(_N_OWEN)
        tnodes, tweights = legendre_rule(8)
        Vn = np.ascontiguousarray(V + noise * np.eye(p)[None, :, :])
        gl_x, gl_w = legendre_rule(_N_LOG_GL)
        _signs_channel(y_idx, np.ascontiguousarray(omega), Vn, target.table, target.values.size, target._mask(),
                       nodes, weights, tnodes, tweights, gl_x, gl_w, bool(jac), g, dg, logz)
        return g, dg
    if target.route == "norm2" and p <= 2:
        # |z|^2: the exact radial route (equations.targets._n2_channel)
        g, dg, _ = _norm2_channel(y, omega, V, noise)
        return g, dg
    if target.route == "norm2":
        # p >= 3: the Fourier route at each sample's label (equations._norm2_fourier), exact at any p
        g, dg, _ = norm2_channel_fourier(y, omega, V, noise)
        return g, dg
    # continuous: the atoms g(omega_mu + L_mu u_j) on the rule Target.channel uses, in chunks
    u, wu = target.inner_rule() if p >= 3 else tensor_rule(p, (120, 30)[p - 1])
    lam, Ue = np.linalg.eigh(V)
    lam = np.clip(lam, 1e-14, None)
    L = Ue * np.sqrt(lam)[:, None, :]                                  # L L^T = V
    LinvT = np.ascontiguousarray(Ue / np.sqrt(lam)[:, None, :])        # L^{-T}
    per = max(1, 2_000_000 // max(1, u.shape[0] * p))
    for lo in range(0, n, per):
        sl = slice(lo, min(n, lo + per))
        Z = omega[sl, None, :] + np.einsum("mab,jb->mja", L[sl], u)
        G = np.asarray(target.g(Z.reshape(-1, p)), dtype=float).reshape(Z.shape[0], u.shape[0])
        _continuous_channel(y[sl], np.ascontiguousarray(G), u, wu, LinvT[sl], float(noise),
                                       g[sl], dg[sl], logz[sl])
    return g, dg


def _denoise(prior, B, Lam):
    """Posterior means ``(d, p)`` and covariances ``(d, p, p)`` of ``P(w | B_i, Lambda_i) ~ P0(w)
    exp(B_i.w - w.Lambda_i w / 2)``, one ``Lambda_i`` per coordinate (``Lam`` of shape ``(d, p, p)``)."""
    d, p = B.shape
    if prior == "gaussian":
        C = np.linalg.inv(np.eye(p)[None, :, :] + Lam)
        C = 0.5 * (C + np.swapaxes(C, 1, 2))
        return np.einsum("iab,ib->ia", C, B), C
    if prior == "rademacher":
        S = sign_patterns(p)                                      # (2^p, p)
        quad = 0.5 * np.einsum("ca,iab,cb->ic", S, Lam, S)
        logits = B @ S.T - quad                                   # (d, 2^p)
        logits -= logits.max(axis=1, keepdims=True)
        P = np.exp(logits)
        P /= P.sum(axis=1, keepdims=True)
        mean = P @ S
        C = np.einsum("ic,ca,cb->iab", P, S, S) - np.einsum("ia,ib->iab", mean, mean)
        return mean, 0.5 * (C + np.swapaxes(C, 1, 2))
    raise ValueError(f"prior must be 'gaussian' or 'rademacher', got {prior!r}")


_VARIANCES = ("sample", "uniform")
_PRECISIONS = ("square", "jacobian")


def _damped_step(W, C, W_new, C_new, damping):
    """The damped update of the estimate ``W`` and its variance ``C`` from the prior denoiser's
    ``(W_new, C_new)``: ``(W, C, change)`` with ``change`` the root-mean-square move of ``W`` (the
    stopping rule's measure), or ``None`` when the denoiser's output is not finite."""
    if not (np.all(np.isfinite(W_new)) and np.all(np.isfinite(C_new))):
        return None
    W_new = damping * W + (1.0 - damping) * W_new
    C = damping * C + (1.0 - damping) * C_new
    return W_new, C, math.sqrt(float(np.mean((W_new - W) ** 2)))


def gamp_multi(X, y, target, prior, noise, *, W0, C0=None, max_iter: int = 400, tol: float = 1e-6,
               damping: float = DEFAULT_DAMPING, variances: str = "sample", precision: str = "square",
               callback=None):
    """Run multi-index GAMP on ``y ~ P_out(. | X W*^T / sqrt(d))`` (the algorithm of the module
    docstring).

    Parameters
    ----------
    X : ndarray (n, d)
        Inputs with i.i.d. ``N(0, 1)`` entries.
    y : ndarray (n,)
        Labels.
    target : equations.targets.Target
        The output law (its exact channel integrals: :mod:`equations.targets`).
    prior : {"gaussian", "rademacher"}
        Law of the teacher's entries (unit variance).
    noise : float
        Noise variance of the target (``MultiIndex.noise``).
    W0 : ndarray (d, p)
        Initial estimate ``w_hat_i`` (row ``i``).
    C0 : ndarray (p, p) or (d, p, p), optional
        Initial posterior covariances ``C_i`` (default ``I``, the prior's).
    max_iter, tol : int, float
        Stop when the root-mean-square change of ``W_hat`` in one iteration is below ``tol`` (the
        prior's scale is 1).
    damping : float in [0, 1)
        Weight of the old iterate, applied to ``(g_out, d g_out)`` after the channel and to
        ``(W_hat, C)`` after the denoiser (both sides, so that the Onsager terms use the damped
        quantities). Default 0.
    variances : {"sample", "uniform"}
        ``"sample"``: ``V_mu`` and ``Lambda_i`` per sample and per coordinate (Rangan's GAMP);
        ``"uniform"``: their averages (the same state evolution for i.i.d. Gaussian inputs).
    precision : {"square", "jacobian"}
        ``Lambda_i = sum_mu A_mu,i^2 g_mu g_mu^T`` (its Nishimori form, positive semi-definite by
        construction) or ``-sum_mu A_mu,i^2 d g_mu`` projected onto the PSD cone. See the module
        docstring for why the first is the default.
    callback : callable, optional
        ``callback(iteration, W_hat, C, change)`` after each iteration.

    Returns
    -------
    dict with ``W`` (``d x p`` estimate), ``C`` (average posterior covariance), ``iterations``,
    ``converged``.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be an (n, d) array, got shape {X.shape}")
    n, d = X.shape
    p = target.p
    if isinstance(damping, bool) or not isinstance(damping, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(damping) < 1.0:
        raise ValueError(f"damping (the weight of the old iterate) must be in [0, 1), got {damping!r}")
    if variances not in _VARIANCES:
        raise ValueError(f"variances must be one of {', '.join(_VARIANCES)}, got {variances!r}")
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(_PRECISIONS)}, got {precision!r}")
    y = np.asarray(y, dtype=float)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")
    W = np.array(W0, dtype=float)
    if W.shape != (d, p):
        raise ValueError(f"W0 must have shape ({d}, {p}), got {W.shape}")
    damping = float(damping)
    A = X / math.sqrt(d)
    A2 = A * A
    alpha = n / d
    y_idx = target.label_index(y) if target.kind == "signs" else None
    C = np.broadcast_to(np.eye(p) if C0 is None else np.asarray(C0, dtype=float), (d, p, p)).copy()
    jac = precision == "jacobian"
    g = np.zeros((n, p))
    dg = np.zeros((n, p, p))
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        # output side: V_mu = sum_i A_mu,i^2 C_i, omega_mu = (A W_hat)_mu - V_mu g_mu (Onsager)
        if variances == "sample":
            V = (A2 @ C.reshape(d, p * p)).reshape(n, p, p)
        else:
            V = np.broadcast_to(C.mean(axis=0), (n, p, p))
        V = _sym_floor_batch(np.array(V), _V_FLOOR)
        omega = A @ W - np.einsum("mab,mb->ma", V, g)
        g_new, dg_new = _channel(target, y_idx, y, omega, V, noise, jac)
        if it == 1 or damping == 0.0:
            g, dg = g_new, dg_new
        else:
            g = damping * g + (1.0 - damping) * g_new
            dg = damping * dg + (1.0 - damping) * dg_new
        # input side: Lambda_i (PSD), B_i = sum_mu A_mu,i g_mu + Lambda_i w_hat_i (Onsager)
        curv = np.einsum("ma,mb->mab", g, g) if not jac else -dg
        if variances == "sample":
            Lam = (A2.T @ curv.reshape(n, p * p)).reshape(d, p, p)
        else:
            Lam = np.broadcast_to(alpha * curv.mean(axis=0), (d, p, p))
        Lam = _sym_floor_batch(np.array(Lam), 0.0)
        B = A.T @ g + np.einsum("iab,ib->ia", Lam, W)
        W_new, C_new = _denoise(prior, B, Lam)
        step = _damped_step(W, C, W_new, C_new, damping)
        if step is None:
            break
        W, C, change = step
        if callback is not None:
            callback(it, W, C, change)
        if change < tol:
            converged = True
            break
    Cm = C.mean(axis=0)
    return {"W": W, "C": 0.5 * (Cm + Cm.T), "iterations": it, "converged": converged}


def symmetry_group(target, noise: float = 0.0):
    """The signed permutations ``P`` (``p x p``) with ``g(z P) = g(z)``, tested on 512 random
    points (exactly for a signs target, to ``1e-10`` for a continuous one). Always contains ``I``."""
    p = target.p
    keeps = _label_test(target, 12345)
    out = []
    for perm in itertools.permutations(range(p)):
        for signs in itertools.product((1.0, -1.0), repeat=p):
            P = np.zeros((p, p))
            P[list(perm), range(p)] = signs
            if keeps(P):
                out.append(P)
    return out


def _label_test(target, seed):
    """``keeps(M)``: whether ``g(z M) = g(z)`` on 512 random points (exactly for a signs target, to
    ``1e-10`` for a continuous one)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((512, target.p))
    y0 = target.sample(z, 0.0, rng)
    return lambda M: bool(np.allclose(target.sample(z @ M, 0.0, rng), y0, rtol=1e-10, atol=1e-10))


def rotation_invariant(target) -> bool:
    """Whether ``g(z R) = g(z)`` for every orthogonal ``R`` (``p >= 2``), tested with three random
    rotations on 512 random points as :func:`symmetry_group` (``norm2``: a continuous group, which
    no finite list of signed permutations covers)."""
    p = target.p
    if p < 2:
        return False
    keeps = _label_test(target, 54321)
    rng = np.random.default_rng(0)
    return all(keeps(np.linalg.qr(rng.standard_normal((p, p)))[0]) for _ in range(3))


def _predict(target, omega, V, noise):
    """Bayes predictions for the pre-activation estimates ``omega`` (n, p) with covariance ``V``.

    Signs targets: ``(argmax_c P(c), sum_c c P(c))`` with ``P(c) = Z_out(c; omega, V)`` (the
    labels' probabilities sum to one). Continuous: ``E[y | omega, V] = E_{z ~ N(omega, V)} g(z)``
    by a tensor Gauss-Hermite rule (40 points per axis for p <= 2, 14 for p = 3, Smolyak level 5
    beyond), twice (as the label and the posterior mean)."""
    n, p = omega.shape
    if target.kind == "signs":
        # (the probabilities of all labels at once, without the Jacobian or the log-space tails of
        # the channel: an improbable label does not change the argmax or the mean)
        prob = np.clip(target.label_probabilities(omega, V, noise), 0.0, None)
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


def simulate_multi_index(model, d: int, seed: int, *, max_iter: int = 400, tol: float = 1e-6,
                         damping: float = DEFAULT_DAMPING, variances: str = "sample",
                         precision: str = "square") -> dict[str, float]:
    """GAMP on one instance of the multi-index model ``model`` of size ``d`` (``n = round(alpha
    d)``), started uninformed.

    The teacher ``W*`` (``p x d``) has i.i.d. entries from the model's prior; the start ``W_hat``
    has i.i.d. ``N(0, 1/d)`` entries (self-overlap ``I / d`` and an overlap with the teacher of the
    same order: the state evolution's uninformed start at finite ``d``, module docstring) and
    covariance ``I``. ``max_iter``, ``tol``, ``damping``, ``variances`` and ``precision`` are
    passed to :func:`gamp_multi` (the defaults converge in the tested cases).

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
    # the SE's uninformed start at finite d: self-overlap W0^T W0 / d = I / d and an overlap with
    # the teacher of the same order (random sign), C = I
    W0 = rng.standard_normal((d, p)) / math.sqrt(d)
    out = gamp_multi(X, y, target, model.prior, model.noise, W0=W0, max_iter=max_iter, tol=tol,
                     damping=damping, variances=variances, precision=precision)
    W, C = out["W"], out["C"]

    # align over the symmetries of the target: W_hat -> W_hat P maps Q -> P^T Q (module docstring)
    Q_raw = W.T @ W_star.T / d                                    # (p, p): student x teacher
    if rotation_invariant(target):
        # g(z R) = g(z) for every rotation (norm2): the best orthogonal alignment, the polar factor
        # of Q_raw (orthogonal Procrustes), under which Q becomes symmetric positive semi-definite
        U, _, Vt = np.linalg.svd(Q_raw)
        best = U @ Vt
    else:
        group = symmetry_group(target, model.noise)
        best = max(group, key=lambda P: float(np.trace(P.T @ Q_raw)))
    W_al = W @ best                                               # columns re-ordered / flipped / rotated
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
