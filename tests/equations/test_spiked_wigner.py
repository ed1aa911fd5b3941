"""Tests of the spiked Wigner family (equations.spiked_wigner).

Checks, each against an independent computation: the Gaussian-prior closed forms
(``m = 1 - 1/snr``, ``I = log(snr)/2 + 1/(4 snr)``); BBP / weak recovery at ``snr = 1`` for every
symmetric prior through the engine; stationarity of the free entropy and the I-MMSE relation
by finite differences; the analytic Jacobian against finite differences; the inhomogeneous
model against the homogeneous one and its spectral threshold against an eigenvalue formula;
thresholds of the sparse prior against direct root finding on the state-evolution curve;
finite-size AMP (with the Nishimori identity) and the spectral estimator against the theory.
"""

import dataclasses
import math
import pickle

import numpy as np
import pytest

import fixedpoint
from equations import get
from equations.priors import make_prior
from equations.spiked_wigner import (
    UNINFORMED_OVERLAP,
    SpikedWigner,
    SpikedWignerInhomogeneous,
    small_g_expansion,
    spectral_overlap_theory,
    tricritical_rho,
)

SYMMETRIC = [("gaussian", 1.0), ("rademacher", 1.0), ("sparse_rademacher", 0.3), ("sparse_rademacher", 0.05),
             ("gauss_bernoulli", 0.2), ("gauss_bernoulli", 0.05)]
TIGHT = dict(atol=1e-13, rtol=1e-13)


# ----------------------------------------------------------------------------- validation


def test_registry_and_parameter_validation():
    m = get("spiked_wigner", prior="rademacher", snr=1.5)
    assert isinstance(m, SpikedWigner) and m.snr == 1.5
    for field, bad, match in [("snr", float("nan"), "snr"), ("snr", -0.1, "snr"), ("rho", float("nan"), "rho"),
                              ("rho", 0.0, "rho"), ("rho", 1.2, "rho"), ("prior", "no-such-choice", "prior")]:
        kw = {"prior": "sparse_rademacher", "rho": 0.2, "snr": 1.0, field: bad}
        with pytest.raises(ValueError, match=match):
            SpikedWigner(**kw)
    with pytest.raises(ValueError, match="rho"):
        SpikedWigner(prior="gaussian", rho=0.5)
    with pytest.raises(ValueError, match="start"):
        SpikedWigner().initial_state("random")


def test_inhomogeneous_validation_and_conversion():
    m = SpikedWignerInhomogeneous(fractions=[0.25, 0.75], profile=np.array([[1.0, 2.0], [2.0, 3.0]]), snr=1.0)
    assert m.fractions == (0.25, 0.75) and m.profile == ((1.0, 2.0), (2.0, 3.0))
    assert hash(m) == hash(pickle.loads(pickle.dumps(m)))
    assert pickle.loads(pickle.dumps(m)) == m
    assert dataclasses.replace(m, snr=2.0).snr == 2.0
    assert m.state_names == ("m_1", "m_2")
    base = dict(prior="rademacher", fractions=(0.5, 0.5), profile=((1.0, 2.0), (2.0, 1.0)), snr=1.0)
    for field, bad in [("fractions", (0.5, 0.6)), ("fractions", (1.5, -0.5)), ("fractions", (0.5, float("nan"))),
                       ("profile", ((1.0, 2.0), (3.0, 1.0))), ("profile", ((1.0, -2.0), (-2.0, 1.0))),
                       ("profile", ((1.0, 0.0), (0.0, 1.0))), ("profile", ((1.0,),)), ("snr", -1.0),
                       ("snr", float("nan")), ("rho", float("nan")), ("prior", "no-such-choice")]:
        with pytest.raises(ValueError, match=field):
            SpikedWignerInhomogeneous(**{**base, field: bad})


def test_update_outside_domain_returns_nan():
    m = SpikedWigner(snr=2.0)
    assert np.isnan(m.update(np.array([-0.1]))[0])
    assert np.isnan(m.update(np.array([np.nan]))[0])
    lo, hi = m.bounds()
    assert lo[0] == 0.0 and hi[0] == 1.0
    assert m.initial_state()[0] == UNINFORMED_OVERLAP and m.initial_state("informed")[0] == 1.0


