"""Tests of the shared scalar priors (equations.priors).

Every number is checked against an independent computation: mpmath quadrature of the
definitions (posterior computed from the support / the Gaussian-mixture formulas, variance as a
sum of pairwise squared differences, so that no cancellation hides errors), closed forms, the
small-snr MMSE expansion of Guo-Wu-Shamai-Verdu, finite differences of one integral against
another (I-MMSE), and Monte Carlo for the sampler.
"""

import math

import mpmath as mp
import numpy as np
import pytest

from equations.priors import PRIOR_KINDS, Prior, make_prior

# ----------------------------------------------------------------------------- mpmath reference


def _mp_reference(prior: Prior, g: float, dps: int = 25):
    """(mmse, overlap, mutual information, E Var^2) by mpmath quadrature over y, per component."""
    with mp.workdps(dps):
        g = mp.mpf(g)
        rho = mp.mpf(prior.rho)
        s = mp.mpf(prior.scale)
        sg = mp.sqrt(g)
        if prior.kind in ("rademacher", "sparse_rademacher"):
            support = [(mp.mpf(0), 1 - rho), (s, rho / 2), (-s, rho / 2)]
            support = [(x, w) for x, w in support if w > 0]
            xs = [x for x, _ in support]

            def post(y):
                ws = [w * mp.exp(sg * y * x - g * x * x / 2) for x, w in support]
                z = sum(ws)
                mean = sum(w * x for x, w in zip(xs, ws)) / z
                var = sum(ws[i] * ws[j] * (xs[i] - xs[j]) ** 2
                          for i in range(len(ws)) for j in range(i + 1, len(ws))) / z**2
                return z, mean, var

            comps = [(sg * x, w, mp.mpf(1)) for x, w in support]  # y | x ~ N(sqrt(g) x, 1)
        else:
            a = g * s * s

            def post(y):
                w0 = 1 - rho
                w1 = rho / mp.sqrt(1 + a) * mp.exp(a * y * y / (2 * (1 + a)))
                z = w0 + w1
                p = w1 / z
                m1 = sg * s * s * y / (1 + a)
                v1 = s * s / (1 + a)
                return z, p * m1, p * v1 + p * (1 - p) * m1 * m1  # law of total variance

            comps = [(mp.mpf(0), 1 - rho, mp.mpf(1)), (mp.mpf(0), rho, 1 + a)]
            comps = [c for c in comps if c[1] > 0]
        # break points: each component's bulk and the places where the posterior changes
        feats = []
        if g > 0 and prior.kind in ("rademacher", "sparse_rademacher"):
            hs = [mp.mpf(0)]
            if rho < 1:
                lam = g * s * s / 2 - mp.log(rho / (1 - rho))
                if lam > 0:
                    hs += [mp.acosh(mp.exp(lam)), -mp.acosh(mp.exp(lam))]
            for h in hs:
                feats += [(h + d) / (sg * s) for d in (-60, -20, -6, -2, 0, 2, 6, 20, 60)]
        elif g > 0 and prior.kind == "gauss_bernoulli" and rho < 1:
            a = g * s * s
            cs = mp.log((1 - rho) / rho) + mp.log(1 + a) / 2
            if cs > 0:
                ystar = mp.sqrt(2 * cs) / mp.sqrt(a / (1 + a))
                feats = [ystar * f for f in (-2, -1.2, -1, -0.8, -0.5, 0, 0.5, 0.8, 1, 1.2, 2)]
        out = [mp.mpf(0)] * 4
        for mu, w, var_y in comps:
            sd = mp.sqrt(var_y)
            pts = [mu + k * sd for k in (-12, -6, -3, -1, 0, 1, 3, 6, 12)]
            pts = sorted(set(pts + [f for f in feats if abs(f - mu) < 40 * sd]))
            pts = [-mp.inf] + pts + [mp.inf]
            norm = 1 / mp.sqrt(2 * mp.pi * var_y)

            def dens(y, mu=mu, var_y=var_y, norm=norm):
                return norm * mp.exp(-((y - mu) ** 2) / (2 * var_y))

            cache = {}

            def terms(y):  # the four integrands share the posterior and mpmath's nodes: cache them
                if y not in cache:
                    z, mean, var = post(y)
                    d = dens(y)
                    cache[y] = (d * var, d * mean * mean, d * mp.log(z), d * var * var)
                return cache[y]

            for i in range(4):
                def f(y, i=i):
                    return terms(y)[i]

                out[i] += w * mp.quad(f, pts)
        mi = g * rho * s * s / 2 - out[2]
        return float(out[0]), float(out[1]), float(mi), float(out[3])


