"""glm_erm with channel="outliers" (Vilucchio, Troiani, Erba, Krzakala 2023, arXiv 2305.18974):
limits, closed forms, adaptive quadrature, stationarity, the alpha -> infinity floor, simulations.

Published material used (authors' code IdePHICS/RobustRegression, read, not copied):
``robust_regression/fixed_point_equations/fpe_L2_loss.py`` (closed-form ridge solution with
outliers), ``robust_regression/aux_functions/misc.py`` (their E_gen, E_estim and the alpha -> inf
plateau eps (1 - eps)(1 - beta)^2 subtracted in their excess generalisation error, also
``plateau_alpha_inf`` of ``figures_paper/FIGURE_1_left.ipynb``),
``robust_regression/aux_functions/training_errors.py`` (closed-form training loss of the
absolute loss), ``robust_regression/fixed_point_equations/fpe_Huber_loss.py`` and ``fpe_L1_loss.py``
(closed-form hats of the Huber and absolute losses with outliers, and their alpha -> inf plateau
equations at beta = 0).
"""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy.optimize import minimize_scalar
from scipy.special import erfc, ndtr

import fixedpoint
from equations import glm_erm  # noqa: F401  (registers the model)
from equations._registry import get
from equations.glm_erm import GLMERM, _legendre, _outlier_integrals, outlier_error_floor, ridge_closed_form
from equations.losses import LOSSES, loss_value, prox_full

TIGHT = dict(atol=1e-13, rtol=1e-13)
OUT = dict(channel="outliers", eps=0.3, beta=0.2, noise_in=0.5, noise_out=4.0)


def solve(**params):
    sol = fixedpoint.solve(get("glm_erm", **params), **TIGHT)
    assert sol.converged, sol.message
    return sol


# ----------------------------------------------------------------------------- reductions


STATES = [np.array(x) for x in ([0.3, 0.5, 0.8], [0.9, 1.1, 0.05], [-0.2, 0.4, 3.0], [0.0, 1e-6, 1.0])]


@pytest.mark.parametrize("loss", ["square", "huber", "absolute"])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_no_outliers_is_exactly_the_linear_channel(loss, penalty):
    """eps = 0: the map is the linear channel's with noise = noise_in, bit for bit, whatever beta
    and noise_out are."""
    common = dict(loss=loss, penalty=penalty, alpha=1.7, reg=0.2, delta=0.8)
    out = GLMERM(**common, channel="outliers", eps=0.0, beta=-1.3, noise_in=0.4, noise_out=7.0)
    lin = GLMERM(**common, channel="linear", noise=0.4)
    for x in STATES:
        assert np.array_equal(out.update(x), lin.update(x))
        assert out.energy(x) == lin.energy(x)
    a, b = fixedpoint.solve(out, **TIGHT), fixedpoint.solve(lin, **TIGHT)
    assert a.converged and b.converged
    np.testing.assert_allclose(a.x, b.x, rtol=1e-12, atol=1e-15)
    assert a["gen_error"] == pytest.approx(b["gen_error"], rel=1e-12)


@pytest.mark.parametrize("loss", ["square", "huber", "absolute"])
def test_outliers_like_inliers_are_the_linear_channel(loss):
    """beta = 1, noise_out = noise_in: the outliers are inliers; any eps gives the linear channel."""
    common = dict(loss=loss, alpha=2.3, reg=0.05, delta=1.3)
    out = GLMERM(**common, channel="outliers", eps=0.37, beta=1.0, noise_in=0.6, noise_out=0.6)
    lin = GLMERM(**common, channel="linear", noise=0.6)
    for x in STATES:
        np.testing.assert_allclose(out.update(x), lin.update(x), rtol=1e-14, atol=1e-300)
    sol = fixedpoint.solve(out, **TIGHT)
    np.testing.assert_allclose(sol.x, fixedpoint.solve(lin, **TIGHT).x, rtol=1e-12)
    # the paper's E_gen (noiseless labels) is then the estimation error and gen_error adds the noise
    assert sol["gen_error_outliers"] == pytest.approx(sol["estimation_error"], rel=1e-12)
    assert sol["gen_error"] == pytest.approx(sol["estimation_error"] + 0.6, rel=1e-12)


# ----------------------------------------------------------------------------- square loss closed form


@pytest.mark.parametrize("alpha,reg,eps,beta,noise_in,noise_out,rho",
                         [(2.0, 0.3, 0.3, 0.2, 1.0, 5.0, 1.0), (0.6, 0.05, 0.1, -1.5, 0.0, 2.0, 1.7),
                          (4.5, 1.2, 0.6, 3.0, 0.3, 0.0, 0.8)])