# ----------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("start", ["uninformed", "informed"])
def test_gaussian_prior_closed_form_along_a_sweep(start):
    snrs = np.concatenate([np.linspace(0.2, 0.9, 8), np.linspace(1.1, 6.0, 25)])
    sw = fixedpoint.sweep(SpikedWigner(prior="gaussian"), "snr", snrs, start=start, **TIGHT)
    assert sw.converged.all()
    m_exact = np.maximum(0.0, 1.0 - 1.0 / snrs)
    np.testing.assert_allclose(sw["m"], m_exact, atol=1e-10)
    np.testing.assert_allclose(sw["mmse"], 1.0 - m_exact**2, atol=1e-10)
    # I(x; Y)/n of the Gaussian spiked Wigner model: snr/4 below 1, log(snr)/2 + 1/(4 snr) above
    i_exact = np.where(snrs < 1, snrs / 4, 0.5 * np.log(snrs) + 0.25 / snrs)
    np.testing.assert_allclose(sw["mutual_information"], i_exact, atol=1e-10)


@pytest.mark.parametrize("prior,rho", SYMMETRIC)
def test_weak_recovery_threshold_is_one(prior, rho):
    thr = fixedpoint.threshold(SpikedWigner(prior=prior, rho=rho), "snr", (0.4, 2.5), kind="stability")
    assert thr.converged
    assert thr.value == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("prior,rho", SYMMETRIC)
def test_trivial_point_and_jacobian(prior, rho):
    m = SpikedWigner(prior=prior, rho=rho, snr=1.7)
    assert m.update(m.trivial_state())[0] == 0.0
    assert m.jacobian(m.trivial_state())[0, 0] == pytest.approx(1.7, rel=1e-12)
    for x in (0.05, 0.4, 0.93):
        h = 1e-6
        fd = (m.update(np.array([x + h]))[0] - m.update(np.array([x - h]))[0]) / (2 * h)
        assert m.jacobian(np.array([x]))[0, 0] == pytest.approx(fd, rel=1e-6, abs=1e-8)


# ----------------------------------------------------------------------------- self-consistency


@pytest.mark.parametrize("prior,rho,snr", [("rademacher", 1.0, 1.6), ("sparse_rademacher", 0.05, 0.9),
                                           ("sparse_rademacher", 0.3, 2.2), ("gauss_bernoulli", 0.1, 1.3)])
def test_free_entropy_stationarity_and_i_mmse(prior, rho, snr):
    model = SpikedWigner(prior=prior, rho=rho, snr=snr)
    for start in ("uninformed", "informed"):
        sol = fixedpoint.solve(model, start=start, **TIGHT)
        assert sol.converged
        m = sol["m"]
        # d phi / dm = 0 at the fixed point
        h = 1e-5

        def phi(v):
            return model.free_entropy(np.array([v]))

        if m > h:
            dphi = (phi(m + h) - phi(m - h)) / (2 * h)
        else:  # at the boundary m = 0: second-order one-sided difference
            dphi = (-3 * phi(m) + 4 * phi(m + h) - phi(m + 2 * h)) / (2 * h)
        assert abs(dphi) < 1e-8
        # I-MMSE: d phi(m*(snr)) / d snr = m^2 / 4 along the same branch (solves at snr +- ds)
        ds = 1e-4
        phis = []
        for s in (snr - ds, snr + ds):
            other = dataclasses.replace(model, snr=s)
            phis.append(other.free_entropy(fixedpoint.solve(other, start=np.array([m]), **TIGHT).x))
        assert (phis[1] - phis[0]) / (2 * ds) == pytest.approx(m * m / 4, abs=1e-8)
        # the mutual information is reported through a different (cancellation-free) formula
        obs = sol.observables
        assert obs["mutual_information"] == pytest.approx(snr / 4 - obs["free_entropy"], abs=1e-12)
        assert obs["mmse"] == pytest.approx(1 - m * m, abs=1e-15)