# ----------------------------------------------------------------------------- validation


def test_invalid_parameters_raise_naming_the_field():
    with pytest.raises(ValueError, match="kind"):
        Prior("laplace")
    with pytest.raises(ValueError, match="rho"):
        Prior("sparse_rademacher", rho=0.0)
    with pytest.raises(ValueError, match="rho"):
        Prior("sparse_rademacher", rho=1.5)
    with pytest.raises(ValueError, match="rho"):
        Prior("gauss_bernoulli", rho=float("nan"))
    with pytest.raises(ValueError, match="rho"):
        Prior("gaussian", rho=0.5)
    with pytest.raises(ValueError, match="scale"):
        Prior("gaussian", scale=-1.0)
    with pytest.raises(ValueError, match="scale"):
        Prior("rademacher", scale=float("inf"))
    with pytest.raises(ValueError, match="second_moment"):
        make_prior("gaussian", second_moment=0.0)
    p = Prior("rademacher")
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="g "):
            p.overlap(bad)
        with pytest.raises(ValueError, match="g "):
            p.denoise([0.0], bad)


def test_make_prior_normalisations():
    for kind in PRIOR_KINDS:
        rho = 0.2 if kind in ("sparse_rademacher", "gauss_bernoulli") else 1.0
        assert make_prior(kind, rho, second_moment=1.0).second_moment == pytest.approx(1.0, abs=1e-15)
        assert make_prior(kind, rho).second_moment == pytest.approx(rho, abs=1e-15)
        assert make_prior(kind, rho).scale == 1.0


# ----------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("g", [0.0, 1e-6, 0.3, 3.0, 1e3, 1e8])
def test_gaussian_closed_forms(g):
    s = 1.7
    for p in (Prior("gaussian", scale=s), Prior("gauss_bernoulli", rho=1.0, scale=s)):
        assert p.overlap(g) == pytest.approx(g * s**4 / (1 + g * s * s), rel=1e-14, abs=1e-300)
        assert p.mmse(g) == pytest.approx(s * s / (1 + g * s * s), rel=1e-14)
        assert p.mutual_information(g) == pytest.approx(0.5 * math.log1p(g * s * s), rel=1e-14, abs=1e-300)
        assert p.overlap_derivative(g) == pytest.approx(s**4 / (1 + g * s * s) ** 2, rel=1e-14)
        mean, var = p.denoise(np.array([-2.0, 0.5]), g)
        np.testing.assert_allclose(mean, math.sqrt(g) * s * s * np.array([-2.0, 0.5]) / (1 + g * s * s), rtol=1e-14)
        np.testing.assert_allclose(var, s * s / (1 + g * s * s), rtol=1e-14)


@pytest.mark.parametrize("g", [0.05, 1.0, 7.0, 40.0, 200.0, 1000.0])
def test_rademacher_mmse_sech_identity(g):
    # Independent closed form: for x = +-s, E[Var(x|y)] = s^2 e^{-a/2} E_{t ~ N(0, a)} sech(t), a = g s^2
    # (pair the field densities N(a, a) and N(-a, a) and use e^t sech^2 t + e^-t sech^2 t = 2 sech t).
    s = 1.3
    a = g * s * s
    with mp.workdps(30):
        a_mp = mp.mpf(a)
        t_max = 12 * mp.sqrt(a_mp) + 40
        val = mp.quad(lambda t: mp.exp(-t * t / (2 * a_mp)) * mp.sech(t), [-t_max, -5, 0, 5, t_max])
        expected = float(s * s * mp.exp(-a_mp / 2) * val / mp.sqrt(2 * mp.pi * a_mp))
    assert Prior("rademacher", scale=s).mmse(g) == pytest.approx(expected, rel=1e-10)


