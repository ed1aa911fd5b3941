"""Tests of fixedpoint.symbolic: closed forms (sympy), high precision (mpmath), solved fixed points.

The reference problem is the Gaussian-prior spiked Wigner state evolution
``m -> snr m / (1 + snr m)``, whose fixed point reached from a small positive start is
``m = 1 - 1/snr`` for ``snr > 1`` (``m = 0`` is unstable there: F'(0) = snr).
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from typing import ClassVar

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

import fixedpoint
from fixedpoint import symbolic as S

m, snr = sp.symbols("m snr", positive=True)
F_SW = snr * m / (1 + snr * m)
M_STAR = 1 - 1 / snr
SNRS = (1.2, 1.5, 2.0, 3.0, 5.0, 10.0)
TIGHT = dict(atol=1e-14, rtol=1e-14)


def sw_map(s):
    return lambda x: s * x / (1.0 + s * x)


@dataclasses.dataclass(frozen=True)
class GaussianSpikedWigner:
    """Minimal model (protocol) for the sweep path: state m, observable mmse = 1 - m^2."""

    snr: float = 2.0
    name: ClassVar[str] = "gaussian_spiked_wigner_test"
    state_names: ClassVar[tuple[str, ...]] = ("m",)

    def initial_state(self, start="uninformed"):
        return np.array([1e-3 if start == "uninformed" else 1.0])

    def trivial_state(self):
        return np.array([0.0])

    def update(self, x):
        return self.snr * x / (1.0 + self.snr * x)

    def observables(self, x):
        return {"mmse": float(1.0 - x[0] ** 2)}

    def bounds(self):
        return np.array([0.0]), np.array([1.0])

    def simulate(self, d, seed):  # the protocol asks for it; no finite-size counterpart here
        return {}


@pytest.fixture(scope="module")
def solutions():
    return [(s, fixedpoint.solve(sw_map(s), [0.1], **TIGHT)) for s in SNRS]


@pytest.fixture(scope="module")
def sweep():
    return fixedpoint.sweep(GaussianSpikedWigner(), "snr", SNRS, start="uninformed", **TIGHT)


# ----------------------------------------------------------------------------- import cost


def test_import_does_not_load_sympy_or_mpmath():
    code = ("import sys, fixedpoint\n"
            "before = {m for m in ('sympy', 'mpmath') if m in sys.modules}\n"
            "from fixedpoint import symbolic\n"
            "after = {m for m in ('sympy', 'mpmath') if m in sys.modules}\n"
            "assert after == before, f'importing fixedpoint.symbolic loaded {after - before}'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ----------------------------------------------------------------------------- compare


def test_solve_matches_closed_form_over_snr(solutions):
    assert all(sol.converged for _, sol in solutions)
    c = S.compare(M_STAR, solutions, param=snr)
    assert isinstance(c, S.Comparison)
    assert c.n == len(SNRS) and c.skipped == ()
    assert c.max_abs_error < 1e-9 and c.max_rel_error < 1e-9
    assert c.within(atol=1e-9)
    assert c.param == "snr" and c.name == "x0"
    assert [r.value for r in c.table] == list(SNRS)
    for r in c.table:
        assert r.closed_form == pytest.approx(1 - 1 / r.value, abs=1e-15)


def test_compare_with_a_sweep_state_and_observable(sweep):
    assert sweep.converged.all()
    c = S.compare(M_STAR, sweep, "m")  # the parameter is taken from the sweep and matched by name
    assert c.max_abs_error < 1e-9 and c.param == "snr" and c.n == len(SNRS)
    mmse = S.compare(1 - M_STAR**2, sweep, "mmse")
    assert mmse.max_abs_error < 1e-9
    # the only state entry is the default name
    assert S.compare(M_STAR, sweep).name == "m"


def test_compare_detects_a_wrong_closed_form_and_locates_it(solutions):
    wrong = S.compare(1 - 1 / snr**2, solutions, param=snr)
    assert wrong.max_abs_error > 0.1
    # |1/snr - 1/snr^2| is largest at snr = 2 among the values
    assert wrong.at == 2.0
    assert wrong.max_abs_error == pytest.approx(0.25, abs=1e-9)
    assert not wrong.within(atol=1e-3)
    # a small perturbation, only at one snr, is found there
    bumped = [(s, sol["x0"] + (1e-7 if s == 3.0 else 0.0)) for s, sol in solutions]
    c = S.compare(M_STAR, bumped)
    assert c.at == 3.0
    assert c.max_abs_error == pytest.approx(1e-7, rel=1e-3)


def test_compare_input_forms_agree(solutions):
    vals = [s for s, _ in solutions]
    nums = [sol["x0"] + (1e-6 if s == 5.0 else 0.0) for s, sol in solutions]
    bumped = [dataclasses.replace(sol, x=sol.x + (1e-6 if s == 5.0 else 0.0)) for s, sol in solutions]
    forms = [
        S.compare(M_STAR, list(zip(vals, nums))),
        S.compare(M_STAR, dict(zip(vals, nums))),
        S.compare(M_STAR, nums, values=vals),
        S.compare(M_STAR, bumped, "x0", values=vals),
        S.compare(lambda s: 1 - 1 / s, list(zip(vals, nums)), param="snr"),
        S.compare("1 - 1/snr", list(zip(vals, nums))),
        S.compare(M_STAR, list(zip(vals, nums)), dps=40),
    ]
    for c in forms:
        assert c.max_abs_error == pytest.approx(1e-6, rel=1e-6)
        assert c.at == 5.0
        assert [r.value for r in c.table] == vals


def test_compare_with_other_parameters_bound():
    rho = sp.Symbol("rho", positive=True)
    pairs = [(s, 0.3 * (1 - 1 / s)) for s in (2.0, 4.0)]
    c = S.compare(rho * M_STAR, pairs, param="snr", params={"rho": 0.3})
    assert c.max_abs_error < 1e-15
    c_bad = S.compare(rho * M_STAR, pairs, param="snr", params={"rho": 0.31})
    assert c_bad.max_abs_error > 1e-3


def test_compare_skips_non_converged_points_and_says_so():
    ok = fixedpoint.solve(sw_map(2.0), [0.1], **TIGHT)
    bad = fixedpoint.solve(sw_map(1.01), [0.1], max_iter=2, solver=fixedpoint.Damped(0.0), **TIGHT)
    assert not bad.converged
    c = S.compare(M_STAR, [(2.0, ok), (1.01, bad)])
    assert c.skipped == (1.01,)
    assert c.n == 1 and c.max_abs_error < 1e-9
    assert not c.within(atol=1.0)  # a skipped point is not a pass
    assert "skipped" in repr(c)
    none = S.compare(M_STAR, [(1.01, bad)])
    assert math.isnan(none.max_abs_error) and not none.within(atol=1.0)


def test_compare_closed_form_outside_its_domain_is_an_infinite_error():
    c = S.compare(sp.sqrt(snr - 1), [(0.5, 0.0), (2.0, 1.0)], param=snr)
    assert c.max_abs_error == math.inf and c.at == 0.5


def test_comparison_repr_and_table():
    c = S.compare(M_STAR, [(2.0, 0.5), (4.0, 0.75 + 1e-8)])
    assert c.at == 4.0
    text = repr(c)
    assert "max |error|" in text and "snr = 4" in text
    assert len(str(c).splitlines()) == 2 + 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.at = 1.0  # type: ignore[misc]
    row = c.table[1]
    assert row.value == 4.0 and row.closed_form == 0.75 and row.abs_error == pytest.approx(1e-8, rel=1e-6)


# ----------------------------------------------------------------------------- check_fixed_point


def test_check_accepts_the_closed_form_to_30_digits():
    for s in (2, sp.Rational(3, 2), "1.5", 7):
        chk = S.check_fixed_point(F_SW, m, M_STAR, {snr: s}, digits=30)
        assert chk.passed and bool(chk)
        assert chk.residual <= mp.mpf(10) ** -30
        assert chk.correct_digits >= 30
    # 0.5 is exactly representable: the float claim is exact at snr = 2
    assert S.check_fixed_point(F_SW, m, 0.5, {"snr": 2}, digits=30).passed


def test_check_rejects_a_claim_off_by_1e_12():
    chk = S.check_fixed_point(F_SW, m, "0.500000000001", {snr: 2}, digits=30)
    assert not chk.passed and not bool(chk)
    # residual ~ (1 - F'(m*)) * 1e-12 = 0.5e-12 at snr = 2
    assert chk.residual == pytest.approx(0.5e-12, rel=1e-6)
    assert chk.refined is not None and abs(chk.refined[0] - mp.mpf("0.5")) < mp.mpf(10) ** -40
    assert chk.error == pytest.approx(1e-12, rel=1e-9)
    assert chk.correct_digits == 12  # 0.5|00000000000|1: the 13th digit is wrong
    # the residual alone rejects it too
    alone = S.check_fixed_point(F_SW, m, "0.500000000001", {snr: 2}, digits=30, refine=False)
    assert not alone.passed and alone.refined is None and alone.correct_digits is None
    # but it is right to 11 digits (the tolerance at 12 digits, 1e-12, is exactly the error)
    assert S.check_fixed_point(F_SW, m, "0.500000000001", {snr: 2}, digits=11).passed
    assert not S.check_fixed_point(F_SW, m, "0.500000000001", {snr: 2}, digits=13).passed


def test_check_rejects_float_rounded_and_wrong_claims():
    # 2/3 as a float is right to ~16 digits only
    assert not S.check_fixed_point(F_SW, m, 1 - 1 / 3, {snr: 3}, digits=30).passed
    assert S.check_fixed_point(F_SW, m, 1 - 1 / 3, {snr: 3}, digits=15).passed
    # a wrong formula
    assert not S.check_fixed_point(F_SW, m, 1 - 1 / snr**2, {snr: 3}, digits=5).passed


def test_check_takes_floats_at_their_binary_value_and_strings_as_decimals():
    x = sp.Symbol("x")
    F = sp.Rational(1, 10) + 0 * x  # fixed point 1/10, not representable in binary
    assert not S.check_fixed_point(F, x, 0.1, digits=30).passed  # 0.1 - 1/10 = 5.55e-18
    assert S.check_fixed_point(F, x, 0.1, digits=16).passed
    assert S.check_fixed_point(F, x, "0.1", digits=60).passed
    with mp.workdps(50):
        tenth = mp.mpf(1) / 10
    assert S.check_fixed_point(F, x, tenth, digits=45).passed


def test_check_an_irrational_fixed_point_from_the_solver():
    x = sp.Symbol("x")
    sol = fixedpoint.solve(np.cos, [0.5], atol=1e-15, rtol=1e-15)
    assert S.check_fixed_point(sp.cos(x), x, sol.x[0], digits=14).passed
    chk = S.check_fixed_point(sp.cos(x), x, sol.x[0], digits=30)
    assert not chk.passed and 14 <= chk.correct_digits <= 17
    with mp.workdps(60):
        dottie = mp.mpf("0.73908513321516064165531208767387340401341175890075746496568063577328465488354759")
        assert abs(chk.refined[0] - dottie) < mp.mpf(10) ** -40
    # the golden ratio exactly
    assert S.check_fixed_point(1 + 1 / x, x, (1 + sp.sqrt(5)) / 2, digits=50).passed


def test_check_marginal_fixed_point_needs_refinement():
    # F(x) = x - x^3: the residual at 1e-5 is 1e-15, yet the fixed point is 0
    x = sp.Symbol("x")
    no_refine = S.check_fixed_point(x - x**3, x, "1e-5", digits=12, refine=False)
    assert no_refine.passed and no_refine.refined is None
    refined = S.check_fixed_point(x - x**3, x, "1e-5", digits=12)
    assert not refined.passed and refined.error > mp.mpf("1e-6")


def test_check_vector_map():
    a, b = sp.symbols("a b")
    F = [sp.cos(b), a / 2]
    sol = fixedpoint.solve(lambda z: np.array([np.cos(z[1]), z[0] / 2]), [0.5, 0.5], atol=1e-15, rtol=1e-15)
    assert sol.converged
    assert S.check_fixed_point(F, [a, b], list(sol.x), digits=14).passed
    assert not S.check_fixed_point(F, [a, b], [sol.x[0], sol.x[1] + 1e-9], digits=14).passed
    # exact two-variable fixed point: (snr m q / (1 + snr q), m) with m = q = 1 - 1/snr
    q = sp.Symbol("q", positive=True)
    G = [snr * q / (1 + snr * q), m]
    assert S.check_fixed_point(G, [m, q], [M_STAR, M_STAR], {snr: 4}, digits=40).passed


def test_check_callable_map_with_mpmath_expectation():
    """Rademacher spiked Wigner: m = E tanh(snr m + sqrt(snr m) z), with quadrature.mp_expect."""
    from fixedpoint.quadrature import mp_expect

    def F(x, snr):
        g = snr * x
        return mp_expect(lambda z: mp.tanh(g + mp.sqrt(g) * z), 0, 1, dps=mp.mp.dps)

    s = 3.0
    sol = fixedpoint.solve(lambda v: np.array([float(F(mp.mpf(v[0]), s))]), [0.5], **TIGHT)
    assert sol.converged
    chk = S.check_fixed_point(F, None, sol.x[0], {"snr": 3}, digits=13, dps=25)
    assert chk.passed and chk.correct_digits >= 13
    assert not S.check_fixed_point(F, None, sol.x[0] + 1e-8, {"snr": 3}, digits=13, dps=25).passed


# ----------------------------------------------------------------------------- lambdify


def test_lambdify_numpy_and_mpmath_agree():
    x, s = sp.symbols("x s", positive=True)
    expr = sp.exp(-x**2 / 2) * sp.erfc(x / sp.sqrt(2)) / sp.sqrt(2 * sp.pi) + sp.log(1 + s * x) + sp.Rational(1, 3)
    fn = S.lambdify(expr, [x, s])
    fm = S.lambdify(expr, [x, s], backend="mpmath", dps=40)
    xs = np.linspace(0.1, 5.0, 9)
    out = fn(xs, 2.0)
    assert out.shape == xs.shape
    ref = np.array([float(fm(v, 2.0)) for v in xs])
    np.testing.assert_allclose(out, ref, rtol=1e-13, atol=0)
    # by name, and the result of mpmath is an mpf carrying 40 digits
    assert fn(x=1.0, s=2.0) == pytest.approx(float(fm(1.0, s=2.0)), rel=1e-14)
    v = fm("0.5", "2")
    assert isinstance(v, mp.mpf)
    with mp.workdps(40):
        assert abs(v - (mp.exp(-mp.mpf("0.125")) * mp.erfc(mp.mpf("0.5") / mp.sqrt(2)) / mp.sqrt(2 * mp.pi)
                        + mp.log(2) + mp.mpf(1) / 3)) < mp.mpf(10) ** -38


def test_lambdify_mpmath_precision_beats_float64_cancellation():
    x = sp.Symbol("x")
    expr = (sp.exp(x) - 1 - x) / x**2  # = 1/2 + x/6 + x^2/24 + ...
    exact = 0.5 + 1e-10 / 6
    f64 = S.lambdify(expr, x)(1e-10)
    hi = S.lambdify(expr, x, "mpmath", dps=50)("1e-10")
    lo = S.lambdify(expr, x, "mpmath", dps=15)("1e-10")
    assert abs(f64 - exact) > 1e-3  # float64 cancellation ruins it
    assert abs(float(hi) - exact) < 1e-16
    assert abs(float(lo) - exact) > 1e-3  # the requested dps is the one used


def test_lambdify_vector_broadcast_and_constants():
    f = S.lambdify([m * snr, sp.Integer(1)], [m, snr])
    out = f(np.array([1.0, 2.0, 3.0]), 2)
    assert out.shape == (3, 2)
    np.testing.assert_array_equal(out[:, 0], [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(out[:, 1], 1.0)
    g = S.lambdify(sp.pi, [m])
    assert g(np.zeros(4)).shape == (4,) and g(0.0) == pytest.approx(math.pi)
    h = S.lambdify([m, 2 * m], m, "mpmath", dps=20)
    assert h(1) == [1, 2]
    # integer arrays are promoted (no integer-power errors)
    assert S.lambdify(1 / m, m)(np.array([2])) == pytest.approx([0.5])


def test_as_map_feeds_solve():
    G = S.as_map(F_SW, m, {"snr": 4.0})
    sol = fixedpoint.solve(G, [0.1], **TIGHT)
    assert sol.converged and abs(sol["x0"] - 0.75) < 1e-12
    q = sp.Symbol("q")
    H = S.as_map([snr * q / (1 + snr * q), m], [m, q], {snr: 4.0})
    two = fixedpoint.solve(H, [0.1, 0.1], **TIGHT)
    np.testing.assert_allclose(two.x, [0.75, 0.75], atol=1e-12)


# ----------------------------------------------------------------------------- series


def test_series_gives_the_stability_threshold():
    c = S.taylor_coefficients(F_SW, m, 0, 3)
    assert c == [0, snr, -snr**2, snr**3]
    assert sp.solve(sp.Eq(c[1], 1), snr) == [1]
    poly = S.series(F_SW, m, 0, 2)
    assert sp.simplify(poly - (snr * m - snr**2 * m**2)) == 0
    # around the non-trivial point m* the slope is 1/snr (stable for snr > 1)
    c_star = S.taylor_coefficients(F_SW, m, M_STAR, 1)
    assert sp.simplify(c_star[0] - M_STAR) == 0 and sp.simplify(c_star[1] - 1 / snr) == 0


def test_series_tricritical_point_of_a_quadratic_term():
    # F(m) = a m + b m^2 - m^3: threshold a = 1, the transition is continuous iff b <= 0
    a, b = sp.symbols("a b", real=True)
    c = S.taylor_coefficients(a * m + b * m**2 - m**3, m, 0, 3)
    assert c == [0, a, b, -1]


# ----------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize("call, word", [
    (lambda: S.lambdify(F_SW, [m, snr], backend="julia"), "backend"),
    (lambda: S.lambdify(F_SW, [m]), "symbols"),
    (lambda: S.lambdify(F_SW, [m, snr], dps=30), "dps"),
    (lambda: S.lambdify(F_SW, [m, snr], backend="mpmath", dps=0), "dps"),
    (lambda: S.lambdify(F_SW, [m, m, snr]), "symbols"),
    (lambda: S.lambdify(object(), [m]), "expr"),
    (lambda: S.lambdify(F_SW, [m, snr])(1.0), "missing"),
    (lambda: S.lambdify(F_SW, [m, snr])(1.0, 2.0, bogus=3.0), "bogus"),
    (lambda: S.compare(M_STAR, [0.5, 0.75], values=[2.0]), "values"),
    (lambda: S.compare(M_STAR, [(2.0, "half")]), "solved"),
    (lambda: S.compare(M_STAR, []), "solved"),
    (lambda: S.compare(M_STAR, 3.0), "solved"),
    (lambda: S.compare(M_STAR, [(float("nan"), 0.5)]), "values"),
    (lambda: S.compare(m * M_STAR, [(2.0, 0.5)], param=snr), "params"),
    (lambda: S.compare(lambda s: s, [(2.0, 0.5)], params={"rho": 1}), "params"),
    (lambda: S.compare(M_STAR, [(2.0, 0.5)], dps=-1), "dps"),
    (lambda: S.check_fixed_point(F_SW, m, 0.5, {snr: 2}, digits=0), "digits"),
    (lambda: S.check_fixed_point(F_SW, m, 0.5, {snr: 2}, digits=30, dps=20), "dps"),
    (lambda: S.check_fixed_point(F_SW, m, 0.5), "params"),
    (lambda: S.check_fixed_point(F_SW, m, [0.5, 0.5], {snr: 2}), "value"),
    (lambda: S.check_fixed_point(F_SW, m, 0.5, {snr: float("nan")}), "params"),
    (lambda: S.check_fixed_point(F_SW, [m, snr], 0.5, {snr: 2}), "x"),
    (lambda: S.check_fixed_point(lambda v: v, m, 0.5), "x"),
    (lambda: S.check_fixed_point(F_SW, m, M_STAR, {m: 1, snr: 2}), "params"),
    (lambda: S.series(F_SW, m, 0, -1), "order"),
    (lambda: S.series(F_SW, 3, 0, 2), "var"),
    (lambda: S.as_map(F_SW, m), "params"),
])
def test_invalid_input_raises_value_error_naming_the_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_compare_unknown_name_in_sweep(sweep):
    with pytest.raises(ValueError, match="name"):
        S.compare(M_STAR, sweep, "q")
    with pytest.raises(ValueError, match="values"):
        S.compare(M_STAR, sweep, "m", values=[1.0])
