"""Multi-dimensional Gaussian expectations against closed forms, mpmath and scipy's Genz algorithm."""

import itertools
import math

import numpy as np
import pytest

from fixedpoint import gaussian as G
from fixedpoint.quadrature import mp_expect2


def _gaussian_moment(alpha):
    """E prod z_k^a_k for z ~ N(0, I): prod (a_k - 1)!! for even a_k, 0 otherwise."""
    return math.prod(0.0 if a % 2 else float(math.prod(range(a - 1, 0, -2))) for a in alpha)


@pytest.mark.parametrize("p, level", [(2, 4), (3, 3), (4, 4)])
def test_sparse_rule_is_exact_for_total_degree_2_level_plus_1(p, level):
    z, w = G.sparse_rule(p, level)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    for alpha in itertools.product(range(2 * level + 2), repeat=p):
        if sum(alpha) <= 2 * level + 1:
            value = float(np.dot(w, np.prod(z ** np.array(alpha), axis=1)))
            assert value == pytest.approx(_gaussian_moment(alpha), rel=1e-12, abs=1e-12)
    # and a rule, not the integral: the largest 1-D factor has 2 level + 1 points, so z_1^(4 level + 2)
    # is the first power of one variable it misses
    power = 4 * level + 2
    assert abs(float(np.dot(w, z[:, 0] ** power)) - _gaussian_moment((power,))) > 1e-3 * _gaussian_moment((power,))


@pytest.mark.parametrize("p, n", [(1, 5), (2, 6), (3, 4)])
def test_tensor_rule_is_exact_per_axis(p, n):
    z, w = G.tensor_rule(p, n)
    assert z.shape == (n ** p, p) and w.sum() == pytest.approx(1.0, abs=1e-14)
    for alpha in itertools.product(range(2 * n), repeat=p):
        terms = w * np.prod(z ** np.array(alpha), axis=1)
        # (odd moments vanish by cancellation of terms as large as sum |terms|)
        assert float(terms.sum()) == pytest.approx(_gaussian_moment(alpha), rel=1e-12,
                                                   abs=1e-13 * float(np.abs(terms).sum()))


@pytest.mark.parametrize("p, kw", [(2, {}), (3, {}), (4, {}), (5, dict(level=7))])
def test_correlated_and_singular_covariances(p, kw):
    rng = np.random.default_rng(p)
    B = rng.normal(size=(p, p - 1))  # rank p - 1: singular, as a rank-deficient overlap matrix
    cov = 0.3 * B @ B.T
    mean = rng.normal(size=p) * 0.3
    a = rng.normal(size=p) * 0.5
    # E exp(a.x) = exp(a.mean + a^T cov a / 2)
    exact = math.exp(a @ mean + 0.5 * a @ cov @ a)
    assert G.expect_nd(lambda x: np.exp(x @ a), mean, cov, **kw) == pytest.approx(exact, rel=1e-11)


@pytest.mark.slow
def test_against_mpmath_for_a_non_polynomial_integrand():
    cov = [[1.0, 0.6], [0.6, 0.8]]
    import mpmath as mp

    ref = float(mp_expect2(lambda x, y: mp.log(1 + mp.exp(x - y)) * mp.cos(x + y / 2), cov, dps=15))
    got = G.expect_nd(lambda v: np.log1p(np.exp(v[:, 0] - v[:, 1])) * np.cos(v[:, 0] + 0.5 * v[:, 1]),
                      [0.0, 0.0], cov, n=60)
    assert got == pytest.approx(ref, abs=1e-12)


def test_correlated_nodes_kernel():
    z, _ = G.tensor_rule(3, 3)
    L = G.factor(np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]]))
    mean = np.array([0.1, -0.2, 0.3])
    out = np.empty_like(z)
    G.correlated_nodes(z, mean, L, out)
    np.testing.assert_allclose(out, mean + z @ L.T, rtol=1e-15, atol=1e-15)