def test_rademacher_is_sparse_rademacher_at_rho_one():
    a, b = Prior("rademacher", scale=1.2), Prior("sparse_rademacher", rho=1.0, scale=1.2)
    for g in (1e-4, 0.7, 12.0):
        assert a.averages(g) == b.averages(g)


@pytest.mark.parametrize("kind,rho", [("rademacher", 1.0), ("sparse_rademacher", 0.08), ("sparse_rademacher", 0.4),
                                      ("gauss_bernoulli", 0.1), ("gauss_bernoulli", 0.6)])
def test_small_snr_expansion(kind, rho):
    # Guo, Wu, Shamai, Verdu (2011): for a centred unit-variance prior,
    # mmse(g) = 1 - g + (2 - E[x^3]^2) g^2 / 2 - (15 - 12 E[x^3]^2 - 6 E x^4 + (E x^4)^2) g^3 / 6 + O(g^4)
    p = make_prior(kind, rho, second_moment=1.0)
    kappa = p.rho * p.scale**4 * (3.0 if kind == "gauss_bernoulli" else 1.0)
    c3 = (15 - 6 * kappa + kappa**2) / 6
    g = 1e-3 / max(1.0, kappa)
    assert p.mmse(g) == pytest.approx(1 - g + g * g - c3 * g**3, abs=40 * c3 * kappa * g**4)


@pytest.mark.parametrize("kind,rho", [("rademacher", 1.0), ("sparse_rademacher", 0.1), ("gauss_bernoulli", 0.1),
                                      ("sparse_rademacher", 1e-8), ("gauss_bernoulli", 1e-8)])
def test_large_snr_limits(kind, rho):
    # at g -> infinity the signal is revealed: I(x; y) -> H(x) for discrete priors, mmse -> 0
    p = make_prior(kind, rho, second_moment=1.0)
    if kind != "gauss_bernoulli":
        h = -(1 - rho) * math.log1p(-rho) - rho * math.log(rho / 2) if rho < 1 else math.log(2)
        assert p.mutual_information(1e8) == pytest.approx(h, abs=1e-12)
        assert p.mmse(1e8) == 0.0
    else:
        # I = H_b(rho) + rho/2 log(1 + a) - H(support | y), a = g s^2: the support is revealed
        # except for non-zero entries smaller than ~ sqrt(log(a)/g), so H(support|y) = O(sqrt(log a / a))
        g = 1e8
        a = g * p.scale**2
        hb = -(1 - rho) * math.log1p(-rho) - rho * math.log(rho)
        gap = hb + 0.5 * rho * math.log1p(a) - p.mutual_information(g)
        assert 0 < gap < 3 * math.sqrt(math.log(a) / a)
        assert p.mmse(g) == pytest.approx(rho * p.scale**2 / (1 + a), rel=1e-2)  # same support correction


# ----------------------------------------------------------------------------- high precision


_MP_CASES = [
    (Prior("rademacher", scale=1.0), (1e-6, 0.3, 3.0, 1e3, 1e6, 1e8)),
    (make_prior("sparse_rademacher", 0.1, second_moment=1.0), (1e-6, 0.3, 3.0, 1e3, 1e6, 1e8)),
    (make_prior("gauss_bernoulli", 0.1, second_moment=1.0), (1e-6, 0.3, 3.0, 1e3, 1e6, 1e8)),
    (Prior("sparse_rademacher", rho=0.3), (2.0, 30.0)),
    (Prior("gauss_bernoulli", rho=0.5), (0.7, 30.0, 1e6)),
]