def test_ridge_with_outliers_closed_form(alpha, reg, eps, beta, noise_in, noise_out, rho):
    """Ridge sees only second moments: y = gamma z* + e with gamma = E[y z*]/rho = 1 - eps + eps
    beta and e uncorrelated with z*, Var e = E y^2 - gamma^2 rho. So (m gamma, q, V) is ridge on a
    linear teacher of norm gamma^2 rho with noise Var e (Marchenko-Pastur closed form); checked
    to 1e-10. At rho = 1 also against the authors' closed form (fpe_L2_loss.py,
    order_parameters_ridge: t = sqrt((alpha + reg - 1)^2 + 4 reg), Sigma = (t - reg - alpha +
    1)/(2 reg), m = 2 alpha gamma/(t + reg + alpha + 1) and q with the bracket of its denominator
    closed after the last term)."""
    sol = solve(loss="square", channel="outliers", alpha=alpha, reg=reg, eps=eps, beta=beta, noise_in=noise_in,
                noise_out=noise_out, rho=rho)
    gamma = 1 - eps + eps * beta
    ey2 = (1 - eps) * (rho + noise_in) + eps * (beta ** 2 * rho + noise_out)
    ref = ridge_closed_form(alpha, reg, rho=gamma ** 2 * rho, noise=ey2 - gamma ** 2 * rho)
    assert sol["m"] * gamma == pytest.approx(ref["m"], rel=1e-10)
    assert sol["q"] == pytest.approx(ref["q"], rel=1e-10)
    assert sol["V"] == pytest.approx(ref["V"], rel=1e-10)
    assert sol["train_loss"] == pytest.approx((ey2 - 2 * gamma * sol["m"] + sol["q"]) / (2 * (1 + sol["V"]) ** 2),
                                              rel=1e-10)
    if rho == 1.0:
        t = math.sqrt((alpha + reg - 1) ** 2 + 4 * reg)
        lam_ = 1 + (1 - eps) * noise_in + eps * noise_out + eps * (beta ** 2 - 1)
        q = 4 * alpha * (alpha * gamma ** 2 * (alpha + reg + t - 3) + lam_ * (alpha + reg + t + 1)) / (
            (t + reg + alpha + 1) * ((alpha + reg) ** 2 - 2 * alpha + 2 * reg + t ** 2 + 2 * t * (alpha + reg + 1) + 1))
        assert sol["V"] == pytest.approx((t - reg - alpha + 1) / (2 * reg), rel=1e-10)
        assert sol["m"] == pytest.approx(2 * alpha * gamma / (t + reg + alpha + 1), rel=1e-10)
        assert sol["q"] == pytest.approx(q, rel=1e-10)


# ----------------------------------------------------------------------------- quadrature


def _ref_hats(loss, m, q, V, rho, eps, beta, noise_in, noise_out, delta):
    """(I_m, I_q, I_V, train_loss) by adaptive quad over each component's residual, with I_m from
    Stein's lemma in the form E[f(r) L] (no derivative of f): for (z*, omega) ~ N(0, [[rho, m],
    [m, q]]), E d/dz* f(r) = E[f(r) L], L = (Sigma^-1 (z*, omega))_1, and E[f(r) L] = Cov(L, r)
    E[f(r) r]/Var r for the Gaussian r = b z* + sqrt(noise) n - omega."""
    det = rho * q - m * m
    out = np.zeros(4)
    for w, b, nz in ((1 - eps, 1.0, noise_in), (eps, beta, noise_out)):
        var = b * b * rho + nz - 2 * b * m + q
        sig = math.sqrt(var)
        cov_L_r = (q * (b * rho - m) - m * (b * m - q)) / det  # L = (q z* - m omega)/det

        def E(fun):
            g = lambda r: fun(r) * math.exp(-r * r / (2 * var)) / (math.sqrt(2 * math.pi) * sig)  # noqa: E731
            return integrate.quad(g, -15 * sig, 15 * sig, points=[-delta * (1 + V), delta * (1 + V), -V, V, 0.0],
                                  limit=500, epsabs=1e-15, epsrel=1e-13)[0]

        def parts(r):
            z, f, df = prox_full(loss, r, 0.0, V, delta)  # y = r, omega = 0
            return float(f), float(df), float(loss_value(loss, r, z, delta))

        out += w * np.array([cov_L_r * E(lambda r: parts(r)[0] * r) / var, E(lambda r: parts(r)[0] ** 2),
                             E(lambda r: -parts(r)[1]), E(lambda r: parts(r)[2])])
    return out


