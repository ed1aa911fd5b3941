"""Sequence multi-index models (tied attention): closed forms, the L = 1 reduction to phase
retrieval, free-entropy stationarity, Monte-Carlo and quadrature references, GAMP, and the
layer-by-layer thresholds of deep attention (two integrators, the nonlinear map's departure from
zero, Jensen / Cauchy-Schwarz bounds, the large-skip limit, the authors' state-evolution data) and
the staircase threshold of its first layer (the teacher-route kernel against a direct posterior,
its Nishimori forms, its limits)."""

import math

import numpy as np
import pytest
from scipy import integrate

import equations
import fixedpoint as fp
from equations.sequence import (DeepAttention, _PRUNE, _STAIR_QGRID, deep_state_evolution, _deep_linear_nodes_kernel, _deep_subbranch_truth_kernel,
                                _exp_pm, _tilted_sums,
                                _h_rule_graded, _hermite_rule, _inner_grid, _posterior_gaps, _sign_symmetric_se,
                                _STAIR_QSTAR, _stair_start, _staircase_bracket, _teacher_z2_graded, _unit_legendre,
                                _z1_grid, _z1_grid_graded,
                                _z1_grid_half, _z2_levels, _STAIR_PER_PANEL, _Z2_H0, deep_linearisation, deep_staircase, deep_subbranch, layer_thresholds)


def _model(**kw):
    return equations.get("sequence_multi_index", **kw)


# ----------------------------------------------------------------------------- one layer


def test_L1_scores_reduce_to_noiseless_phase_retrieval():
    # y = z^2 reveals |z|: the abs channel of glm_bayes (Gaussian prior, rho = 1), an independent
    # implementation (its own reduction to phi-factored integrals)
    # (alpha only multiplies the channel's integrals: one alpha tests them)
    alpha = 0.8
    g = equations.get("glm_bayes", channel="abs", prior="gaussian", alpha=alpha, noise=0.0)
    s = _model(target="scores", L=1, alpha=alpha)
    for q in (0.05, 0.3, 0.7, 0.95, 0.999):
        assert s.update([q])[0] == pytest.approx(g.update([q])[0], rel=1e-10, abs=0)
        # the observation's density is over a in R (ours, (N(a) + N(-a)) / 2) rather than
        # over y = |a| > 0 (theirs): the free entropies differ by alpha log 2
        assert s.free_entropy([q]) - g.free_entropy([q]) == pytest.approx(-alpha * math.log(2.0), abs=1e-10)
    assert fp.solve(s).x[0] == pytest.approx(fp.solve(g).x[0], rel=1e-9)


@pytest.mark.parametrize("target, L, noise", [("attention", 2, 0.0), ("scores", 3, 0.2), ("scores", 1, 0.0)])
def test_weak_recovery_threshold_closed_form(target, L, noise):
    # G(y) = (a a^T - (1 + noise) I) / (1 + noise)^2, E ||G||^2 = (L^2 + L) / (1 + noise)^2
    alpha_c = (1.0 + noise) ** 2 / (L * L + L)
    m = _model(target=target, L=L, alpha=alpha_c, noise=noise)
    assert layer_thresholds(m) == {1: pytest.approx(alpha_c, rel=1e-14)}
    thr = fp.threshold(m, "alpha", (0.5 * alpha_c, 2.0 * alpha_c), kind="stability")
    assert thr.value == pytest.approx(alpha_c, rel=1e-8)
    # the analytic Jacobian at Q = 0 against the map itself (second route)
    h = 1e-7
    slope = (m.update([h])[0] - m.update([0.0])[0]) / h
    assert slope == pytest.approx(m.jacobian([0.0])[0, 0], rel=1e-5)
    assert slope == pytest.approx(1.0, rel=1e-5)
    # the nonlinear map leaves zero just above it and not below
    below = fp.solve(_model(target=target, L=L, alpha=0.97 * alpha_c, noise=noise))
    above = fp.solve(_model(target=target, L=L, alpha=1.03 * alpha_c, noise=noise))
    assert below.converged and above.converged
    assert below.x[0] < 1e-7 and above.x[0] > 1e-3


@pytest.mark.parametrize("kw", [dict(target="attention", L=2, alpha=0.3),
                                dict(target="scores", L=3, alpha=0.3, noise=0.2)])
def test_free_entropy_stationary_at_the_fixed_point(kw):
    m = _model(**kw)
    sol = fp.solve(m, atol=1e-13, rtol=1e-13)
    assert sol.converged
    Q = sol.x[0]
    Qh = m.Q_hat(Q)
    assert Q == pytest.approx(Qh / (1 + Qh), rel=1e-10)
    h = 1e-5
    dQ = (m.free_entropy_at(Q + h, Qh) - m.free_entropy_at(Q - h, Qh)) / (2 * h)
    dQh = (m.free_entropy_at(Q, Qh + h) - m.free_entropy_at(Q, Qh - h)) / (2 * h)
    assert abs(dQ) < 1e-7 and abs(dQh) < 1e-8
    assert m.free_entropy(sol.x) == pytest.approx(m.free_entropy_at(Q, Qh), rel=1e-14)
    # Q_hat = 2 alpha dPsi_out / dQ everywhere (the stationarity in Q, off the fixed point)
    for q in (0.2, 0.6):
        d = (m.free_entropy_at(q + h, 0.0) - m.free_entropy_at(q - h, 0.0)) / (2 * h)
        assert m.Q_hat(q) == pytest.approx(2.0 * d, rel=1e-7)


@pytest.mark.parametrize("L, Q, V", [(2, 0.3, 0.7), (2, 0.8, 0.2), (3, 0.5, 0.7)])
def test_reduced_quadrature_against_monte_carlo_in_full_coordinates(L, Q, V):
    # E |g|^2 and E[log cosh x - x] with omega, a sampled in R^L (no rotation reduction)
    rng = np.random.default_rng(7)
    N = 400_000
    om = math.sqrt(Q) * rng.standard_normal((N, L))
    a = (om + math.sqrt(V) * rng.standard_normal((N, L))) * rng.choice([-1.0, 1.0], size=(N, 1))
    x = np.sum(a * om, axis=1) / V
    g = (a * np.tanh(x)[:, None] - om) / V
    g2 = np.sum(g * g, axis=1)
    # log cosh x is sign-symmetric; the kernel's E[log cosh x - x] uses E x = L Q / V on the
    # representative a = omega + sqrt(V) u
    lc = np.logaddexp(x, -x) - math.log(2.0) - L * Q / V
    ours = _sign_symmetric_se(Q, V, L, *_unit_legendre(10))
    assert abs(ours[0] - g2.mean()) < 5 * g2.std() / math.sqrt(N)
    assert abs(ours[1] - lc.mean()) < 5 * lc.std() / math.sqrt(N)


@pytest.mark.parametrize("Q, V", [(0.5, 0.5), (0.99, 1e-2), (1 - 1e-6, 1e-6)])
def test_reduced_quadrature_is_converged(Q, V):
    for L in (1, 2, 5):
        a = _sign_symmetric_se(Q, V, L, *_unit_legendre(10))
        b = _sign_symmetric_se(Q, V, L, *_unit_legendre(20))
        assert a[0] == pytest.approx(b[0], rel=1e-11)
        assert a[1] == pytest.approx(b[1], rel=1e-11, abs=1e-13)