def test_small_g_coefficients_of_the_state_evolution():
    # overlap(g) = g - g^2 + c3 g^3 with c3 = (kappa^2 - 6 kappa + 15)/6: kappa = 1 (Rademacher),
    # 3 (Gaussian: c3 = 1, from g/(1+g)), 1/rho (sparse Rademacher)
    assert small_g_expansion(make_prior("rademacher"))[2] == pytest.approx(10 / 6)
    assert small_g_expansion(make_prior("gaussian"))[2] == pytest.approx(1.0)
    assert small_g_expansion(make_prior("sparse_rademacher", 0.1, second_moment=1.0))[2] == pytest.approx(
        (100 - 60 + 15) / 6)


# ----------------------------------------------------------------------------- inhomogeneous


@pytest.mark.parametrize("prior,rho,snr", [("rademacher", 1.0, 1.4), ("sparse_rademacher", 0.05, 1.3),
                                           ("gauss_bernoulli", 0.2, 0.7)])
def test_one_block_inhomogeneous_equals_homogeneous(prior, rho, snr):
    hom = SpikedWigner(prior=prior, rho=rho, snr=snr)
    one = SpikedWignerInhomogeneous(prior=prior, rho=rho, fractions=(1.0,), profile=((1.0,),), snr=snr)
    # a constant profile Delta is the homogeneous model at snr / Delta
    flat = SpikedWignerInhomogeneous(prior=prior, rho=rho, fractions=(0.3, 0.7),
                                     profile=((2.0, 2.0), (2.0, 2.0)), snr=2 * snr)
    for start in ("uninformed", "informed"):
        a = fixedpoint.solve(hom, start=start, **TIGHT)
        b = fixedpoint.solve(one, start=start, **TIGHT)
        c = fixedpoint.solve(flat, start=start, **TIGHT)
        assert b["m_1"] == pytest.approx(a["m"], abs=1e-10)
        np.testing.assert_allclose(c.x, a["m"], atol=1e-10)
        for key in ("overlap", "mmse", "free_entropy"):
            assert b.observables[key] == pytest.approx(a.observables[key], abs=1e-10)
        # free entropy and mutual information scale with the profile: (1/Delta) terms
        assert c.observables["overlap"] == pytest.approx(a.observables["overlap"], abs=1e-10)
        assert c.observables["mutual_information"] == pytest.approx(a.observables["mutual_information"], abs=1e-10)


def test_inhomogeneous_spectral_threshold():
    c1, c2 = 0.3, 0.7
    d11, d12, d22 = 0.5, 1.5, 3.0
    m = SpikedWignerInhomogeneous(prior="rademacher", fractions=(c1, c2), profile=((d11, d12), (d12, d22)))
    # closed form: largest eigenvalue of [[c1/d11, c2/d12], [c1/d12, c2/d22]]
    a, b, c, d = c1 / d11, c2 / d12, c1 / d12, c2 / d22
    lam = 0.5 * (a + d) + math.sqrt(0.25 * (a - d) ** 2 + b * c)
    assert m.spectral_threshold() == pytest.approx(1 / lam, rel=1e-13)
    thr = fixedpoint.threshold(m, "snr", (0.2, 3.0), kind="stability")
    assert thr.value == pytest.approx(1 / lam, abs=1e-8)
    # below it the trivial point attracts, above it both groups recover
    below = fixedpoint.solve(dataclasses.replace(m, snr=0.95 / lam))
    above = fixedpoint.solve(dataclasses.replace(m, snr=1.1 / lam))
    assert np.all(below.x < 1e-8) and np.all(above.x > 1e-3)


def test_inhomogeneous_stationarity():
    m = SpikedWignerInhomogeneous(prior="sparse_rademacher", rho=0.2, fractions=(0.4, 0.6),
                                  profile=((0.7, 1.2), (1.2, 2.5)), snr=1.6)
    sol = fixedpoint.solve(m, start="informed", **TIGHT)
    x = sol.x
    for j in range(2):
        e = np.zeros(2)
        e[j] = 1e-5
        grad = (m.free_entropy(x + e) - m.free_entropy(x - e)) / 2e-5
        assert abs(grad) < 1e-8
    J = m.jacobian(x)
    for j in range(2):
        e = np.zeros(2)
        e[j] = 1e-6
        np.testing.assert_allclose(J[:, j], (m.update(x + e) - m.update(x - e)) / 2e-6, rtol=1e-6, atol=1e-9)
    cvec = np.array(m.fractions)
    total = m.snr / 4 * cvec @ (1 / np.array(m.profile)) @ cvec
    assert sol.observables["mutual_information"] == pytest.approx(total - sol.observables["free_entropy"], abs=1e-12)


