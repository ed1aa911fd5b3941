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
    runs = [m.simulate(400, seed) for seed in range(5)]
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


# ============================================================================ gmm_erm


def _reference_prox(loss, t, Vc, delta):
    """``(z, f', loss(z))`` of ``z = prox_{Vc loss(+1, .)}(t)``, ``f = (z - t) / Vc``: the minimiser of
    ``loss(z) + (z - t)^2 / (2 Vc)`` written out case by case (logistic: the optimality condition
    solved by brentq), independently of the package's kernels."""
    from scipy.optimize import brentq

    if loss == "square":
        z = (t + Vc) / (1 + Vc)
        return z, -1 / (1 + Vc), 0.5 * (1 - z) ** 2
    if loss == "logistic":
        z = brentq(lambda u: u - t - Vc / (1 + math.exp(u)) if u > -700 else u - t - Vc, t - 1e-12, t + Vc + 1e-12,
                   xtol=1e-15, rtol=1e-15)
        c = 1 / (4 * math.cosh(z / 2) ** 2)  # sigmoid'(z)
        return z, -c / (1 + Vc * c), float(np.logaddexp(0.0, -z))
    r0 = 1 - t
    if loss == "hinge":
        if t >= 1:
            return t, 0.0, 0.0
        if t <= 1 - Vc:
            return t + Vc, 0.0, 1 - t - Vc
        return 1.0, -1 / Vc, 0.0
    if loss == "huber":
        if abs(r0) <= delta * (1 + Vc):
            z = t + Vc * r0 / (1 + Vc)
            return z, -1 / (1 + Vc), 0.5 * (1 - z) ** 2
        z = t + Vc * delta * math.copysign(1.0, r0)
        return z, 0.0, delta * abs(1 - z) - 0.5 * delta ** 2
    if abs(r0) <= Vc:  # absolute
        return 1.0, -1 / Vc, 0.0
    z = t + Vc * math.copysign(1.0, r0)
    return z, 0.0, abs(1 - z)


@pytest.mark.parametrize("loss", ["square", "logistic", "hinge", "huber", "absolute"])
def test_reference_prox_is_the_minimiser(loss):
    from scipy.optimize import minimize_scalar

    ell = {"square": lambda z: 0.5 * (1 - z) ** 2, "logistic": lambda z: float(np.logaddexp(0.0, -z)),
           "hinge": lambda z: max(0.0, 1 - z),
           "huber": lambda z: 0.5 * (1 - z) ** 2 if abs(1 - z) <= 0.8 else 0.8 * abs(1 - z) - 0.32,
           "absolute": lambda z: abs(1 - z)}[loss]
    for t in (-3.0, -0.4, 0.5, 0.95, 2.0):
        z, _, _ = _reference_prox(loss, t, 0.7, 0.8)
        best = minimize_scalar(lambda u: ell(u) + (u - t) ** 2 / 1.4, bounds=(t - 5, t + 5), method="bounded",
                               options={"xatol": 1e-10})
        assert ell(z) + (z - t) ** 2 / 1.4 <= best.fun + 1e-12