def test_label_mse():
    # scores: closed form L (L + 1) V (2 Q + V) against Monte Carlo of ||y - E[y | omega]||^2
    rng = np.random.default_rng(3)
    m = _model(target="scores", L=3, alpha=0.3, noise=0.2)
    Q, V, N = 0.4, 1 - 0.4 + 0.2, 200_000
    om = math.sqrt(Q) * rng.standard_normal((N, 3))
    z = om + math.sqrt(V) * rng.standard_normal((N, 3))
    err = np.sum((z[:, :, None] * z[:, None, :] - om[:, :, None] * om[:, None, :] - V * np.eye(3)) ** 2, axis=(1, 2))
    assert abs(m.label_mse(Q) - err.mean()) < 5 * err.std() / math.sqrt(N)
    # attention at Q = 0: 4 Var(sigma(z_1 (z_2 - z_1))), z ~ N(0, I), by scipy dblquad
    a = _model(target="attention", L=2, alpha=0.3)
    phi = lambda t: math.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
    sig = lambda z1, z2: 1.0 / (1.0 + math.exp(-z1 * (z2 - z1)))
    m1 = integrate.dblquad(lambda z2, z1: phi(z1) * phi(z2) * sig(z1, z2), -9, 9, -9, 9, epsabs=1e-12)[0]
    m2 = integrate.dblquad(lambda z2, z1: phi(z1) * phi(z2) * sig(z1, z2) ** 2, -9, 9, -9, 9, epsabs=1e-12)[0]
    assert a.label_mse(0.0) == pytest.approx(4 * (m2 - m1 * m1), rel=1e-6)
    # and at Q = 0.6 against Monte Carlo over omega with a 60-node numpy rule inside
    Q, V = 0.6, 0.4
    om = math.sqrt(Q) * rng.standard_normal((3000, 2))
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    z1 = om[:, 0, None, None] + math.sqrt(V) * x[None, :, None]
    z2 = om[:, 1, None, None] + math.sqrt(V) * x[None, None, :]
    y = 1.0 / (1.0 + np.exp(-z1 * (z2 - z1)))
    W = np.outer(w, w)[None]
    var = 4 * (np.sum(W * y * y, axis=(1, 2)) - np.sum(W * y, axis=(1, 2)) ** 2)
    assert abs(a.label_mse(Q) - var.mean()) < 5 * var.std() / math.sqrt(var.size)
    assert a.label_mse(1.0) == pytest.approx(0.0, abs=1e-14)


def test_perfect_recovery_of_noiseless_labels():
    # alpha L > 1: Q = 1 attracts (free entropy +inf, coefficient (alpha L - 1) / 2); below, not
    m = _model(target="attention", L=2, alpha=0.6)
    sol = fp.solve(m, start="informed")
    assert sol.converged and sol.x[0] == pytest.approx(1.0, abs=1e-12)
    assert m.free_entropy_divergence(sol.x) == pytest.approx(0.1, rel=1e-14)
    assert m.free_entropy(sol.x) == math.inf
    m = _model(target="attention", L=2, alpha=0.4)
    sol = fp.solve(m, start="informed")
    assert sol.converged and 0.5 < sol.x[0] < 0.99 and math.isfinite(m.free_entropy(sol.x))
    both = fp.solve(m, start="uninformed")
    assert both.x[0] == pytest.approx(sol.x[0], rel=1e-8)


@pytest.mark.slow
def test_attention_reaches_perfect_recovery_continuously_at_one_half():
    # L = 2: no hard phase; 1 - Q ~ 4.46 (1/2 - alpha) on the branch of both starts
    gaps = []
    for alpha in (0.49, 0.495):
        m = _model(target="attention", L=2, alpha=alpha)
        u, i = fp.solve(m), fp.solve(m, start="informed")
        assert u.converged and i.converged and u.x[0] == pytest.approx(i.x[0], rel=1e-8)
        gaps.append((1.0 - u.x[0]) / (0.5 - alpha))
    assert gaps[0] == pytest.approx(gaps[1], rel=0.02) and 4.0 < gaps[1] < 5.0


@pytest.mark.slow
def test_L1_algorithmic_threshold_of_phase_retrieval():
    # noiseless real phase retrieval, Gaussian prior: alpha_alg ~ 1.13 (Barbier, Krzakala, Macris,
    # Miolane, Zdeborova, "Optimal errors and phase transitions in high-dimensional generalized
    # linear models", PNAS 2019)
    m = _model(target="scores", L=1, alpha=1.0)
    thr = fp.threshold(m, "alpha", (1.0, 1.3), kind="spinodal", start="uninformed")
    assert thr.converged and thr.value == pytest.approx(1.13, abs=0.005)


def test_matrix_view_and_validation():
    m = _model(target="attention", alpha=0.3)
    sol = fp.solve(m)
    assert sol["Q"].shape == (1, 1) and sol["Q"][0, 0] == pytest.approx(sol.x[0])
    for kw, word in ((dict(target="deep"), "target"), (dict(target="attention", L=3), "L"),
                     (dict(target="scores", L=9), "L"), (dict(alpha=0.0), "alpha"), (dict(noise=-1.0), "noise"),
                     (dict(alpha=math.inf), "alpha"), (dict(target="attention", skip=2.0), "skip"),
                     (dict(target="scores", L=3, log2_points=12), "log2_points"),
                     (dict(target="deep_attention", skip=0.1), "skip"),
                     (dict(target="deep_attention", noise=0.1), "noise"),
                     (dict(target="deep_attention", log2_points=9), "log2_points"),
                     (dict(target="deep_attention", L=3), "L")):
        with pytest.raises(ValueError, match=word):
            _model(**kw)
    for kw, word in ((dict(skip=5e-5), "skip"), (dict(skip=1.0, L=3), "L"), (dict(alpha=-1.0), "alpha")):
        with pytest.raises(ValueError, match=word):
            DeepAttention(**kw)
    with pytest.raises(ValueError, match="model"):
        layer_thresholds("attention")


@pytest.mark.slow
def test_gamp_tracks_the_state_evolution():
    m = _model(target="attention", L=2, alpha=0.4)
    ob = m.observables(fp.solve(m).x)
    runs = [m.simulate(2000, seed) for seed in range(4)]
    ov = np.array([r["overlap"] for r in runs])
    lm = np.array([r["label_mse"] for r in runs])
    sem = ov.std(ddof=1) / math.sqrt(ov.size)
    assert abs(ov.mean() - ob["overlap"]) < 4 * sem + 0.02, (ov, ob)
    assert abs(lm.mean() - ob["label_mse"]) < 4 * lm.std(ddof=1) / 2 + 0.01, (lm, ob)
    # Nishimori: |w_hat|^2 / d = w_hat . w* / d at the Bayes-optimal fixed point
    assert np.all(np.abs([r["q"] - r["overlap"] for r in runs]) < 0.05)
    # below weak recovery GAMP stays at overlap O(1/sqrt(d))
    low = _model(target="attention", L=2, alpha=0.12).simulate(2000, 0)
    assert low["overlap"] < 0.1


# ----------------------------------------------------------------------------- deep attention


def test_deep_attention_layer_thresholds():
    lin = deep_linearisation(1.0)
    thr = layer_thresholds(DeepAttention(skip=1.0), staircase=False)
    assert thr == {1: lin["alpha_1"], 2: lin["alpha_2"]}
    # the second layer is learned first
    assert thr[2] == pytest.approx(0.185478, abs=2e-6) and thr[1] == pytest.approx(6.15694, abs=2e-5)
    # Jensen: E ||E[z z^T | y] - I||^2 <= E ||z z^T - I||^2 = L^2 + L = 6 for either layer (the
    # authors' data/alpha_critical.csv lists alpha_2 = 0.1436 < 1/6 at c = 1)
    assert thr[2] > 1.0 / 6.0 > 0.1436
    # Cauchy-Schwarz: the off-diagonal block never leaves zero first
    assert lin["F12"] ** 2 <= lin["F11"] * lin["F22"] and lin["alpha_12"] > thr[2]
    # second route: the nonlinear sub-branch map Q_22 -> alpha K_2 / (1 + alpha K_2) near zero
    # (its own kernel, with the omega average), and K_1 there
    sub = deep_subbranch(1.0, 1e-6, route="h", n_h=16, n_omega=8, n_z=32)
    assert sub["alpha_q"] == pytest.approx(thr[2], rel=1e-5)
    assert sub["K1"] == pytest.approx(lin["F11"], rel=1e-4)