@pytest.mark.parametrize("loss", ["square", "huber", "absolute"])
def test_outlier_closed_forms_against_adaptive_quad(loss):
    code = LOSSES.index(loss)
    for m, q, V, rho, eps, beta, nin, nout, delta in [(0.5, 0.7, 0.9, 1.0, 0.3, 0.0, 1.0, 5.0, 1.0),
                                                      (0.2, 0.3, 0.05, 1.5, 0.1, -2.0, 0.0, 0.5, 0.3),
                                                      (0.9, 1.0, 2.0, 1.0, 0.6, 2.5, 0.2, 0.0, 2.0)]:
        got = _outlier_integrals(code, m, q, V, rho, eps, beta, nin, nout, delta, *_legendre())
        ref = _ref_hats(loss, m, q, V, rho, eps, beta, nin, nout, delta)
        np.testing.assert_allclose(got[[0, 1, 2, 3]], ref, rtol=1e-9, atol=1e-14)
        if beta != 1:
            assert got[0] != got[2]  # m_hat carries beta for the outliers, V_hat does not


def test_absolute_training_loss_against_published_closed_form():
    """The authors' training error of the absolute loss (training_errors.py,
    training_error_l1_loss, rho = 1): sum_k w_k [sqrt(2/pi) s_k exp(-V^2/(2 s_k^2)) - V erfc(V/(sqrt 2
    s_k))] with s_in^2 = 1 + noise_in - 2m + q and s_out^2 = beta^2 + noise_out - 2 beta m + q."""
    for m, q, V, eps, beta, nin, nout in [(0.5, 0.7, 0.9, 0.3, 0.0, 1.0, 5.0), (0.8, 0.9, 0.2, 0.15, -1.0, 0.1, 2.0)]:
        total = 0.0
        for w, s2 in ((1 - eps, 1 + nin - 2 * m + q), (eps, beta ** 2 + nout - 2 * beta * m + q)):
            s = math.sqrt(s2)
            total += w * (math.sqrt(2 / math.pi) * s * math.exp(-V * V / (2 * s2)) - V * erfc(V / (math.sqrt(2) * s)))
        got = _outlier_integrals(LOSSES.index("absolute"), m, q, V, 1.0, eps, beta, nin, nout, 1.0, *_legendre())[3]
        assert got == pytest.approx(total, rel=1e-12)


def _published_hats(loss, m, q, V, alpha, nin, nout, eps, beta, a):
    """The authors' closed-form hats at rho = 1 (fpe_Huber_loss.py,
    var_hat_func_Huber_decorrelated_noise; fpe_L1_loss.py, var_hat_func_L1_decorrelated_noise),
    rewritten per component with s^2 its residual variance and k its kink in units of sqrt(2) s:
    Huber (kink a (1 + V)): E f' = erf(k)/(1 + V), E f^2 = s^2 erf(k)/(1 + V)^2 + a^2 erfc(k) -
    sqrt(2/pi) a s exp(-k^2)/(1 + V); absolute (kink V): E f' = erf(k)/V, E f^2 = erfc(k) +
    [s^2 erf(k) - sqrt(2/pi) V s exp(-k^2)]/V^2; m_hat weights the outliers' E f' by beta."""
    hats = np.zeros(3)
    for w, b, s2 in ((1 - eps, 1.0, nin - 2 * m + q + 1), (eps, beta, nout - 2 * beta * m + q + beta ** 2)):
        s = math.sqrt(s2)
        kink = a * (1 + V) if loss == "huber" else V
        k = kink / (math.sqrt(2) * s)
        if loss == "huber":
            efp = math.erf(k) / (1 + V)
            ef2 = s2 * math.erf(k) / (1 + V) ** 2 + a * a * erfc(k) - math.sqrt(2 / math.pi) * a * s * math.exp(-k * k) / (1 + V)
        else:
            efp = math.erf(k) / V
            ef2 = erfc(k) + (s2 * math.erf(k) - math.sqrt(2 / math.pi) * V * s * math.exp(-k * k)) / V ** 2
        hats += alpha * w * np.array([b * efp, ef2, efp])
    return hats


