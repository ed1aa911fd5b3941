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
    none = np.zeros(1)  # abs and relu take no channel parameter nor rule (logit's)

    @cfunc(sig)
    def zg2(n, xx):
        a = carray(xx, n)
        lz, g, _ = _point(int(a[4]), a[0], a[1], a[2], a[3], 0.0, none, none)
        return 0.0 if lz == -math.inf else math.exp(lz) * g * g

    @cfunc(sig)
    def zlogz(n, xx):
        a = carray(xx, n)
        lz, _, _ = _point(int(a[4]), a[0], a[1], a[2], a[3], 0.0, none, none)
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
@pytest.mark.parametrize("frac, name", [(frac, name) for frac in FRACTIONS for name in ("abs", "relu")
                                        if (frac, name) != (FRACTIONS[-1], "relu")]
                         # (relu nearest q = rho: its reference takes 34 s of CI; abs is checked there)
                         + [pytest.param(FRACTIONS[-1], "relu", marks=pytest.mark.exhaustive)])
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
@pytest.mark.parametrize("noise,V", [(1e-3, 2e-4), (1.0, 0.2),
                                     (0.1, 0.0201), (0.1, 0.0199), (0.1, 0.05), (0.1, 0.07), (0.1, 0.1),
                                     (0.1, 0.12), (0.1, 0.19), (0.1, 0.21), (0.1, 0.25), (0.1, 0.32), (1e-3, 9e-4)]
                         # every switch is crossed at noise 0.1; more points at small and large noise
                         # (3 s each) in the exhaustive run
                         + [pytest.param(n, v, marks=pytest.mark.exhaustive)
                            for n, v in ((1e-3, 1e-7), (1.0, 0.03), (1.0, 1e-6), (1e-3, 2.9e-3))])
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


@pytest.mark.parametrize("name", ["abs", "relu", "door"])
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


@pytest.mark.parametrize("name", ["abs", "relu", "door"])
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


def test_door_table_curvature_at_zero_overlap_is_the_limit_of_the_direct_integrals():
    """The door's table holds ``E g^2 / q``; at ``q = 0`` its closed-form limit ``Z''(0)^2 / (Z(+1)
    Z(-1))`` against ``E g^2 / q`` of the direct integrals at ``q = 1e-6, 2e-6`` extrapolated
    linearly to 0 (the ratio is smooth in ``q``)."""
    for noise, width, V in [(0.1, 0.674, 1.0), (0.05, 0.5, 0.3), (1.0, 2.0, 0.7)]:
        ch = make_channel("door", noise, width=width)
        k1 = ch.se_integrals(1e-6, V)[0] / 1e-6
        k2 = ch.se_integrals(2e-6, V)[0] / 2e-6
        assert ch._curvature(V) == pytest.approx(2 * k1 - k2, rel=1e-8)


@pytest.mark.parametrize("tabulated", [True, False])
def test_se_bayes_derivative_at_perfect_knowledge_raises(tabulated):
    with pytest.raises(ValueError, match="q must be below rho"):
        make_channel("relu", 0.1).se_bayes_derivative(1.0, 1.0, tabulated=tabulated)


# ============================================================================ logit and door
#
# References from the definitions: Z_out(y) = E_{z ~ N(omega, S)} P(y | z), S = V + noise, with
# P(y | z) = sigmoid(gamma y z) (logit) or 1(y (|z| - K) > 0) (door), by adaptive quadrature in z
# (logit; a Gauss-Hermite rule when the sigmoid is smooth on the scale sqrt(S), where it is
# exact to rounding) or the normal cdf (door), then adaptive quadrature over omega.

from scipy.special import expit  # noqa: E402

GAMMAS = (0.5, 2.0, 20.0)
WIDTH = 0.674


def logit_inner(w, S, g):
    """(Z(+1), Z(-1), d Z(+1) / d omega = g E sigma'(g z)) at omega = w, z ~ N(w, S)."""
    if S == 0.0:
        return expit(g * w), expit(-g * w), g * expit(g * w) * expit(-g * w)
    s = math.sqrt(S)
    if g * s < 1e-3:
        # the sigmoid's poles are >= pi / (g s) > 3000 standard deviations away: Gauss-Hermite
        # with 60 nodes integrates it to rounding
        t, wt = np.polynomial.hermite_e.hermegauss(60)
        wt = wt / math.sqrt(2 * math.pi)
        z = w + s * t
        return float(wt @ expit(g * z)), float(wt @ expit(-g * z)), g * float(wt @ (expit(g * z) * expit(-g * z)))
    pts = [0.0, w] + [k / g for k in (-40, -10, -3, -1, 1, 3, 10, 40)] + [w + k * s for k in (-3, -1, 1, 3)]
    lo, hi = w - 14 * s, w + 14 * s
    zp = quad(lambda z: npdf(z, w, S) * expit(g * z), lo, hi, pts)
    zm = quad(lambda z: npdf(z, w, S) * expit(-g * z), lo, hi, pts)
    d = quad(lambda z: npdf(z, w, S) * expit(g * z) * expit(-g * z), lo, hi, pts)
    return zp, zm, g * d