def test_deep_attention_large_skip_and_monotonicity():
    # c -> inf: h ~ c z_2 reveals z_2 up to its sign, as one layer: alpha_2 -> 1/6 from above
    a = [deep_linearisation(c, n_h=48, n_z=48)["alpha_2"] for c in (0.5, 1.0, 2.0, 10.0)]
    assert a[0] > a[1] > a[2] > a[3] > 1.0 / 6.0
    assert a[3] == pytest.approx(1.0 / 6.0, rel=3e-3)


@pytest.mark.slow
def test_deep_attention_second_integrator_and_authors_state_evolution():
    # the outer average over the teacher's (z_1, z_2) instead of over h
    lin = deep_linearisation(1.0)
    tru = deep_linearisation(1.0, n_h=12, n_z=48, route="truth")
    assert tru["alpha_2"] == pytest.approx(lin["alpha_2"], rel=5e-4)
    assert tru["alpha_1"] == pytest.approx(lin["alpha_1"], rel=1e-3)
    # the Q_22 branch against the authors' Monte-Carlo state evolution (SPOC-group/
    # SequenceIndexModels, data/BO_2w.csv: Q_22 = 0.4988 at alpha = 0.4, 0.5847 at 0.4333); route h,
    # 0.7% low in alpha_q at q = 0.5 with its 12 omega nodes (deep_subbranch's notes), within the 0.005
    assert deep_subbranch(1.0, 0.5, route="h", n_h=24, n_z=32)["alpha_q"] == pytest.approx(0.4, abs=0.005)
    assert deep_subbranch(1.0, 0.5847, route="h", n_h=24, n_z=32)["alpha_q"] == pytest.approx(0.4333, abs=0.005)


def _inner_reference(c, h):
    """``(G, K)`` (the gaps ``E[z_k z_k^T | h] - I`` as ``(11, 12, 22)``) at skip ``c`` and output ``h``
    by nested adaptive quadrature (scipy ``quad_vec``) over ``delta = z_12 - z_11 >= 0`` (the
    posterior is even in ``z_1``; breakpoints at multiples of ``sqrt(c)``) and ``mu = (z_11 + z_12) /
    2``, with ``A(z_1)`` inverted by numpy."""
    h = np.asarray(h, float)

    def f(mu, delta):
        z11, z12 = mu - 0.5 * delta, mu + 0.5 * delta
        s1 = 1.0 / (1.0 + math.exp(-z11 * delta))
        s2 = 1.0 / (1.0 + math.exp(z12 * delta))
        A = np.array([[1.0 - s1 + c, s1], [s2, 1.0 - s2 + c]])
        z2 = np.linalg.solve(A, h)
        w = math.exp(-0.25 * delta ** 2 - mu ** 2 - 0.5 * z2 @ z2) / abs(np.linalg.det(A))
        return w * np.array([1.0, z11 * z11, z11 * z12, z12 * z12, z2[0] ** 2, z2[0] * z2[1], z2[1] ** 2])

    s = math.sqrt(c)
    m = integrate.quad_vec(lambda d: integrate.quad_vec(f, -7.0, 7.0, args=(d,), epsrel=1e-10, epsabs=0)[0],
                           0.0, 10.0, epsrel=1e-10, epsabs=0, points=(s, 3 * s, 10 * s, 1.0))[0]
    m = m[1:] / m[0] - np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    return m[:3], m[3:]


def _outer_reference_F22(c, n_z=32):
    """``F_22 = E_h ||E[z_2 z_2^T | h] - I||^2`` by nested adaptive quadrature (scipy ``quad``) over
    ``e = h_1 - h_2 >= 0`` (breakpoints at ``c``, ``10 c``, ``100 c``) and ``g = h_1 + h_2 >= 0``
    (``dh = de dg / 2``; the token swap and ``h -> -h`` give the weight 4), the posterior on the
    graded inner rule (checked against quadrature by the test below)."""
    inner = _inner_grid(c, n_z)

    def at(g, e):
        P, _, K = _posterior_gaps(0.5 * (g + e), 0.5 * (g - e), *inner)
        return P / (2.0 * math.pi) * (K[0] ** 2 + 2.0 * K[1] ** 2 + K[2] ** 2) if P > 0.0 else 0.0

    top = 12.0 * (1.0 + c)
    F = integrate.quad(lambda e: integrate.quad(at, 0.0, top, args=(e,), epsrel=1e-8, epsabs=0, limit=200)[0],
                       0.0, top, epsrel=1e-8, epsabs=0, points=(c, 10 * c, 100 * c), limit=200)[0]
    return 2.0 * F


def test_deep_attention_small_skip_against_adaptive_quadrature():
    """Below ``c = 0.5`` the graded rules: the posterior on the inner rule against nested adaptive
    quadrature at outputs on and near the ridge ``h_1 = h_2`` (where ``A(z_1)`` nearly singular
    dominates), and ``alpha_2`` at ``c = 1e-3`` against adaptive quadrature over ``h`` (six digits)."""
    c = 1e-3
    for h in ((-0.5, -0.5 + 2e-4), (0.4, 0.4 + 3e-3)):
        G, K = _inner_reference(c, h)
        _, G2, K2 = _posterior_gaps(h[0], h[1], *_inner_grid(c, 64))
        np.testing.assert_allclose(G2, G, atol=1e-9)
        np.testing.assert_allclose(K2, K, atol=1e-9)
    lin = deep_linearisation(c)
    assert lin["alpha_2"] == pytest.approx(1.0 / _outer_reference_F22(c), rel=3e-6)
    assert lin["alpha_2"] == pytest.approx(0.274828180, abs=2e-8)


def test_deep_attention_graded_rules_against_tensor_rules_and_the_limit_c_to_0():
    """The graded rules reproduce the tensor rules where both hold (``c = 1``), ``alpha_2`` decreases
    with ``c`` over the whole range, and tends to its value at ``c = 0`` (``A = softmax(z_1 z_1^T)``,
    singular only on the null set ``z_11 = z_12``) from below like ``sqrt(c)`` (the band ``|delta| <~
    2 sqrt(c)`` where ``det A ~ c``); below ``1e-4`` the skip is refused."""
    c = 1.0
    F = _deep_linear_nodes_kernel(*_h_rule_graded(c, 48, 6, 0.1 * c, 0.5 * (1.0 + c)), *_z1_grid_graded(c, 48, 6, 0.1))
    lin = deep_linearisation(c)
    assert 1.0 / F[1] == pytest.approx(lin["alpha_2"], rel=1e-7)
    assert 1.0 / F[0] == pytest.approx(lin["alpha_1"], rel=3e-7)
    assert F[3] == pytest.approx(1.0, abs=1e-10)
    cs = (1e-4, 1e-3, 0.01, 0.1, 0.25, 0.5, 1.0)
    a2 = [deep_linearisation(c, n_h=32, n_z=32)["alpha_2"] for c in cs]
    assert np.all(np.diff(a2) < 0)
    # c = 0 on rules graded far enough (e from 1e-10, delta from 1e-5): the mass of p(h) is 1 to 2e-6
    F0 = _deep_linear_nodes_kernel(*_h_rule_graded(0.0, 48, 6, 1e-10, 0.5), *_z1_grid_graded(0.0, 48, 6, 1e-5))
    assert F0[3] == pytest.approx(1.0, abs=2e-6)
    a0 = 1.0 / F0[1]
    assert a0 == pytest.approx(0.276555, abs=2e-6)
    # alpha_2(0) - alpha_2(c) ~ 0.042 sqrt(c) + O(c)
    for c, a in zip(cs[:2], a2[:2]):
        assert 0.035 * math.sqrt(c) < a0 - a < 0.06 * math.sqrt(c)
    for bad in (5e-5, 0.0, 11.0):
        with pytest.raises(ValueError, match="skip.*not been measured"):
            deep_linearisation(bad)
    with pytest.raises(ValueError, match="skip.*singular"):
        DeepAttention(skip=5e-5)
    with pytest.raises(ValueError, match="route"):
        deep_subbranch(0.1, 0.5, route="h")