@pytest.mark.parametrize("loss", ["huber", "absolute"])
def test_hats_against_the_published_closed_forms(loss):
    model = GLMERM(loss=loss, alpha=3.0, reg=0.1, delta=0.7, channel="outliers", eps=0.3, beta=-0.4, noise_in=0.5,
                   noise_out=5.0)
    for x in ([0.5, 0.7, 0.9], [0.9, 1.0, 0.1], [0.1, 0.2, 2.5]):
        got = model.hats(np.array(x))
        ref = _published_hats(loss, *x, 3.0, 0.5, 5.0, 0.3, -0.4, 0.7)
        np.testing.assert_allclose([got["m_hat"], got["q_hat"], got["V_hat"]], ref, rtol=1e-12)


# ----------------------------------------------------------------------------- stationarity


STATIONARY = [
    dict(loss="huber", delta=1.0, alpha=10.0, reg=0.1, channel="outliers", eps=0.3, beta=0.0, noise_in=1.0,
         noise_out=5.0),
    dict(loss="absolute", alpha=1.5, reg=0.3, **OUT),
    dict(loss="square", alpha=0.7, reg=0.2, channel="outliers", eps=0.2, beta=-1.0, noise_in=0.1, noise_out=1.0),
    dict(loss="huber", penalty="l1", delta=0.5, alpha=2.0, reg=0.3, **OUT),
    dict(loss="absolute", penalty="l1", alpha=2.5, reg=0.2, **OUT),
]


@pytest.mark.parametrize("params", STATIONARY)
def test_energy_is_stationary_at_the_fixed_point(params):
    """As in test_glm_erm: zero gradient of e(m, q, V) at the fixed point (the m-derivative of the
    mixture's Moreau envelope brings the outliers' beta into m_hat), and not 5 % away."""
    model = get("glm_erm", **params)
    sol = fixedpoint.solve(model, **TIGHT)
    assert sol.converged
    x = sol.x
    scale = 1.0 + max(abs(v) for v in model.hats(x).values())
    for i in range(3):
        h = 1e-5 * max(1.0, abs(x[i]))
        e = np.zeros(3)
        e[i] = h
        grad = (model.energy(x + e) - model.energy(x - e)) / (2 * h)
        assert abs(grad) <= 1e-7 * scale, (params, i, grad)
    y = x * 1.05
    off = [(model.energy(y + e) - model.energy(y - e)) / (2 * e[i]) for i, e in enumerate(np.diag(1e-5 * np.abs(y)))]
    assert max(abs(g) for g in off) > 100 * 1e-7 * scale
    if model.penalty == "l2":  # e = alpha train_loss + reg q/2, the minimal objective per dimension
        assert model.energy(x) == pytest.approx(model.alpha * sol["train_loss"] + model.reg * sol["q"] / 2, rel=1e-10)


# ----------------------------------------------------------------------------- alpha -> infinity


def _population_risk(loss, c, eps, beta, nin, nout, delta, rho):
    """E loss(y - c z*) by adaptive quad over each component's Gaussian residual."""
    total = 0.0
    for w, b, nz in ((1 - eps, 1.0, nin), (eps, beta, nout)):
        s = math.sqrt((b - c) ** 2 * rho + nz)
        if s == 0:
            continue
        g = lambda r: float(loss_value(loss, r, 0.0, delta)) * math.exp(-r * r / (2 * s * s)) / (math.sqrt(2 * math.pi) * s)  # noqa: E731
        total += w * integrate.quad(g, -15 * s, 15 * s, points=[-delta, 0.0, delta], epsabs=1e-15, epsrel=1e-13,
                                    limit=200)[0]
    return total


@pytest.mark.parametrize("loss,eps,beta,nin,nout,delta,rho", [
    ("huber", 0.3, 0.0, 1.0, 5.0, 1.0, 1.0), ("absolute", 0.3, 0.0, 1.0, 5.0, 1.0, 1.0),
    ("huber", 0.2, 3.0, 0.2, 0.5, 0.4, 1.3), ("absolute", 0.45, -2.0, 0.5, 1.0, 1.0, 0.7)])
def test_population_slope_minimises_the_quadrature_risk(loss, eps, beta, nin, nout, delta, rho):
    """c* of outlier_error_floor (zero of the Stein form of R'(c)) against a direct minimisation
    of the quad-integrated risk (which is flat at its minimum: c to ~1e-6)."""
    floor = outlier_error_floor(loss, eps, beta, nin, nout, delta, rho)
    res = minimize_scalar(lambda c: _population_risk(loss, c, eps, beta, nin, nout, delta, rho),
                          bounds=(min(1, beta), max(1, beta)), method="bounded", options={"xatol": 1e-9})
    assert floor["c"] == pytest.approx(res.x, abs=2e-6)
    assert floor["estimation_error"] == pytest.approx(rho * (1 - floor["c"]) ** 2, rel=1e-14)