@pytest.mark.parametrize("loss", ["square", "logistic", "hinge", "huber", "absolute"])
def test_erm_integrals_against_adaptive_quadrature(loss):
    # the hats, the bias step and the training loss at an arbitrary state, against scipy quad
    model = equations.get("gmm_erm", loss=loss, alpha=1.7, reg=0.3, noise=0.6, balance=0.35, bias=True,
                          delta=0.8)
    x = np.array([0.8, 1.3, 0.9, 0.25])
    m, q, V, b = x
    Vc, sd = model.noise * V, math.sqrt(model.noise * q)
    kinks = {"hinge": [1 - Vc, 1.0], "huber": [1 - 0.8 * (1 + Vc), 1 + 0.8 * (1 + Vc)],
             "absolute": [1 - Vc, 1 + Vc]}.get(loss, [])
    moments = {}
    for yc, rc in ((1, model.balance), (-1, 1 - model.balance)):
        mean = m + yc * b

        def expect(i, power=1):
            def g(t):
                z, df, ell = _reference_prox(loss, t, Vc, 0.8)
                return ((z - t) / Vc, df, ell)[i] ** power * stats.norm.pdf(t, mean, sd)

            pts = sorted(p for p in kinks if mean - 14 * sd < p < mean + 14 * sd)
            edges = [mean - 14 * sd, *pts, mean + 14 * sd]
            return sum(integrate.quad(g, a, c, limit=200, epsabs=1e-14, epsrel=1e-12)[0]
                       for a, c in zip(edges[:-1], edges[1:]))

        moments[yc] = (rc, expect(0), expect(0, 2), expect(1), expect(2))
    Ef = sum(r * e for r, e, *_ in moments.values())
    Ef2 = sum(r * e2 for r, _, e2, *_ in moments.values())
    Edf = sum(r * ed for r, _, _, ed, _ in moments.values())
    hats = model.hats(x)
    assert hats["m_hat"] == pytest.approx(model.alpha * Ef, rel=1e-10)
    assert hats["q_hat"] == pytest.approx(model.alpha * model.noise * Ef2, rel=1e-10)
    assert hats["V_hat"] == pytest.approx(-model.alpha * model.noise * Edf, rel=1e-10)
    Eyf = moments[1][0] * moments[1][1] - moments[-1][0] * moments[-1][1]
    assert model.update(x)[3] == pytest.approx(b - Eyf / Edf, rel=1e-10)
    train = sum(r * el for r, *_, el in moments.values())
    assert model.observables(x)["train_loss"] == pytest.approx(train, rel=1e-10)


def _erm_cases():
    return [dict(loss="logistic", alpha=2.0, reg=0.1, noise=1.0, balance=0.3, bias=True),
            dict(loss="hinge", alpha=1.5, reg=0.2, noise=0.5, balance=0.6, bias=True),
            dict(loss="square", alpha=0.7, reg=0.05, noise=0.5, bias=False),
            dict(loss="huber", penalty="l1", alpha=2.5, reg=0.1, noise=0.4, balance=0.4, bias=True, delta=0.5)]


@pytest.mark.parametrize("params", _erm_cases())
def test_erm_energy_is_stationary_and_is_the_training_objective(params):
    model = equations.get("gmm_erm", **params)
    sol = fp.solve(model, atol=1e-13, rtol=1e-13)
    assert sol.converged, sol.message
    x = sol.x
    for i in range(4 if model.bias else 3):
        h = 1e-6 * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        grad = (model.energy(xp) - model.energy(xm)) / (2 * h)
        assert abs(grad) < 1e-6, (i, grad)
    if model.penalty == "l2":
        # the energy at the fixed point is the minimal objective per dimension
        assert model.energy(x) == pytest.approx(model.alpha * sol["train_loss"] + model.reg * sol["q"] / 2, rel=1e-9)


def test_balanced_clusters_need_no_bias_and_mirrored_balance_mirrors_the_solution():
    base = dict(loss="logistic", alpha=1.5, reg=0.2, noise=0.7)
    sym = fp.solve(equations.get("gmm_erm", balance=0.5, bias=True, **base))
    assert abs(sym["b"]) < 1e-10
    a = fp.solve(equations.get("gmm_erm", balance=0.3, bias=True, **base))
    c = fp.solve(equations.get("gmm_erm", balance=0.7, bias=True, **base))
    assert c["b"] == pytest.approx(-a["b"], rel=1e-9)
    assert c["gen_error_plus"] == pytest.approx(a["gen_error_minus"], rel=1e-9)
    # fitting the bias lowers the overall test error on imbalanced clusters
    no_bias = fp.solve(equations.get("gmm_erm", balance=0.3, bias=False, **base))
    assert no_bias["b"] == 0.0 and a["gen_error"] < no_bias["gen_error"]


def test_strongly_regularised_ridge_reaches_the_bayes_optimal_error():
    # balanced clusters: as reg -> infinity ridge becomes the Hebbian (posterior-mean) direction,
    # which is Bayes-optimal (Mignacco et al. 2020); independent reference: gmm_bayes's closed form
    for alpha, noise in ((0.5, 1.0), (3.0, 0.4)):
        bayes = fp.solve(equations.get("gmm_bayes", alpha=alpha, noise=noise))["gen_error"]
        ridge = fp.solve(equations.get("gmm_erm", loss="square", alpha=alpha, reg=1e6, noise=noise))["gen_error"]
        weak = fp.solve(equations.get("gmm_erm", loss="square", alpha=alpha, reg=0.01, noise=noise))["gen_error"]
        assert ridge == pytest.approx(bayes, rel=1e-5)
        assert weak > bayes


