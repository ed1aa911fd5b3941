"""Gauss-Hermite rules and the stable scalar kernels, against exact moments and mpmath."""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixedpoint import quadrature as q


def _normal_moment(k):
    return 0 if k % 2 else math.prod(range(k - 1, 0, -2))  # (k-1)!!


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), coeffs=st.lists(st.floats(-3, 3), min_size=1, max_size=80))
def test_exact_for_polynomials_up_to_degree_2n_minus_1(n, coeffs):
    coeffs = coeffs[: 2 * n]  # degree <= 2n - 1
    z, w = q.gauss_hermite(n)
    got = float(np.dot(w, np.polynomial.polynomial.polyval(z, coeffs)))
    exact = sum(c * _normal_moment(k) for k, c in enumerate(coeffs))
    scale = sum(abs(c) * _normal_moment(k) for k, c in enumerate(coeffs)) + 1
    # rounding: up to 80 terms of Horner's rule on nodes up to |z| ~ 11, each off by a few eps
    # relative to the scale (hypothesis found 1.2e-12 at degree 79)
    assert abs(got - exact) <= 1e-11 * scale


def test_not_exact_beyond_degree_2n_minus_1():
    z, w = q.gauss_hermite(3)
    assert abs(np.dot(w, z ** 6) - 15) > 1  # degree 2n: the rule is off


def test_rule_is_cached_read_only_and_normalised():
    z, w = q.gauss_hermite(50)
    assert q.gauss_hermite(50)[0] is z
    assert abs(w.sum() - 1) < 1e-15 and np.all(w > 0)
    with pytest.raises(ValueError):
        w[0] = 1.0


@pytest.mark.parametrize("n", [0, -3, 401, 2.5, True])
def test_bad_orders_raise(n):
    with pytest.raises(ValueError, match="n"):
        q.gauss_hermite(n)


def test_expect_helpers_against_closed_forms():
    # E exp(a X) = exp(a mu + a^2 s^2 / 2)
    assert q.expect(lambda x: np.exp(0.7 * x), mean=0.3, std=1.2) == pytest.approx(
        math.exp(0.7 * 0.3 + 0.49 * 1.44 / 2), rel=1e-13)
    cov = [[1.0, 0.6], [0.6, 2.0]]
    assert q.expect2(lambda x, y: x * y, cov) == pytest.approx(0.6, abs=1e-13)
    assert q.expect2(lambda x, y: x * x * y * y, cov) == pytest.approx(1 * 2 + 2 * 0.36, rel=1e-12)
    # rank-one covariance is allowed
    assert q.expect2(lambda x, y: (y - 2 * x) ** 2, [[1, 2], [2, 4]]) == pytest.approx(0, abs=1e-12)
    with pytest.raises(ValueError, match="cov"):
        q.expect2(lambda x, y: x, [[1, 2], [2, 1]])


MP_POINTS = [-1e8, -1e3, -40.0, -8.0, -1.0, -1e-8, 0.0, 1e-8, 0.5, 3.0, 8.0, 29.9, 30.1, 38.0, 100.0, 1e3, 1e6, 1e8]


@pytest.mark.parametrize("x", MP_POINTS)
def test_log_h_and_mills_far_in_the_tails(x):
    with mp.workdps(50):
        H = mp.erfc(mp.mpf(x) / mp.sqrt(2)) / 2
        logH = mp.log(H)
        mills = mp.npdf(x) / H
    assert q.logH(x) == pytest.approx(float(logH), rel=1e-14, abs=1e-300)
    assert q.mills(x) == pytest.approx(float(mills), rel=1e-13, abs=1e-300)
    if abs(x) < 38:
        with mp.workdps(30):
            assert q.phi(x) == pytest.approx(float(mp.npdf(x)), rel=1e-14)
    if abs(x) < 37:
        assert q.H(x) == pytest.approx(float(H), rel=1e-14)


@pytest.mark.parametrize("x", [-800.0, -40.0, -1.0, 0.0, 1e-10, 1.0, 20.0, 34.0, 40.0, 800.0])
def test_log1pexp_and_sigmoid(x):
    with mp.workdps(50):
        ref = mp.log1p(mp.exp(x))
        sig = 1 / (1 + mp.exp(-x))
    assert q.log1pexp(x) == pytest.approx(float(ref), rel=1e-15, abs=1e-300)
    assert q.sigmoid(x) == pytest.approx(float(sig), rel=1e-15, abs=1e-300)


def test_logsumexp():
    a = np.array([-1000.0, -1001.0, -999.5])
    with mp.workdps(30):
        ref = mp.log(sum(mp.exp(mp.mpf(v)) for v in a))
    assert q.logsumexp(a) == pytest.approx(float(ref), rel=1e-15)
    assert q.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf


def test_mpmath_references():
    assert float(q.mp_expect(lambda x: x ** 4, mean=1, var=2)) == pytest.approx(1 + 6 * 2 + 3 * 4, rel=1e-25)
    val = q.mp_expect2(lambda x, y: x * x * y * y, [[1, 0.6], [0.6, 2]], dps=12)
    assert float(val) == pytest.approx(2 + 2 * 0.36, rel=1e-10)


def test_gauss_hermite_against_mpmath_on_a_smooth_expectation():
    # an entire integrand: exponential convergence in the number of nodes
    z, w = q.gauss_hermite(60)
    got = float(np.dot(w, np.cos(z) * np.exp(-z * z / 4)))
    ref = q.mp_expect(lambda t: mp.cos(t) * mp.exp(-t * t / 4))
    assert got == pytest.approx(float(ref), abs=1e-14)