def door_inner(w, S, K):
    """(Z(+1), Z(-1), d Z(+1) / d omega) at omega = w from the normal cdf."""
    s = math.sqrt(S)
    zm = ndtr((K - w) / s) - ndtr((-K - w) / s)
    zp = ndtr((w - K) / s) + ndtr((-K - w) / s)
    d = (_phi((K - w) / s) - _phi((K + w) / s)) / s
    return zp, zm, d


def ref_binary(inner, q, S, scales):
    """(E sum_y Z g^2, E sum_y Z log Z, E min_y Z, E Z(+1) Z(-1)) over omega ~ N(0, q) (the
    integrands are even in omega), adaptive quadrature split at the given points."""

    def f(w):
        zp, zm, d = inner(w)
        # (the unlikely label's term d^2 / Z is below 1e-200 where Z underflows: dropped)
        J = (d * d / zp if zp > 1e-250 else 0.0) + (d * d / zm if zm > 1e-250 else 0.0)
        P = (zp * math.log(zp) if zp > 0 else 0.0) + (zm * math.log(zm) if zm > 0 else 0.0)
        return np.array([J, P, min(zp, zm), zp * zm])

    if q == 0.0:
        return f(0.0)
    sq = math.sqrt(q)
    top = 12 * sq
    pts = sorted({p for p in scales if 0 < p < top} | {k * sq for k in (1, 2, 4)})
    edges = [0.0, *pts, top]
    out = np.zeros(4)
    for lo, hi in zip(edges[:-1], edges[1:]):
        out += integrate.quad_vec(lambda w: f(w) * npdf(w, 0, q), lo, hi, epsabs=0, epsrel=1e-12)[0]
    return 2 * out


def ref_logit(q, V, g, noise=0.0):
    S = V + noise
    s = math.sqrt(S)
    scales = [k / g for k in (0.5, 1, 2, 4, 8, 16, 32)] + [k * s for k in (0.5, 1, 2, 4, 8)]
    # omega at which the minimum over y switches (0) is an end point: nothing to split
    return ref_binary(lambda w: logit_inner(w, S, g), q, S, scales)


def ref_door(q, V, K, noise=0.0):
    S = V + noise
    s = math.sqrt(S)
    # the Bayes decision switches where Z(+1) = 1/2
    scales = [K + k * s for k in (-12, -8, -4, -2, -1, 0, 1, 2, 4, 8, 12)]
    if 2 * ndtr(-K / s) < 0.5:
        from scipy.optimize import brentq

        scales.append(brentq(lambda w: door_inner(w, S, K)[0] - 0.5, 0.0, K + 10 * s, xtol=1e-15))
    return ref_binary(lambda w: door_inner(w, S, K), q, S, scales)


def _q_V(frac):
    # V = rho - q without the cancellation of 1 - (1 - 1e-10)
    return RHO * frac, RHO * {0.0: 1.0, 0.5: 0.5, 1.0 - 1e-4: 1e-4, 1.0 - 1e-10: 1e-10}[frac]


@pytest.mark.parametrize("field,value", [("gamma", 0.0), ("gamma", -1.0), ("gamma", math.inf), ("gamma", math.nan),
                                         ("gamma", "1"), ("width", -0.1), ("width", math.nan), ("width", True)])
def test_bad_logit_and_door_parameters_raise(field, value):
    with pytest.raises(ValueError, match=field):
        make_channel("logit" if field == "gamma" else "door", 0.0, **{field: value})


def test_parameter_of_another_channel_raises():
    with pytest.raises(ValueError, match="gamma"):
        make_channel("door", 0.0, gamma=2.0)
    with pytest.raises(ValueError, match="width"):
        make_channel("sign", 0.0, width=1.0)


@pytest.mark.parametrize("name,par,noise", [("logit", 0.5, 0.0), ("logit", 20.0, 0.0), ("logit", 3.0, 0.3),
                                            ("door", WIDTH, 0.0), ("door", 0.2, 0.3), ("door", 2.0, 0.0)])