@pytest.mark.parametrize("params, d, seeds", [
    (dict(loss="logistic", alpha=2.0, reg=0.1, noise=1.0, balance=0.3, bias=True), 300, 4),
    (dict(loss="hinge", alpha=1.5, reg=0.2, noise=0.5, balance=0.6, bias=True), 200, 5),
    (dict(loss="square", penalty="l1", alpha=0.7, reg=0.05, noise=0.5, bias=True, balance=0.4), 400, 5),
    (dict(loss="absolute", alpha=2.0, reg=0.5, noise=0.6), 300, 5),
])
def test_erm_simulation_agrees_within_error_bars(params, d, seeds):
    model = equations.get("gmm_erm", **params)
    theory = fp.solve(model).observables
    runs = [model.simulate(d, s) for s in range(seeds)]
    for key in ("m", "q", "b", "gen_error", "train_loss", "train_error"):
        vals = np.array([r[key] for r in runs])
        err = vals.std(ddof=1) / math.sqrt(len(vals))
        # finite-size corrections are O(1/d) against error bars O(1/sqrt(d seeds))
        assert abs(vals.mean() - theory[key]) < 4 * err + 0.02 * max(1.0, abs(theory[key])), (key, vals.mean(),
                                                                                              theory[key], err)


def test_erm_invalid_parameters():
    with pytest.raises(ValueError, match="reg"):
        equations.get("gmm_erm", loss="logistic", reg=0.0, alpha=3.0)
    with pytest.raises(ValueError, match="bias"):
        equations.get("gmm_erm", bias="yes")
    with pytest.raises(ValueError, match="balance"):
        equations.get("gmm_erm", balance=1.0)
    assert equations.get("gmm_erm", loss="square", reg=0.0, alpha=2.0).reg == 0.0


# ============================================================================ gmm_erm, structured covariances

_SP, _SM, _C = (0.5, 1.0, 2.0, 4.0), (2.0, 1.0, 1.0, 0.25), (1.5, 1.0, 0.5, 0.2)


@pytest.mark.parametrize("params", [
    dict(loss="logistic", alpha=2.0, reg=0.1, noise=0.7, balance=0.3, bias=True),
    dict(loss="logistic", alpha=0.6, reg=0.5, noise=1.2),
    dict(loss="square", alpha=0.7, reg=0.05, noise=0.5, balance=0.4, bias=True),
    dict(loss="square", alpha=2.0, reg=0.0, noise=0.5),
    dict(loss="hinge", alpha=1.5, reg=0.2, noise=0.5, balance=0.6, bias=True),
    dict(loss="hinge", alpha=3.0, reg=0.01, noise=0.8),
    dict(loss="huber", alpha=1.3, reg=0.3, noise=0.6, balance=0.45, bias=True, delta=0.5),
    dict(loss="huber", penalty="l1", alpha=2.5, reg=0.1, noise=0.4, balance=0.4, bias=True, delta=0.5),
    dict(loss="absolute", alpha=2.0, reg=0.5, noise=0.6, balance=0.55, bias=True),
    dict(loss="absolute", penalty="l1", alpha=1.2, reg=0.2, noise=0.6),
])
def test_structured_isotropic_spectra_reduce_to_the_isotropic_model(params):
    # spectra of ones (over 3 modes) are the isotropic clusters noise I: q_c = noise q, V_c = noise V
    iso = equations.get("gmm_erm", **params)
    st = equations.get("gmm_erm", spectrum_plus=(1.0, 1.0, 1.0), **params)
    assert iso.state_names == ("m", "q", "V", "b") and st.state_names == ("m", "q_plus", "q_minus", "V_plus",
                                                                            "V_minus", "b")
    n = params["noise"]
    lift = lambda x: np.array([x[0], n * x[1], n * x[1], n * x[2], n * x[2], x[3]])
    x = np.array([0.4, 0.9, 1.1, -0.2 if params.get("bias") else 0.0])
    np.testing.assert_allclose(st.update(lift(x)), lift(iso.update(x)), rtol=1e-12, atol=1e-14)
    assert st.energy(lift(x)) == pytest.approx(iso.energy(x), rel=1e-12)
    a = fp.solve(iso, atol=1e-13, rtol=1e-13)
    b = fp.solve(st, atol=1e-13, rtol=1e-13)
    assert a.converged and b.converged, (a.message, b.message)
    np.testing.assert_allclose(b.x, lift(a.x), rtol=1e-10, atol=1e-12)
    for key in ("m", "q", "b", "overlap", "gen_error", "gen_error_plus", "gen_error_minus", "train_loss",
                "train_error"):
        assert b[key] == pytest.approx(a[key], rel=1e-10, abs=1e-12), key