@pytest.mark.parametrize("loss", ["huber", "absolute"])
@pytest.mark.parametrize("eps,nin,nout,delta", [(0.3, 1.0, 5.0, 1.0), (0.6, 0.2, 1.0, 0.5), (0.1, 0.01, 3.0, 2.0)])
def test_floor_solves_the_published_plateau_equation(loss, eps, nin, nout, delta):
    """beta = 0: the authors' alpha -> inf plateau condition (fpe_Huber_loss.py,
    x_next_plateau_Huber; fpe_L1_loss.py, x_next_plateau_L1) is the fixed point x = -1/((1 - eps)
    g_in/g_out + eps) with y_in = noise_in + eps^2 x^2, y_out = noise_out + (eps x + 1)^2 and
    g = erf(delta/sqrt(2 y)) (huber) or y^(-1/2) (absolute); their x is (c* - 1)/eps."""
    c = outlier_error_floor(loss, eps, 0.0, nin, nout, delta)["c"]
    x = (c - 1) / eps
    y_in, y_out = nin + eps ** 2 * x ** 2, nout + (eps * x + 1) ** 2
    if loss == "huber":
        ratio = math.erf(delta / math.sqrt(2 * y_in)) / math.erf(delta / math.sqrt(2 * y_out))
    else:
        ratio = math.sqrt(y_out / y_in)
    assert x == pytest.approx(-1 / ((1 - eps) * ratio + eps), rel=1e-12, abs=1e-14)


def test_square_loss_floor_is_the_published_plateau():
    """Square loss: c* = 1 - eps + eps beta, so E_estim -> eps^2 (1 - beta)^2 and E_gen ->
    eps (1 - eps)(1 - beta)^2, the authors' alpha -> inf plateau (misc.py, excess_gen_error;
    FIGURE_1_left.ipynb, plateau_alpha_inf, at eps = 0.6, beta = 0: 0.24)."""
    f = outlier_error_floor("square", 0.6, 0.0, 1.0, 0.5)
    assert f["gen_error_outliers"] == pytest.approx(0.24, rel=1e-14)
    for eps, beta in [(0.3, 0.0), (0.1, -1.0), (0.5, 2.0)]:
        f = outlier_error_floor("square", eps, beta, 1.0, 5.0)
        assert f["c"] == pytest.approx(1 - eps + eps * beta, rel=1e-15)
        assert f["estimation_error"] == pytest.approx(eps ** 2 * (1 - beta) ** 2, rel=1e-12)
        assert f["gen_error_outliers"] == pytest.approx(eps * (1 - eps) * (1 - beta) ** 2, rel=1e-12)


def test_absolute_loss_recovers_the_teacher_exactly_with_noiseless_inliers():
    """Least absolute deviations with noiseless inliers and eps < 1/2: R(c) has a kink at c = 1
    whose one-sided slopes (1 - eps) sqrt(2/(pi rho)) dominate the outliers' (at most eps
    sqrt(2/(pi rho))), so c* = 1 and the floor is 0; a square loss keeps eps^2 (1 - beta)^2."""
    f = outlier_error_floor("absolute", 0.3, 0.0, 0.0, 5.0)
    assert f["c"] == pytest.approx(1.0, abs=1e-14) and f["estimation_error"] < 1e-26


@pytest.mark.parametrize("loss,penalty", [("square", "l2"), ("huber", "l2"), ("absolute", "l2"), ("huber", "l1")])
def test_large_alpha_approaches_the_floor(loss, penalty):
    """At fixed reg the replica solution tends to c* w*, with corrections in 1/alpha: the errors at
    alpha = 1e3, 1e4 extrapolated (Richardson, 1/alpha) agree with outlier_error_floor."""
    par = dict(loss=loss, penalty=penalty, reg=0.1, channel="outliers", eps=0.3, beta=0.0, noise_in=1.0, noise_out=5.0)
    floor = outlier_error_floor(loss, 0.3, 0.0, 1.0, 5.0, 1.0)
    s3, s4 = solve(alpha=1e3, **par), solve(alpha=1e4, **par)
    for key in ("estimation_error", "gen_error_outliers", "gen_error"):
        extrap = s4[key] + (s4[key] - s3[key]) / 9
        assert abs(s4[key] - floor[key]) < 0.1 * abs(s3[key] - floor[key]) + 1e-6  # ~1/alpha
        assert extrap == pytest.approx(floor[key], abs=2e-5), (key, s3[key], s4[key], floor[key])
    assert s4["m"] == pytest.approx(floor["c"], rel=1e-4)


