"""Output channels: Z_out normalised, derivatives, and the state-evolution integrals against
adaptive scipy quadrature from q = 0 up to q within 1e-10 of rho.

References are built from the definitions (``Z_out = E_{z ~ N(omega, V)} P_out(y|z)`` by direct
quadrature over ``z``, or by the elementary closed forms of the noiseless channels written
here from scratch), never from the reductions used by the module.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import log_ndtr, ndtr

from equations.channels import CHANNELS, make_channel

FRACTIONS = (0.0, 0.5, 1.0 - 1e-4, 1.0 - 1e-10)
RHO = 1.0


def npdf(x, m, v):
    return math.exp(-((x - m) ** 2) / (2 * v)) / math.sqrt(2 * math.pi * v)


def quad(f, a, b, points=(), **kw):
    """Adaptive quad on [a, b] split at the given points (each piece separately)."""
    pts = sorted(p for p in set(points) if a < p < b)
    edges = [a, *pts, b]
    return sum(integrate.quad(f, lo, hi, epsabs=kw.get("epsabs", 0.0), epsrel=kw.get("epsrel", 1e-13),
                              limit=kw.get("limit", 400))[0] for lo, hi in zip(edges[:-1], edges[1:]))


def expect_u(f, sigma):
    """E_{u ~ N(0, sigma^2)} f(u) for a scalar f of the scaled variable u (features at |u| ~ 1),
    split at 0 and at geometric points up to 12 sigma."""
    if sigma == 0.0:
        return f(0.0)
    top = 12 * sigma
    pts = [2.0**k for k in range(-3, 40) if 2.0**k < top] + [k * sigma for k in (0.5, 1, 2, 4)]
    return quad(lambda u: (f(u) + f(-u)) * npdf(u, 0, sigma * sigma), 0.0, top, pts)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("name", sorted(CHANNELS))
@pytest.mark.parametrize("noise", [-1.0, math.nan, math.inf, "0.1"])
def test_bad_noise_raises(name, noise):
    with pytest.raises(ValueError, match="noise"):
        make_channel(name, noise)


def test_unknown_channel_raises():
    with pytest.raises(ValueError, match="channel"):
        make_channel("no-such-choice")


# ----------------------------------------------------------------------------- pointwise


def p_out(name, noise, y, z):
    """P_out(y | z) from the definitions (densities; sign: probabilities)."""
    if name == "linear":
        return npdf(y, z, noise)
    if name == "sign":
        return ndtr(y * z / math.sqrt(noise))
    if name == "abs":
        return npdf(y, abs(z), noise)
    return npdf(y, max(z, 0.0), noise)


@pytest.mark.parametrize("name", ["linear", "sign", "abs", "relu"])
@pytest.mark.parametrize("y,omega,V", [(0.7, 0.3, 0.5), (-0.4, 1.1, 0.2), (1.9, -0.8, 1.3), (0.05, 0.02, 0.01)])
def test_z_out_noisy_against_direct_z_integral(name, y, omega, V):
    noise = 0.3
    if name == "sign":
        y = 1.0 if y > 0 else -1.0
    ch = make_channel(name, noise)
    lz, g, dg = ch.z_out(np.array([y]), np.array([omega]), np.array([V]))
    sv = math.sqrt(V)

    def moment(k):
        return quad(lambda z: npdf(z, omega, V) * p_out(name, noise, y, z) * ((z - omega) / V) ** k,
                    omega - 14 * sv, omega + 14 * sv, points=[0.0, omega])

    Z, Z1, Z2 = moment(0), moment(1), moment(2)
    # d_omega Z = E[(z - omega)/V P], d2_omega Z = E[((z-omega)^2/V^2 - 1/V) P]
    g_ref = Z1 / Z
    dg_ref = (Z2 - Z / V) / Z - g_ref**2
    assert lz[0] == pytest.approx(math.log(Z), rel=1e-10, abs=1e-11)
    assert g[0] == pytest.approx(g_ref, rel=1e-9, abs=1e-10)
    assert dg[0] == pytest.approx(dg_ref, rel=1e-8, abs=1e-9)


@pytest.mark.parametrize("name,noise", [("linear", 0.0), ("linear", 0.4), ("sign", 0.0), ("sign", 0.4),
                                        ("abs", 0.0), ("abs", 0.4), ("relu", 0.0), ("relu", 0.4)])
@pytest.mark.parametrize("omega,V", [(0.3, 0.5), (-1.2, 0.05), (0.0, 1.0), (2.0, 1e-3)])
def test_z_out_normalised_and_derivatives_match_finite_differences(name, noise, omega, V):
    ch = make_channel(name, noise)

    def Z(y, w):
        return math.exp(ch.z_out(np.array([y]), np.array([w]), np.array([V]))[0][0])

    S = V + noise
    if name == "sign":
        total = Z(1.0, omega) + Z(-1.0, omega)
        ys = [1.0, -1.0]
    else:
        lo = -abs(omega) - 14 * math.sqrt(S) if noise > 0 or name == "linear" else 0.0
        hi = abs(omega) + 14 * math.sqrt(S)
        total = quad(lambda y: Z(y, omega), lo, hi, points=[0.0, omega, -omega])
        if name == "relu" and noise == 0.0:
            total += Z(0.0, omega)  # the atom at y = 0
        ys = [0.37, 1.1, abs(omega) + 0.1] + ([0.0] if name == "relu" and noise == 0.0 else [])
        if noise > 0 or name == "linear":
            ys += [-0.6]
    assert total == pytest.approx(1.0, abs=1e-10)
    h = 1e-5 * math.sqrt(V)
    for y in ys:
        lz, g, dg = (a[0] for a in ch.z_out(np.array([y]), np.array([omega]), np.array([V])))
        lzp, gp, _ = (a[0] for a in ch.z_out(np.array([y]), np.array([omega + h]), np.array([V])))
        lzm, gm, _ = (a[0] for a in ch.z_out(np.array([y]), np.array([omega - h]), np.array([V])))
        scale = 1.0 / math.sqrt(V)
        assert g == pytest.approx((lzp - lzm) / (2 * h), abs=1e-6 * scale, rel=1e-6)
        assert dg == pytest.approx((gp - gm) / (2 * h), abs=1e-6 * scale**2, rel=1e-6)


# ----------------------------------------------------------------------------- SE integrals


def ref_sign(q, V, noise):
    """In u = omega / sqrt(S): Z(y) = Phi(y u), d_omega Z = y phi(u) / sqrt(S)."""
    S = V + noise

    def J(u):
        # sum_y (d_omega Z)^2 / Z, in logs (Z underflows)
        return sum(math.exp(-u * u - math.log(2 * math.pi) - log_ndtr(y * u)) for y in (1, -1)) / S

    def P(u):
        return sum(ndtr(y * u) * log_ndtr(y * u) for y in (1, -1))

    sigma = math.sqrt(q / S)
    return expect_u(J, sigma), expect_u(P, sigma)


def _phi(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def ref_abs0(q, V):
    """y = sqrt(V) eta, u = omega / sqrt(V): Z dy = [phi(eta - u) + phi(eta + u)] d eta on
    eta > 0, d_omega Z / Z = [(eta - u) phi(eta - u) - (eta + u) phi(eta + u)] / (sqrt(V) Z)."""

    def J(u):
        def inner(e):
            za, zb = _phi(e - u), _phi(e + u)
            Z = za + zb
            return 0.0 if Z == 0 else ((e - u) * za - (e + u) * zb) ** 2 / Z
        a = abs(u)
        return quad(inner, 0.0, a + 15, [a - 15, a - 1, a, a + 1, 1.0, 4.0]) / V

    def P(u):
        def inner(e):
            za, zb = _phi(e - u), _phi(e + u)
            Z = za + zb
            return 0.0 if Z == 0 else Z * math.log(Z)
        a = abs(u)
        return quad(inner, 0.0, a + 15, [a - 15, a - 1, a, a + 1, 1.0, 4.0])

    sigma = math.sqrt(q / V)
    # the density in y is Z(eta) / sqrt(V): int Z log Z dy = int Z(eta) log Z(eta) d eta - log(V)/2
    return expect_u(J, sigma), expect_u(P, sigma) - 0.5 * math.log(V)


def ref_relu0(q, V):
    """Atom H(u) at y = 0 (d_omega = -phi(u)/sqrt(V)) and density N(y; omega, V) on y > 0."""

    def J(u):
        Z0 = ndtr(-u)
        atom = math.exp(-u * u - math.log(2 * math.pi) - log_ndtr(-u)) if Z0 > 0 else 0.0
        dens = quad(lambda t: t * t * _phi(t), max(-u, -15.0), 15.0, [0.0]) if -u < 15 else 0.0
        return (atom + dens) / V

    def P(u):
        Z0 = ndtr(-u)
        atom = Z0 * log_ndtr(-u) if Z0 > 0 else 0.0
        # log N(y; omega, V) = log phi(t) - log(V)/2 with y = omega + sqrt(V) t
        dens = quad(lambda t: _phi(t) * (-0.5 * t * t - 0.5 * math.log(2 * math.pi * V)), max(-u, -15.0), 15.0, [0.0]) if -u < 15 else 0.0
        return atom + dens

    sigma = math.sqrt(q / V)
    return expect_u(J, sigma), expect_u(P, sigma)


def _noisy_integrands():
    """C callbacks (scipy LowLevelCallable) of the y-integrands Z g^2 and Z log Z built on the
    pointwise kernel, which is itself checked against the direct z-integral above."""
    from numba import carray, cfunc, types
    from scipy import LowLevelCallable

    from equations.channels import _point

    sig = types.double(types.intc, types.CPointer(types.double))

    @cfunc(sig)
    def zg2(n, xx):
        a = carray(xx, n)
        lz, g, _ = _point(int(a[4]), a[0], a[1], a[2], a[3])
        return 0.0 if lz == -math.inf else math.exp(lz) * g * g

    @cfunc(sig)
    def zlogz(n, xx):
        a = carray(xx, n)
        lz, _, _ = _point(int(a[4]), a[0], a[1], a[2], a[3])
        return 0.0 if lz == -math.inf else math.exp(lz) * lz

    return LowLevelCallable(zg2.ctypes), LowLevelCallable(zlogz.ctypes)


def ref_noisy(ch, q, V):
    """Noisy abs / relu: adaptive quadrature over y of the pointwise kernel, then over
    u = omega / sqrt(V)."""
    noise = ch.noise
    S = V + noise
    sS, sD, sV = math.sqrt(S), math.sqrt(noise), math.sqrt(V)
    funcs = _noisy_integrands()

    def inner(w, which):
        a = abs(w)
        lo, hi = -a - 14 * sS, a + 14 * sS
        if ch.name == "relu":
            lo, hi = min(w - 14 * sS, -14 * sD), max(w + 14 * sS, 14 * sD)
        pts = sorted(p for p in {0.0, w, -w, -w * noise / V, w * noise / V, sD, -sD} if lo < p < hi)
        edges = [lo, *pts, hi]
        return sum(integrate.quad(funcs[which], e0, e1, args=(w, V, noise, float(ch.kind)), epsabs=0.0,
                                  epsrel=1e-12, limit=400)[0] for e0, e1 in zip(edges[:-1], edges[1:]))

    sigma = math.sqrt(q / V)
    return (expect_u(lambda u: inner(u * sV, 0), sigma), expect_u(lambda u: inner(u * sV, 1), sigma))


CASES = [("sign", 0.0), ("sign", 0.3), ("abs", 0.0), ("relu", 0.0)]


@pytest.mark.parametrize("name,noise", CASES)
@pytest.mark.parametrize("frac", FRACTIONS)
def test_se_integrals_against_adaptive_quadrature(name, noise, frac):
    q = RHO * frac
    V = RHO - q
    ch = make_channel(name, noise)
    hat, psi = ch.se_integrals(q, V)
    ref = {"sign": lambda: ref_sign(q, V, noise), "abs": lambda: ref_abs0(q, V),
           "relu": lambda: ref_relu0(q, V)}[name]()
    # hat ~ 1/V can be 1e10: relative accuracy; psi: absolute
    assert hat == pytest.approx(ref[0], rel=1e-9, abs=1e-12)
    assert psi == pytest.approx(ref[1], rel=1e-10, abs=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["abs", "relu"])
@pytest.mark.parametrize("frac", FRACTIONS)
def test_noisy_kinked_se_integrals_against_adaptive_quadrature(name, frac):
    q = RHO * frac
    V = RHO - q
    ch = make_channel(name, 0.1)
    hat, psi = ch.se_integrals(q, V)
    ref = ref_noisy(ch, q, V)
    assert hat == pytest.approx(ref[0], rel=3e-10, abs=1e-14)
    assert psi == pytest.approx(ref[1], rel=1e-11, abs=1e-11)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["abs", "relu"])
@pytest.mark.parametrize("noise,V", [(1e-3, 2e-4), (1e-3, 1e-7), (1.0, 0.2), (1.0, 0.03), (1.0, 1e-6),
                                     (0.1, 0.0201), (0.1, 0.0199), (0.1, 0.05), (0.1, 0.07), (0.1, 0.1),
                                     (0.1, 0.12), (0.1, 0.19), (0.1, 0.21), (0.1, 0.25), (0.1, 0.32), (1e-3, 9e-4),
                                     (1e-3, 2.9e-3)])
def test_noisy_kinked_se_integrals_small_V_over_noise(name, noise, V):
    """The regimes V / noise <= 0.5, 1 (Gauss-Hermite y rules of orders 40, 64 per mixture
    component), <= 2 (relu, order 100), <= 3 (abs, order 80) and the core-plus-uniform omega
    rule, on both sides of each switch, at small and large noise."""
    q = RHO - V
    ch = make_channel(name, noise)
    hat, psi = ch.se_integrals(q, V)
    ref = ref_noisy(ch, q, V)
    assert hat == pytest.approx(ref[0], rel=3e-10, abs=1e-14)
    assert psi == pytest.approx(ref[1], rel=1e-11, abs=1e-11)


@pytest.mark.parametrize("noise", [0.0, 0.25])
@pytest.mark.parametrize("frac", FRACTIONS)
def test_linear_closed_form(noise, frac):
    q = RHO * frac
    V = RHO - q
    hat, psi = make_channel("linear", noise).se_integrals(q, V)
    S = V + noise
    assert hat == pytest.approx(1.0 / S, rel=1e-14)
    assert psi == pytest.approx(-0.5 * math.log(2 * math.pi * math.e * S), rel=1e-14)


@pytest.mark.parametrize("name", ["sign", "abs", "relu", "linear"])
def test_perfect_knowledge_limits(name):
    """V = 0 (q = rho): noiseless labels carry no uncertainty (sign: zero entropy); noisy
    labels reduce to the Gaussian channel of variance noise on psi(z)."""
    hat, psi = make_channel(name, 0.0).se_integrals(RHO, 0.0)
    assert hat == math.inf
    assert psi == (0.0 if name == "sign" else math.inf)
    if name == "sign":
        # continuity: V = 1e-12 is already within 1e-5 of the limit psi = 0
        assert abs(make_channel(name, 0.0).se_integrals(RHO - 1e-12, 1e-12)[1]) < 1e-5
    else:
        D = 0.2
        hat, psi = make_channel(name, D).se_integrals(RHO, 0.0)
        frac_alive = 0.5 if name == "relu" else 1.0
        assert hat == pytest.approx(frac_alive / D, rel=1e-14)
        assert psi == pytest.approx(-0.5 * math.log(2 * math.pi * math.e * D), rel=1e-14)
        # and the V -> 0 limit is continuous
        hat_s, psi_s = make_channel(name, D).se_integrals(RHO - 1e-10, 1e-10)
        assert hat_s == pytest.approx(frac_alive / D, rel=1e-4)
        assert psi_s == pytest.approx(psi, abs=1e-4)


# ----------------------------------------------------------------------------- generalisation


@pytest.mark.parametrize("name", ["abs", "relu", "linear"])
@pytest.mark.parametrize("frac", FRACTIONS)
def test_regression_gen_error_against_quadrature(name, frac):
    """E (y - E[y | omega, V])^2 = noise + E_omega Var(psi(z) | omega), by quadrature over z."""
    noise = 0.05
    q = RHO * frac
    V = RHO - q
    ch = make_channel(name, noise)
    psi_f = {"abs": abs, "relu": lambda z: max(z, 0.0), "linear": lambda z: z}[name]
    sv = math.sqrt(V)

    def var(u):
        # z = sqrt(V) (u + t); split at the kink t = -u
        m1 = quad(lambda t: psi_f(sv * (u + t)) * _phi(t), -14, 14, [-u])
        return quad(lambda t: (psi_f(sv * (u + t)) - m1) ** 2 * _phi(t), -14, 14, [-u])

    ref = noise + expect_u(var, math.sqrt(q / V))
    got = ch.bayes_gen_error(q, V)
    assert got == pytest.approx(ref, rel=1e-9, abs=1e-13)


@pytest.mark.parametrize("noise", [0.0, 0.3])
@pytest.mark.parametrize("frac", FRACTIONS)
def test_sign_gen_error_against_quadrature(noise, frac):
    q = RHO * frac
    V = RHO - q
    S = V + noise
    # P(y != sign omega) = E_omega P(y = -sign omega | omega) = E H(|omega| / sqrt(S))
    ref = expect_u(lambda u: ndtr(-abs(u)), math.sqrt(q / S))
    assert make_channel("sign", noise).bayes_gen_error(q, V) == pytest.approx(ref, rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("name", ["linear", "sign", "abs", "relu"])
def test_sample_and_predict(name):
    """Labels follow the channel; the Bayes predictor attains bayes_gen_error on samples."""
    rng = np.random.default_rng(1)
    ch = make_channel(name, 0.1)
    q, V = 0.7, 0.3
    n = 400_000
    omega = math.sqrt(q) * rng.standard_normal(n)
    z = omega + math.sqrt(V) * rng.standard_normal(n)
    y = ch.sample(z, rng)
    pred = ch.predict(omega, V)
    err = (pred != y) if ch.classification else (y - pred) ** 2
    assert abs(err.mean() - ch.bayes_gen_error(q, V)) < 4 * err.std() / math.sqrt(n)


# ----------------------------------------------------------------------------- tables


@pytest.mark.parametrize("name", ["abs", "relu"])
@pytest.mark.parametrize("noise,rho", [(0.1, 1.0), (0.1, 0.3), (1.0, 0.3), pytest.param(1e-3, 1.0, marks=pytest.mark.slow)])
def test_se_table_agrees_with_direct_integrals(name, noise, rho):
    """The lazily built table (default path of the model) against the direct integrals, which
    are themselves checked against adaptive quadrature above: random q, q near rho (V down to
    1e-10 rho) and the ends, to the table's tolerance (2e-10 on its Chebyshev tails)."""
    ch = make_channel(name, noise)
    rel = 2e-10
    rng = np.random.default_rng(7)
    fracs = np.concatenate([rng.uniform(0, 1, 10), 1 - 10 ** rng.uniform(-10, -2, 4), 10 ** rng.uniform(-4, -2, 3),
                            [0.0, 1.0]])
    for q in rho * fracs:
        hat, psi = ch.se_bayes(q, rho)
        ref = ch.se_integrals(q, rho - q)
        assert hat == pytest.approx(ref[0], rel=rel, abs=1e-300)
        assert psi == pytest.approx(ref[1], rel=rel, abs=2e-10)