def _square_structured_reference(alpha, reg, noise, balance, bias, sp, sm, c):
    """Square loss, l2: the replica equations with the channel side in closed form (``f = (1 - t)
    / (1 + V_c)``: ``E f = (1 - m - y_c b) / (1 + V_c)``, ``E f^2 = ((1 - m - y_c b)^2 + q_c) / (1 +
    V_c)^2``, ``E f' = -1 / (1 + V_c)``, and ``b`` from ``sum_c rho_c y_c E f = 0``) and the modes
    summed with numpy, solved by scipy's root finder: no quadrature, no Numba kernel."""
    from scipy.optimize import fsolve

    sp, sm, c2 = noise * np.array(sp), noise * np.array(sm), np.array(c) ** 2
    rho = np.array([balance, 1 - balance])
    y = np.array([1.0, -1.0])

    def residual(x):
        m, qp, qm, Vp, Vm, b = x
        q, V = np.array([qp, qm]), np.array([Vp, Vm])
        r = 1 - m - y * b
        m_hat = alpha * np.sum(rho * r / (1 + V))
        q_hat = alpha * rho * (r * r + q) / (1 + V) ** 2
        V_hat = alpha * rho / (1 + V)
        A = reg + V_hat[0] * sp + V_hat[1] * sm
        w2 = (m_hat ** 2 * c2 + q_hat[0] * sp + q_hat[1] * sm) / A ** 2
        new = [np.mean(m_hat * c2 / A), np.mean(sp * w2), np.mean(sm * w2), np.mean(sp / A), np.mean(sm / A)]
        # the bias: sum_c rho_c y_c (1 - m - y_c b) / (1 + V_c) = 0, linear in b
        b_new = np.sum(rho * y * (1 - m) / (1 + V)) / np.sum(rho / (1 + V)) if bias else 0.0
        return np.array(new + [b_new]) - x

    x0 = np.array([0.1, 1.0, 1.0, 1.0, 1.0, 0.0])
    return fsolve(residual, x0, xtol=1e-14)