# ----------------------------------------------------------------------------- protocol


def test_parameters_and_observables():
    table = GLMERM.parameters()
    assert "outliers" in table["channel"]["allowed"]
    assert table["eps"]["range"] == (0.0, 1.0) and table["eps"]["open"] == (False, True)
    for k in ("eps", "beta", "noise_in", "noise_out"):
        assert table[k]["default"] == 0.0
    sol = solve(loss="huber", alpha=2.0, reg=0.1, **OUT)
    m, q = sol["m"], sol["q"]
    gamma = 1 - 0.3 + 0.3 * 0.2
    assert sol["gen_error_outliers"] == pytest.approx(1 - 0.3 + 0.3 * 0.04 - 2 * gamma * m + q, rel=1e-13)
    assert sol["gen_error"] == pytest.approx(sol["gen_error_outliers"] + 0.7 * 0.5 + 0.3 * 4.0, rel=1e-13)
    assert sol["excess_gen_error"] == pytest.approx(sol["gen_error_outliers"] - 0.3 * 0.7 * 0.64, rel=1e-13)
    assert sol["estimation_error"] == pytest.approx(1 - 2 * m + q, rel=1e-13)


@pytest.mark.parametrize("params,name", [
    (dict(channel="outliers", noise=0.1), "noise"), (dict(channel="outliers", eps=1.0), "eps"),
    (dict(channel="outliers", eps=-0.1), "eps"), (dict(channel="outliers", beta=math.inf), "beta"),
    (dict(channel="outliers", noise_in=-1.0), "noise_in"), (dict(channel="outliers", noise_out=math.nan), "noise_out"),
    (dict(channel="linear", eps=0.2), "eps"), (dict(channel="linear", beta=0.5), "beta"),
    (dict(loss="logistic", channel="outliers"), "loss"), (dict(loss="hinge", channel="outliers"), "channel")])
def test_bad_outlier_input_names_the_parameter(params, name):
    with pytest.raises(ValueError, match=name):
        GLMERM(**{"alpha": 2.0, "reg": 0.1, **params})
    if name in ("eps", "beta", "noise_in", "noise_out") and params.get("channel") == "outliers":
        with pytest.raises(ValueError, match=name):
            outlier_error_floor("huber", **{"eps": 0.1, "beta": 0.0, "noise_in": 1.0, "noise_out": 1.0,
                                            name: params[name]})


def test_update_never_raises_inside_bounds():
    for params in STATIONARY:
        model = get("glm_erm", **params)
        for x in ([0.0, 0.0, 1e-12], [0.0, 0.0, 1e8], [3.0, 1e-300, 1.0], [5.0, 1.0, 1.0], [-1.0, 2.0, 1e-3]):
            assert model.update(np.array(x)).shape == (3,)


# ----------------------------------------------------------------------------- simulations


SIMULATED = [
    (dict(loss="huber", delta=1.0, alpha=3.0, reg=0.1, channel="outliers", eps=0.3, beta=0.0, noise_in=1.0,
          noise_out=5.0), 500, 5),
    (dict(loss="absolute", alpha=2.0, reg=0.3, channel="outliers", eps=0.2, beta=0.5, noise_in=0.5, noise_out=3.0),
     400, 5),
    (dict(loss="square", penalty="l1", alpha=0.8, reg=0.3, channel="outliers", eps=0.3, beta=-0.5, noise_in=0.2,
          noise_out=2.0), 600, 5),
]


@pytest.mark.slow
@pytest.mark.parametrize("params,d,seeds", SIMULATED, ids=lambda p: p["loss"] + "-" + p.get("penalty", "l2")
                         if isinstance(p, dict) else str(p))
def test_simulation_agrees_with_theory(params, d, seeds):
    """simulate draws the outlier labels (sample_instance) and fits; the seed means agree with the
    replica prediction within 3 standard errors."""
    model = get("glm_erm", **params)
    theory = fixedpoint.solve(model).observables
    runs = [model.simulate(d, 1000 * d + seed) for seed in range(seeds)]
    for key in ("m", "q", "V", "gen_error", "gen_error_outliers", "train_loss", "estimation_error"):
        v = np.array([r[key] for r in runs])
        se = v.std(ddof=1) / math.sqrt(len(v))
        assert abs(v.mean() - theory[key]) <= 3 * se, (key, v, theory[key])


