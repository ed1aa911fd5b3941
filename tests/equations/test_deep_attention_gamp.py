"""GAMP for two tied attention layers (``equations._simulate.gamp_deep_attention``): the output
denoiser against a brute-force dense grid, GAMP against the state evolution's sub-branch
(``deep_subbranch``), the Nishimori identity, below the second layer's threshold, invalid input."""

import math

import numpy as np
import pytest

from equations._simulate.gamp_deep_attention import deep_output_denoiser, simulate_deep_attention
from equations.sequence import DeepAttention, deep_subbranch


def _dense_grid_posterior(c, omega, V, h, N=1200, span=8.0):
    """``E[Z | h]`` and ``log Z_out`` by the trapezoidal rule on a dense uniform grid in ``z_1``
    (plain numpy, the textbook ``det A`` and the joint Gaussian density of each token written out,
    not the conditional form the kernel uses)."""
    s = math.sqrt(V[0, 0])
    t = np.linspace(-span, span, N)
    z11, z12 = np.meshgrid(omega[0, 0] + s * t, omega[0, 1] + s * t, indexing="ij")
    S = np.empty(z11.shape + (2, 2))
    for i, zi in enumerate((z11, z12)):
        for j, zj in enumerate((z11, z12)):
            S[..., i, j] = zi * zj
    S = np.exp(S - S.max(axis=-1, keepdims=True))
    A = S / S.sum(axis=-1, keepdims=True) + c * np.eye(2)
    det = np.linalg.det(A)
    b = np.linalg.solve(A, np.broadcast_to(h, z11.shape + (2,))[..., None])[..., 0]
    Vi = np.linalg.inv(V)
    logs, mom = [], []
    for sg in (1.0, -1.0):
        z2 = sg * b
        q = 0.0
        for l, z1 in enumerate((z11, z12)):
            e = np.stack([z1 - omega[0, l], z2[..., l] - omega[1, l]], axis=-1)
            q = q + np.einsum("...a,ab,...b->...", e, Vi, e)
        logs.append(-0.5 * q - np.log(np.abs(det)))
        mom.append((z11, z12, z2[..., 0], z2[..., 1]))
    top = max(lg.max() for lg in logs)
    tot = 0.0
    M = np.zeros((2, 2))
    for lg, (a, bb, c1, c2) in zip(logs, mom):
        f = np.exp(lg - top)
        tot += f.sum()
        M += np.array([[(f * a).sum(), (f * bb).sum()], [(f * c1).sum(), (f * c2).sum()]])
    dz = (t[1] - t[0]) * s
    # the density of z_1 and of z_2 given z_1 over both tokens: (2 pi)^2 det V
    logz = top + math.log(tot * dz * dz) - 2.0 * math.log(2.0 * math.pi) - math.log(np.linalg.det(V))
    return M / tot, logz


_CASES = [
    # (omega (layer x token), V, h): broad; non-diagonal V; sharp (V_22 - V_12^2 / V_11 = 0.01);
    # non-diagonal and sharp; very sharp (0.002), where the likelihood in z_1 is narrowest
    (np.array([[0.1, -0.3], [0.5, 0.2]]), np.array([[1.0, 0.0], [0.0, 0.7]]), np.array([0.8, -0.4])),
    (np.array([[0.05, 0.1], [0.9, -0.6]]), np.array([[0.95, 0.1], [0.1, 0.4]]), np.array([1.5, -1.0])),
    (np.array([[0.03, -0.05], [1.3, -0.8]]), np.array([[1.0, 0.0], [0.0, 0.01]]), np.array([2.5, -1.7])),
    (np.array([[0.3, -0.5], [-1.0, 0.4]]), np.array([[0.8, -0.2], [-0.2, 0.06]]), np.array([-1.8, 0.9])),
    (np.array([[0.01, 0.02], [1.6, -0.4]]), np.array([[1.0, 0.0], [0.0, 0.002]]), np.array([3.0, -0.2])),
]


@pytest.mark.parametrize("case", range(len(_CASES)))
def test_denoiser_against_a_dense_grid(case):
    omega, V, h = _CASES[case]
    ref, logz = _dense_grid_posterior(1.0, omega, V, h)
    out = deep_output_denoiser(1.0, omega, V, h)
    assert np.abs(out["mean"] - ref).max() < 1e-6, (out["mean"], ref)
    assert out["logz"] == pytest.approx(logz, abs=1e-6)
    # g = V^{-1} (E[Z | h] - omega), per token; either sign of h gives the same posterior
    assert np.allclose(out["g"], np.linalg.solve(V, ref - omega), atol=1e-5)
    flip = deep_output_denoiser(1.0, omega, V, -h)
    assert np.allclose(flip["mean"], out["mean"], atol=1e-12)
    # the posterior covariance per token is symmetric positive semi-definite
    assert np.all(np.linalg.eigvalsh(out["cov"]) > -1e-12)


