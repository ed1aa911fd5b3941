"""``mixture_single_index``: ERM on Gaussian mixtures with single-index labels, checked against
``glm_erm`` (one isotropic cloud), adaptive quadrature, the stationarity of the energy, the
least-squares closed form, the universality statements of Pesce et al. (ICML 2023) and Gerace et
al. (PRE 2024), and finite-size instances."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, stats

import equations
import fixedpoint as fp
from equations.glm_erm import _legendre
from equations.losses import loss_code
from equations.mixtures.single_index import (CHANNELS, MixtureSingleIndex, _cloud_integrals,
                                             least_squares_train_error)
from tests.equations.test_mixtures import _reference_prox

TIGHT = dict(atol=1e-13, rtol=1e-13)


def _get(**params):
    return equations.get("mixture_single_index", **params)


ONE_CLOUD = dict(weights=(1.0,), mean_par=(0.0,), mean_perp=(0.0,), var=(1.0,))


@pytest.mark.parametrize("loss, channel, noise, penalty, bias", [
    ("logistic", "sign", 0.1, "l2", False), ("hinge", "sign", 0.0, "l2", False), ("square", "linear", 0.3, "l2", False),
    ("square", "sign", 0.2, "l2", False), ("logistic", "random", 0.0, "l2", False), ("square", "linear", 0.3, "l1", False),
    ("logistic", "sign", 0.2, "l1", False), ("logistic", "sign", 0.1, "l2", True)])
def test_one_isotropic_cloud_is_glm_erm(loss, channel, noise, penalty, bias):
    mix = _get(loss=loss, channel=channel, noise=noise, penalty=penalty, alpha=1.7, reg=0.3, bias=bias, **ONE_CLOUD)
    glm = equations.get("glm_erm", loss=loss, channel=channel, noise=noise, penalty=penalty, alpha=1.7, reg=0.3,
                        bias=bias)
    sm, sg = fp.solve(mix, **TIGHT), fp.solve(glm, **TIGHT)
    assert sm.converged and sg.converged
    om, og = mix.observables(sm.x), glm.observables(sg.x)
    assert sm["m_perp"] == 0.0
    for key in ("m", "q", "V", "gen_error", "train_loss") + (("b",) if bias else ()):
        assert om[key] == pytest.approx(og[key], rel=1e-10, abs=1e-12), key
    if channel == "random":
        # every margin is a Gaussian field shifted by the label: negative below omega = -V/2 (logistic)
        assert om["train_error"] == pytest.approx(stats.norm.sf(om["V"] / (2 * math.sqrt(om["q"]))), rel=1e-10)
    elif channel != "linear":
        assert om["train_error"] == pytest.approx(og["train_error"], rel=1e-9, abs=1e-12)


def _reference_cloud(loss, channel, noise, a, tau2, mean, S, K, Vc):
    """The eight cloud integrals of ``_cloud_integrals`` by adaptive quadrature: an outer ``quad``
    over ``omega`` (cut at the proximal kinks and at 0) with the reference proximal operator, and
    inner ``quad``s over ``nu | omega`` for the label's probability and first moment."""
    sd = math.sqrt(S)
    slope = K / S
    s = math.sqrt(tau2 - K * slope)
    Vc_kinks = {"hinge": [1.0, 1.0 - Vc, -1.0, Vc - 1.0], "logistic": [], "square": []}[loss]
    t0 = {"hinge": -Vc, "logistic": -0.5 * Vc, "square": -Vc}[loss]

    def label(om):
        mu = a + slope * (om - mean)
        if channel == "random":
            return 0.5, 0.5 * mu, 0.5 * mu
        rn = math.sqrt(2 * noise)
        py = lambda nu: 0.5 * math.erfc(-nu / rn)  # P(y = +1 | nu)
        dens = lambda nu: math.exp(-0.5 * ((nu - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        lo, hi = mu - 14 * s, mu + 14 * s
        kw = dict(epsabs=1e-15, epsrel=1e-13, limit=200, points=[0.0] if lo < 0 < hi else None)
        pp = integrate.quad(lambda nu: dens(nu) * py(nu), lo, hi, **kw)[0]
        n1 = integrate.quad(lambda nu: nu * dens(nu) * py(nu), lo, hi, **kw)[0]
        return pp, n1, mu - n1

    def integrand(om):
        pp, npl, nmi = label(om)
        pm = 1 - pp
        zp, dfp, lp = _reference_prox(loss, om, Vc, 1.0)
        zm, dfm, lm = _reference_prox(loss, -om, Vc, 1.0)
        fp_, fm = (zp - om) / Vc, (zm + om) / Vc
        w = math.exp(-0.5 * ((om - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        return w * np.array([pp * fp_ - pm * fm, pp * fp_ ** 2 + pm * fm ** 2, pp * dfp + pm * dfm, npl * fp_ - nmi * fm,
                             pp * lp + pm * lm, pp * (lp + 0.5 * Vc * fp_ ** 2) + pm * (lm + 0.5 * Vc * fm ** 2),
                             pp * (zp < 0) + pm * (zm < 0), pm if om > 0 else pp])

    lo, hi = mean - 12 * sd, mean + 12 * sd
    pts = sorted(p for p in Vc_kinks + [t0, -t0, 0.0] if lo < p < hi)
    return integrate.quad_vec(integrand, lo, hi, points=pts, epsabs=1e-14, epsrel=1e-12, limit=400)[0]


@pytest.mark.parametrize("loss, channel", [pytest.param("logistic", "sign", marks=pytest.mark.slow),  # 20 s: brentq prox
                                           ("hinge", "sign"), ("square", "sign"),
                                           ("logistic", "random")])
def test_cloud_integrals_against_adaptive_quadrature(loss, channel):
    # a cloud with a mean along the teacher, an extra variance and a student partly aligned
    a, tau2, noise = 0.7, 1.4, 0.15
    mean, S, K, Vc = 0.3, 2.2, 1.1, 0.8
    glx, glw = _legendre()
    out = np.empty(8)
    _cloud_integrals(loss_code(loss), CHANNELS.index(channel), noise, 1.0, a, tau2, mean, S, K, Vc, glx, glw, out)
    ref = _reference_cloud(loss, channel, noise, a, tau2, mean, S, K, Vc)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-11)


def test_linear_channel_cloud_is_the_gaussian_moments():
    # square loss, y = nu + sqrt(noise) xi: f = (y - omega)/(1 + Vc), by Monte-Carlo-free Gauss-Hermite in 3-D
    a, tau2, noise, mean, S, K, Vc = 0.4, 1.3, 0.2, -0.2, 0.9, 0.6, 0.5
    out = np.empty(8)
    glx, glw = _legendre()
    _cloud_integrals(loss_code("square"), CHANNELS.index("linear"), noise, 1.0, a, tau2, mean, S, K, Vc, glx, glw, out)
    x, w = np.polynomial.hermite_e.hermegauss(12)
    w = w / w.sum()
    Z1, Z2, Z3 = np.meshgrid(x, x, x, indexing="ij")
    W = w[:, None, None] * w[None, :, None] * w[None, None, :]
    nu = a + math.sqrt(tau2) * Z1
    om = mean + K / math.sqrt(tau2) * Z1 + math.sqrt(S - K * K / tau2) * Z2
    y = nu + math.sqrt(noise) * Z3
    f = (y - om) / (1 + Vc)
    E = lambda v: float(np.sum(W * v))
    ref = [E(f), E(f * f), -1 / (1 + Vc), E(f * nu), E(0.5 * (y - om) ** 2) / (1 + Vc) ** 2,
           E(0.5 * (y - om) ** 2) / (1 + Vc), E((y - om) ** 2) / (1 + Vc) ** 2, E((y - om) ** 2)]
    np.testing.assert_allclose(out, ref, rtol=1e-12)


MIXED = dict(weights=(0.3, 0.7), mean_par=(0.8, -0.3), mean_perp=(1.0, -0.5), var=(1.0, 0.6),
             cov_par=(0.5, -0.3), cov_cross=(0.2, 0.1), cov_perp=(0.0, 0.4))


@pytest.mark.parametrize("params", [
    dict(loss="logistic", channel="sign", noise=0.1, alpha=2.0, reg=0.2, bias=True, **MIXED),
    dict(loss="hinge", channel="sign", noise=0.0, alpha=2.5, reg=0.1, bias=False, **MIXED),
    dict(loss="square", channel="linear", noise=0.3, alpha=0.8, reg=0.1, penalty="l1", bias=True, **MIXED)])
def test_energy_is_stationary_in_every_state_entry(params):
    model = _get(**params)
    sol = fp.solve(model, **TIGHT)
    assert sol.converged
    x = sol.x
    h = 1e-5
    entries = range(5) if model.bias else range(4)  # without a bias b is not a variable
    for i in entries:
        e = np.zeros(5)
        e[i] = h
        grad = (model.energy(x + e) - model.energy(x - e)) / (2 * h)
        assert abs(grad) < 1e-7 * max(1.0, abs(model.energy(x))), (model.state_names[i], grad)
    # at the fixed point the energy is the training objective per dimension (l2): alpha loss + reg q/2
    if model.penalty == "l2":
        obs = model.observables(x)
        assert model.energy(x) == pytest.approx(model.alpha * obs["train_loss"] + 0.5 * model.reg * obs["q"], rel=1e-9)


@pytest.mark.parametrize("channel", ["linear", "sign", "random"])
@pytest.mark.parametrize("bias", [False, True])
def test_least_squares_training_error_closed_form(channel, bias):
    # equal bulk variances, means and plane covariances anywhere: E_train = (1 - 1/alpha) R at reg = 0
    params = dict(MIXED, var=(0.8, 0.8))
    model = _get(loss="square", channel=channel, noise=0.2, alpha=3.0, reg=0.0, bias=bias, **params)
    sol = fp.solve(model, **TIGHT)
    assert sol.converged
    residual = 2 * sol["train_loss"]  # mean squared training residual
    assert residual == pytest.approx(least_squares_train_error(model), rel=1e-10)
    # and the limit reg -> 0+ from above
    small = fp.solve(dataclasses.replace(model, reg=1e-7), **TIGHT)
    assert 2 * small["train_loss"] == pytest.approx(residual, rel=1e-5)
    # interpolation below alpha = 1
    under = fp.solve(dataclasses.replace(model, alpha=0.6, reg=1e-8), **TIGHT)
    assert least_squares_train_error(dataclasses.replace(model, alpha=0.6, reg=1e-8)) == 0.0
    assert 2 * under["train_loss"] < 1e-12


def test_least_squares_training_error_is_universal_for_linear_labels():
    # the closed form depends on second moments only: linear labels give the same for the mixture and
    # its Gaussian equivalent, means along the teacher included; sign labels do not (E[y nu] = E|nu|)
    for channel, same in (("linear", True), ("sign", False)):
        model = _get(loss="square", channel=channel, noise=0.1, alpha=2.0, reg=0.0, **dict(MIXED, var=(1.0, 1.0)))
        eq = model.gaussian_equivalent()
        e_mix, e_eq = (2 * fp.solve(m, **TIGHT)["train_loss"] for m in (model, eq))
        assert (abs(e_mix - e_eq) < 1e-10) == same, (channel, e_mix, e_eq)


def test_gaussian_equivalent_matches_mean_and_covariance():
    model = _get(**MIXED)
    eq = model.gaussian_equivalent()
    assert eq.weights == (1.0,)
    assert eq.gaussian_equivalent() == eq
    # moments of the plane coordinates (nu, beta) and of the bulk, from a large sample of each
    from equations._simulate.mixture_single_index import sample_instance

    moments = {}
    for m in (model, eq):
        A, _, theta, u = sample_instance(m, 20, np.random.default_rng(3), n=200000)
        X = A * math.sqrt(20)
        P = np.column_stack([X @ theta, X @ u]) / math.sqrt(20)
        bulk = X - np.outer(P[:, 0], theta / math.sqrt(20)) - np.outer(P[:, 1], u / math.sqrt(20))
        moments[m] = (P.mean(0), np.cov(P.T), float(np.sum(bulk ** 2)) / (X.shape[0] * 18))
    rho = np.array(model.weights)
    mean = rho @ np.column_stack([model.mean_par, model.mean_perp])
    assert eq.mean_par[0] == pytest.approx(mean[0]) and eq.mean_perp[0] == pytest.approx(mean[1])
    np.testing.assert_allclose(moments[model][0], moments[eq][0], atol=0.01)
    np.testing.assert_allclose(moments[model][1], moments[eq][1], atol=0.02)
    cov = np.array([[eq.var[0] + eq.cov_par[0], eq.cov_cross[0]], [eq.cov_cross[0], eq.var[0] + eq.cov_perp[0]]])
    np.testing.assert_allclose(moments[model][1], cov, atol=0.02)
    assert moments[model][2] == pytest.approx(eq.var[0], abs=0.01)  # the bulk variance per direction


def test_universality_holds_for_symmetric_means_orthogonal_to_the_teacher():
    # Pesce et al.: the means carry no information on the label and the clouds share their covariance:
    # the optimal m_perp is 0 and the mixture and its Gaussian equivalent see the same fields
    for loss in ("logistic", "hinge"):
        model = _get(loss=loss, channel="sign", noise=0.1, alpha=2.0, reg=0.05, weights=(0.5, 0.5),
                     mean_par=(0.0, 0.0), mean_perp=(1.5, -1.5), var=(1.0, 1.0))
        s, g = fp.solve(model, **TIGHT), fp.solve(model.gaussian_equivalent(), **TIGHT)
        for key in ("m", "q", "V", "gen_error", "train_loss", "train_error"):
            assert s[key] == pytest.approx(g[key], rel=1e-10, abs=1e-13), (loss, key)
        assert s["m_perp"] == g["m_perp"] == 0.0


def test_universality_breaks_for_means_along_the_teacher():
    # the teacher field is bimodal in the mixture and Gaussian in the equivalent: the errors differ
    model = _get(loss="logistic", channel="sign", alpha=2.0, reg=0.1, mean_par=(1.0, -1.0), mean_perp=(0.0, 0.0))
    s, g = fp.solve(model, **TIGHT), fp.solve(model.gaussian_equivalent(), **TIGHT)
    assert s["gen_error"] == pytest.approx(0.111776, abs=1e-6)  # recorded: 0.1117760...
    assert g["gen_error"] == pytest.approx(0.130049, abs=1e-6)  # recorded: 0.1300487...
    assert g["gen_error"] - s["gen_error"] > 0.015
    # ... and clouds that differ in their variance along the teacher (means 0): the same second moments
    het = _get(loss="logistic", channel="sign", alpha=2.0, reg=0.1, mean_par=(0.0, 0.0), mean_perp=(0.0, 0.0),
               var=(1.0, 1.0), cov_par=(-0.8, 0.8))
    s, g = fp.solve(het, **TIGHT), fp.solve(het.gaussian_equivalent(), **TIGHT)
    assert abs(s["gen_error"] - g["gen_error"]) > 1e-3
    assert abs(s["train_loss"] - g["train_loss"]) > 1e-3


@pytest.mark.parametrize("loss", ["logistic", "hinge"])
def test_random_labels_training_loss_is_gaussian_for_homogeneous_clouds(loss):
    # Gerace, Krzakala, Loureiro, Stephan, Zdeborova (PRE 2024): random labels on a mixture of clouds
    # with a common covariance (any means) have the minimal training loss of the Gaussian with the
    # mixture's covariance; clouds with different covariances do not
    homog = _get(loss=loss, channel="random", alpha=3.0, reg=1e-3, weights=(0.2, 0.3, 0.5),
                 mean_par=(1.0, 0.5, -0.7), mean_perp=(1.0, -1.2, 0.3), var=(1.0, 1.0, 1.0))
    s, g = fp.solve(homog, **TIGHT), fp.solve(homog.gaussian_equivalent(), **TIGHT)
    assert s["train_loss"] == pytest.approx(g["train_loss"], rel=1e-10)
    hetero = _get(loss=loss, channel="random", alpha=3.0, reg=1e-3, mean_perp=(1.5, -1.5), var=(0.3, 1.7))
    s, g = fp.solve(hetero, **TIGHT), fp.solve(hetero.gaussian_equivalent(), **TIGHT)
    assert g["train_loss"] - s["train_loss"] > 0.01
    assert s["gen_error"] == pytest.approx(0.5, abs=1e-12)


def test_both_starts_reach_the_same_point():
    model = _get(**MixtureSingleIndex.examples[2])
    a, b = fp.solve(model, start="uninformed", **TIGHT), fp.solve(model, start="informed", **TIGHT)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("params, d, seeds", [
    (dict(loss="logistic", channel="sign", alpha=2.0, reg=0.1, noise=0.1, bias=True, **MIXED), 300, 6),
    (dict(loss="square", channel="linear", alpha=1.5, reg=0.05, noise=0.2, bias=True, **MIXED), 300, 6),
    (dict(loss="hinge", channel="sign", alpha=2.0, reg=0.2, weights=(0.3, 0.7), mean_par=(1.0, -0.4),
          mean_perp=(0.5, 0.0), var=(1.0, 0.5)), 250, 5),
    (dict(loss="square", penalty="l1", channel="sign", alpha=1.5, reg=0.3, noise=0.1, **MIXED), 300, 5),
])
def test_simulation_agrees_within_error_bars(params, d, seeds):
    model = _get(**params)
    theory = fp.solve(model, **TIGHT)
    runs = [model.simulate(d, s) for s in range(seeds)]
    for key in ("m", "m_perp", "q", "b", "gen_error", "train_loss", "train_error"):
        vals = np.array([r[key] for r in runs])
        err = vals.std(ddof=1) / math.sqrt(len(vals))
        # finite-size corrections O(1/d) against error bars O(1/sqrt(d seeds))
        assert abs(vals.mean() - theory[key]) < 3 * err + 0.01 * max(1.0, abs(theory[key])), (key, vals.mean(),
                                                                                              theory[key], err)


@pytest.mark.parametrize("bad, name", [
    (dict(weights=(0.5, 0.6)), "weights"), (dict(weights=(0.2,) * 5, mean_par=(0.0,) * 5), "weights"),
    (dict(mean_par=(0.0,)), "mean_par"), (dict(var=(1.0, -1.0)), "var"), (dict(cov_par=(-2.0, 0.0)), "cov_par"),
    (dict(loss="logistic", channel="linear"), "loss"), (dict(channel="probit"), "channel"), (dict(noise=-1.0), "noise"),
    (dict(reg=0.0, loss="logistic"), "reg"), (dict(bias="yes"), "bias"), (dict(mean_perp=("a", 1.0)), "mean_perp")])
def test_invalid_parameters_name_themselves(bad, name):
    with pytest.raises(ValueError, match=name):
        _get(**bad)