def test_sampled_labels_have_the_outlier_statistics():
    """The labels of sample_instance: a fraction eps with slope beta and noise_out (moments of y
    given z* by component, checked on one large draw)."""
    from equations._simulate.erm import sample_instance

    rng = np.random.default_rng(5)
    A, y, w = sample_instance(200.0, 200, 1.0, "outliers", 0.0, rng, (0.3, -0.5, 0.2, 2.0))
    z = A @ w
    gamma = 0.7 - 0.15
    ey2 = 0.7 * (np.mean(z * z) + 0.2) + 0.3 * (0.25 * np.mean(z * z) + 2.0)
    assert np.mean(y * z) / np.mean(z * z) == pytest.approx(gamma, abs=0.01)
    assert np.mean(y * y) == pytest.approx(ey2, rel=0.02)


# ----------------------------------------------------------------------------- Tukey's biweight


def _tukey(r, tau):
    return np.where(np.abs(r) < tau, tau ** 2 / 6 * (1 - (1 - (r / tau) ** 2) ** 3), tau ** 2 / 6)


@pytest.mark.parametrize("V", [0.3, 1.2, 1.3, 3.0])
def test_tukey_prox_is_the_global_minimiser(V):
    """prox_full("tukey") against the minimum of (u - r)^2/(2V) + t(u) on a fine grid (also for
    V >= 5/4, where two local minima coexist), and its f_out = t'(u) and derivative against
    finite differences away from the jumps."""
    tau = 1.5
    grid = np.linspace(-5, 5, 100001)
    for r in np.linspace(-4, 4, 41):
        z, f, df = (float(v) for v in prox_full("tukey", r, 0.0, V, tau))
        u = r - z  # y = r, omega = 0
        energy = (grid - r) ** 2 / (2 * V) + _tukey(grid, tau)
        assert abs(u - grid[np.argmin(energy)]) < 3e-4
        assert (u - r) ** 2 / (2 * V) + float(_tukey(u, tau)) <= energy.min() + 1e-12
        assert f == pytest.approx((z - 0.0) / V, rel=1e-12, abs=1e-14)
        h = 1e-6
        fp, fm = (float(prox_full("tukey", r, s * h, V, tau)[1]) for s in (1, -1))
        if abs(fp - fm) < 1e-3:  # no jump between the two points
            assert df == pytest.approx((fp - fm) / (2 * h), abs=1e-5)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # quad at its rounding floor
@pytest.mark.parametrize("V,tau", [(0.7, 3.0), (0.3, 0.5), (1.2, 2.0), (0.05, 1.0)])
def test_tukey_moments_against_adaptive_quad(V, tau):
    """_tukey_moments (integrals over u with the Jacobian of r = u + V t'(u)) against adaptive quad
    over r with the proximal operator found by bisection (losses.prox_full)."""
    from equations.glm_erm import _tukey_moments

    glx, glw = _legendre()
    for var in (1e-3, 0.2, 1.3, 20.0):
        sig = math.sqrt(var)

        def E(fun):
            g = lambda r: fun(r) * math.exp(-r * r / (2 * var)) / math.sqrt(2 * math.pi * var)  # noqa: E731
            lim = min(15 * sig, tau)
            return integrate.quad(g, -lim, lim, points=[0.0], limit=1000, epsabs=1e-15, epsrel=1e-13)[0]

        def parts(r):
            z, f, df = prox_full("tukey", r, 0.0, V, tau)
            return float(f), float(df), float(loss_value("tukey", r, z, tau))

        outside = 2 * ndtr(-tau / sig)
        ref = [E(lambda r: -parts(r)[1]), E(lambda r: parts(r)[0] ** 2),
               E(lambda r: parts(r)[2]) + tau ** 2 / 6 * outside, E(lambda r: parts(r)[1] ** 2)]
        np.testing.assert_allclose(_tukey_moments(var, V, tau, glx, glw), ref, rtol=1e-10, atol=1e-15)


def test_tukey_with_a_large_threshold_is_ridge():
    """tau -> infinity: t(r) = r^2/2 - r^4/(2 tau^2) + ..., so the fixed point tends to ridge's
    (Marchenko-Pastur, with the outliers' effective teacher) with corrections O(sigma^2/tau^2), and
    the replicon to ridge's alpha V^2/(1 + V)^2."""
    par = dict(alpha=3.0, reg=0.1, channel="outliers", eps=0.2, beta=0.5, noise_in=0.3, noise_out=1.0)
    ridge = solve(loss="square", **par)
    V = ridge["V"]
    dev = []
    for tau, tol in [(30.0, 5e-3), (300.0, 5e-5)]:
        tk = solve(loss="tukey", delta=tau, **par)
        np.testing.assert_allclose(tk.x, ridge.x, rtol=tol)
        assert tk["replicon"] == pytest.approx(3.0 * V * V / (1 + V) ** 2, rel=tol)
        dev.append(np.max(np.abs(tk.x / ridge.x - 1)))
    assert 50 < dev[0] / dev[1] < 200  # the 1/tau^2 rate