def test_denoiser_batch_and_the_uninformative_layer():
    """Samples are independent (a batch equals the single calls), and at ``omega_1 = 0``, ``V_12 =
    0`` the posterior of ``z_1`` is even (``A`` is even in ``z_1``): ``E[z_1 | h] = 0``."""
    om = np.stack([c[0] for c in _CASES])
    hh = np.stack([c[2] for c in _CASES])
    V = np.array([[0.9, 0.1], [0.1, 0.5]])
    batch = deep_output_denoiser(0.7, om, V, hh)
    for i in range(len(_CASES)):
        one = deep_output_denoiser(0.7, om[i], V, hh[i])
        assert np.allclose(batch["mean"][i], one["mean"], rtol=0, atol=1e-14)
    om0 = om.copy()
    om0[:, 0, :] = 0.0
    out = deep_output_denoiser(1.0, om0, np.diag([1.0, 0.3]), hh)
    assert np.abs(out["mean"][:, 0, :]).max() < 1e-12


def test_gamp_stays_uninformed_below_the_second_layers_threshold():
    """Below ``alpha_2 = 0.185478`` (``c = 1``) neither layer is learned: overlaps at their noise level."""
    r = DeepAttention(skip=1.0, alpha=0.12).simulate(400, 0, max_iter=60)
    assert abs(r["Q_11"]) < 0.1 and abs(r["Q_22"]) < 0.15 and abs(r["Q_12"]) < 0.1, r


@pytest.mark.slow
def test_gamp_tracks_the_state_evolution_sub_branch():
    """At ``c = 1`` and ``alpha = alpha_q(0.5) = 0.402`` (route ``h``, 0.7% below the converged 0.40466: within the allowance; between ``alpha_2`` and the staircase
    ``alpha_1 = 0.71965``) the state evolution sits on the sub-branch ``Q_11 = Q_12 = 0``, ``Q_22 =
    0.5``: GAMP's ``Q_22`` within 3 standard errors over 4 seeds (``d = 600``) plus a finite-size
    allowance of 0.02, ``Q_11`` and ``Q_12`` at their noise level; Nishimori (``W_hat W_hat^T / d =
    Q`` and ``C = 1 - q`` on average) on each run."""
    alpha = deep_subbranch(1.0, 0.5, route="h", n_h=24, n_z=32)["alpha_q"]
    assert alpha == pytest.approx(0.402, abs=0.002)
    d = 600
    # (a run may wander near the random start for 50 iterations before Q_22 grows: 150 iterations;
    # the denoiser's coarse grid at spacing 1 instead of 0.5: 4e-6 off in E[Z | h] instead of 1e-7,
    # the same overlaps to four digits in each run, in 60% of the time)
    runs = [simulate_deep_attention(1.0, alpha, d, seed, max_iter=150, tol=1e-4, spacing=1.0) for seed in range(4)]
    Q22 = np.array([r["Q_22"] for r in runs])
    sem = Q22.std(ddof=1) / math.sqrt(Q22.size)
    assert abs(Q22.mean() - 0.5) < 3 * sem + 0.02, (Q22, sem)
    for r in runs:
        assert abs(r["Q_11"]) < 3 / math.sqrt(d) and abs(r["Q_12"]) < 3 / math.sqrt(d), r
        assert abs(r["q_22"] - r["Q_22"]) < 0.06, r                     # Nishimori, per run
        assert abs(r["C_22"] - (1.0 - r["q_22"])) < 0.06, r
        assert r["q_11"] < 0.05 and r["C_11"] > 0.95, r


def test_invalid_input_names_the_parameter():
    for kw, word in ((dict(skip=0.0), "skip"), (dict(alpha=0.0), "alpha"), (dict(d=1), "d"),
                     (dict(seed=1.5), "seed"), (dict(spacing=3.0), "spacing"), (dict(m_max=0), "m_max"),
                     (dict(damping=1.0), "damping"), (dict(max_iter=0), "max_iter"), (dict(tol=-1.0), "tol"),
                     (dict(precision="exact"), "precision")):
        args = dict(skip=1.0, alpha=0.3, d=20, seed=0)
        args.update(kw)
        with pytest.raises(ValueError, match=word):
            simulate_deep_attention(args.pop("skip"), args.pop("alpha"), args.pop("d"), args.pop("seed"), **args)
    om, V, h = _CASES[0]
    with pytest.raises(ValueError, match="V"):
        deep_output_denoiser(1.0, om, np.array([[1.0, 2.0], [2.0, 1.0]]), h)
    with pytest.raises(ValueError, match="omega"):
        deep_output_denoiser(1.0, np.zeros(3), V, h)
    with pytest.raises(ValueError, match="h"):
        deep_output_denoiser(1.0, om, V, np.zeros(3))
    with pytest.raises(ValueError, match="skip"):
        DeepAttention(skip=20.0, alpha=0.3)
