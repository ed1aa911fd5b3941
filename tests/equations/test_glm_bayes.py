"""Bayes-optimal GLM: closed forms (ridge / random-matrix theory), free-entropy stationarity,
Nishimori identities, weak recovery against plain quadrature, known thresholds, GAMP."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate

import fixedpoint
from equations import get
from equations.glm_bayes import GLMBayes


def npdf(x, m, v):
    return math.exp(-((x - m) ** 2) / (2 * v)) / math.sqrt(2 * math.pi * v)


def model(**kw):
    return GLMBayes(**kw)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("field,value", [
    ("prior", "no-such-choice"), ("channel", "no-such-choice"), ("alpha", math.nan), ("alpha", 0.0),
    ("alpha", -1.0), ("noise", -0.1), ("noise", math.nan), ("rho", 0.0), ("rho", 1.5), ("rho", math.nan),
    ("integrals", "no-such-choice"), ("integrals", None),
])
def test_bad_parameters_raise_naming_the_field(field, value):
    kw = {"prior": "gauss_bernoulli", "rho": 0.5}
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        model(**kw)


def test_rho_must_be_one_for_dense_priors():
    with pytest.raises(ValueError, match="rho"):
        model(prior="rademacher", rho=0.5)


def test_protocol_members():
    m = get("glm_bayes", prior="rademacher", channel="sign", alpha=1.3)
    assert m.state_names == ("q",)
    lo, hi = m.bounds()
    assert lo[0] == 0.0 and hi[0] == 1.0
    assert m.trivial_state() is None
    assert model(channel="abs").trivial_state()[0] == 0.0
    assert model(channel="abs").update(np.array([0.0]))[0] == 0.0  # q = 0 is a fixed point
    assert 0 < m.initial_state("uninformed")[0] < 1e-5 < m.initial_state("informed")[0] < 1.0
    obs = m.observables(m.initial_state())
    assert set(obs) >= {"overlap", "mse", "gen_error", "free_entropy", "mutual_information"}
    assert all(type(v) is float for v in obs.values())
    assert math.isnan(m.update(np.array([math.nan]))[0])
    for ex in GLMBayes.examples:
        assert math.isfinite(get("glm_bayes", **ex).update(np.array([0.3 * ex.get("rho", 1.0)]))[0])


# ----------------------------------------------------------------------------- closed forms


def mp_average(f, alpha):
    """Average of f over the spectrum of A^T A, A = X / sqrt(d) (n x d, alpha = n/d): alpha
    times a Marchenko-Pastur law of ratio c = 1/alpha, plus an atom at 0 of mass 1 - alpha."""
    c = 1.0 / alpha
    a, b = (1 - math.sqrt(c)) ** 2, (1 + math.sqrt(c)) ** 2

    def dens(s):  # density of the non-zero eigenvalues of (1/n) X^T X, total mass min(1, alpha)
        return math.sqrt(max((b - s) * (s - a), 0.0)) / (2 * math.pi * c * s)

    val = integrate.quad(lambda s: dens(s) * f(alpha * s), a, b, epsabs=0, epsrel=1e-13, limit=400)[0]
    if alpha < 1:
        val += (1 - alpha) * f(0.0)
    return val


@pytest.mark.parametrize("alpha,noise", [(0.5, 0.1), (1.0, 0.3), (2.5, 0.05), (4.0, 1.0)])
def test_gaussian_linear_against_ridge_random_matrix_theory(alpha, noise):
    """Gaussian prior + linear channel: the posterior mean is ridge at penalty noise;
    mse = E tr (I + A^T A / noise)^{-1} / d and I(w; y) / d = E log det(I + A^T A / noise) / (2d)
    over the Marchenko-Pastur spectrum -- independent of the state evolution."""
    m = model(prior="gaussian", channel="linear", alpha=alpha, noise=noise)
    sol = fixedpoint.solve(m, start="uninformed")
    assert sol.converged
    mse_rmt = mp_average(lambda s: 1.0 / (1.0 + s / noise), alpha)
    mi_rmt = mp_average(lambda s: 0.5 * math.log1p(s / noise), alpha)
    assert sol["mse"] == pytest.approx(mse_rmt, abs=1e-10)
    assert sol["overlap"] == pytest.approx(1 - mse_rmt, abs=1e-10)
    assert sol["mutual_information"] == pytest.approx(mi_rmt, abs=1e-10)
    # ridge prediction error on a fresh sample: noise + mse
    assert sol["gen_error"] == pytest.approx(noise + mse_rmt, abs=1e-10)


def test_gauss_bernoulli_linear_fixed_point_relation():
    """Linear channel: q_hat = alpha / (mse + noise) in closed form, so the fixed point is the
    scalar equation mse = mmse_prior(alpha / (mse + noise))."""
    m = model(prior="gauss_bernoulli", rho=0.2, channel="linear", alpha=400.0, noise=1.0)
    sol = fixedpoint.solve(m)
    # q_hat = alpha / (mse + noise) ~ alpha / noise: mse -> prior.mmse(alpha/noise) (sparse: ~rho/snr)
    assert sol["mse"] == pytest.approx(m._prior.mmse(m.alpha / (sol["mse"] + m.noise)), rel=1e-10)


@pytest.mark.parametrize("prior,rho", [("rademacher", 1.0), ("sparse_rademacher", 0.3)])
def test_binary_perceptron_perfect_recovery_free_entropy(prior, rho):
    """Discrete prior, noiseless sign: q = rho exactly is a fixed point with phi = -H(prior),
    I = H(prior) (all the entropy of the prior is learned)."""
    m = model(prior=prior, rho=rho, channel="sign", alpha=3.0)
    sol = fixedpoint.solve(m, start="informed")
    assert sol["overlap"] == rho and sol["mse"] == 0.0 and sol["gen_error"] == 0.0
    p = np.array([1 - rho, rho / 2, rho / 2])
    entropy = -float(np.sum(p[p > 0] * np.log(p[p > 0])))
    assert sol["free_entropy"] == pytest.approx(-entropy, abs=1e-12)
    assert sol["mutual_information"] == pytest.approx(entropy, abs=1e-12)


def test_spherical_perceptron_large_alpha_law():
    """Gaussian prior, noiseless sign: gen_error ~ 0.4417 / alpha (Engel & Van den Broeck)."""
    vals = []
    for alpha in (200.0, 400.0):
        sol = fixedpoint.solve(model(prior="gaussian", channel="sign", alpha=alpha))
        assert sol.converged
        vals.append(alpha * sol["gen_error"])
    assert vals[1] == pytest.approx(0.4417, abs=2e-3)
    assert abs(vals[1] - 0.4417) < abs(vals[0] - 0.4417)  # approaches the constant


# ----------------------------------------------------------------------------- stationarity


FIXED_POINTS = [
    dict(prior="gaussian", channel="sign", alpha=2.0),
    dict(prior="rademacher", channel="sign", alpha=1.2, noise=0.05),
    dict(prior="gaussian", channel="abs", alpha=0.9),
    dict(prior="gauss_bernoulli", rho=0.4, channel="relu", alpha=0.6),
    dict(prior="gauss_bernoulli", rho=0.3, channel="linear", alpha=0.6, noise=0.01),
    dict(prior="gaussian", channel="abs", alpha=1.6, noise=0.2),
    dict(prior="rademacher", channel="relu", alpha=1.2, noise=0.1),
]


@pytest.mark.parametrize("kw", FIXED_POINTS)
def test_free_entropy_is_stationary_at_the_fixed_point(kw):
    m = model(**kw)
    sol = fixedpoint.solve(m, start="uninformed")
    assert sol.converged
    q = sol["q"]
    q_hat = sol["q_hat"]
    assert 1e-3 < q < m.rho - 1e-3
    f = m.free_entropy_rs
    hq, hh = 1e-5 * m.rho, 1e-5 * max(q_hat, 1.0)
    dq = (f(q + hq, q_hat) - f(q - hq, q_hat)) / (2 * hq)
    dh = (f(q, q_hat + hh) - f(q, q_hat - hh)) / (2 * hh)
    # the derivatives are O(1) away from the fixed point (check of the test itself)
    dq_off = (f(0.8 * q + hq, q_hat) - f(0.8 * q - hq, q_hat)) / (2 * hq)
    assert abs(dq) < 1e-7 and abs(dh) < 1e-7
    assert abs(dq_off) > 1e-3
    # and free_entropy(x) is the potential at (q, q_hat(q))
    assert sol["free_entropy"] == pytest.approx(f(q, q_hat), abs=1e-10)


@pytest.mark.parametrize("kw", [FIXED_POINTS[0], FIXED_POINTS[1], FIXED_POINTS[4]])
def test_mutual_information_derivative_in_alpha(kw):
    """Envelope theorem: at a stationary point d phi / d alpha = Psi_out(q*), so
    d I / d alpha = Psi_out(rho) - Psi_out(q*) (the information one more sample brings)."""
    m = model(**kw)
    h = 1e-4 * m.alpha

    def mi(a):
        s = fixedpoint.solve(dataclasses.replace(m, alpha=a), atol=1e-13, rtol=1e-13)
        assert s.converged
        return s["mutual_information"], s["q"]

    (ip, _), (im, _), (_, q) = mi(m.alpha + h), mi(m.alpha - h), mi(m.alpha)
    psi_rho = m._channel.se_integrals(m.rho, 0.0)[1]
    psi_q = m._channel.se_integrals(q, m.rho - q)[1]
    assert (ip - im) / (2 * h) == pytest.approx(psi_rho - psi_q, rel=1e-6, abs=1e-8)


# ----------------------------------------------------------------------------- Nishimori


@pytest.mark.parametrize("channel,noise", [("sign", 0.0), ("sign", 0.2), ("abs", 0.0), ("relu", 0.3),
                                           ("linear", 0.1)])
@pytest.mark.parametrize("frac", [0.3, 0.9])
def test_nishimori_identity_of_the_channel(channel, noise, frac):
    """With V = rho - q: E[g_out^2] = -E[d g_out / d omega] (integration by parts in omega with
    the teacher's z ~ N(omega, V)), checked by adaptive quadrature of the pointwise kernel."""
    rho = 1.0
    q = frac * rho
    V = rho - q
    m = model(prior="gaussian", channel=channel, noise=noise, alpha=1.0)
    ch = m._channel
    hat, _ = ch.se_integrals(q, V)
    S = V + noise

    def inner(w):
        def f(y):
            lz, _, dg = ch.z_out(np.array([y]), np.array([w]), np.array([V]))
            return math.exp(lz[0]) * dg[0]

        if channel == "sign":
            return f(1.0) + f(-1.0)
        lo = -abs(w) - 12 * math.sqrt(S) if (noise > 0 or channel == "linear") else 0.0
        val = integrate.quad(f, lo, abs(w) + 12 * math.sqrt(S), points=sorted({0.0, w, -w} - {lo}),
                             epsabs=0, epsrel=1e-12, limit=200)[0] if abs(w) + 12 * math.sqrt(S) > lo else 0.0
        if channel == "relu" and noise == 0.0:
            val += f(0.0)
        return val

    sq = math.sqrt(q)
    minus_edg = -integrate.quad(lambda w: (inner(w) + inner(-w)) * npdf(w, 0, q), 0, 10 * sq,
                                epsabs=0, epsrel=1e-11, limit=200)[0]
    assert hat == pytest.approx(minus_edg, rel=1e-8)


@pytest.mark.parametrize("kw", FIXED_POINTS[:3])
def test_nishimori_overlap_equals_posterior_mean_norm(kw):
    """At the fixed point q = E[E[w|Y]^2] = E[w* E[w|Y]] and mse = rho - q: the prior's
    denoiser, sampled, agrees with the state (Monte Carlo, 4 standard errors)."""
    m = model(**kw)
    sol = fixedpoint.solve(m)
    rng = np.random.default_rng(0)
    n = 200_000
    w = m._prior.sample(n, rng)
    g = sol["q_hat"]
    mean, _ = m._prior.denoise(math.sqrt(g) * w + rng.standard_normal(n), g)
    for sample, target in ((mean * mean, sol["q"]), (mean * w, sol["q"]), ((w - mean) ** 2, sol["mse"])):
        assert abs(sample.mean() - target) < 4 * sample.std() / math.sqrt(n)


# ----------------------------------------------------------------------------- weak recovery


def weak_recovery_reference(noise, rho):
    """1 / (E_y[(E[z^2|y] - rho)^2] / rho^2), z ~ N(0, rho), y = |z| + sqrt(noise) xi, by plain
    nested quadrature (noise > 0)."""

    def post(y):
        f = lambda z: npdf(z, 0, rho) * npdf(y, abs(z), noise)  # noqa: E731
        lim = 12 * math.sqrt(rho)
        pts = [0.0, y, -y]
        p0 = integrate.quad(f, -lim, lim, points=pts, epsabs=0, epsrel=1e-12, limit=200)[0]
        p2 = integrate.quad(lambda z: z * z * f(z), -lim, lim, points=pts, epsabs=0, epsrel=1e-12, limit=200)[0]
        return p0, p2 / p0

    def integrand(y):
        p0, m2 = post(y)
        return p0 * (m2 - rho) ** 2

    lim = 12 * math.sqrt(rho + noise)
    val = integrate.quad(integrand, -lim, lim, points=[0.0], epsabs=0, epsrel=1e-11, limit=200)[0]
    return rho * rho / val


@pytest.mark.parametrize("prior,rho,noise", [("gaussian", 1.0, 0.0), ("gaussian", 1.0, 0.3),
                                             ("gauss_bernoulli", 0.5, 0.2)])
def test_weak_recovery_threshold_of_phase_retrieval(prior, rho, noise):
    m = model(prior=prior, rho=rho, channel="abs", noise=noise, alpha=1.0)
    ref = 0.5 if noise == 0.0 else weak_recovery_reference(noise, rho)
    # the model's Jacobian at q = 0 against the closed form, and against differences of update
    slope = m.jacobian(m.trivial_state())[0, 0]
    # noisy: the table's K(0) = lim E g^2 / q is the same 1-D integral, done by the Numba rule
    assert m.alpha / slope == pytest.approx(ref, rel=1e-6 if noise == 0.0 else 1e-9)
    if noise > 0.0:
        # E g^2 keeps its relative accuracy as q -> 0: tabulated as q K(q), and directly
        for q in (1e-12 * rho, 1e-9 * rho):
            for tabulated in (True, False):
                hat = m._channel.se_bayes(q, rho, tabulated=tabulated)[0]
                assert hat / q == pytest.approx(1.0 / (rho * rho * ref), rel=1e-8)
    h = 1e-6 * rho
    fd = (-3 * m.update(np.array([0.0]))[0] + 4 * m.update(np.array([h]))[0] - m.update(np.array([2 * h]))[0]) / (2 * h)
    assert fd == pytest.approx(slope, rel=1e-4)
    thr = fixedpoint.threshold(m, "alpha", bracket=(0.5 * ref, 2.0 * ref), kind="stability")
    assert thr.converged
    assert thr.value == pytest.approx(ref, rel=1e-5)


# ----------------------------------------------------------------------------- thresholds


def test_binary_perceptron_thresholds():
    """Rademacher prior, noiseless sign: information-theoretic alpha_IT = 1.245 (Gyorgyi, PRA 41,
    7097 (1990); Barbier et al. 2019 quote 1.249 -- the crossing of the replica free entropies,
    recomputed here with mpmath, is 1.2447), algorithmic alpha_alg = 1.493 (Barbier et al.)."""
    m = model(prior="rademacher", channel="sign", alpha=1.0)
    it = fixedpoint.threshold(m, "alpha", bracket=(1.1, 1.4), kind="first_order")
    alg = fixedpoint.threshold(m, "alpha", bracket=(1.3, 1.7), kind="spinodal", start="uninformed")
    assert it.converged and alg.converged
    assert it.value == pytest.approx(1.245, abs=1e-3)
    assert alg.value == pytest.approx(1.493, abs=2e-3)


# ----------------------------------------------------------------------------- finite size


GAMP_CASES = [
    dict(prior="gaussian", channel="sign", alpha=2.0),
    dict(prior="rademacher", channel="linear", alpha=0.8, noise=0.3),
    dict(prior="gauss_bernoulli", rho=0.3, channel="linear", alpha=0.7, noise=0.01),
    dict(prior="gaussian", channel="relu", alpha=1.5, noise=0.1),
    dict(prior="gaussian", channel="abs", alpha=2.0, noise=0.1),
]


@pytest.mark.slow
@pytest.mark.parametrize("kw", GAMP_CASES)
def test_gamp_agrees_with_state_evolution(kw):
    m = model(**kw)
    theory = fixedpoint.solve(m, start="uninformed")
    assert theory.converged
    d = 1500
    runs = [m.simulate(d, seed) for seed in range(5)]
    for key in ("overlap", "mse", "gen_error"):
        vals = np.array([r[key] for r in runs])
        se = vals.std(ddof=1) / math.sqrt(len(vals))
        # within 3 standard errors of the mean over the seeds
        assert abs(vals.mean() - theory[key]) < 3 * se, (key, vals, theory[key])


# ----------------------------------------------------------------------------- tabulated integrals


@pytest.mark.parametrize("kw", [
    dict(prior="gaussian", channel="abs", alpha=1.3, noise=0.1),
    dict(prior="rademacher", channel="relu", alpha=1.5, noise=0.1),
    dict(prior="gauss_bernoulli", rho=0.3, channel="abs", alpha=2.0, noise=0.01),
])
def test_tabulated_and_direct_integrals_give_the_same_fixed_point(kw):
    tab = model(**kw)
    direct = model(**kw, integrals="direct")
    a = fixedpoint.solve(tab, start="uninformed")
    b = fixedpoint.solve(direct, start="uninformed")
    assert a.converged and b.converged
    assert a["q"] == pytest.approx(b["q"], rel=1e-8)
    for name in ("mse", "free_entropy", "mutual_information", "gen_error"):
        assert a[name] == pytest.approx(b[name], rel=1e-8, abs=1e-9)
    # and the model's Jacobian (table derivative vs finite differences of the direct integral)
    assert tab.jacobian(a.x)[0, 0] == pytest.approx(direct.jacobian(a.x)[0, 0], rel=1e-5)


# ----------------------------------------------------------------------------- logit and door


@pytest.mark.parametrize("kw,field", [
    (dict(channel="logit", gamma=0.0), "gamma"), (dict(channel="logit", gamma=math.inf), "gamma"),
    (dict(channel="door", width=-1.0), "width"), (dict(channel="door", width=math.nan), "width"),
    (dict(channel="sign", gamma=2.0), "gamma"), (dict(channel="logit", width=1.0), "width"),
    (dict(channel="abs", width=0.5), "width"), (dict(channel="door", gamma=0.5), "gamma"),
    (dict(channel="sign", gamma=1.0), "gamma"), (dict(channel="logit", gamma="2"), "gamma"),
])
def test_channel_parameters_validated_and_kept_at_default_elsewhere(kw, field):
    with pytest.raises(ValueError, match=field):
        model(**kw)


def test_parameters_catalogue_and_labels_of_the_new_channels():
    table = GLMBayes.parameters()
    assert table["gamma"]["default"] is None and table["gamma"]["open"] == (True, True)
    assert table["width"]["default"] is None and table["width"]["open"] == (False, True)
    # None is the channel's default: gamma = 1, K = 0.674
    assert model(channel="logit")._channel.gamma == 1.0 and model(channel="door")._channel.width == 0.674
    assert {"logit", "door"} <= set(table["channel"]["allowed"])
    assert GLMBayes.labels["gamma"] == r"$\gamma$" and GLMBayes.labels["width"] == r"$K$"
    assert model(channel="door").trivial_state()[0] == 0.0
    assert model(channel="logit", gamma=3.0).trivial_state() is None


def door_weak_recovery_by_quadrature(K, noise, rho):
    """rho^2 / E_y[(E[z^2 | y] - rho)^2], z ~ N(0, rho), y = sign(|z + sqrt(noise) xi| - K), by
    adaptive quadrature of the definitions (the module docstring's general formula)."""
    S = rho + noise
    p_minus = integrate.quad(lambda t: npdf(t, 0, S), -K, K, epsabs=0, epsrel=1e-13)[0]
    m2_minus = integrate.quad(lambda t: t * t * npdf(t, 0, S), -K, K, epsabs=0, epsrel=1e-13)[0] / p_minus
    m2_plus = (S - p_minus * m2_minus) / (1 - p_minus)
    # E[z^2 | t] = rho - rho^2 / S + (rho / S)^2 t^2
    c = lambda m2: rho - rho * rho / S + (rho / S) ** 2 * m2 - rho  # noqa: E731
    val = p_minus * c(m2_minus) ** 2 + (1 - p_minus) * c(m2_plus) ** 2
    return rho * rho / val


@pytest.mark.parametrize("prior,rho,noise,width", [("gaussian", 1.0, 0.0, 0.674), ("rademacher", 1.0, 0.0, 0.674),
                                                   ("gauss_bernoulli", 0.5, 0.2, 0.674), ("gaussian", 1.0, 0.1, 1.5)])
def test_door_weak_recovery_threshold(prior, rho, noise, width):
    """alpha_WR = S^2 H(k) (1 - 2 H(k)) / (2 rho^2 k^2 phi(k)^2), k = K / sqrt(S), S = rho + noise:
    against the general formula by quadrature, and the engine's stability threshold to 1e-8
    (for K = 0.674, rho = 1: 1.36154)."""
    m = model(prior=prior, rho=rho, channel="door", noise=noise, width=width, alpha=1.0)
    closed = m._channel.weak_recovery_threshold(rho)
    assert closed == pytest.approx(door_weak_recovery_by_quadrature(width, noise, rho), rel=1e-12)
    thr = fixedpoint.threshold(m, "alpha", bracket=(0.8 * closed, 1.25 * closed), kind="stability")
    assert thr.converged
    assert thr.value == pytest.approx(closed, rel=1e-8)
    if prior == "gaussian" and noise == 0.0:
        assert closed == pytest.approx(1.36154, abs=1e-5)


def test_rademacher_door_thresholds():
    """Rademacher prior, noiseless door at K = 0.674 (Barbier et al., PNAS 2019, arXiv 1708.03395,
    the symmetric door): information-theoretic alpha_IT = 1 and algorithmic alpha_alg = 1.57.

    alpha_IT in closed form: the perfect-recovery branch has phi = -log 2 (the prior's entropy),
    the uninformed one (q = 0, stable below alpha_WR = 1.3615) phi = -alpha h(y) with h the
    labels' entropy, h(2 H(K)); they cross at log 2 / h(y) = 1.00000028 (exactly 1 at the
    median K = 0.67449 of |z|)."""
    m = model(prior="rademacher", channel="door", alpha=1.0)
    p = 2 * 0.5 * math.erfc(0.674 / math.sqrt(2))
    h = -(p * math.log(p) + (1 - p) * math.log(1 - p))
    it = fixedpoint.threshold(m, "alpha", bracket=(0.8, 1.3), kind="first_order")
    assert it.converged
    assert it.value == pytest.approx(math.log(2) / h, rel=1e-8)
    assert it.value == pytest.approx(1.0, abs=1e-3)
    alg = fixedpoint.threshold(m, "alpha", bracket=(1.4, 1.7), kind="spinodal", start="uninformed")
    assert alg.converged
    assert alg.value == pytest.approx(1.57, abs=5e-3)
    # the jump is to perfect recovery
    assert alg.above.x[0] == pytest.approx(1.0, abs=1e-12)


def test_gaussian_door_recovers_continuously_at_weak_recovery():
    """Gaussian prior: no first-order jump near alpha_WR; q grows continuously from 0, linearly in
    alpha - alpha_WR just above it (a supercritical bifurcation)."""
    m = model(prior="gaussian", channel="door", alpha=1.0)
    wr = m._channel.weak_recovery_threshold(1.0)
    qs = []
    for eps in (0.01, 0.02):
        s = fixedpoint.solve(dataclasses.replace(m, alpha=wr + eps), start="uninformed")
        si = fixedpoint.solve(dataclasses.replace(m, alpha=wr + eps), start="informed")
        assert s.converged and si.converged and s["q"] == pytest.approx(si["q"], rel=1e-6)
        qs.append(s["q"])
    assert 0 < qs[0] < qs[1] and qs[1] / qs[0] == pytest.approx(2.0, rel=0.1)
    below = fixedpoint.solve(dataclasses.replace(m, alpha=wr - 0.05), start="informed")
    assert below["q"] < 1e-8


@pytest.mark.parametrize("kw", [dict(prior="rademacher", channel="logit", alpha=1.5, gamma=4.0),
                                dict(prior="gaussian", channel="logit", alpha=3.0, gamma=2.0, noise=0.1),
                                dict(prior="gaussian", channel="door", alpha=2.0),
                                dict(prior="gauss_bernoulli", rho=0.5, channel="door", alpha=2.5, noise=0.05, width=0.5)])
def test_logit_and_door_free_entropy_stationary_and_q_hat_is_derivative(kw):
    """d phi / d q = d phi / d q_hat = 0 at the fixed point; q_hat = 2 alpha d Psi_out / d q
    (finite differences of psi, the second integral, against the first)."""
    m = model(**kw)
    sol = fixedpoint.solve(m, start="uninformed")
    assert sol.converged
    q, q_hat = sol["q"], sol["q_hat"]
    assert 1e-3 < q < m.rho - 1e-3
    f = m.free_entropy_rs
    hq, hh = 1e-5 * m.rho, 1e-5 * max(q_hat, 1.0)
    assert abs((f(q + hq, q_hat) - f(q - hq, q_hat)) / (2 * hq)) < 1e-7
    assert abs((f(q, q_hat + hh) - f(q, q_hat - hh)) / (2 * hh)) < 1e-7
    psi = lambda t: m._channel.se_integrals(t, m.rho - t)[1]  # noqa: E731
    dpsi = (-psi(q + 2 * hq) + 8 * psi(q + hq) - 8 * psi(q - hq) + psi(q - 2 * hq)) / (12 * hq)
    assert q_hat == pytest.approx(2 * m.alpha * dpsi, rel=1e-7)
    assert sol["free_entropy"] == pytest.approx(f(q, q_hat), abs=1e-10)
    obs = sol.observables if hasattr(sol, "observables") else m.observables(sol.x)
    assert obs["gen_error"] == obs["bayes_error"]
    assert obs["label_mse"] == pytest.approx(2 * obs["gibbs_error"], rel=1e-14)
    assert obs["bayes_error"] < obs["gibbs_error"] < 0.5


@pytest.mark.parametrize("channel,noise", [("logit", 0.0), ("door", 0.0), ("door", 0.2)])
@pytest.mark.parametrize("frac", [0.3, 0.9])
def test_nishimori_identity_of_the_new_channels(channel, noise, frac):
    """E g_out^2 = -E d g_out / d omega at V = rho - q (plain quadrature of the pointwise kernel)."""
    q = frac
    V = 1.0 - q
    m = model(prior="gaussian", channel=channel, noise=noise, alpha=1.0, **({"gamma": 3.0} if channel == "logit" else {}))
    ch = m._channel
    hat, _ = ch.se_integrals(q, V)

    def inner(w):
        _, _, dg = ch.z_out(np.array([1.0, -1.0]), np.array([w, w]), np.array([V, V]))
        lz, _, _ = ch.z_out(np.array([1.0, -1.0]), np.array([w, w]), np.array([V, V]))
        return float(np.sum(np.exp(lz) * dg))

    sq = math.sqrt(q)
    pts = [0.674] if channel == "door" else [0.5]
    edges = [0.0, *pts, 10 * sq]
    minus_edg = -sum(integrate.quad(lambda w: (inner(w) + inner(-w)) * npdf(w, 0, q), a, b, epsabs=0, epsrel=1e-11,
                                    limit=200)[0] for a, b in zip(edges[:-1], edges[1:]))
    assert hat == pytest.approx(minus_edg, rel=1e-8)


def test_label_observables_of_the_existing_channels():
    """sign: Gibbs error arccos(q / rho) / pi (two perceptrons of overlap q, Engel & Van den
    Broeck), label MSE twice it, Bayes error = gen_error; regression: label_mse = gen_error."""
    sol = fixedpoint.solve(model(prior="gaussian", channel="sign", alpha=2.0))
    assert sol["gibbs_error"] == pytest.approx(math.acos(sol["q"]) / math.pi, rel=1e-12)
    assert sol["label_mse"] == pytest.approx(2 * sol["gibbs_error"], rel=1e-14)
    assert sol["bayes_error"] == sol["gen_error"]
    reg = fixedpoint.solve(model(prior="gaussian", channel="relu", alpha=1.5, noise=0.1))
    assert reg["label_mse"] == reg["gen_error"]
    m = model(prior="gaussian", channel="relu", alpha=1.5, noise=0.1)
    assert "gibbs_error" not in m.observables(reg.x)


def test_logit_tends_to_sign_at_large_gamma():
    a = fixedpoint.solve(model(prior="rademacher", channel="sign", alpha=1.2, noise=0.05))
    b = fixedpoint.solve(model(prior="rademacher", channel="logit", alpha=1.2, noise=0.05, gamma=1e5))
    for k in ("q", "gen_error", "gibbs_error", "free_entropy", "mutual_information"):
        assert b[k] == pytest.approx(a[k], rel=1e-6)


GAMP_NEW_CASES = [
    dict(prior="rademacher", channel="logit", alpha=1.0, gamma=2.0, noise=0.1),
]
# The door at alpha = 2.5 with Gaussian weights has large sample-to-sample fluctuations: the
# overlap GAMP reaches varies by 0.036 (standard deviation over instances) at d = 1000 and still
# 0.026 at d = 4000, so four seeds cannot resolve it (the mean of 16 instances at d = 1000 is
# 0.872 +- 0.009, of 6 at d = 4000 0.868 +- 0.011, against 0.8737): it gets its own test with
# more seeds at a smaller d (8 at d = 800: about 3 standard errors of 0.04).


@pytest.mark.slow
@pytest.mark.parametrize("kw", GAMP_NEW_CASES)
def test_gamp_agrees_with_state_evolution_new_channels(kw):
    m = model(**kw)
    theory = fixedpoint.solve(m, start="uninformed")
    assert theory.converged
    _assert_gamp_matches(m, theory, d=3000, seeds=4)


@pytest.mark.slow
def test_gamp_agrees_with_state_evolution_door():
    m = model(prior="gaussian", channel="door", alpha=2.5)
    theory = fixedpoint.solve(m, start="uninformed")
    assert theory.converged
    _assert_gamp_matches(m, theory, d=800, seeds=8)


def _assert_gamp_matches(m, theory, d, seeds):
    runs = [m.simulate(d, seed) for seed in range(seeds)]
    for key in ("overlap", "mse", "gen_error", "label_mse", "gibbs_error", "bayes_error"):
        vals = np.array([r[key] for r in runs])
        se = vals.std(ddof=1) / math.sqrt(len(vals))
        # within 3 standard errors of the mean over the seeds, plus 2e-3 for the finite-size bias
        # of the 0/1 errors measured on a few thousand test labels
        assert abs(vals.mean() - theory[key]) < 3 * se + 2e-3, (key, vals, theory[key])