def test_staircase_bracket_from_the_grid():
    """Without a bracket, deep_staircase walks the q grid from a start to the neighbours where the
    growth rate crosses one (here a model growth rate with its root at q0), evaluating each q once:
    the same bracket from every start, in two evaluations from the grid point just below the root
    (where :func:`_stair_start` starts at the skips of its table)."""
    for q0 in (0.42, 0.78, 0.93, 0.9736, 0.9966):
        brackets = set()
        for start in _STAIR_QGRID:
            calls = []

            def evaluate(q):
                calls.append(q)
                return None, q / q0

            cache = {}
            lo, hi = _staircase_bracket(evaluate, cache, start)
            assert lo < q0 <= hi and _STAIR_QGRID.index(hi) == _STAIR_QGRID.index(lo) + 1
            assert len(calls) == len(set(calls)) == len(cache)
            brackets.add((lo, hi))
            if start == lo:
                assert len(calls) == 2
        assert len(brackets) == 1
    for c, q in _STAIR_QSTAR:
        start = _stair_start(c)
        assert start < q <= _STAIR_QGRID[_STAIR_QGRID.index(start) + 1]
    # outside the table: its end points' roots (the walk corrects a wrong start)
    assert _stair_start(1e-5) == _stair_start(1e-4) and _stair_start(10.0) == _stair_start(4.0)
    with pytest.raises(ValueError, match="below one"):
        _staircase_bracket(lambda q: (None, 0.5), {})
    with pytest.raises(ValueError, match="above one"):
        _staircase_bracket(lambda q: (None, 2.0), {})


def _direct_skip_masks(q, b, m, lw, xe, we):
    """Which inner nodes (``+`` and ``-`` signs of ``z_2 = +-b``) the kernel's rule keeps, as its
    docstring states it (:data:`_PRUNE`), evaluated here at every ``eta`` node of the tensor rule
    rather than by the kernel's one maximum per axis: a node is kept where its log weight less the
    reference's (the largest at ``eta = 0``), plus the two log ``eta`` weights less the largest,
    reaches ``-_PRUNE`` at some ``eta`` node."""
    v = 1.0 - q
    kap = math.sqrt(q / v)
    d = np.stack([b - m, -b - m])                        # (sign, node, 2)
    e0 = lw[None, :] - 0.5 * (d ** 2).sum(2) / v
    ref = np.unravel_index(np.argmax(e0), e0.shape)
    u = d - d[ref]
    lwe = np.log(we / we.max())
    tilt = (e0 - e0[ref])[:, :, None, None] + kap * (u[:, :, 0, None, None] * xe[None, None, :, None]
                                                    + u[:, :, 1, None, None] * xe[None, None, None, :])
    tilt += lwe[:, None] + lwe[None, :]
    keep = tilt.max(axis=(2, 3)) >= -_PRUNE
    return keep[0], keep[1]


def _direct_subbranch_point(q, c, z1, z2, n_eta, n_z, skip=False):
    """``(K_1, K_2, K_1^N, K_2^N)`` at one teacher ``(z_1*, z_2*)``, averaged over ``eta`` only, with
    the posterior of ``z_1`` on the full (unfolded) tensor Gauss-Hermite grid, in plain numpy
    (``skip``: without the nodes of :func:`_direct_skip_masks`)."""
    v = 1.0 - q
    Ai, hz, Z1, wz = _z1_grid(c, n_z)
    dz = z1[1] - z1[0]
    s1 = 1.0 / (1.0 + math.exp(-z1[0] * dz))
    s2 = 1.0 / (1.0 + math.exp(z1[1] * dz))
    h = np.array([[1.0 - s1 + c, s1], [s2, 1.0 - s2 + c]]) @ z2
    b = np.stack([Ai[:, 0] * h[0] + Ai[:, 1] * h[1], Ai[:, 2] * h[0] + Ai[:, 3] * h[1]], 1)
    xe, we = _hermite_rule(n_eta)
    keep_p = keep_m = np.ones(wz.size, dtype=bool)
    if skip:
        keep_p, keep_m = _direct_skip_masks(q, b, q * z2, np.log(wz * hz), xe, we)
        # the skip is exercised: at every point of the test it leaves nodes out
        assert (keep_p.sum() + keep_m.sum()) < 0.8 * 2 * wz.size
    out = np.zeros(5)
    for k in range(n_eta):
        for l in range(n_eta):
            omega = q * z2 + math.sqrt(q * v) * np.array([xe[k], xe[l]])
            fp = keep_p * wz * hz * np.exp(-0.5 * ((b - omega) ** 2).sum(1) / v)
            fm = keep_m * wz * hz * np.exp(-0.5 * ((b + omega) ** 2).sum(1) / v)
            P = (fp + fm).sum()
            M = np.einsum("t,ti,tj->ij", fp + fm, Z1, Z1) / P
            G = M - np.eye(2)
            mean = ((fp - fm)[:, None] * b).sum(0) / P
            second = ((fp + fm) * (b ** 2).sum(1)).sum() / P
            # T_l = sum_m E[z_1l z_1m z_2m | y, omega_2]
            T = np.array([((fp - fm) * (Z1[:, l] * (Z1 * b).sum(1))).sum() / P for l in range(2)])
            e = mean - omega
            w = we[k] * we[l]
            out += w * np.array([(G ** 2).sum(), (e ** 2).sum() / v ** 2,
                                 (G * (np.outer(z1, z1) - np.eye(2))).sum(),
                                 (2.0 - (second - mean @ mean) / v) / v,
                                 (e @ (mean - T) + e @ G @ omega / q) / v ** 2])
    return out


def _frozen(a):
    """A read-only copy of ``a``: the kernel's rule arguments are read-only in production (the
    cached rules), and a writable array would make Numba compile a second specialisation of it (9 to
    15 s of the suite, 2026-12-03)."""
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("q, z1, z2, n_eta", [(0.9, (0.7, -1.3), (0.4, 1.1), 6), (0.97, (-2.1, 0.3), (-0.2, 0.05), 6),
                                              (0.3, (1.5, 1.4), (2.0, -0.6), 6), (0.995, (0.2, 1.9), (-1.7, 0.8), 6),
                                              (0.9, (0.7, -1.3), (0.4, 1.1), 5), (0.75, (0.1, 2.6), (-1.2, 0.4), 8)])