def test_factor_allows_singular_and_refuses_the_rest():
    L = G.factor([[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(L @ L.T, [[1.0, 1.0], [1.0, 1.0]], atol=1e-15)
    with pytest.raises(ValueError, match="positive semi-definite"):
        G.factor([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="symmetric"):
        G.factor([[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="level"):
        G.sparse_rule(3, -1)
    with pytest.raises(ValueError, match="sparse_rule"):
        G.tensor_rule(8, 20)


@pytest.mark.parametrize("cov", [
    [[1.0, 0.3], [0.3, 2.0]],
    [[1.0, -0.7], [-0.7, 1.0]],
    [[1.0, 0.2, -0.3], [0.2, 1.5, 0.4], [-0.3, 0.4, 0.8]],
])
def test_orthant_probabilities_against_genz(cov):
    from scipy.stats import multivariate_normal

    cov = np.array(cov)
    # P(x > 0) = P(-x < 0) = CDF of N(0, cov) at 0 (the distribution is symmetric)
    ref = multivariate_normal(mean=np.zeros(len(cov)), cov=cov, abseps=1e-10, releps=1e-10).cdf(np.zeros(len(cov)))
    assert G.orthant_probability(cov) == pytest.approx(ref, abs=1e-7)


@pytest.mark.parametrize("h", [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0])
def test_owens_t_against_mpmath(h):
    import mpmath as mp

    nodes, weights = G.legendre_rule()
    with mp.workdps(30):
        for a in (0.01, 0.3, 0.999, 1.0, 1.5, 3.0, 10.0, 100.0, -0.7, -4.0):
            hh, aa = mp.mpf(h), mp.mpf(abs(a))
            # split where the integrand changes scale (width 1/h near 0)
            cuts = [c for c in (1 / max(hh, 1) / 4, 1 / max(hh, 1), 3 / max(hh, 1)) if c < aa]
            ref = mp.quad(lambda x: mp.exp(-hh * hh * (1 + x * x) / 2) / (1 + x * x), [0, *cuts, aa]) / (2 * mp.pi)
            ref = float(ref) * (1 if a > 0 else -1)
            assert G.owens_t(h, a, nodes, weights) == pytest.approx(ref, rel=1e-12, abs=1e-300)
            assert G.owens_t(-h, a, nodes, weights) == G.owens_t(h, a, nodes, weights)


@pytest.mark.parametrize("lower, upper, mean, cov", [
    ((-np.inf, 0.0), (0.0, np.inf), (0.3, -0.2), [[1.0, 0.5], [0.5, 2.0]]),
    ((0.0, 0.0), (np.inf, np.inf), (0.1, 0.1), [[1.0, -0.9], [-0.9, 1.0]]),
    ((0.0, 0.0), (np.inf, np.inf), (0.0, 0.0), [[1.0, 0.3], [0.3, 1.0]]),
    ((-1.0, -2.0), (1.5, 0.5), (0.0, 0.0), [[2.0, 0.3], [0.3, 0.5]]),
    ((2.0, -np.inf), (np.inf, -1.0), (-0.5, 0.4), [[0.7, 0.6], [0.6, 0.9]]),
])
def test_rectangle_probabilities_against_genz(lower, upper, mean, cov):
    from scipy.stats import multivariate_normal

    ref = multivariate_normal(mean=mean, cov=cov, abseps=1e-13, releps=1e-13).cdf(upper, lower_limit=lower)
    assert G.rectangle_probability(lower, upper, mean, cov) == pytest.approx(ref, abs=1e-12)


def test_the_four_quadrants_of_a_sign_committee_sum_to_one():
    mean, cov = (0.4, -0.3), [[1.2, 0.7], [0.7, 0.9]]
    quadrants = [G.rectangle_probability(lo, hi, mean, cov)
                 for lo, hi in (((0, 0), (np.inf, np.inf)), ((-np.inf, 0), (0, np.inf)),
                                ((0, -np.inf), (np.inf, 0)), ((-np.inf, -np.inf), (0, 0)))]
    assert sum(quadrants) == pytest.approx(1.0, abs=1e-14)
    assert quadrants[0] == pytest.approx(G.expect_nd(lambda x: (x[:, 0] > 0) & (x[:, 1] > 0), mean, cov, n=200),
                                         abs=5e-3)  # quadrature across the kink: slow, only roughly right
