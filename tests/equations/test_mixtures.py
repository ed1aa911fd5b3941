"""Gaussian mixtures: ``gmm_bayes`` against closed forms, quadrature and finite-size instances."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

import equations
import fixedpoint as fp
from equations.mixtures import GMMBayes


@pytest.mark.parametrize("alpha, noise", [(0.3, 0.5), (2.0, 1.0), (10.0, 2.5)])
def test_balanced_error_is_mignacco_closed_form(alpha, noise):
    # Mignacco, Krzakala, Lu, Zdeborova (ICML 2020): Bayes-optimal error H(sqrt(alpha / (Delta (alpha + Delta))))
    sol = fp.solve(equations.get("gmm_bayes", alpha=alpha, noise=noise))
    assert sol.converged
    expected = stats.norm.sf(math.sqrt(alpha / (noise * (alpha + noise))))
    assert sol["gen_error"] == pytest.approx(expected, rel=1e-13)
    assert sol["overlap"] == pytest.approx(alpha / (alpha + noise), rel=1e-14)


@pytest.mark.parametrize("balance", [0.1, 0.35, 0.8])
def test_imbalanced_error_is_the_bayes_risk_of_the_two_fields(balance):
    # independent: the Bayes risk of two Gaussians N(+-q, noise q) with priors (balance, 1 - balance),
    # integral of min(balance p_+, (1 - balance) p_-) by adaptive quadrature
    m = GMMBayes(alpha=0.7, noise=0.4, balance=balance)
    q = float(m.update(m.initial_state())[0])
    s = math.sqrt(m.noise * q)
    risk, _ = integrate.quad(lambda h: min(balance * stats.norm.pdf(h, q, s), (1 - balance) * stats.norm.pdf(h, -q, s)),
                             -q - 12 * s, q + 12 * s, limit=400, epsabs=1e-14, epsrel=1e-12)
    gen, plus, minus = m.classification_errors(q)
    assert gen == pytest.approx(risk, rel=1e-9)
    assert gen == pytest.approx(balance * plus + (1 - balance) * minus, rel=1e-14)
    # the classifier leans to the larger cluster
    assert (plus < minus) == (balance > 0.5)


def test_no_information_predicts_the_larger_cluster():
    m = GMMBayes(alpha=1.0, noise=1.0, balance=0.3)
    assert m.classification_errors(0.0) == (0.3, 1.0, 0.0)


def test_free_entropy_is_stationary_and_mutual_information_obeys_immse():
    m = GMMBayes(alpha=1.3, noise=0.7, balance=0.4)
    sol = fp.solve(m)
    q = sol.x[0]
    r = m.q_hat
    h = 1e-6
    # the potential is stationary in q and q_hat at the fixed point
    assert abs(m.free_entropy_rs(q + h, r) - m.free_entropy_rs(q - h, r)) / (2 * h) < 1e-9
    assert abs(m.free_entropy_rs(q, r + h) - m.free_entropy_rs(q, r - h)) / (2 * h) < 1e-9
    assert abs(m.free_entropy([q + h]) - m.free_entropy([q - h])) / (2 * h) < 1e-8
    # I-MMSE for the Gaussian channel: dI/d alpha = mse / (2 noise)
    mi = lambda a: fp.solve(GMMBayes(alpha=a, noise=0.7))["mutual_information"]
    di = (mi(1.3 + h) - mi(1.3 - h)) / (2 * h)
    assert di == pytest.approx(sol["mse"] / (2 * 0.7), rel=1e-7)
    # free entropy of the Gaussian channel in closed form: q_hat / 2 - log(1 + q_hat) / 2
    assert sol["free_entropy"] == pytest.approx(r / 2 - 0.5 * math.log1p(r), rel=1e-13)


@pytest.mark.parametrize("params", [dict(alpha=2.0, noise=1.0), dict(alpha=0.5, noise=0.3, balance=0.2)])
def test_simulation_agrees_within_error_bars(params):
    m = GMMBayes(**params)
    theory = fp.solve(m).observables
    runs = [m.simulate(500, seed) for seed in range(8)]
    for key in ("overlap", "self_overlap", "mse", "gen_error"):
        vals = np.array([r[key] for r in runs])
        ref = theory["overlap"] if key == "self_overlap" else theory[key]
        err = vals.std(ddof=1) / math.sqrt(len(vals))
        assert abs(vals.mean() - ref) < 4 * err + 2e-3, (key, vals.mean(), ref, err)


@pytest.mark.parametrize("bad", [dict(balance=0.0), dict(balance=1.0), dict(noise=0.0), dict(alpha=-1.0),
                                 dict(balance="half")])
def test_invalid_parameters_name_themselves(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        equations.get("gmm_bayes", **bad)