def test_teacher_route_kernel_against_a_direct_posterior(q, z1, z2, n_eta):
    """The kernel's reductions are exact: the half grid in ``z_1`` (the posterior is even in
    ``z_1``), the factorisation of the ``eta`` nodes' weights, its own ``exp`` and its skip of the
    nodes of negligible weight (the rule of :data:`_PRUNE`, recomputed here node by node at every
    ``eta`` node) agree with the posterior on the full grid computed directly, for the direct and
    the Nishimori forms and the ``Q_12`` response: to 1e-10 with its sums in double precision, to
    1e-6 with the default single-precision sums (the sums of ``K_12`` cancel most). The skip itself moves them by up to 2.2e-5
    relative at these single points (``K_12`` at ``q = 0.97``; ``_PRUNE = 16`` since 2026-12-02,
    whose node averages over ``z_2*`` move by 1e-6 or less: its comment), and skips nodes at every
    point. An odd number of ``eta`` nodes takes the rule's middle node ``x = 0``."""
    c = 1.0
    z1 = np.array(z1)
    z2 = np.array(z2)
    xe, we = _hermite_rule(n_eta)
    ref = _direct_subbranch_point(q, c, z1, z2, n_eta, 24, skip=True)
    for double, rtol in ((True, 1e-10), (False, 1e-6)):
        F = np.empty((1, 7))
        _deep_subbranch_truth_kernel(q, c, z1[None, :].copy(), _frozen(z2[None, :]), _frozen(np.ones(1)), xe, we,
                                     *_z1_grid_half(c, 24), F, double)
        # (K_1, K_2, K_1^N, K_2^N, K_12): the Nishimori form of K_1 from the node's G and z_1* z_1*^T
        G11, G12, G22 = F[0, 4:]
        N1 = G11 * (z1[0] ** 2 - 1.0) + 2.0 * G12 * z1[0] * z1[1] + G22 * (z1[1] ** 2 - 1.0)
        got = (F[0, 0], F[0, 1], N1, F[0, 2], F[0, 3])
        np.testing.assert_allclose(got, ref, rtol=rtol)
    np.testing.assert_allclose(got, _direct_subbranch_point(q, c, z1, z2, n_eta, 24), rtol=3e-5)


def test_teacher_route_kernel_refuses_an_asymmetric_eta_rule():
    """The kernel takes ``exp(U x)`` and ``exp(-U x)`` from one polynomial, the second for the
    ``eta`` node ``-x`` (:func:`equations.sequence._exp_pm`): a rule not symmetric about 0 is
    refused, not silently mis-weighted."""
    xe, we = _hermite_rule(4)
    F = np.empty((1, 7))
    z = np.array([[0.3, -0.2]])
    with pytest.raises(ValueError, match="symmetric"):
        _deep_subbranch_truth_kernel(0.5, 1.0, z, _frozen(z), _frozen(np.ones(1)), _frozen(xe + 0.1), we,
                                     *_z1_grid_half(1.0, 8), F)


@pytest.mark.parametrize("ne", [3, 6, 7, 8])
@pytest.mark.parametrize("n", [0, 1, 5, 203, 1500])
def test_tilted_sums_against_einsum(ne, n):
    """The kernel's posterior sums at every ``eta`` node (the mass, then the eight quantities
    averaged), single-precision products summed in blocks (1500 nodes: three blocks and a part),
    are the triple products computed by ``einsum`` in double precision over the first ``n`` columns
    only, to the rounding of single precision."""
    rng = np.random.default_rng(ne * 1000 + n)
    W = rng.random((2 * ne, n + 7)).astype(np.float32)
    G = rng.standard_normal((8, n + 7)).astype(np.float32)
    acc = np.full((9, ne * ne), np.nan)
    _tilted_sums(W, G, n, ne, acc)
    G1 = np.vstack([np.ones((1, n + 7)), G.astype(float)])
    ref = np.einsum("ji,ki,li->jkl", G1[:, :n], W[:ne, :n].astype(float), W[ne:, :n].astype(float)).reshape(9, ne * ne)
    # a sum of n terms of either sign: its rounding is relative to the sum of their sizes
    scale = np.einsum("ji,ki,li->jkl", np.abs(G1[:, :n]), W[:ne, :n].astype(float), W[ne:, :n].astype(float))
    assert np.all(np.abs(acc - ref) <= 3e-7 * scale.reshape(9, ne * ne) + 1e-300)


def _node_K2N(c, q, z1, level, n_gl=6, per_panel=_STAIR_PER_PANEL, n_z=64):
    """``K_2^N`` (and ``|g_2|^2``) of the teacher route at one teacher ``z_1*``, averaged over its
    ``z_2*`` rule at grading ``level`` and 8 ``eta`` nodes per axis."""
    xe, we = _hermite_rule(8)
    Z2, w2 = _teacher_z2_graded(n_gl, _Z2_H0, level)
    F = np.empty((1, 7))
    _deep_subbranch_truth_kernel(q, c, np.array([z1]), Z2, w2, xe, we, *_inner_grid(c, n_z, per_panel), F)
    return F[0, 2], F[0, 1]


@pytest.mark.slow
def test_small_skip_rules_at_single_teacher_nodes():
    """At ``c = 1e-4`` the node averages of the teacher route are converged where the outer rule
    samples them. The rule in ``z_2*``: a feature at ``D ~ c / g*`` (``g* = 1 - s_1* - s_2*``),
    which the plain first panel (0.2) misses by 1e-3 at ``g* = 0.03`` and which the level of
    :func:`_z2_levels` resolves (against four more halvings and 8 nodes per panel). The inner
    rule in ``z_1``: the default nodes per panel in ``delta`` against 16 per panel; the former 4
    per panel were 1e-3 off, node to node of either sign."""
    c, q = 1e-4, 0.753
    g = 0.03
    z1 = (-math.sqrt(math.atanh(g)), math.sqrt(math.atanh(g)))
    level = int(_z2_levels(c, np.array([z1]))[0])
    assert level >= 5 and _z2_levels(1.0, np.array([z1]))[0] == 0
    # far out (sinh and cosh overflow) the level is that of g* -> 1, not garbage
    assert list(_z2_levels(c, np.array([[-30.0, 30.0], [-4.0, 4.0]]))) == [10, 10]
    got = _node_K2N(c, q, z1, level)
    ref = _node_K2N(c, q, z1, level + 4, n_gl=8)
    plain = _node_K2N(c, q, z1, 0)
    # (the 8 nodes per panel of the reference move the wide panels too: 7e-6 of it)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    assert abs(plain[0] / ref[0] - 1.0) > 5e-4
    fine = _node_K2N(c, q, z1, level, per_panel=4)         # 16 nodes per panel in delta
    coarse = _node_K2N(c, q, z1, level, per_panel=16)      # 4 per panel (the former default)
    np.testing.assert_allclose(got, fine, rtol=1.5e-4)
    assert abs(coarse[0] / fine[0] - 1.0) > 3e-4


def test_light_z2_rule_of_small_skips_at_single_teacher_nodes():
    """At small skips the fine rule in ``z_2*`` of ``deep_staircase`` is lighter
    (:data:`equations.sequence._STAIR_LIGHT_Z2`: the ``mu`` axis in panels of width 1 from 0 below
    ``c = 0.01``, 5 nodes per panel below ``2e-3``). At ``c = 1e-3`` its node averages at teacher
    nodes of grading levels 0, 4 and 7 stay within 3.1e-4 (``K_2^N``) and 8e-5 (``G``) of a refined
    rule (10 nodes per panel, ``mu`` from 0.1, one more level), where a ``mu`` axis in panels of
    width 2 is 2.6e-3 off (``alpha_1`` moved by +5e-6 at ``c = 1e-3``; -3.1e-4 at ``c = 1e-4`` with
    panels of width 2)."""
    from equations._softmax_rule import softmax_rule
    c, q = 1e-3, 0.76
    Zs, _ = softmax_rule(c, 12)
    levels = _z2_levels(c, Zs)
    xe, we = _hermite_rule(6)
    inner = _inner_grid(c, 32, _STAIR_PER_PANEL)

    def node(i, n_gl, mu_h0, more=0):
        Z2, w2 = _teacher_z2_graded(n_gl, _Z2_H0, int(levels[i]) + more, mu_h0)
        F = np.empty((1, 7))
        _deep_subbranch_truth_kernel(q, c, np.ascontiguousarray(Zs[i:i + 1]), Z2, w2, xe, we, *inner, F)
        return F[0]

    wide = []
    for level in (0, 4, 7):
        i = int(np.flatnonzero(levels == level)[0])
        ref = node(i, 10, 0.1, more=1)
        light = node(i, 5, 1.0)
        assert abs(light[2] / ref[2] - 1.0) < 6e-4
        assert np.abs(light[4:] - ref[4:]).max() < 2e-4
        wide.append(abs(node(i, 6, 2.0)[2] / ref[2] - 1.0))
    assert max(wide) > 1e-3
    for bad in (0.0, 2.0, "1"):
        with pytest.raises(ValueError, match="mu_h0"):
            deep_staircase(1e-3, mu_h0=bad)