@pytest.mark.parametrize("omega,V", [(0.3, 0.5), (-1.2, 0.05), (0.0, 1.0), (2.0, 1e-3), (-4.0, 2.0)])
def test_logit_and_door_z_out_against_direct_z_integral(name, par, noise, omega, V):
    ch = make_channel(name, noise, **{"gamma" if name == "logit" else "width": par})
    S = V + noise
    s = math.sqrt(S)
    if name == "logit":
        def p(y, z):
            return expit(par * y * z)
        pts = [0.0, omega] + [k / par for k in (-20, -5, -1, 1, 5, 20)]
    else:
        def p(y, z):
            return float(y * (abs(z) - par) > 0)
        pts = [0.0, omega, par, -par]
    total = 0.0
    for y in (1.0, -1.0):
        def moment(k):
            return quad(lambda z: npdf(z, omega, S) * p(y, z) * ((z - omega) / S) ** k,
                        omega - 14 * s, omega + 14 * s, points=pts)

        Z, Z1, Z2 = moment(0), moment(1), moment(2)
        total += Z
        lz, g, dg = (a[0] for a in ch.z_out(np.array([y]), np.array([omega]), np.array([V])))
        if Z < 1e-280:  # the door's Z(-1) 42 standard deviations away: beyond floating point
            assert lz < -600
            continue
        g_ref = Z1 / Z
        dg_ref = (Z2 - Z / S) / Z - g_ref**2
        assert lz == pytest.approx(math.log(Z), rel=1e-10, abs=1e-11)
        assert g == pytest.approx(g_ref, rel=1e-9, abs=1e-10)
        assert dg == pytest.approx(dg_ref, rel=1e-8, abs=1e-9)
        # and the derivatives against differences of log Z itself
        h = 1e-5 * s
        lzp, gp, _ = (a[0] for a in ch.z_out(np.array([y]), np.array([omega + h]), np.array([V])))
        lzm, gm, _ = (a[0] for a in ch.z_out(np.array([y]), np.array([omega - h]), np.array([V])))
        assert g == pytest.approx((lzp - lzm) / (2 * h), abs=1e-6 / s, rel=1e-6)
        assert dg == pytest.approx((gp - gm) / (2 * h), abs=1e-6 / S, rel=1e-6)
    assert total == pytest.approx(1.0, abs=1e-12)


def test_logit_z_out_keeps_relative_accuracy_in_the_tails():
    """The unlikely label far from the boundary: Z(-1) ~ e^{-gamma omega + gamma^2 S / 2} (logit)
    or a Gaussian tail (door), its log and g_out exact, never log(0)."""
    V = 0.04
    ch = make_channel("logit", 0.0, gamma=20.0)
    omega = 6.0
    lz, g, _ = (a[0] for a in ch.z_out(np.array([-1.0]), np.array([omega]), np.array([V])))
    # for z >> 1/gamma: sigmoid(-gamma z) = e^{-gamma z} (1 - e^{-gamma z} + ...), and the
    # Gaussian mass at z < 1 is e^{-(omega - gamma V - 1)^2 / 2V} ~ e^-75: negligible
    ref = -20.0 * omega + 200.0 * V
    assert lz == pytest.approx(ref, rel=1e-12)
    assert g == pytest.approx(-20.0, rel=1e-12)
    door = make_channel("door", 0.0, width=WIDTH)
    lz, g, _ = (a[0] for a in door.z_out(np.array([-1.0]), np.array([5.0]), np.array([V])))
    s = math.sqrt(V)
    ref = math.log(ndtr(-(5.0 - WIDTH) / s) - ndtr(-(5.0 + WIDTH) / s))
    assert np.isfinite(lz) and lz == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("gamma, frac", [(g, 0.0) for g in GAMMAS]
                         + [pytest.param(0.5, 0.5, marks=pytest.mark.slow)])
def test_logit_se_integrals_against_adaptive_quadrature(gamma, frac):
    """(The nested adaptive reference takes from seconds to many minutes for q > 0: one such case
    is run, slow; the rule at q > 0 and large gamma is checked against the sign channel's limit
    and by the noisy case below.)"""
    q, V = _q_V(frac)
    ch = make_channel("logit", 0.0, gamma=gamma)
    hat, psi = ch.se_integrals(q, V)
    ref = ref_logit(q, V, gamma)
    assert hat == pytest.approx(ref[0], rel=1e-10)
    assert psi == pytest.approx(ref[1], rel=1e-10, abs=1e-12)
    err = ch.label_errors(q, V)
    assert err["bayes_error"] == pytest.approx(ref[2], rel=1e-10)
    assert err["gibbs_error"] == pytest.approx(2 * ref[3], rel=1e-10)
    assert err["label_mse"] == pytest.approx(4 * ref[3], rel=1e-10)