# ----------------------------------------------------------------------------- thresholds (sparse)


def _fixed_point_count(prior, snr, n=20000):
    # independent of the engine and of overlap_derivative: sign changes of overlap(snr m) - m
    ms = np.linspace(1e-6, 1.0, n)
    f = np.array([prior.overlap(snr * m) for m in ms]) - ms
    return int(np.sum(np.sign(f[1:]) != np.sign(f[:-1])))


def test_sparse_rademacher_thresholds_are_ordered_and_consistent():
    model = SpikedWigner(prior="sparse_rademacher", rho=0.05, snr=1.0)
    low = fixedpoint.threshold(model, "snr", (0.3, 0.99), kind="spinodal", start="informed")
    it = fixedpoint.threshold(model, "snr", (0.3, 0.99), kind="first_order")
    alg = fixedpoint.threshold(model, "snr", (0.9, 1.5), kind="spinodal", start="uninformed",
                               solver=fixedpoint.Anderson(memory=2))
    assert low.converged and it.converged and alg.converged
    assert low.value < it.value < 1.0 < alg.value
    p = model.scalar_prior
    # besides m = 0, two fixed points (unstable and stable) appear exactly at the lower spinodal
    assert _fixed_point_count(p, low.value - 1e-3) == 0
    assert _fixed_point_count(p, low.value + 1e-3) == 2
    # the algorithmic spinodal is the local minimum of R(u) = overlap(u)/u (fold of the small branch)
    us = np.geomspace(1e-4, 1.0, 20001)
    r = np.array([p.overlap(u) for u in us]) / us
    k = int(np.argmax(np.diff(r) > 0))
    assert alg.value == pytest.approx(1 / r[k], rel=1e-5)
    # at the IT threshold the two branches have the same free entropy
    lo = fixedpoint.solve(dataclasses.replace(model, snr=it.value), start="uninformed", **TIGHT)
    hi = fixedpoint.solve(dataclasses.replace(model, snr=it.value), start="informed", **TIGHT)
    assert hi["m"] > 0.5 and lo["m"] < 1e-8
    assert hi["free_entropy"] == pytest.approx(lo["free_entropy"], abs=1e-7)


def test_tricritical_sparsity():
    rho_c = tricritical_rho("sparse_rademacher")
    assert 0.05 < rho_c < 0.15
    # below: for some snr the state evolution has coexisting fixed points; above: never
    for rho, coexist in ((0.9 * rho_c, True), (1.1 * rho_c, False)):
        p = make_prior("sparse_rademacher", rho, second_moment=1.0)
        # for snr > 1, m = 0 is unstable: one crossing on (0, 1], three where branches coexist
        counts = [_fixed_point_count(p, s, n=4000) for s in np.linspace(1.0005, 1.05, 60)]
        assert (max(counts) >= 3) == coexist, (rho, counts)


# ----------------------------------------------------------------------------- finite size


def _mean_se(values):
    v = np.asarray(values, dtype=float)
    return v.mean(), v.std(ddof=1) / math.sqrt(v.size)


@pytest.mark.slow
@pytest.mark.parametrize("kw,d", [(dict(prior="rademacher", snr=1.6), 2000),
                                  (dict(prior="gauss_bernoulli", rho=0.3, snr=1.8), 2000),
                                  (dict(prior="sparse_rademacher", rho=0.3, snr=2.0), 2000)])