def test_vectorised_exp_against_numpy():
    """The teacher-route kernel's own ``exp`` (one polynomial the compiler vectorises, for both
    signs) is within 1e-10 relative of numpy's over the whole range it is used on, clamps outside
    it and leaves ``out[n:]`` alone."""
    rng = np.random.default_rng(3)
    u = np.concatenate([rng.uniform(-300.0, 300.0, 20000), rng.uniform(-1.0, 1.0, 5000),
                        np.arange(-300, 300) * math.log(2.0) / 2.3, [0.0, 1e-300, -1e-300]])
    n = u.size
    outp, outm, kf = np.full(n + 3, 7.0), np.full(n + 3, 7.0), np.empty(n)
    bp, bm = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    _exp_pm(u, 2.3, n, outp, outm, kf, bp, bm)
    np.testing.assert_allclose(outp[:n], np.exp(2.3 * u), rtol=1e-10, atol=0.0)
    np.testing.assert_allclose(outm[:n], np.exp(-2.3 * u), rtol=1e-10, atol=0.0)
    assert np.all(outp[n:] == 7.0) and np.all(outm[n:] == 7.0)
    z = np.array([-800.0, 800.0, 1.0])
    o1, o2 = np.empty(3), np.empty(3)
    _exp_pm(z, 1.0, 3, o1, o2, np.empty(3), np.empty(3, dtype=np.int64), np.empty(3, dtype=np.int64))
    np.testing.assert_allclose(o1, [math.exp(-700.0), math.exp(700.0), math.e], rtol=1e-10)
    np.testing.assert_allclose(o2, [math.exp(700.0), math.exp(-700.0), 1.0 / math.e], rtol=1e-10)


def test_teacher_route_limits_and_the_h_route():
    """Near ``q = 0`` the teacher route reproduces the linearisation (``alpha_q -> alpha_2``, ``K_1
    -> F_11``); its direct and Nishimori forms agree where both are well conditioned."""
    lin = deep_linearisation(1.0)
    r = deep_subbranch(1.0, 1e-6, route="truth", n_teacher=8, n_gl=4, n_eta=4, n_z=32)
    assert r["alpha_q"] == pytest.approx(lin["alpha_2"], rel=3e-3)
    assert r["K1"] == pytest.approx(lin["F11"], rel=5e-3)
    assert r["K1_nishimori"] == pytest.approx(lin["F11"], rel=5e-3)
    with pytest.raises(ValueError, match="route"):
        deep_subbranch(1.0, 0.5, route="teacher")
    with pytest.raises(ValueError, match="n_gl"):
        deep_subbranch(1.0, 0.5, route="truth", n_gl=2)
    with pytest.raises(ValueError, match="bracket"):
        deep_staircase(1.0, bracket=(0.99, 0.95))


@pytest.mark.slow
def test_teacher_route_against_the_h_route_and_the_staircase():
    """At ``q = 0.5`` the teacher route (8 ``eta`` nodes per axis) agrees with the full state
    evolution by quasi-Monte Carlo (:func:`deep_state_evolution`, an independent integrator; the
    former 4 ``eta`` nodes were 0.7% high, beyond the 0.35% allowed, and so was route ``h``); the
    sub-branch near its end agrees with the authors' Monte-Carlo state evolution (SPOC-group/
    SequenceIndexModels, data/BO_2w.csv: ``Q_22 = 0.9641`` at ``alpha = 0.7``; they add ``1e-3``
    to ``V = 1 - q``, which moves ``alpha_q`` by about 3% there); the staircase threshold of the
    first layer at ``c = 1`` with coarse rules is reproduced by the direct forms (Nishimori) and
    lies between ``alpha_2`` and the authors' 0.7936 (``data/alpha_critical.csv``)."""
    tr = deep_subbranch(1.0, 0.5, route="truth", n_teacher=8, n_gl=4, n_eta=8, n_z=32, workers=2)
    qmc = deep_state_evolution(1.0, np.diag([0.0, 0.5]), log2_points=15, n_z=24)
    # (the quasi-Monte Carlo scatters by 0.17% over seeds at 2^14 points, about 0.1% at 2^15)
    assert qmc["A"][1, 1] == pytest.approx(tr["K2"], rel=3.5e-3)
    assert tr["K2_nishimori"] == pytest.approx(tr["K2"], rel=1e-3)
    h = deep_subbranch(1.0, 0.5, route="h", n_h=24, n_z=32)
    assert tr["K1"] == pytest.approx(h["K1"], rel=1e-2)
    end = deep_subbranch(1.0, 0.9641, route="truth", n_teacher=8, n_gl=4, n_eta=4, n_z=32)
    assert end["alpha_q"] == pytest.approx(0.7, rel=0.05)
    st = deep_staircase(1.0, bracket=(0.96, 0.98), n_teacher=8, n_gl=4, n_eta=4, n_z=32, xtol=1e-4)
    # coarse rules against the default rules' 0.71965 +- 3e-5 (module docstring)
    assert st["alpha_1"] == pytest.approx(0.71965, rel=1e-2)
    assert 0.96 < st["q"] < 0.98
    assert st["alpha_1_direct"] == pytest.approx(st["alpha_1"], rel=2e-2)
    assert st["growth_direct"] == pytest.approx(1.0, rel=2e-2)
    assert 0.185478 < st["alpha_1"] < 0.7936