TUKEY = [
    dict(loss="tukey", delta=3.0, alpha=10.0, reg=0.1, channel="outliers", eps=0.3, beta=0.0, noise_in=1.0,
         noise_out=5.0),
    dict(loss="tukey", penalty="l1", delta=2.0, alpha=5.0, reg=0.5, channel="outliers", eps=0.2, beta=0.0,
         noise_in=0.5, noise_out=10.0),
    dict(loss="tukey", delta=2.0, alpha=4.0, reg=0.2, channel="linear", noise=0.5),
]


@pytest.mark.parametrize("params", TUKEY)
def test_tukey_energy_is_stationary_and_both_starts_agree(params):
    model = get("glm_erm", **params)
    sol = fixedpoint.solve(model, **TIGHT)
    assert sol.converged, sol.message
    x = sol.x
    assert x[2] < 1.25 and 0 < sol["replicon"] < 1
    scale = 1.0 + max(abs(v) for v in model.hats(x).values())
    for i in range(3):
        h = 1e-5 * max(1.0, abs(x[i]))
        e = np.zeros(3)
        e[i] = h
        assert abs(model.energy(x + e) - model.energy(x - e)) / (2 * h) <= 1e-7 * scale
    if model.penalty == "l2":
        assert model.energy(x) == pytest.approx(model.alpha * sol["train_loss"] + model.reg * sol["q"] / 2, rel=1e-10)
    other = fixedpoint.solve(model, start="informed", **TIGHT)
    np.testing.assert_allclose(other.x, x, rtol=1e-9)


def test_tukey_replicon_flags_an_unstable_fixed_point():
    """A smaller threshold at the same alpha: the iteration still converges (V < 5/4) but the
    replicon exceeds 1, so the replica-symmetric prediction is not to be trusted there; it falls
    below 1 as alpha grows."""
    unstable = solve(loss="tukey", delta=1.5, alpha=4.0, reg=0.2, channel="linear", noise=0.5)
    stable = solve(loss="tukey", delta=1.5, alpha=8.0, reg=0.2, channel="linear", noise=0.5)
    assert unstable["replicon"] > 1.5 and stable["replicon"] < 0.7


def test_tukey_beyond_five_quarters_is_refused_and_explained():
    """alpha = 0.5 with a small reg: the fixed point would have V > 5/4 (ridge's V = 1.98), where
    the proximal operator jumps; the map returns nan there and the failure says why."""
    model = get("glm_erm", loss="tukey", delta=2.0, alpha=0.5, reg=0.01, channel="linear", noise=0.1)
    assert np.all(np.isnan(model.update(np.array([0.3, 0.5, 1.3]))))
    assert np.all(np.isfinite(model.update(np.array([0.3, 0.5, 1.0]))))
    sol = fixedpoint.solve(model)
    assert not sol.converged
    assert "5/4" in model.explain(np.array([0.3, 0.5, 1.3]))


@pytest.mark.parametrize("params,name", [(dict(loss="tukey", channel="sign"), "channel"),
                                         (dict(loss="tukey", channel="linear", noise=-1.0), "noise")])
def test_tukey_bad_input(params, name):
    with pytest.raises(ValueError, match=name):
        GLMERM(alpha=2.0, reg=0.1, **params)
    with pytest.raises(ValueError, match="loss"):
        outlier_error_floor("tukey", 0.1, 0.0, 1.0, 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("params,d,seeds", [(TUKEY[0], 400, 10), (TUKEY[1], 300, 6)],
                         ids=["tukey-l2", "tukey-l1"])
def test_tukey_simulation_agrees_with_theory(params, d, seeds):
    """Finite instances fitted by local descent from the Huber estimator (the replica prediction
    is the global minimiser; the two agree here, where the replicon is < 1: 0.32 and 0.62)."""
    model = get("glm_erm", **params)
    theory = fixedpoint.solve(model).observables
    runs = [model.simulate(d, 1000 * d + seed) for seed in range(seeds)]
    for key in ("m", "q", "V", "gen_error", "train_loss", "estimation_error"):
        v = np.array([r[key] for r in runs])
        se = v.std(ddof=1) / math.sqrt(len(v))
        assert abs(v.mean() - theory[key]) <= 3 * se, (key, v, theory[key])