def test_amp_matches_state_evolution(kw, d):
    model = SpikedWigner(**kw)
    theory = fixedpoint.solve(model, start="uninformed").observables
    runs = [model.simulate(d, seed) for seed in range(4)]
    for key in ("overlap", "mmse"):
        mean, se = _mean_se([r[key] for r in runs])
        assert abs(mean - theory[key]) < 3 * se + 2e-3, (key, mean, se, theory[key])
    # Nishimori on the instance: E[x xhat] = E[xhat^2]
    diff_mean, diff_se = _mean_se([r["overlap"] - r["self_overlap"] for r in runs])
    assert abs(diff_mean) < 3 * diff_se + 2e-3


@pytest.mark.slow
def test_inhomogeneous_amp_matches_state_evolution():
    model = SpikedWignerInhomogeneous(prior="rademacher", fractions=(0.4, 0.6), profile=((0.6, 1.5), (1.5, 2.0)),
                                      snr=2.0)
    theory = fixedpoint.solve(model, start="uninformed").observables
    runs = [model.simulate(2000, seed) for seed in range(4)]
    for key in ("m_1", "m_2", "overlap"):
        mean, se = _mean_se([r[key] for r in runs])
        assert abs(mean - theory[key]) < 3 * se + 2e-3, (key, mean, se, theory[key])


@pytest.mark.slow
def test_spectral_estimator_bbp():
    snr = 2.5
    model = SpikedWigner(prior="rademacher", snr=snr)
    vals = [model.simulate_spectral(2000, seed)["spectral_overlap2"] for seed in range(4)]
    mean, se = _mean_se(vals)
    assert abs(mean - spectral_overlap_theory(snr)) < 3 * se + 5e-3
    # below BBP the top eigenvector carries no information (overlap^2 = O(1/d))
    weak = SpikedWigner(prior="rademacher", snr=0.5).simulate_spectral(2000, 0)["spectral_overlap2"]
    assert weak < 0.02


def test_fold_of_uninformed_branch():
    from equations.spiked_wigner import fold_of_uninformed_branch

    # against the engine's spinodal (solves along the branch) where the fold is not too close to 1
    engine = fixedpoint.threshold(SpikedWigner(prior="sparse_rademacher", rho=0.08), "snr", (0.99, 1.3),
                                  kind="spinodal", start="uninformed", solver=fixedpoint.Anderson(memory=2))
    assert engine.converged
    assert fold_of_uninformed_branch("sparse_rademacher", 0.08) == pytest.approx(engine.value, abs=1e-5)
    # against a dense grid of R(u) = overlap(u)/u for a very sparse prior (fold at snr - 1 ~ 7e-4)
    p = make_prior("sparse_rademacher", 0.02, second_moment=1.0)
    us = np.geomspace(1e-5, 0.1, 40001)
    r = np.array([p.overlap(u) for u in us]) / us
    k = int(np.argmax(np.diff(r) > 0))
    assert fold_of_uninformed_branch("sparse_rademacher", 0.02) == pytest.approx(1 / r[k], abs=1e-8)
    # continuous transitions: BBP
    assert fold_of_uninformed_branch("sparse_rademacher", 0.3) == 1.0
    assert fold_of_uninformed_branch("rademacher", 1.0) == 1.0


@pytest.mark.parametrize("rho", [1.0, 0.3, 0.1])
def test_sparse_rademacher_series_against_the_kernel(rho):
    from equations.spiked_wigner import sparse_rademacher_series

    c1, c2, c3, c4 = sparse_rademacher_series(rho)
    p = make_prior("sparse_rademacher", rho, second_moment=1.0)
    g = 3e-3 * rho  # the next term, c5 g^5 (c5 = 15.1 at rho = 1), is below 1% of c4 g^4
    resid = (p.overlap(g) - (c1 * g + c2 * g**2 + c3 * g**3)) / g**4
    assert resid == pytest.approx(c4, rel=2e-2)


def test_landau_estimate_of_the_tricritical_sparsity():
    from equations.spiked_wigner import landau_tricritical_rho, sparse_rademacher_series

    est = landau_tricritical_rho()
    c1, c2, c3, c4 = sparse_rademacher_series(est)
    assert c3 * c3 == pytest.approx(3 * abs(c4), rel=1e-10)  # the truncated R'(u) has a double root
    exact = tricritical_rho("sparse_rademacher")
    assert 0.8 * exact < est < exact