@pytest.mark.parametrize("noise,frac", [(noise, frac) for noise in (0.0, 0.1) for frac in (0.0, 0.5)]
                         + [(0.1, 1.0 - 1e-4), (0.1, 1.0 - 1e-10)]
                         # the noiseless reference at small V takes ~20 s (adaptive quadrature over a
                         # window of width sqrt(V) inside 12 sqrt(q)): one point, the smaller V, in
                         # the exhaustive run (the noisy channel is checked there in the default run)
                         + [pytest.param(0.0, 1.0 - 1e-10, marks=[pytest.mark.slow, pytest.mark.exhaustive])])
def test_door_se_integrals_against_adaptive_quadrature(noise, frac):
    q, V = _q_V(frac)
    ch = make_channel("door", noise, width=WIDTH)
    hat, psi = ch.se_integrals(q, V)
    ref = ref_door(q, V, WIDTH, noise)
    assert hat == pytest.approx(ref[0], rel=1e-10, abs=1e-300)
    assert psi == pytest.approx(ref[1], rel=1e-10, abs=1e-12)
    err = ch.label_errors(q, V)
    assert err["bayes_error"] == pytest.approx(ref[2], rel=1e-10)
    assert err["gibbs_error"] == pytest.approx(2 * ref[3], rel=1e-10)
    assert err["label_mse"] == pytest.approx(4 * ref[3], rel=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("gamma,noise,frac", [(2.0, 0.3, 0.5)])
def test_noisy_logit_se_integrals_against_adaptive_quadrature(gamma, noise, frac):
    q, V = _q_V(frac)
    ch = make_channel("logit", noise, gamma=gamma)
    hat, psi = ch.se_integrals(q, V)
    ref = ref_logit(q, V, gamma, noise)
    assert hat == pytest.approx(ref[0], rel=1e-10)
    assert psi == pytest.approx(ref[1], rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("frac", [0.0, 0.5, 0.99])
@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_logit_limits_sign_and_no_information(frac, noise):
    """gamma -> inf: the sign channel (the sigmoid's width 1/gamma against sqrt(V + noise): the
    integrals differ by O(1 / (gamma^2 S))); gamma -> 0: Z = 1/2 + O(gamma), so E g^2 = gamma^2 /
    4 (1 + O(gamma^2)) and psi -> -log 2."""
    q = frac
    V = 1.0 - q
    sign = make_channel("sign", noise).se_integrals(q, V)
    sharp = make_channel("logit", noise, gamma=1e5).se_integrals(q, V)
    # (the relative difference is O(1 / (gamma^2 S)) <= 1e-8 here)
    assert sharp[0] == pytest.approx(sign[0], rel=5e-8)
    assert sharp[1] == pytest.approx(sign[1], rel=5e-8)
    b_sign = make_channel("sign", noise).label_errors(q, V)
    b_sharp = make_channel("logit", noise, gamma=1e5).label_errors(q, V)
    for k in b_sign:
        assert b_sharp[k] == pytest.approx(b_sign[k], rel=1e-7)
    g = 1e-4
    hat, psi = make_channel("logit", noise, gamma=g).se_integrals(q, V)
    assert hat == pytest.approx(g * g / 4, rel=1e-6)
    assert psi == pytest.approx(-math.log(2.0), abs=1e-8)


def test_door_limits():
    """K = 0: y = +1 always, no information (E g^2 = psi = 0); at q = 0, psi is minus the label
    entropy, h(2 H(k)) with k = K / sqrt(rho + noise) (closed form); the same for a huge K."""
    for K in (0.0, 60.0):
        hat, psi = make_channel("door", 0.3, width=K).se_integrals(0.5, 0.5)
        assert hat == 0.0 and psi == pytest.approx(0.0, abs=1e-15)
    for noise in (0.0, 0.5):
        p = 2 * ndtr(-WIDTH / math.sqrt(1.0 + noise))
        hat, psi = make_channel("door", noise, width=WIDTH).se_integrals(0.0, 1.0)
        assert hat == 0.0
        assert psi == pytest.approx(p * math.log(p) + (1 - p) * math.log(1 - p), rel=1e-14)


@pytest.mark.parametrize("name,noise", [("logit", 0.0), ("logit", 0.2), ("door", 0.0), ("door", 0.2)])
def test_logit_and_door_perfect_knowledge_limits(name, noise):
    """V = 0: omega = z and Z_out = P_out. Noiseless door: g_out is a delta at |omega| = K (E g^2
    = inf) and no entropy is left; otherwise finite, against quadrature of the definitions."""
    q = 0.8
    ch = make_channel(name, noise, **({"gamma": 3.0} if name == "logit" else {}))
    hat, psi = ch.se_integrals(q, 0.0)
    if name == "door" and noise == 0.0:
        assert hat == math.inf and psi == 0.0
        return
    inner = (lambda w: logit_inner(w, noise, 3.0)) if name == "logit" else (lambda w: door_inner(w, noise, WIDTH))
    scales = [0.5, 1.0] if name == "logit" else [WIDTH + k * math.sqrt(noise) for k in (-4, -1, 0, 1, 4)]
    ref = ref_binary(inner, q, noise, scales)
    assert hat == pytest.approx(ref[0], rel=1e-10)
    assert psi == pytest.approx(ref[1], rel=1e-10)
    # and continuity: V -> 0
    h2, p2 = ch.se_integrals(q, 1e-13)
    assert h2 == pytest.approx(hat, rel=1e-5) and p2 == pytest.approx(psi, rel=1e-5)


@pytest.mark.parametrize("noise", [0.0, 0.3])
@pytest.mark.parametrize("frac", [0.0, 0.5, 1.0 - 1e-4])
def test_sign_label_errors_against_quadrature(noise, frac):
    """Gibbs error 2 E H(u) H(-u) and label MSE 4 E H(u) H(-u) (u = omega / sqrt(S)) against
    the closed form arccos(q / (rho + noise)) / pi."""
    q, V = _q_V(frac)
    S = V + noise
    err = make_channel("sign", noise).label_errors(q, V)
    ref = expect_u(lambda u: ndtr(u) * ndtr(-u), math.sqrt(q / S))
    assert err["gibbs_error"] == pytest.approx(2 * ref, rel=1e-10)
    assert err["label_mse"] == pytest.approx(4 * ref, rel=1e-10)
    assert err["bayes_error"] == make_channel("sign", noise).bayes_gen_error(q, V)


@pytest.mark.parametrize("name,par", [("logit", 2.0), ("door", WIDTH)])
def test_logit_and_door_sample_and_predict(name, par):
    ch = make_channel(name, 0.2, **{"gamma" if name == "logit" else "width": par})
    rng = np.random.default_rng(1)
    n = 200_000
    for z in (0.3, 1.1):
        y = ch.sample(np.full(n, z), rng)
        assert set(np.unique(y)) <= {-1.0, 1.0}
        p = math.exp(ch.z_out(np.array([1.0]), np.array([z]), np.array([0.0 + 1e-300]))[0][0])
        freq = float(np.mean(y == 1.0))
        assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / n)
    omega = np.linspace(-3, 3, 60)  # (not the tie omega = 0 of the logit channel)
    V = 0.4
    pred = ch.predict(omega, V)
    lzp = ch.z_out(np.ones_like(omega), omega, np.full_like(omega, V))[0]
    np.testing.assert_array_equal(pred, np.where(np.exp(lzp) >= 0.5, 1.0, -1.0))


@pytest.mark.parametrize("gamma,noise,rho", [(4.0, 0.0, 1.0), (2.0, 0.1, 0.3)])
def test_logit_table_agrees_with_direct_integrals(gamma, noise, rho):
    ch = make_channel("logit", noise, gamma=gamma)
    for frac in (0.0, 0.3, 0.9, 0.999, 1 - 1e-8):
        q = rho * frac
        tab = ch.se_bayes(q, rho, tabulated=True)
        direct = ch.se_bayes(q, rho, tabulated=False)
        assert tab[0] == pytest.approx(direct[0], rel=1e-9)
        assert tab[1] == pytest.approx(direct[1], rel=1e-9, abs=1e-12)
        et = ch.label_errors(q, rho - q, rho=rho)
        ed = ch.label_errors(q, rho - q)
        for k in ed:
            assert et[k] == pytest.approx(ed[k], rel=1e-9)
        if 0.0 < frac < 0.99:
            h = 1e-5 * rho
            fd = (ch.se_bayes(q + h, rho, tabulated=False)[0] - ch.se_bayes(max(q - h, 0.0), rho, tabulated=False)[0]) \
                / (q + h - max(q - h, 0.0))
            assert ch.se_bayes_derivative(q, rho) == pytest.approx(fd, rel=1e-5)