@pytest.mark.slow
@pytest.mark.parametrize("prior,gs", _MP_CASES, ids=lambda v: getattr(v, "kind", ""))
def test_against_mpmath(prior, gs):
    for g in gs:
        mmse, overlap, mi, var2 = _mp_reference(prior, g)
        av = prior.averages(g)
        assert av["overlap"] == pytest.approx(overlap, abs=1e-10), g
        assert prior.overlap(g) == pytest.approx(overlap, abs=1e-10), g  # the hot path
        assert av["mutual_information"] == pytest.approx(mi, abs=1e-10), g
        assert av["free_entropy"] == pytest.approx(0.5 * g * prior.second_moment - mi, rel=1e-12, abs=1e-10), g
        # the MMSE and E Var^2 keep their relative accuracy when they are tiny (below 1e-100 the
        # reference quadrature itself, on integrands weighted by e^{-a/2}, is good to ~1e-7 only;
        # test_rademacher_mmse_sech_identity checks that range against a closed form)
        rel = 1e-8 if mmse > 1e-100 else 1e-6
        assert av["mmse"] == pytest.approx(mmse, rel=rel, abs=1e-300), g
        assert av["overlap_derivative"] == pytest.approx(var2, rel=rel, abs=1e-300), g


@pytest.mark.parametrize("prior,g", [(make_prior("sparse_rademacher", 0.1, second_moment=1.0), 30.0),
                                     (Prior("rademacher"), 40.0), (Prior("rademacher"), 100.0)])
def test_tiny_mmse_relative_accuracy(prior, g):
    mmse, _, _, var2 = _mp_reference(prior, g, dps=40)
    assert mmse < 1e-8
    assert prior.mmse(g) == pytest.approx(mmse, rel=1e-8)
    assert prior.overlap_derivative(g) == pytest.approx(var2, rel=1e-8)


@pytest.mark.parametrize("kind,rho", [("rademacher", 1.0), ("sparse_rademacher", 0.2), ("gauss_bernoulli", 0.2)])
@pytest.mark.parametrize("g", [0.5, 20.0, 1e6])
def test_denoiser_against_mpmath(kind, rho, g):
    p = make_prior(kind, rho, second_moment=1.0)
    ys = np.array([-3.0, -0.4, 0.0, 0.9, 2.5]) * math.sqrt(1 + g)
    if g == 1e6:  # around the decision boundaries, where the posterior is uncertain
        ys = np.array([0.0, 3.0, 4.5, 5.0, -7.0]) / math.sqrt(p.scale**2)
    mean, var = p.denoise(ys, g)
    with mp.workdps(40):
        for y, m_, v_ in zip(ys, mean, var):
            y = mp.mpf(float(y))
            if kind == "gauss_bernoulli":
                # numerical integration over the prior, no formula shared with the code
                s = mp.mpf(p.scale)

                def moment(k):
                    def f(x):
                        return x**k * mp.exp(mp.sqrt(g) * y * x - g * x * x / 2 - x * x / (2 * s * s))
                    c = mp.sqrt(g) * y / (g + 1 / s**2)
                    w = 1 / mp.sqrt(g + 1 / s**2)
                    cont = mp.quad(f, [-mp.inf, c - 10 * w, c, c + 10 * w, mp.inf]) / mp.sqrt(2 * mp.pi * s * s)
                    return mp.mpf(p.rho) * cont + ((1 - mp.mpf(p.rho)) if k == 0 else 0)

                z, m1, m2 = moment(0), moment(1), moment(2)
            else:
                pts = [(mp.mpf(0), 1 - mp.mpf(p.rho)), (mp.mpf(p.scale), mp.mpf(p.rho) / 2),
                       (-mp.mpf(p.scale), mp.mpf(p.rho) / 2)]
                pts = [(x, w) for x, w in pts if w > 0]
                ws = [w * mp.exp(mp.sqrt(g) * y * x - g * x * x / 2) for x, w in pts]
                z = sum(ws)
                m1 = sum(w * x for (x, _), w in zip(pts, ws))
                m2 = sum(w * x * x for (x, _), w in zip(pts, ws))
            ref_mean = m1 / z
            ref_var = m2 / z - ref_mean**2
            assert m_ == pytest.approx(float(ref_mean), abs=1e-12 * p.scale)
            assert v_ == pytest.approx(float(ref_var), rel=1e-9, abs=1e-14)