@pytest.mark.parametrize("name", ["abs", "relu"])
@pytest.mark.parametrize("frac", [0.0, 0.2, 0.5, 0.9, 0.999])
def test_se_table_derivative_against_finite_differences_of_direct_integrals(name, frac):
    rho, noise = 1.0, 0.1
    ch = make_channel(name, noise)
    q = rho * frac
    d_table = ch.se_bayes_derivative(q, rho)
    d_direct = ch.se_bayes_derivative(q, rho, tabulated=False)
    assert d_table == pytest.approx(d_direct, rel=2e-6)


def test_se_table_is_shared_and_independent_of_query_order():
    from equations.channels import _se_table

    ch = make_channel("relu", 0.37)
    qs = np.linspace(0.0, 0.8, 23)
    _se_table.cache_clear()
    forward = [ch.se_bayes(q, 0.8) for q in qs]
    _se_table.cache_clear()
    backward = [ch.se_bayes(q, 0.8) for q in qs[::-1]][::-1]
    assert forward == backward
    # a second channel object with the same noise reads the same table
    built = _se_table(ch, 0.8).evaluations
    make_channel("relu", 0.37).se_bayes(0.4, 0.8)
    assert _se_table(ch, 0.8).evaluations == built


@pytest.mark.parametrize("tabulated", [True, False])
def test_se_bayes_derivative_at_perfect_knowledge_raises(tabulated):
    with pytest.raises(ValueError, match="q must be below rho"):
        make_channel("relu", 0.1).se_bayes_derivative(1.0, 1.0, tabulated=tabulated)
