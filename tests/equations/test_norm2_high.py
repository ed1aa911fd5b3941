"""The Fourier route of the ``norm2`` target (g = |z|^2) at p >= 3 (equations._norm2_fourier, used by
Target.se and Target.channel) against independent computations: nested adaptive quadrature of Z_out and E[z | y], the
exact entropy of y = chi2_3 + noise at Q = 0, the closed-form isotropic route (noncentral chi,
E[z | |z| = r] = r omega_hat (coth k - 1/k)), the free entropy's stationarity d Psi_out / dQ = A / 2,
a refinement of every rule, and the state-evolution solve."""

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats

import equations
import fixedpoint
from equations._norm2_fourier import norm2_channel_fourier, norm2_point_fourier, norm2_se_fourier
from equations.targets import make_target


def _rotation(seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    return q


# ----------------------------------------------------------------------------- one point (y, omega, V)


def _quad_point3(y, omega, V, noise):
    """``Z_out(y)`` and ``E[z | y]`` at p = 3 by nested adaptive quadrature in the eigenframe of
    ``V``: polar coordinates in ``(z_1, z_2)`` (the angle inside, the radius outside), and for each
    radius the one-dimensional integral over ``z_3`` of ``N(z_3; omega_3, v_3) N(y - r^2 - z_3^2;
    noise)`` (breakpoints at the two roots ``z_3^2 = y - r^2``)."""
    v, U = np.linalg.eigh(np.asarray(V, float))
    w = U.T @ np.asarray(omega, float)
    s = math.sqrt(noise)
    sd = np.sqrt(v)

    def K(tau):
        # int N(z3; w3, v3) N(tau - z3^2; 0, noise) (1, z3) dz3
        lo, hi = w[2] - 12 * sd[2], w[2] + 12 * sd[2]
        root = math.sqrt(max(tau, 0.0))
        pts = [x for x in (-root, root, w[2]) if lo < x < hi]
        f = lambda z: (stats.norm.pdf(z, w[2], sd[2]) * math.exp(-0.5 * (tau - z * z) ** 2 / noise)
                       / math.sqrt(2 * math.pi * noise) * np.array([1.0, z]))
        return integrate.quad_vec(f, lo, hi, points=pts, epsabs=0, epsrel=1e-12, limit=400)[0]

    brk = sorted({x % (2 * math.pi) for x in (math.atan2(w[1], w[0]), 0.5 * math.pi, math.pi, 1.5 * math.pi)} - {0.0})

    def angular(r):
        # int N(r e_phi; (w1, w2), diag(v1, v2)) (1, z1, z2) dphi
        def f(ph):
            z1, z2 = r * math.cos(ph), r * math.sin(ph)
            return stats.norm.pdf(z1, w[0], sd[0]) * stats.norm.pdf(z2, w[1], sd[1]) * np.array([1.0, z1, z2])
        return integrate.quad_vec(f, 0.0, 2 * math.pi, points=brk, epsabs=0, epsrel=1e-12, limit=400)[0]

    def f(r):
        m = angular(r)
        k = K(y - r * r)
        return r * np.array([m[0] * k[0], m[1] * k[0], m[2] * k[0], m[0] * k[1]])

    a = float(np.hypot(w[0], w[1]))
    hi = min(a + 12 * sd[:2].max(), math.sqrt(max(y + 14 * s, 0.0)))
    pts = [x for x in (a, math.sqrt(max(y, 0.0))) if 0 < x < hi] or None
    out = integrate.quad_vec(f, 0.0, hi, points=pts, epsabs=0, epsrel=1e-11, limit=200)[0]
    Z = out[0]
    return Z, U @ (out[1:] / Z)


@pytest.mark.parametrize("y, omega, V, noise", [
    # (a diagonal V, the rotated case's special case: 11 s of CI, in the exhaustive run)
    pytest.param(1.2, [0.6, -0.3, 0.4], np.diag([0.3, 0.1, 0.05]), 1e-2, marks=pytest.mark.exhaustive),
    (0.9, [0.5, 0.2, -0.6], _rotation(3) @ np.diag([0.2, 0.05, 0.02]) @ _rotation(3).T, 1e-2),  # rotated
    (0.05, [0.1, 0.05, -0.1], np.diag([0.1, 0.05, 0.02]), 1e-3),                    # near the edge t = 0
])
def test_point_against_nested_quadrature(y, omega, V, noise):
    # measured: Z_out, E[z | y] and g_out to 1e-15 relative (all three points)
    Z, Ez = _quad_point3(y, omega, V, noise)
    Zf, Ezf = norm2_point_fourier(y, omega, V, noise)
    assert Zf == pytest.approx(Z, rel=1e-9)
    np.testing.assert_allclose(Ezf, Ez, rtol=1e-9, atol=1e-11)
    # hence g_out = V^{-1}(E[z | y] - omega)
    np.testing.assert_allclose(np.linalg.solve(V, Ezf - omega), np.linalg.solve(V, Ez - omega), rtol=1e-8,
                               atol=1e-9)


# ----------------------------------------------------------------------------- Q = 0


def _entropy_chi2_3_plus_noise(noise):
    """int Z log Z dy for y = chi2_3 + sqrt(noise) xi, Z(y) by adaptive quad of the convolution."""
    s = math.sqrt(noise)

    def Z(y):
        a, b = max(0.0, y - 12 * s), y + 12 * s
        if b <= 0:
            return 0.0
        f = lambda t: stats.chi2.pdf(t, 3) * math.exp(-0.5 * (y - t) ** 2 / noise) / math.sqrt(2 * math.pi * noise)
        return integrate.quad(f, a, b, points=[y] if a < y < b else None, epsabs=0, epsrel=1e-13, limit=200)[0]

    def zlogz(y):
        z = Z(y)
        return z * math.log(z) if z > 0 else 0.0

    return sum(integrate.quad(zlogz, a, b, epsabs=1e-14, epsrel=1e-12, limit=500)[0]
               for a, b in [(-12 * s, 0.0), (0.0, 3.0), (3.0, 150.0)])


# (small noise, 19 s of CI, in the exhaustive run)
@pytest.mark.parametrize("noise", [0.3, pytest.param(1e-3, marks=pytest.mark.exhaustive)])
def test_psi_at_q0_is_minus_the_entropy_of_chi2_plus_noise(noise):
    # measured: 2e-14 at noise 0.3; A = 0 by symmetry
    A, psi, _, _ = make_target("norm2", 3).se(np.zeros((3, 3)), noise)
    assert psi == pytest.approx(_entropy_chi2_3_plus_noise(noise), abs=1e-10)
    assert np.max(np.abs(A)) < 1e-12


# ----------------------------------------------------------------------------- isotropic Q = q I


def _gl(edges, n):
    x, w = np.polynomial.legendre.leggauss(n)
    edges = np.asarray(edges, float)
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def _isotropic_route(q, noise, n_a=6, n_y=8, n_r=8, h_r=0.5):
    """``(A_11, Psi_out)`` at ``Q = q I_3`` in closed form per radius: ``|omega| = a`` (chi_3 with scale
    ``sqrt q``), ``r = |z|`` noncentral chi, ``rho(r) = r / (a sqrt(2 pi v)) (exp(-(r - a)^2 / 2v) -
    exp(-(r + a)^2 / 2v))``, ``E[z . omega_hat | r] = r (coth k - 1/k)``, ``k = r a / v``; g is along
    ``omega_hat``, so ``A = E|g|^2 / 3 I``. Composite Gauss-Legendre rules in ``a``, ``y``, ``r``."""
    v = 1.0 - q
    s = math.sqrt(noise)
    sv = math.sqrt(v)
    a_edges = np.concatenate([np.linspace(0.0, 0.5 * sv, 4)[:-1], np.linspace(0.5 * sv, 8.5 * math.sqrt(q), 16)])
    a_nodes, a_w = _gl(np.unique(a_edges), n_a)
    chi3 = np.sqrt(2 / math.pi) * a_nodes ** 2 / q ** 1.5 * np.exp(-0.5 * a_nodes ** 2 / q)
    acc_A, acc_psi = 0.0, 0.0
    for a, wa in zip(a_nodes, a_w * chi3):
        r_lo, r_hi = max(0.0, a - 10 * sv), a + 10 * sv
        r, wr = _gl(np.linspace(r_lo, r_hi, 1 + int(math.ceil((r_hi - r_lo) / (h_r * min(sv, s))))), n_r)
        k = r * a / v
        if a > 0:
            rho = r / (a * math.sqrt(2 * math.pi * v)) * (np.exp(-0.5 * (r - a) ** 2 / v) - np.exp(-0.5 * (r + a) ** 2 / v))
            with np.errstate(over="ignore"):
                L = np.where(k > 1e-4, 1.0 / np.tanh(k) - 1.0 / np.where(k > 0, k, 1.0), k / 3.0)
        else:
            rho = 2 * r * r / math.sqrt(2 * math.pi) / v ** 1.5 * np.exp(-0.5 * r * r / v)
            L = np.zeros_like(r)
        y_edges = np.unique(np.concatenate([np.linspace(r_lo ** 2 - 10 * s, r_hi ** 2 + 10 * s,
                                                        2 + int(math.ceil((r_hi ** 2 - r_lo ** 2 + 20 * s) / s))),
                                            np.linspace(-10 * s, 10 * s, 41)]))
        y_edges = y_edges[(y_edges >= r_lo ** 2 - 10 * s) & (y_edges <= r_hi ** 2 + 10 * s)]
        y, wy = _gl(y_edges, n_y)
        Kr = np.exp(-0.5 * (y[:, None] - r[None, :] ** 2) ** 2 / noise) / math.sqrt(2 * math.pi * noise)
        Z = Kr @ (wr * rho)
        M = Kr @ (wr * rho * r * L)
        ok = Z > 1e-300
        g2 = ((M[ok] / Z[ok] - a) / v) ** 2
        acc_A += wa * np.sum(wy[ok] * Z[ok] * g2) / 3
        acc_psi += wa * np.sum(wy[ok] * Z[ok] * np.log(Z[ok]))
    return acc_A, acc_psi


@pytest.mark.parametrize("q, noise", [(0.5, 0.1), pytest.param(0.9, 1e-2, marks=pytest.mark.slow)])
def test_isotropic_q_against_the_closed_form_route(q, noise):
    # the general (three-dimensional) outer rule and the radial fast path both against the
    # noncentral-chi route; measured: A 2e-13, Psi 6e-13 (q = 0.5, noise 0.1); A 4e-10, Psi 1e-11
    # (q = 0.9, noise 1e-2, where the reference's own rules are the coarser)
    A_ref, psi_ref = _isotropic_route(q, noise)
    Q = q * np.eye(3)
    for iso in (False, True):
        A, psi = norm2_se_fourier(Q, np.eye(3) - Q, noise, isotropic=iso)
        np.testing.assert_allclose(A, A_ref * np.eye(3), rtol=1e-9, atol=1e-9 * A_ref)
        assert psi == pytest.approx(psi_ref, rel=1e-9, abs=1e-10)


# ----------------------------------------------------------------------------- the channel (GAMP)


def _labels(p, V, noise, n, seed):
    rng = np.random.default_rng(seed)
    omega = 0.8 * rng.standard_normal((n, p))
    z = omega + rng.standard_normal((n, p)) @ np.linalg.cholesky(V).T
    return np.sum(z * z, axis=1) + math.sqrt(noise) * rng.standard_normal(n), omega


@pytest.mark.parametrize("noise", [1e-2, 1e-3])
def test_channel_at_p1_against_mpmath(noise):
    # one dimension, Z_out(y) = int N(z; omega, v) N(y; z^2, noise) dz at 30 digits, labels drawn from
    # the model (some near the edge t = 0). Measured: log Z_out to 4e-15 (the radial route of p <= 2 is
    # off by up to 7e-9 at edge labels)
    import mpmath as mp
    V = np.array([[0.2]])
    y, omega = _labels(1, V, noise, 8, 5)
    _, _, logz = norm2_channel_fourier(y, omega, np.broadcast_to(V, (8, 1, 1)), noise)
    with mp.workdps(30):
        for m in range(8):
            om, yy = float(omega[m, 0]), float(y[m])
            f = lambda z: mp.npdf(z, om, mp.sqrt(0.2)) * mp.npdf(yy, z * z, mp.sqrt(noise))
            a = math.sqrt(max(yy, 0.0))
            Z = mp.quad(f, sorted({-30.0, -a - 1, -a, 0.0, a, a + 1, om, 30.0}), maxdegree=12)
            assert logz[m] == pytest.approx(float(mp.log(Z)), abs=1e-13), m


@pytest.mark.parametrize("noise", [0.1, 1e-3])
def test_channel_at_p2_against_the_radial_route(noise):
    # the radial route (equations.targets._n2_channel) is an independent computation of the same
    # integrals. Measured: log Z_out 6e-12 and 1.6e-9, g_out 2e-12 and 3e-10, its Jacobian 1e-11 and
    # 4e-10 (relative to the largest entry; at noise 1e-3 the radial route's edge labels dominate)
    from equations.targets import _norm2_channel
    V = np.array([[0.25, 0.08], [0.08, 0.12]])
    y, omega = _labels(2, V, noise, 64, 2)
    Vn = np.ascontiguousarray(np.broadcast_to(V, (64, 2, 2)))
    g, dg, logz = norm2_channel_fourier(y, omega, Vn, noise)
    g0, dg0, logz0 = _norm2_channel(y, omega, Vn, noise)
    tol = 1e-10 if noise >= 0.1 else 1e-8
    np.testing.assert_allclose(logz, logz0, rtol=0, atol=tol)
    np.testing.assert_allclose(g, g0, rtol=0, atol=tol * np.max(np.abs(g0)))
    np.testing.assert_allclose(dg, dg0, rtol=0, atol=tol * np.max(np.abs(dg0)))


@pytest.mark.parametrize("p", [3, 4])
def test_channel_at_p3_p4_against_the_transform_grid_and_differences(p):
    # Z_out and E[z | y] against norm2_point_fourier (the state evolution's FFT grid, checked above
    # against nested quadrature at p = 3), and d g_out / d omega against central differences of g_out.
    # Measured: 3e-15 (log Z_out), 1.6e-14 (g_out), 2e-10 to 4e-10 (the Jacobian, the differences' error)
    rng = np.random.default_rng(p)
    M = rng.standard_normal((p, p))
    V = 0.3 * M @ M.T / p + 0.05 * np.eye(p)
    noise = 1e-2
    y, omega = _labels(p, V, noise, 4, 7)
    Vn = np.ascontiguousarray(np.broadcast_to(V, (4, p, p)))
    g, dg, logz = norm2_channel_fourier(y, omega, Vn, noise)
    assert np.array_equal(make_target("norm2", p).channel(y, omega, V, noise)[1], g)
    h = 1e-5
    for m in range(4):
        Z, Ez = norm2_point_fourier(y[m], omega[m], V, noise)
        assert logz[m] == pytest.approx(math.log(Z), abs=1e-13)
        np.testing.assert_allclose(g[m], np.linalg.solve(V, Ez - omega[m]), rtol=0, atol=1e-12 * np.max(np.abs(g[m])))
        J = np.empty((p, p))
        for j in range(p):
            e = np.zeros(p)
            e[j] = h
            J[:, j] = (norm2_channel_fourier(y[m:m + 1], (omega[m] + e)[None], Vn[:1], noise)[0][0]
                       - norm2_channel_fourier(y[m:m + 1], (omega[m] - e)[None], Vn[:1], noise)[0][0]) / (2 * h)
        np.testing.assert_allclose(dg[m], J, rtol=0, atol=1e-8 * np.max(np.abs(dg[m])))
        np.testing.assert_allclose(dg[m], dg[m].T, rtol=0, atol=1e-14 * np.max(np.abs(dg[m])))


def test_channel_refuses_a_label_it_cannot_resolve():
    # a label far beyond the support of |z|^2 (Z_out ~ exp(-100^2 / 2 noise)): an error naming the sample
    V = 0.1 * np.eye(3)
    with pytest.raises(ValueError, match="cannot resolve sample 1"):
        norm2_channel_fourier(np.array([1.0, 200.0]), np.zeros((2, 3)), np.broadcast_to(V, (2, 3, 3)), 1e-2)


# ----------------------------------------------------------------------------- stationarity and refinement

_QGEN = np.array([[0.4, 0.1, 0.0], [0.1, 0.3, 0.05], [0.0, 0.05, 0.2]])


@pytest.mark.parametrize("noise, Q, h, entries, rel", [
    (0.1, _QGEN, 1e-3, [(0, 0), (0, 1), (1, 2)], 3e-8),
    # small noise and the non-specialised branch's shape (two equal eigenvalues, which a change of
    # Q splits) are second points of the same identity, in the exhaustive run: each entry takes four
    # evaluations of ~5 s at noise 1e-3 (56 s of CI for one entry, 69 s for one at the second Q)
    pytest.param(1e-3, _QGEN, 1e-3, [(0, 2)], 3e-8, marks=pytest.mark.exhaustive),
    pytest.param(1e-3, _QGEN, 1e-3, [(1, 1), (2, 2)], 3e-8, marks=pytest.mark.exhaustive),
    pytest.param(1e-2, np.full((3, 3), 0.3) + 0.05 * np.eye(3), 1e-3, [(0, 1)], 1e-7, marks=pytest.mark.exhaustive),
    pytest.param(1e-2, np.full((3, 3), 0.3) + 0.05 * np.eye(3), 1e-3, [(0, 0)], 1e-7,
                 marks=pytest.mark.exhaustive),
])
def test_psi_is_the_potential_of_A(noise, Q, h, entries, rel):
    # d Psi_out / dQ = A / 2, five-point differences of Psi_out against A from the same route (the two
    # are separate y integrals of the transforms, so a wrong A or Psi breaks it). Measured, worst entry
    # of the generic Q: 1.5e-8 at noise 0.1, 8e-9 at noise 1e-3 (the outer rule's node counts change
    # with Q, so its 1e-11 to 1e-10 error enters the differences divided by 12 h); at 0.3 1 1^T +
    # 0.05 I, noise 1e-2: 3.7e-8 and 7e-9 (a larger step is worse: 2e-7 and 2e-6 at 4e-3, truncation)
    t = make_target("norm2", 3)
    A = t.se(Q, noise)[0]
    for i, j in entries:
        E = np.zeros((3, 3))
        E[i, j] = E[j, i] = 1.0
        f = lambda k: t.se(Q + k * h * E, noise)[1]
        d = (8 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12 * h)
        assert d == pytest.approx(0.5 * np.sum(A * E), rel=rel, abs=1e-8 * np.max(np.abs(A))), (i, j)


@pytest.mark.parametrize("noise, Q", [
    (0.1, _QGEN),
    # small noise at the near-informed Q, the harder case, in the exhaustive run (83 s of CI; the
    # generic Q at noise 1e-3, 86 s, is not run: the potential test above covers it, also in the
    # exhaustive run)
    pytest.param(1e-3, _rotation(1) @ np.diag([0.99, 0.9, 0.8]) @ _rotation(1).T, marks=pytest.mark.exhaustive),
    pytest.param(4.0, _rotation(2) @ np.diag([0.9, 0.1, 0.02]) @ _rotation(2).T, marks=pytest.mark.slow),
])
def test_refinement_of_every_rule_leaves_A_and_psi(noise, Q):
    A, psi = norm2_se_fourier(Q, np.eye(3) - Q, noise)
    A2, psi2 = norm2_se_fourier(Q, np.eye(3) - Q, noise, refine=1.5, outer_refine=2)
    np.testing.assert_allclose(A, A2, rtol=0, atol=1e-8 * np.max(np.abs(A2)))
    assert psi == pytest.approx(psi2, rel=1e-8)


def test_agrees_with_the_atoms_at_noise_where_they_are_roughly_right():
    # a sanity check of the wiring against the Gaussian-mixture atoms (1.2% at noise 1, 0.3% at noise 2)
    import dataclasses
    t = make_target("norm2", 3)
    A, psi, _, mse = t.se(_QGEN, 2.0)
    A0, psi0, _, mse0 = dataclasses.replace(t, route="atoms").se(_QGEN, 2.0)
    np.testing.assert_allclose(A, A0, rtol=1e-2, atol=1e-2 * np.max(A))
    assert psi == pytest.approx(psi0, rel=1e-2)
    assert mse == pytest.approx(mse0, rel=1e-6)


# ----------------------------------------------------------------------------- the state evolution


@pytest.mark.slow
def test_p3_solves_below_and_above_the_weak_recovery_threshold():
    # alpha_c = p / 2 + noise / 4 + ... = 1.5236 at p = 3, noise 0.1: at alpha = 1.5 the uninformed start
    # stays at Q = 0; at alpha = 2.5 the informed start reaches an isotropic Q (the uninformed one the
    # same Q: the exhaustive check below)
    m = equations.get("multi_index", target="norm2", p=3, alpha=1.5, noise=0.1)
    sol = fixedpoint.solve(m, start="uninformed")
    assert sol.converged, sol.message
    assert np.max(np.abs(sol["Q"])) < 1e-6
    m = equations.get("multi_index", target="norm2", p=3, alpha=2.5, noise=0.1)
    down = fixedpoint.solve(m, start="informed")
    assert down.converged, down.message
    Q = down["Q"]
    assert 0.1 < Q[0, 0] < 1.0
    np.testing.assert_allclose(Q, Q[0, 0] * np.eye(3), atol=1e-7)


@pytest.mark.slow
@pytest.mark.exhaustive  # (the uninformed start leaves Q = 0 slowly: 56 map evaluations, 47 s)
def test_p3_solves_from_both_starts():
    # at alpha = 2.5 > alpha_c both starts reach the same isotropic Q
    m = equations.get("multi_index", target="norm2", p=3, alpha=2.5, noise=0.1)
    up = fixedpoint.solve(m, start="uninformed")
    down = fixedpoint.solve(m, start="informed")
    assert up.converged and down.converged, (up.message, down.message)
    np.testing.assert_allclose(up["Q"], down["Q"], atol=1e-6)


# ----------------------------------------------------------------------------- p >= 4: eigenspaces


def _tensor_half(lam, n):
    """A tensor Gauss-Hermite rule for ``omega ~ N(0, diag(lam))`` folded onto the positive orthant
    (``n`` even: ``n / 2`` nodes per half-axis), independent of the eigenspace rule."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    x, w = x[x > 0], 2.0 * w[x > 0] / math.sqrt(2.0 * math.pi)
    X = np.array(list(itertools.product(x, repeat=lam.size)))
    W = np.prod(np.array(list(itertools.product(w, repeat=lam.size))), axis=1)
    return np.ascontiguousarray(X * np.sqrt(lam)), np.ascontiguousarray(W)


@pytest.mark.parametrize("lams", [(0.5, 0.2, 0.2, 0.2), (0.6, 0.3, 0.3, 0.1)])
def test_p4_against_a_four_dimensional_tensor_rule(lams):
    # eigenspaces of dimension 3 and 2 (the radius of each, chi_m-weighted) against 16^4 nodes of a
    # plain tensor rule over the four coordinates at noise 1, where the integrand is smooth. Measured:
    # 5e-10 and 1.7e-9 (A), 7e-13 and 3e-12 (Psi_out); with 12^4 nodes 5e-8 and 1.3e-7
    from equations._norm2_fourier import _n3_se, _n3_sizes, _twiddles
    lam = np.array(lams)
    v = 1.0 - lam
    A, psi = norm2_se_fourier(np.diag(lam), np.diag(v), 1.0)
    om, wt = _tensor_half(lam, 32)
    twr, twi = _twiddles(_n3_sizes(om, v, np.ones(4), 1.0, 1.0))
    a = np.empty(4)
    psi_t = _n3_se(om, wt, v, np.ones(4), 1.0, 1.0, twr, twi, a)
    np.testing.assert_allclose(np.diag(A), a, rtol=0, atol=1e-8 * a.max())
    np.testing.assert_allclose(A - np.diag(np.diag(A)), 0.0, atol=1e-15)
    assert psi == pytest.approx(psi_t, rel=1e-10)


@pytest.mark.parametrize("p", [4, 5, 8])
def test_eigenspace_rule_on_an_isotropic_overlap_is_the_radial_one(p):
    # an isotropic Q split into eigenspaces of dimensions 1, 1, p - 2 against the radial rule: 5e-15
    Q = 0.4 * np.eye(p)
    A, psi = norm2_se_fourier(Q, np.eye(p) - Q, 0.1)
    A2, psi2 = norm2_se_fourier(Q, np.eye(p) - Q, 0.1, isotropic=False)
    np.testing.assert_allclose(A2, A, rtol=0, atol=1e-12 * np.max(A))
    assert psi2 == pytest.approx(psi, rel=1e-12)


# (p = 4, whose eigenspace rule the tensor-rule and potential tests below check, in the exhaustive run)
@pytest.mark.parametrize("p, lams", [pytest.param(4, (0.6, 0.3, 0.3, 0.1), marks=pytest.mark.exhaustive),
                                     (6, (0.7, 0.7, 0.3, 0.3, 0.3, 0.05))])
def test_p4_refinement_of_every_rule(p, lams):
    # measured: 7e-11 (A, relative to its largest entry), 1e-12 (Psi_out) at p = 4; 8e-12, 7e-13 at p = 6
    R = np.linalg.qr(np.random.default_rng(p).standard_normal((p, p)))[0]
    Q = R @ np.diag(lams) @ R.T
    A, psi = norm2_se_fourier(Q, np.eye(p) - Q, 0.1)
    A2, psi2 = norm2_se_fourier(Q, np.eye(p) - Q, 0.1, refine=1.5, outer_refine=2)
    np.testing.assert_allclose(A, A2, rtol=0, atol=1e-9 * np.max(np.abs(A2)))
    assert psi == pytest.approx(psi2, rel=1e-10)


_U = np.array([math.cos(0.3), math.sin(0.3), 0.0, 0.0])


@pytest.mark.parametrize("lams, M", [((0.5, 0.2, 0.2, 0.2), np.diag([1.0, 0.0, 0.0, 0.0])),
                                     ((0.5, 0.2, 0.2, 0.2), np.diag([0.0, 1.0, 0.0, 0.0])),
                                     ((0.5, 0.2, 0.2, 0.2), np.outer(_U, _U)),
                                     ((0.2, 0.2, 0.5, 0.5), np.diag([1.0, 0.0, 0.0, 0.0]))])
def test_p4_psi_is_the_potential_of_A(lams, M):
    # d Psi_out(Q + t M) / dt = tr(A M) / 2 along directions that keep at most three distinct
    # eigenvalues (splitting one direction off an eigenspace of dimension 3 or 2, or mixing two
    # eigenspaces): the chi_m weights of the eigenspaces and the sharing of E |g|^2 among their
    # dimensions enter A and Psi_out differently, so a wrong one breaks it. (A is diagonal in the
    # eigenframe by construction; the rotation covariance is the spectral Jacobian's test.) Measured:
    # 8e-10, 2e-10 for the first two
    t = make_target("norm2", 4)
    Q = np.diag(lams)
    A = t.se(Q, 0.1)[0]
    h = 1e-3
    f = lambda k: t.se(Q + k * h * M, 0.1)[1]
    d = (8 * (f(1) - f(-1)) - (f(2) - f(-2))) / (12 * h)
    assert d == pytest.approx(0.5 * np.sum(A * M), rel=2e-8)


def test_p4_refuses_four_distinct_eigenvalues():
    with pytest.raises(ValueError, match="at most three distinct eigenvalues"):
        make_target("norm2", 4).se(np.diag([0.1, 0.2, 0.3, 0.4]), 0.1)


@pytest.mark.slow
def test_spectral_jacobian_against_central_differences():
    # the Jacobian from differences in the eigenvalues (MultiIndex._spectral_jacobian, used at p >= 4)
    # against central differences in every entry, at p = 3 (where every Q can be evaluated) and at an
    # isotropic Q at p = 4. Measured: 5e-9 and 7e-9 relative (the differences' own error)
    from fixedpoint.matrices import pack
    from fixedpoint.solvers import numerical_jacobian
    m3 = equations.get("multi_index", target="norm2", p=3, alpha=2.5, noise=0.1)
    R = _rotation(2)
    for m, Q in ((m3, R @ np.diag([0.5, 0.3, 0.1]) @ R.T),
                 (equations.get("multi_index", target="norm2", p=4, alpha=3.0, noise=0.1), 0.35 * np.eye(4))):
        x = pack(Q)
        J = m._spectral_jacobian(x)
        Jn = numerical_jacobian(m.update, x, order=2)[0]
        np.testing.assert_allclose(J, Jn, rtol=0, atol=1e-7 * np.max(np.abs(Jn)))
    assert np.array_equal(equations.get("multi_index", target="norm2", p=4, alpha=3.0, noise=0.1).jacobian(x), J)


@pytest.mark.exhaustive  # (52 s of CI: p = 3 solves by default; p = 4's route is checked point by point)
def test_p4_solves_from_both_starts():
    # alpha_c = p / 2 + noise / 4 + ... = 2.02 at p = 4, noise 0.1: at alpha = 3 both starts reach the same
    # isotropic Q (the uninformed start Q = 1e-6 1 1^T / 4 + 1e-8 I keeps two distinct eigenvalues along
    # the way, and the stability check takes the spectral Jacobian). Measured: 53 evaluations (19 s) and
    # 21 (0.6 s), Q = 0.34577216 I, spectral radius 0.83023
    m = equations.get("multi_index", target="norm2", p=4, alpha=3.0, noise=0.1)
    up = fixedpoint.solve(m, start="uninformed")
    down = fixedpoint.solve(m, start="informed")
    assert up.converged and down.converged, (up.message, down.message)
    np.testing.assert_allclose(down["Q"], down["Q"][0, 0] * np.eye(4), atol=1e-9)
    np.testing.assert_allclose(up["Q"], down["Q"], atol=1e-7)
    assert 0.3 < down["Q"][0, 0] < 0.4
    assert up.spectral_radius == pytest.approx(down.spectral_radius, abs=1e-6)
