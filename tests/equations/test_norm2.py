"""The radial route of the ``norm2`` target (g = |z|^2) at p = 1, 2 (equations.targets, the
``_n2_*`` kernels; p = 3 is in test_norm2_high.py) against independent computations: nested
adaptive quadrature of its channel integrals, the exact entropy of y = chi2_p + noise at Q = 0,
the free entropy's stationarity d Psi_out / dQ = A / 2, the Nishimori identity of its channel,
the atoms route where that is roughly right, and GAMP."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, stats

import fixedpoint
from equations.multi_index import MultiIndex
from equations.targets import make_target


# ----------------------------------------------------------------------------- one point (y, omega, V)


def _quad_point(y, omega, V, noise):
    """``Z_out(y)`` and ``E[z | y]`` by nested adaptive quadrature: over ``z`` (p = 1), or in polar
    coordinates, the angle inside (breakpoints at the directions of ``omega`` and of the axes of
    ``V``) and the radius outside over the window ``y +- 14 sqrt(noise)`` of ``t = r^2``."""
    omega = np.atleast_1d(np.asarray(omega, float))
    V = np.atleast_2d(np.asarray(V, float))
    s = math.sqrt(noise)

    def kernel(t):
        return math.exp(-0.5 * (y - t) ** 2 / noise) / math.sqrt(2 * math.pi * noise)

    if omega.size == 1:
        v, m = V[0, 0], omega[0]
        lo, hi = m - 12 * math.sqrt(v), m + 12 * math.sqrt(v)
        root = math.sqrt(max(y, 0.0))
        pts = [x for x in (-root, 0.0, root) if lo < x < hi]
        out = [integrate.quad(lambda z: stats.norm.pdf(z, m, math.sqrt(v)) * kernel(z * z) * z ** k, lo, hi,
                              points=pts, epsabs=0, epsrel=1e-12, limit=2000)[0] for k in range(2)]
        return out[0], np.array([out[1] / out[0]])
    P = np.linalg.inv(V)
    c = 1.0 / (2 * math.pi * math.sqrt(np.linalg.det(V)))
    lam, U = np.linalg.eigh(V)
    major = math.atan2(U[1, 1], U[0, 1])
    breaks = sorted({x % (2 * math.pi) for x in (math.atan2(omega[1], omega[0]), major, major + math.pi)} - {0.0})

    def angular(r, k):
        def f(ph):
            z = np.array([r * math.cos(ph), r * math.sin(ph)])
            d = z - omega
            return c * math.exp(-0.5 * d @ P @ d) * (1.0 if k == 0 else z[k - 1])
        return integrate.quad(f, 0.0, 2 * math.pi, points=breaks, epsabs=0, epsrel=1e-12, limit=2000)[0]

    a = float(np.linalg.norm(omega))
    lo = max(a - 12 * math.sqrt(lam[-1]), math.sqrt(max(y - 14 * s, 0.0)), 0.0)
    hi = min(a + 12 * math.sqrt(lam[-1]), math.sqrt(max(y + 14 * s, 0.0)))
    pts = [x for x in (math.sqrt(max(y, 0.0)), a) if lo < x < hi] or None
    out = [integrate.quad(lambda r: r * angular(r, k) * kernel(r * r), lo, hi, points=pts, epsabs=0, epsrel=1e-11,
                          limit=500)[0] for k in range(3)]
    return out[0], np.array(out[1:]) / out[0]


@pytest.mark.parametrize("y, omega, V, noise", [
    (1.0, [0.8, -0.3], [[0.5, 0.1], [0.1, 0.3]], 1e-2),          # moderate V
    (0.61, [0.6, 0.5], [[1e-3, 0.0], [0.0, 1e-3]], 1e-4),       # small V, small noise
    (0.003, [0.02, -0.01], [[1e-3, 0.0], [0.0, 1e-3]], 1e-4),   # t near the edge 0
    (0.5, [0.7], [[0.3]], 1e-4),
    (0.001, [0.01], [[1e-3]], 1e-4),
    (2.0, [-1.4], [[1e-3]], 1e-2),
])
def test_channel_against_nested_quadrature(y, omega, V, noise):
    # measured: Z_out to 2e-12, E[z | y] to 5e-13 and g_out = V^{-1} (E[z | y] - omega) to 7e-12
    # relative (also anisotropic V = [[2e-3, 5e-4], [5e-4, 1e-3]] and [[1e-3, 2e-4], [2e-4, 1e-4]])
    p = len(omega)
    Z, Ez = _quad_point(y, omega, V, noise)
    logz, g, _ = make_target("norm2", p).channel(np.array([y]), np.array([omega]), np.array(V), noise)
    assert math.exp(logz[0]) == pytest.approx(Z, rel=1e-9)
    np.testing.assert_allclose(np.array(omega) + np.array(V) @ g[0], Ez, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g[0], np.linalg.solve(np.array(V), Ez - np.array(omega)), rtol=1e-8,
                               atol=1e-8 * np.max(np.abs(g[0])))


def test_channel_of_a_label_far_out_is_finite_and_exact():
    # y 40 standard deviations of the noise above everything z ~ N(omega, v) can reach (its fallback
    # rule): log Z_out against the closed form of the dominant saddle-free p = 1 integral by quad
    omega, v, noise, y = 1.0, 1e-3, 1e-4, 1.6
    t = make_target("norm2", 1)
    logz, g, _ = t.channel(np.array([y]), np.array([[omega]]), np.array([[v]]), noise)
    f = lambda z: math.exp(-0.5 * (z - omega) ** 2 / v - 0.5 * (y - z * z) ** 2 / noise - logz[0]) \
        / (2 * math.pi * math.sqrt(v * noise))
    zs = np.sqrt(y)
    assert integrate.quad(f, 0.9, 1.4, points=[zs, 1.0], epsabs=0, epsrel=1e-12, limit=500)[0] == pytest.approx(1.0,
                                                                                                               rel=1e-9)
    assert np.all(np.isfinite(g))


def test_nishimori_identity_of_the_channel():
    # E_y[g g^T] = -E_y[d g / d omega] at one (omega, V) (Bayes-optimal channel); the y integral by
    # a plain composite rule, the channel functions (with their Jacobian) from the kernel GAMP uses
    omega, V, noise = np.array([0.5, -0.2]), np.array([[0.01, 0.002], [0.002, 0.005]]), 1e-3
    t = make_target("norm2", 2)
    x, w = np.polynomial.legendre.leggauss(10)
    edges = np.linspace(-0.3, 2.5, 100)  # (|z|^2 reaches ~2.1 at 9 standard deviations)
    y = ((edges[:-1, None] + edges[1:, None]) / 2 + np.diff(edges)[:, None] / 2 * x[None, :]).ravel()
    wy = (np.diff(edges)[:, None] / 2 * w[None, :]).ravel()
    logz, g, dg = t.channel(y, np.broadcast_to(omega, (y.size, 2)), V, noise)
    Z = np.exp(logz)
    assert wy @ Z == pytest.approx(1.0, abs=1e-10)
    lhs = np.einsum("k,ka,kb->ab", wy * Z, g, g)
    rhs = -np.einsum("k,kab->ab", wy * Z, dg)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-8)


# ----------------------------------------------------------------------------- the state evolution


def _entropy_of_chi2_plus_noise(p, noise):
    # y = r + sqrt(noise) xi, r ~ chi2(p), mu = y - noise / 2: Z(y) = int_0^inf chi2_p(t) N(y; t, noise) dt is
    # exp(-y/2 + noise/8) Phi(mu / s) / 2 at p = 2, and at p = 1 the parabolic-cylinder form
    # exp(-y/2 + noise/8) s^(-1/2) Gamma(1/2) exp(-mu^2 / (4 s^2)) D_{-1/2}(-mu / s) / (2 pi) (where that
    # overflows, mu > 30 s, the edge is beyond reach: E_xi (mu + s xi)^(-1/2) by quad); then
    # int Z log Z dy by adaptive quad
    from scipy.special import pbdv
    s = math.sqrt(noise)

    def Z(y):
        mu = y - noise / 2
        pre = math.exp(-y / 2 + noise / 8)
        if p == 2:
            return 0.5 * pre * stats.norm.cdf(mu / s)
        if mu < 30 * s:
            return pre * math.gamma(0.5) * math.exp(-mu * mu / (4 * noise)) * pbdv(-0.5, -mu / s)[0] \
                / (2 * math.pi * math.sqrt(s))
        f = lambda xi: stats.norm.pdf(xi) / math.sqrt(mu + s * xi)
        return pre / math.sqrt(2 * math.pi) * integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-13)[0]

    def zlogz(y):
        z = Z(y)
        return z * math.log(z) if z > 0 else 0.0

    parts = [(-12 * s, 0.0), (0.0, 3.0), (3.0, 150.0)]
    return sum(integrate.quad(zlogz, a, b, epsabs=1e-14, epsrel=1e-13, limit=2000,
                              points=[x for x in (s, 3 * s, 10 * s, 30 * s, 1.0) if a < x < b] or None)[0]
               for a, b in parts)


@pytest.mark.parametrize("p, noise", [(1, 0.3), (2, 1e-4), (2, 0.3),
                                      pytest.param(1, 1e-4, marks=pytest.mark.slow)])  # (its reference: 15 s)
def test_psi_at_q0_is_minus_the_entropy_of_chi2_plus_noise(p, noise):
    # measured: 1e-13 (p = 2) and 6e-11 (p = 1) absolute; A = 0 by symmetry (g_out is odd in z)
    A, psi, _, _ = make_target("norm2", p).se(np.zeros((p, p)), noise)
    assert psi == pytest.approx(_entropy_of_chi2_plus_noise(p, noise), abs=3e-10)
    assert np.max(np.abs(A)) < 1e-12


@pytest.mark.parametrize("p, Q, entries, h", [
    (1, [[0.6]], [(0, 0)], 1e-3),
    pytest.param(2, [[0.45, 0.1], [0.1, 0.35]], [(0, 1)], 1e-3, marks=pytest.mark.slow),
    # (near-informed, 17 s of CI, in the exhaustive run)
    pytest.param(2, [[0.97, 0.0], [0.0, 0.97]], [(0, 0)], 1e-4, marks=pytest.mark.exhaustive),
])
def test_psi_is_the_potential_of_A(p, Q, entries, h):
    # d Psi_out / dQ = A / 2 (the output half of the free entropy's stationarity), five-point
    # differences at noise 1e-3 (step 1e-3, truncation ~1e-12; at Q = 0.97 I, where Psi varies on
    # the scale V = 0.03, step 1e-4: 1e-3 left a truncation of 5e-7). Measured: 2e-10 (p = 1),
    # 1e-10 (p = 2, every entry of the anisotropic Q), 5e-11 (0.97 I); the atoms were
    # meaningless at this noise.
    t = make_target("norm2", p)
    Q = np.array(Q)
    A = t.se(Q, 1e-3)[0]
    for i, j in entries:
        E = np.zeros((p, p))
        E[i, j] = E[j, i] = 1.0
        f = lambda k: t.se(Q + k * h * E, 1e-3)[1]
        d = (8 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12 * h)
        assert d == pytest.approx(0.5 * np.sum(A * E), rel=2e-8)


def test_agrees_with_the_atoms_at_noise_where_they_are_roughly_right():
    # the Gaussian-mixture atoms at noise 0.3 (a sanity check of the wiring, not a reference): A
    # 0.4224 for 0.41626 here on the diagonal (1.5%), converging to it as their inner rule is
    # refined (48 points per axis: 0.41705, 64: 0.41651), Psi_out -1.85016 for -1.85216 (1e-3)
    t = make_target("norm2", 2)
    atoms = dataclasses.replace(t, route="atoms")
    Q = np.array([[0.45, 0.1], [0.1, 0.35]])
    A, psi, _, mse = t.se(Q, 0.3)
    A0, psi0, _, mse0 = atoms.se(Q, 0.3)
    np.testing.assert_allclose(A, A0, rtol=2e-2)
    assert psi == pytest.approx(psi0, rel=2e-3)
    # the label MSE is in closed form: noise + 2 tr V^2 + 4 tr(Q V)
    assert mse == pytest.approx(mse0, rel=1e-6)


@pytest.mark.slow
def test_solves_at_small_noise_above_the_weak_recovery_threshold():
    # alpha_c = p / 2 + noise / 4 ~ 1 at p = 2: above it the overlap is learned, isotropically
    # (g is rotation invariant). From an anisotropic Q near the fixed point (each iteration costs
    # ~1.5 s; from the uninformed start the solve takes 35 iterations, from Q = I / 2 12, to the
    # same Q = 0.81951244 I)
    from equations.multi_index import prior_denoiser
    from fixedpoint.matrices import pack
    m = MultiIndex(target="norm2", p=2, alpha=2.0, noise=1e-3)
    sol = fixedpoint.solve(m, start=pack(np.array([[0.825, 0.005], [0.005, 0.815]])))
    assert sol.converged, sol.message
    Q = sol["Q"]
    assert 0.5 < Q[0, 0] < 1.0 and Q[0, 0] == pytest.approx(Q[1, 1], abs=1e-8) and abs(Q[0, 1]) < 1e-8
    assert Q[0, 0] == pytest.approx(0.81951244, abs=1e-7)
    # stationarity of the free entropy in every entry (its output half rests on d Psi / dQ = A / 2);
    # in Q_hat only the prior's half -tr(Q Q_hat) / 2 + psi_P0(Q_hat) depends on it
    Q_hat = m.alpha * m._target.se(Q, m.noise)[0]
    prior_half = lambda H: -0.5 * np.sum(Q * H) + prior_denoiser(m.prior, H)[1]
    h = 1e-4
    for i, j in ((0, 0), (0, 1)):
        E = np.zeros((2, 2))
        E[i, j] = E[j, i] = 1.0
        dQ = (m.free_entropy_at(Q + h * E, Q_hat) - m.free_entropy_at(Q - h * E, Q_hat)) / (2 * h)
        dH = (prior_half(Q_hat + h * E) - prior_half(Q_hat - h * E)) / (2 * h)
        assert abs(dQ) < 1e-5 and abs(dH) < 1e-7, (i, j, dQ, dH)


def test_p4_refuses_an_overlap_with_four_distinct_eigenvalues():
    # p >= 3 has the Fourier route (tests/equations/test_norm2_high.py), at p >= 4 for overlaps with at
    # most three distinct eigenvalues (its outer rule is three-dimensional)
    m = MultiIndex(target="norm2", p=4, alpha=2.0, noise=1e-3)
    with pytest.raises(ValueError, match=r"norm2 at p = 4 needs an overlap Q with at most three distinct eigenvalues"):
        m._target.se(np.diag([0.1, 0.2, 0.3, 0.4]), 1e-3)
    assert np.max(np.abs(m._target.se(np.zeros((4, 4)), 1e-3)[0])) < 1e-12
    # binary weights do not keep the eigenspaces (not rotation invariant): refused at construction
    with pytest.raises(ValueError, match=r"prior must be 'gaussian' for the norm2 target at p >= 4"):
        MultiIndex(target="norm2", p=4, prior="rademacher", alpha=2.0, noise=1e-3)