# ----------------------------------------------------------------------------- identities


@pytest.mark.parametrize("kind,rho", [("rademacher", 1.0), ("sparse_rademacher", 0.05), ("gauss_bernoulli", 0.1)])
@pytest.mark.parametrize("g", [0.01, 0.8, 6.0, 90.0, 2000.0])
def test_i_mmse_and_derivative_by_finite_differences(kind, rho, g):
    # psi'(g) = overlap / 2 and overlap'(g) = E[Var^2]: each is a separate integral in the code
    p = make_prior(kind, rho, second_moment=1.0)
    h = 1e-4 * g
    dpsi = (p.free_entropy(g + h) - p.free_entropy(g - h)) / (2 * h)
    assert dpsi == pytest.approx(p.overlap(g) / 2, rel=1e-7, abs=1e-9)
    dov = (p.overlap(g + h) - p.overlap(g - h)) / (2 * h)
    assert dov == pytest.approx(p.overlap_derivative(g), rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("kind,rho", [("rademacher", 1.0), ("sparse_rademacher", 0.05), ("sparse_rademacher", 0.5),
                                      ("gauss_bernoulli", 0.1), ("gauss_bernoulli", 1e-6)])
def test_nishimori_overlap_two_ways(kind, rho):
    # E[E[x|y]^2] over both mixture components (full kernel) == E[x E[x|y]] (one component)
    p = make_prior(kind, rho, second_moment=1.0)
    for g in np.geomspace(1e-6, 500.0 / p.scale**2, 40):
        assert p.overlap(g) == pytest.approx(p._averages(g)[1], abs=1e-11)
        assert p.overlap(g) + p.mmse(g) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kind,rho", [("gaussian", 1.0), ("rademacher", 1.0), ("sparse_rademacher", 0.1),
                                      ("gauss_bernoulli", 0.25)])
def test_sampler_and_denoiser_monte_carlo(kind, rho):
    p = make_prior(kind, rho, second_moment=1.0)
    rng = np.random.default_rng(7)
    n = 400_000
    x = p.sample(n, rng)
    assert np.mean(x * x) == pytest.approx(1.0, abs=5 * math.sqrt(np.var(x * x) / n))
    assert np.mean(x != 0) == pytest.approx(rho, abs=5 * math.sqrt(rho * (1 - rho) / n) + 1e-12)
    g = 1.3
    y = math.sqrt(g) * x + rng.standard_normal(n)
    mean, var = p.denoise(y, g)
    se = math.sqrt(np.var(x * mean) / n)
    assert np.mean(x * mean) == pytest.approx(p.overlap(g), abs=4 * se)
    assert np.mean(var) == pytest.approx(p.mmse(g), abs=4 * math.sqrt(np.var(var) / n))
    assert np.mean((x - mean) ** 2) == pytest.approx(p.mmse(g), abs=4 * math.sqrt(np.var((x - mean) ** 2) / n))


def test_vectorised_averages():
    p = make_prior("sparse_rademacher", 0.2, second_moment=1.0)
    gs = np.array([[0.1, 1.0], [5.0, 50.0]])
    ov = p.overlap(gs)
    assert ov.shape == (2, 2)
    assert ov[1, 0] == p.overlap(5.0)
    assert p.free_entropy(gs)[0, 1] == p.free_entropy(1.0)