@pytest.mark.slow
def test_deep_attention_registered_target():
    """``target="deep_attention"``: the packed 2 x 2 overlap, its layer thresholds through the model,
    the exact Jacobian at ``Q = 0`` against the quasi-Monte Carlo map's own slope, and the map's
    fixed point on the sub-branch against the teacher route of ``deep_subbranch`` (an independent
    integrator: ``q = 0.5`` at ``alpha = 0.40464``, ``c = 1``)."""
    m = equations.get("sequence_multi_index", target="deep_attention", skip=1.0, alpha=0.40464, log2_points=12)
    assert m.state_names == ("Q[0,0]", "Q[0,1]", "Q[1,1]")
    assert layer_thresholds(m, staircase=False) == layer_thresholds(DeepAttention(skip=1.0), staircase=False)
    # the engine's weak-learnability threshold on the registered model: the exact Jacobian at Q = 0,
    # alpha_2 and the second layer's block
    th = fp.threshold(m, "alpha", (0.1, 0.3), kind="stability")
    assert th.converged and th.value == pytest.approx(layer_thresholds(m, staircase=False)[2], rel=1e-9)
    assert int(np.argmax(np.abs(th.direction))) == 2
    # the linearisation: F(Q) ~ alpha diag(F11, F12, F22) Q entrywise, on a small PSD Q
    h = 1e-4
    x = np.array([h, 0.5 * h, h])
    J = m.jacobian(np.zeros(3))
    np.testing.assert_allclose(m.update(x) / x, np.diag(J), rtol=0.01)
    assert m.jacobian(x) is None
    # the sub-branch: Q_11 stays at its start's order, Q_22 = q*(alpha). Started on the sub-branch
    # near its fixed point (14 map evaluations, 20 s; the uninformed start reaches the same point,
    # to all digits, in 26 iterations and twice the time)
    sol = fp.solve(m, start=np.array([1e-6, 0.0, 0.45]))
    assert sol.converged, sol.message
    assert sol["Q"][0, 0] < 1e-5 and abs(sol["Q"][0, 1]) < 1e-5
    assert sol["Q"][1, 1] == pytest.approx(0.5, rel=5e-3)
    obs = m.observables(sol.x)
    assert obs["overlap_2"] == sol.x[2] and obs["mse"] == pytest.approx(1 - 0.5 * (sol.x[0] + sol.x[2]))
    # stationarity of the free entropy along Q_22 at the fixed point, to the map's accuracy: its
    # derivative against the size of one of its terms (alpha dPsi_out/dQ_22 = alpha A_22 / 2)
    e = np.array([0.0, 0.0, 1e-3])
    slope = (m.free_entropy(sol.x + e) - m.free_entropy(sol.x - e)) / 2e-3
    q_hat_22 = 0.5 / (1 - 0.5)
    assert abs(slope) < 0.02 * 0.5 * q_hat_22
    # the state is kept away from perfect recovery, where the inner rule is not measured
    assert "perfect recovery" in m.domain_violation(np.array([0.995, 0.0, 0.5]))
    assert np.all(np.isnan(m.update(np.array([0.995, 0.0, 0.5]))))


def _q12_posterior(c, q, kappa, delta, zs, xi, grid):
    """``Q_hat_12 / alpha = sum_l g_1l g_2l`` at one teacher ``zs`` (``[layer, token]``) and noise
    ``xi`` of ``omega`` for the full ``2 x 2`` overlap ``Q = [[kappa delta^2, delta], [delta, q]]``
    (``omega_l = Q z*_l + (Q - Q^2)^{1/2} xi_l``, ``z_l | omega ~ N(omega_l, I - Q)`` coupled across
    the layers), the posterior of ``z_1`` on a uniform grid, in plain numpy; also returns ``omega``
    and the posterior's moments at ``delta = 0`` for the linear-response formula."""
    z11, z12, Ai, lhz = grid
    Q = np.array([[kappa * delta * delta, delta], [delta, q]])
    ev, U = np.linalg.eigh(Q - Q @ Q)
    om = Q @ zs + (U * np.sqrt(np.maximum(ev, 0.0))) @ U.T @ xi
    Vi = np.linalg.inv(np.eye(2) - Q)
    d = zs[0, 1] - zs[0, 0]
    t1, t2 = 1.0 / (1.0 + math.exp(-zs[0, 0] * d)), 1.0 / (1.0 + math.exp(zs[0, 1] * d))
    h = np.array([[1.0 - t1 + c, t1], [t2, 1.0 - t2 + c]]) @ zs[1]
    b = np.stack([Ai[:, 0] * h[0] + Ai[:, 1] * h[1], Ai[:, 2] * h[0] + Ai[:, 3] * h[1]], 1)
    logw, Zs = [], []
    for sg in (1.0, -1.0):
        Z = [np.stack([(z11, z12)[l], sg * b[:, l]], 1) for l in range(2)]    # (z_1l, z_2l)
        r = [Z[l] - om[:, l] for l in range(2)]
        logw.append(lhz - 0.5 * sum(np.einsum("ti,ij,tj->t", x, Vi, x) for x in r))
        Zs.append(Z)
    m = max(lw.max() for lw in logw)
    wp, wm = (np.exp(lw - m) for lw in logw)
    P = wp.sum() + wm.sum()
    Ez = [(wp @ Zs[0][l] + wm @ Zs[1][l]) / P for l in range(2)]
    g = [Vi @ (Ez[l] - om[:, l]) for l in range(2)]
    # moments at delta = 0 (z_1 independent of omega_1 = 0 there): G, E z_2, T
    w = wp + wm
    G = np.array([[(w * z11 * z11).sum(), (w * z11 * z12).sum()], [0.0, (w * z12 * z12).sum()]]) / P
    G[1, 0] = G[0, 1]
    G -= np.eye(2)
    z2p = (wp - wm)[:, None] * b
    T = np.array([((z2p[:, 0] * z11 + z2p[:, 1] * z12) * (z11, z12)[l]).sum() / P for l in range(2)])
    Ez2 = z2p.sum(0) / P
    return g[0][0] * g[0][1] + g[1][0] * g[1][1], om, G, Ez2, T


def test_q12_response_against_the_map_with_coupled_layers():
    """The ``Q_12`` direction on the sub-branch (module docstring): the linear-response formula
    ``dQ_hat_12 / dQ_12 = (alpha / v^2) E[e.(E z_2 - T) + e.G omega_2 / q]`` against central
    differences of the map itself in ``Q_12 = +-delta`` (``Q_11 = kappa delta^2``, so that ``Q``
    is a covariance), per teacher sample with the pathwise ``d omega_1 / d delta`` (exact but for
    ``O(delta^2)``), and on average with ``E[d omega_1 / d delta | y, omega_2] = omega_2 / q`` (the
    kernel's form) against the kernel (Monte-Carlo error bars); ``kappa`` does not enter."""
    c, q, v, delta = 1.0, 0.6, 0.4, 1e-5
    x = np.arange(-6.5, 6.5 + 1e-9, 0.1)
    X1, X2 = np.meshgrid(x, x, indexing="ij")
    z11, z12 = X1.ravel(), X2.ravel()
    dz = z12 - z11
    s1, s2 = 1.0 / (1.0 + np.exp(-z11 * dz)), 1.0 / (1.0 + np.exp(z12 * dz))
    det = (1.0 - s1 + c) * (1.0 - s2 + c) - s1 * s2
    grid = (z11, z12, np.stack([1.0 - s2 + c, -s1, -s2, 1.0 - s1 + c], 1) / det[:, None], -np.log(det))
    rng = np.random.default_rng(5)
    fd, path, cond = [], [], []
    for _ in range(32):
        zs, xi = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
        for kappa in (2.0 / q, 6.0 / q):
            # (Q - Q^2)^{1/2} has a part even in delta (|delta| sqrt(kappa - 1/q - ...) on omega_1):
            # the central difference is D0 + O(|delta|), Richardson over delta and delta / 2 removes it
            D = []
            for dl in (delta, 0.5 * delta):
                up, om_up, *_ = _q12_posterior(c, q, kappa, dl, zs, xi, grid)
                dn, om_dn, *_ = _q12_posterior(c, q, kappa, -dl, zs, xi, grid)
                D.append((up - dn) / (2.0 * dl))
            _, om, G, Ez2, T = _q12_posterior(c, q, kappa, 0.0, zs, xi, grid)
            e = Ez2 - om[1]
            # pathwise d omega_1 / d delta (odd part): omega_1 = delta (z_2* + sqrt(v / q) xi_2) + even
            nu = zs[1] + math.sqrt(v / q) * xi[1]
            np.testing.assert_allclose((om_up[0] - om_dn[0]) / delta, nu, atol=1e-4)
            fd.append(2.0 * D[1] - D[0])
            path.append((e @ (Ez2 - T + G @ om[1]) + v * e @ G @ nu) / v ** 2)
            cond.append((e @ (Ez2 - T) + e @ G @ om[1] / q) / v ** 2)
    fd, path, cond = map(np.array, (fd, path, cond))
    np.testing.assert_allclose(path, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())
    ker = deep_subbranch(c, q, route="truth", n_teacher=8, n_gl=4, n_eta=4, n_z=32)["K12"]
    for est in (fd, cond):
        assert abs(est.mean() - ker) < 4.0 * est.std() / math.sqrt(est.size) + 0.01