@pytest.mark.parametrize("bias, balance", [(False, 0.5), (True, 0.3)])
def test_structured_ridge_against_closed_form_channel_and_resolvent(bias, balance):
    kw = dict(alpha=1.5, reg=0.3, noise=0.8, balance=balance, bias=bias)
    model = equations.get("gmm_erm", loss="square", spectrum_plus=_SP, spectrum_minus=_SM, mean_coefficients=_C,
                          **kw)
    sol = fp.solve(model, atol=1e-14, rtol=1e-14)
    assert sol.converged, sol.message
    ref = _square_structured_reference(kw["alpha"], kw["reg"], kw["noise"], balance, bias, _SP, _SM, _C)
    np.testing.assert_allclose(sol.x, ref, rtol=1e-9, atol=1e-12)
    # V_c is the deterministic equivalent of tr(Sigma_c (A^T A + reg)^-1) / d, the square loss's
    # Hessian: one finite instance at d = 1000 drawn here, with the class sizes fixed at their
    # fractions (a binomial draw would move V_c by O(1/sqrt(d))); the rest fluctuates by O(1/d)
    rng = np.random.default_rng(0)
    d = 1000
    n = int(kw["alpha"] * d)
    n_plus = int(round(balance * n))
    s_plus, s_minus, c = (np.repeat(np.array(v), d // 4) for v in (_SP, _SM, _C))
    mu = c * rng.standard_normal(d)
    y = np.r_[np.ones(n_plus), -np.ones(n - n_plus)]
    scale = np.sqrt(kw["noise"] * np.where(y[:, None] > 0, s_plus, s_minus))
    A = (np.outer(y, mu) / math.sqrt(d) + scale * rng.standard_normal((n, d))) / math.sqrt(d)
    R = np.diag(np.linalg.inv(A.T @ A + kw["reg"] * np.eye(d)))
    assert kw["noise"] * s_plus @ R / d == pytest.approx(sol["V_plus"], rel=0.01)
    assert kw["noise"] * s_minus @ R / d == pytest.approx(sol["V_minus"], rel=0.01)


# Loureiro, Sicuro, Gerbelot, Pacco, Krzakala, Zdeborova (NeurIPS 2021, arXiv 2106.03791), the
# authors' theory curves in github.com/IdePHICS/GaussMixtureProject, K2mix/data/theory/: both
# clusters share the block covariance diag(delta1 on a fraction r, delta2 on the rest), mu ~ N(0, I),
# fitted bias, balanced; their (V, m, q) are our (V_c, m, q_c); columns alpha, V, m, q, test_error,
# train_loss. Ridge: ridge_rho=0.5_delta1=0.1_delta2=0.5_lamb=0.01_prob=0.5.csv (r = 1/2);
# hinge: hinge_l2_rho=0.8_delta1=0.5_delta2=0.1_lamb=0.1_prob=0.5.csv (r = 4/5). Their hinge
# training loss (K2mix/saddle_point/losses/hinge_loss.py, get_train_loss) writes E (1 - V - omega)_+
# for omega ~ N(m + b, q) as phi(A) + A Phi(A), A = (1 - m - V - b)/sqrt(q): the factor sqrt(q) of
# the field's spread is missing. So their column is ours / sqrt(q_c) (to 1e-9 below), and ours is
# the one adaptive quadrature confirms (test_erm_integrals_against_adaptive_quadrature).
_LOUREIRO_RIDGE = [
    (0.4981632653061225, 12.379697465963098, 0.6674542874857178, 0.2845315024921424, 0.10541520018455108,
     0.0011035814726244847),
    (1.4744897959183674, 1.6025695274319893, 0.8391189605957912, 0.3013201662503563, 0.0631750167949946,
     0.024153631404635202),
    (3.0, 0.4790171609631195, 0.8519684139699011, 0.18665920048411455, 0.024306907120017533, 0.047673905458650655),
]
_LOUREIRO_HINGE = [
    (0.4981632653061225, 2.497685800346848, 0.6209602397763021, 0.4045369916785278, 0.16445713957664604,
     0.00011306779632934817),
    (2.023673469387755, 1.283921155837584, 1.3389982672295506, 1.0255133145016806, 0.09304459278945648,
     0.02309962927571576),
]


def test_structured_matches_the_published_theory_curves():
    for row in _LOUREIRO_RIDGE:
        sol = fp.solve(equations.get("gmm_erm", loss="square", reg=0.01, alpha=row[0], bias=True,
                                     spectrum_plus=(0.1, 0.5)), atol=1e-13, rtol=1e-13)
        ours = (sol["V_plus"], sol["m"], sol["q_plus"], sol["gen_error"], sol["train_loss"])
        np.testing.assert_allclose(ours, row[1:], rtol=1e-7)
        assert sol["V_minus"] == sol["V_plus"] and abs(sol["b"]) < 1e-12
    for row in _LOUREIRO_HINGE:
        sol = fp.solve(equations.get("gmm_erm", loss="hinge", reg=0.1, alpha=row[0], bias=True,
                                     spectrum_plus=(0.5, 0.5, 0.5, 0.5, 0.1)), atol=1e-13, rtol=1e-13)
        np.testing.assert_allclose((sol["V_plus"], sol["m"], sol["q_plus"], sol["gen_error"]), row[1:5], rtol=1e-7)
        # their training loss lacks the factor sqrt(q) (see above): 7.19e-5 against 1.13e-4 at the first row
        assert sol["train_loss"] / math.sqrt(sol["q_plus"]) == pytest.approx(row[5], rel=1e-7)
        assert abs(sol["train_loss"] - row[5]) > 0.01 * row[5]


def _structured_cases():
    return [dict(loss="logistic", alpha=1.5, reg=0.1, balance=0.4, bias=True),
            dict(loss="hinge", alpha=2.0, reg=0.05, noise=0.5),
            dict(loss="huber", penalty="l1", alpha=0.8, reg=0.1, noise=0.7, balance=0.35, bias=True, delta=0.7)]


@pytest.mark.parametrize("params", _structured_cases())
def test_structured_energy_is_stationary_in_every_entry(params):
    model = equations.get("gmm_erm", spectrum_plus=_SP, spectrum_minus=_SM, mean_coefficients=_C, **params)
    sol = fp.solve(model, atol=1e-13, rtol=1e-13)
    assert sol.converged, sol.message
    x = sol.x
    for i in range(6 if model.bias else 5):
        h = 1e-6 * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        grad = (model.energy(xp) - model.energy(xm)) / (2 * h)
        assert abs(grad) < 1e-6, (i, grad)
    if model.penalty == "l2":
        assert model.energy(x) == pytest.approx(model.alpha * sol["train_loss"] + model.reg * sol["q"] / 2, rel=1e-9)
    # the order parameters obey Cauchy-Schwarz in each cluster's metric
    assert sol["m"] ** 2 < model._cs_bound() * min(sol["q_plus"], sol["q_minus"])


def test_structured_swapping_the_clusters_mirrors_the_solution():
    base = dict(loss="logistic", alpha=1.2, reg=0.2, bias=True, mean_coefficients=_C)
    a = fp.solve(equations.get("gmm_erm", balance=0.3, spectrum_plus=_SP, spectrum_minus=_SM, **base))
    c = fp.solve(equations.get("gmm_erm", balance=0.7, spectrum_plus=_SM, spectrum_minus=_SP, **base))
    assert c["b"] == pytest.approx(-a["b"], rel=1e-9)
    assert c["q_plus"] == pytest.approx(a["q_minus"], rel=1e-9)
    assert c["gen_error_plus"] == pytest.approx(a["gen_error_minus"], rel=1e-9)
    # the cluster with the larger variance along the mean's strong modes is harder
    assert a["gen_error_plus"] != pytest.approx(a["gen_error_minus"], rel=1e-3)


@pytest.mark.parametrize("params, d, seeds", [
    (dict(loss="logistic", alpha=1.5, reg=0.1, balance=0.4, bias=True), 400, 4),
    (dict(loss="square", penalty="l1", alpha=0.8, reg=0.1, noise=0.7, balance=0.4, bias=True), 400, 4),
])
def test_structured_simulation_agrees_within_error_bars(params, d, seeds):
    model = equations.get("gmm_erm", spectrum_plus=_SP, spectrum_minus=_SM, mean_coefficients=_C, **params)
    theory = fp.solve(model).observables
    runs = [model.simulate(d, s) for s in range(seeds)]
    for key in ("m", "q", "q_plus", "q_minus", "b", "gen_error", "train_loss"):
        vals = np.array([r[key] for r in runs])
        err = vals.std(ddof=1) / math.sqrt(len(vals))
        assert abs(vals.mean() - theory[key]) < 3 * err + 0.02 * max(1.0, abs(theory[key])), (key, vals.mean(),
                                                                                              theory[key], err)


def test_structured_invalid_parameters_name_themselves():
    with pytest.raises(ValueError, match="spectrum_minus"):
        equations.get("gmm_erm", spectrum_plus=(1.0, 2.0), spectrum_minus=(1.0,))
    with pytest.raises(ValueError, match="spectrum_plus"):
        equations.get("gmm_erm", spectrum_plus=(1.0, 0.0))
    with pytest.raises(ValueError, match="spectrum_plus"):
        equations.get("gmm_erm", spectrum_plus="ones")
    with pytest.raises(ValueError, match="mean_coefficients"):
        equations.get("gmm_erm", mean_coefficients=(0.0, 0.0))
    m = equations.get("gmm_erm", spectrum_minus=(2.0, 0.5))
    assert m.spectrum_plus == (2.0, 0.5) and m.mean_coefficients == (1.0, 1.0) and m.structured
    assert not equations.get("gmm_erm").structured
    with pytest.raises(ValueError, match="multiple"):
        m.simulate(101, 0)


def test_structured_l1_without_curvature_is_explained():
    # hinge with a huge l1 penalty: no field reaches the kinks, V_hat_c = 0 in both clusters
    model = equations.get("gmm_erm", loss="hinge", penalty="l1", alpha=2.0, reg=50.0, spectrum_plus=(0.5, 2.0))
    sol = fp.solve(model)
    assert not sol.converged and "V_hat = 0" in sol.message