def test_q12_direction_at_zero_and_along_the_branch():
    """Near ``q = 0`` the ``Q_12`` response is ``F_12 = E tr(G_11 G_22)`` of the linearisation (its
    own integrator, the outer average over ``h``); along the branch its rate ``lambda_12 = alpha v
    K_12`` stays far below one (it is ``alpha F_12`` at zero): the ``Q_11`` direction loses
    stability first."""
    lin = deep_linearisation(1.0)
    r = deep_subbranch(1.0, 1e-4, route="truth", n_teacher=8, n_gl=4, n_eta=4, n_z=32)
    assert r["K12"] == pytest.approx(lin["F12"], rel=5e-3)
    assert r["lambda_12"] == pytest.approx(r["alpha_q"] * (1 - 1e-4) * r["K12"], rel=1e-3)
    for q in (0.5, 0.97):
        r = deep_subbranch(1.0, q, route="truth", n_teacher=8, n_gl=3, n_eta=3, n_z=24)
        assert 0.0 < r["lambda_12"] < 0.1
    # near the staircase root the growth rate of Q_11 is close to one, that of Q_12 tiny
    assert r["growth_1"] > 0.8 and r["lambda_12"] < 0.05


@pytest.mark.slow
def test_staircase_newton_step_and_threads():
    """The coarse root search plus one Newton step of the fine rules reproduces Brent's method on the
    fine rules; splitting the outer nodes over threads changes nothing but rounding."""
    fine = dict(n_teacher=6, n_gl=3, n_eta=3, n_z=16)
    ref = deep_staircase(1.0, bracket=(0.95, 0.99), coarse=None, workers=1, xtol=1e-7, **fine)
    new = deep_staircase(1.0, bracket=(0.95, 0.99), coarse=(6, 3, 3, 12), workers=2, **fine)
    # these coarse rules are off the fine ones by a step of 2.4e-4 in q (the Newton step has work to do)
    assert new["q_eval"] - ref["q"] < -2e-4
    assert new["alpha_1"] == pytest.approx(ref["alpha_1"], abs=3e-4)
    two = deep_staircase(1.0, bracket=(0.95, 0.99), coarse=(6, 3, 3, 12), refine=True, workers=2, **fine)
    assert abs(two["newton_step"]) < 1e-4
    assert two["alpha_1"] == pytest.approx(ref["alpha_1"], abs=1e-5)
    assert two["q"] == pytest.approx(ref["q"], abs=2e-6)
    # layer_thresholds: the staircase threshold as the first layer's, by default
    thr = layer_thresholds(DeepAttention(skip=1.0), bracket=(0.95, 0.99), coarse=(6, 3, 3, 12), **fine)
    assert thr == {1: new["alpha_1"], 2: deep_linearisation(1.0)["alpha_2"]}
    with pytest.raises(ValueError, match="staircase"):
        layer_thresholds(DeepAttention(skip=1.0), staircase=False, n_z=16)
    with pytest.raises(ValueError, match="deep_attention"):
        layer_thresholds(_model(target="attention"), staircase=True)
    one = deep_subbranch(1.0, 0.97, route="truth", workers=1, **fine)
    two = deep_subbranch(1.0, 0.97, route="truth", workers=3, **fine)
    for k in one:
        assert two[k] == pytest.approx(one[k], rel=1e-12)
    with pytest.raises(ValueError, match="workers"):
        deep_staircase(1.0, workers=0)
    with pytest.raises(ValueError, match="coarse"):
        deep_staircase(1.0, coarse=(8, 3, 3))
    # the outer rule in softmax coordinates: any n_teacher from 3 to 64, odd ones too
    with pytest.raises(ValueError, match="n_teacher"):
        deep_staircase(1.0, n_teacher=100)
    with pytest.raises(ValueError, match="n_teacher"):
        deep_subbranch(1.0, 0.5, n_teacher=65)
    odd = deep_subbranch(1.0, 0.97, route="truth", **{**fine, "n_teacher": 7})
    assert odd["growth_1"] == pytest.approx(one["growth_1"], rel=5e-2)  # 6 and 7 nodes: 2% apart
    # n_teacher as a pair (n_zeta, n_a): (6, 6) is 6; each entry is checked
    pair = deep_staircase(1.0, bracket=(0.95, 0.99), coarse=(6, 3, 3, 12), workers=2, **{**fine, "n_teacher": (6, 6)})
    assert pair == new
    for bad in ((6, 65), (6,), (6, 2), (6, 6.0)):
        with pytest.raises(ValueError, match="n_teacher"):
            deep_staircase(1.0, n_teacher=bad)


@pytest.mark.exhaustive
@pytest.mark.parametrize("c, finer, tol", [(0.25, 20, 1e-5), (0.01, 24, 3e-5)])
def test_staircase_default_outer_rule_against_a_finer_one(c, finer, tol):
    """The default fine outer rule of ``deep_staircase`` below ``c = 0.5`` (:data:`equations.sequence._STAIR_OUTER`):
    ``(12, 16)`` nodes in ``(zeta, a)`` at ``c = 0.25`` against 20 per coordinate (measured: 3.5e-6;
    about 30 s and 70 s on two cores), 16 per coordinate at ``c = 0.01`` against 24 (measured:
    1.4e-5, where 20 are 1.7e-5 off; 56 s and 120 s): within the stated ``+-3e-5``, and at ``c =
    0.25`` within a third of it."""
    assert deep_staircase(c)["alpha_1"] == pytest.approx(deep_staircase(c, n_teacher=finer)["alpha_1"], abs=tol)


def test_full_state_evolution_by_quasi_monte_carlo():
    """:func:`deep_state_evolution` off the invariant subspace: the subspace ``Q_11 = Q_12 = 0`` is
    kept exactly by the direct form; the direct and Nishimori forms agree within the outer rule's
    error; and ``d Psi_out / dQ = A / 2`` (the output half of the free entropy's stationarity),
    central differences on the same points (so the sampling error is common to both sides)."""
    sub = deep_state_evolution(1.0, np.diag([0.0, 0.5]), log2_points=10, n_z=16)
    assert abs(sub["A"][0, 0]) < 1e-20 and abs(sub["A"][0, 1]) < 1e-15
    Q = np.array([[0.3, 0.1], [0.1, 0.8]])
    kw = dict(log2_points=13, n_z=16)
    r = deep_state_evolution(1.0, Q, **kw)
    np.testing.assert_allclose(r["A_nishimori"], r["A"], rtol=3e-2)
    h = 1e-3
    for (i, j), tol in (((0, 0), 2e-2), ((0, 1), 2e-2), ((1, 1), 5e-3)):
        E = np.zeros((2, 2))
        E[i, j] = E[j, i] = 1.0
        d = (deep_state_evolution(1.0, Q + h * E, **kw)["psi_out"]
             - deep_state_evolution(1.0, Q - h * E, **kw)["psi_out"]) / (2 * h)
        assert d == pytest.approx(0.5 * np.sum(r["A"] * E), rel=tol), (i, j)
    for bad, word in ((dict(skip=0.1), "skip"), (dict(Q=np.eye(2)), "Q must satisfy"), (dict(log2_points=30), "log2"),
                      (dict(n_z=4), "n_z"), (dict(Q=[[0.1, 0.2], [0.3, 0.1]]), "symmetric")):
        args = {"skip": 1.0, "Q": Q, **bad}
        with pytest.raises(ValueError, match=word):
            deep_state_evolution(args.pop("skip"), args.pop("Q"), **args)
