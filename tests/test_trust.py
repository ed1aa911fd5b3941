"""Answers that used to come back wrong yet marked converged (perfect recovery, precision at the
boundary, spinodals, retries from the other start). Each reference value is computed here
independently of the code under test: closed forms, scipy root finding on the fold conditions,
or a state evolution written out with adaptive quadrature."""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

import equations
import fixedpoint as fp
from fixedpoint.continuation import at


# ---------------------------------------------------------------- first order at perfect recovery

@pytest.mark.parametrize("params, bracket, exact", [
    # noiseless phase retrieval, Gaussian prior: alpha_IT = d / c = 1
    (dict(prior="gaussian", channel="abs", noise=0.0), (0.8, 1.1), 1.0),
    # noiseless compressed sensing: alpha_IT = rho (information dimension of Gauss-Bernoulli)
    (dict(prior="gauss_bernoulli", rho=0.2, channel="linear", noise=0.0), (0.1, 0.5), 0.2),
    # noiseless relu: half the labels are continuous, c = 1/2, so alpha_IT = rho / (1/2)
    (dict(prior="gauss_bernoulli", rho=0.3, channel="relu", noise=0.0), (0.4, 1.0), 0.6),
])
def test_information_theoretic_threshold_with_a_diverging_free_entropy_is_exact(params, bracket, exact):
    model = equations.get("glm_bayes", alpha=0.5, **params)
    values = []
    for atol in (1e-8, 1e-13):  # the result must not depend on where the solves stop
        thr = fp.threshold(model, "alpha", bracket, kind="first_order", atol=atol, rtol=atol)
        assert thr.converged, thr.message
        values.append(thr.value)
    assert values == pytest.approx([exact, exact], abs=1e-9)


def test_free_entropy_of_the_perfect_recovery_branch_is_infinite_not_large():
    model = equations.get("glm_bayes", prior="gauss_bernoulli", rho=0.2, channel="linear", noise=0.0, alpha=0.3)
    hi = fp.solve(model, start="informed")
    assert hi.converged
    assert model.free_entropy_divergence(hi.x) == pytest.approx((0.3 - 0.2) / 2)
    assert hi["free_entropy"] == math.inf
    lo = fp.solve(model, start="uninformed")
    assert model.free_entropy_divergence(lo.x) == 0.0 and math.isfinite(lo["free_entropy"])


# ---------------------------------------------------------------- precision next to the boundary

def _perceptron_V(alpha):
    """1 - q of the Gaussian-prior sign-channel GLM, with the state evolution written in
    V = 1 - q (so that V is resolved relatively) and E g^2 by adaptive quadrature:
    E g^2 = (2/V) int Dxi N(u xi)^2 / H(-u xi), u = sqrt(q/V); V = 1/(1 + alpha E g^2)."""
    def Eg2(V):
        u = math.sqrt((1 - V) / V)
        # Dxi N(u xi)^2 / Phi(u xi), in logs (Phi underflows where N^2 does faster)
        f = lambda xi: math.exp(-xi * xi / 2 - (u * xi) ** 2 - 1.5 * math.log(2 * math.pi)
                                - special.log_ndtr(u * xi))
        # the integrand lives on |xi| <~ 1/u: split there
        w = 10.0 / u
        return 2.0 / V * sum(integrate.quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=200)[0]
                             for lo, hi in ((-40, -w), (-w, 0), (0, w), (w, 40)))

    g = lambda t: math.log(1.0 / (1.0 + alpha * Eg2(math.exp(t)))) - t
    return math.exp(optimize.brentq(g, -60, -1e-3, xtol=1e-14, rtol=1e-15))


def test_observables_next_to_perfect_recovery_are_relatively_accurate():
    alpha = 1e4
    sol = fp.solve(equations.get("glm_bayes", prior="gaussian", channel="sign", alpha=alpha))
    assert sol.converged, sol.message
    V = _perceptron_V(alpha)
    assert 1e-9 < V < 1e-7
    assert sol["mse"] == pytest.approx(V, rel=1e-7)
    assert alpha * sol["gen_error"] == pytest.approx(alpha * math.asin(math.sqrt(V)) / math.pi, rel=1e-7)
    assert alpha * sol["gen_error"] == pytest.approx(0.44170, abs=5e-6)


def test_residual_scale_makes_the_criterion_relative_in_the_distance():
    tol = fp.solvers.make_tolerance(1e-10, 1e-10, lambda x: 1.0 - x)
    w = tol(np.array([1.0 - 2e-8]))
    assert w[0] == pytest.approx(max(2e-18, 4 * np.finfo(float).eps * (1 - 2e-8)))
    assert fp.solvers.make_tolerance(1e-10, 1e-10)(np.array([0.5]))[0] == pytest.approx(1e-10 + 5e-11)


# ---------------------------------------------------------------- spinodals: the fold itself

def _fold(model, param, guess_v, guess_x):
    """The fold of a scalar map by scipy: F(q; v) = q and dF/dq(q; v) = 1, derivatives by central
    differences of the model's update (independent of the engine's continuation)."""
    def F(q, v):
        return float(at(model, **{param: v}).update(np.array([q]))[0])

    def eqs(z):
        q, v = z
        h = 1e-6 * max(abs(q), 1e-3)
        return [F(q, v) - q, (F(q + h, v) - F(q - h, v)) / (2 * h) - 1.0]

    sol = optimize.root(eqs, [guess_x, guess_v], method="hybr", options={"xtol": 1e-13})
    # (hybr may stop at "no good progress" once the residual is at rounding level: the derivative's
    # is eps / h ~ 1e-8 for q ~ 1e-2; at a fold v is stationary in q, so its error is far smaller)
    assert np.max(np.abs(sol.fun)) < 3e-8, sol.message
    return sol.x[1]


@pytest.mark.parametrize("params, brackets, guess", [
    (dict(prior="gaussian", channel="abs"), [(1.05, 1.2), (0.9, 1.3)], (1.128, 0.6)),
    (dict(prior="rademacher", channel="sign"), [(0.5, 2.0)], (1.49, 0.86)),
    (dict(prior="gauss_bernoulli", channel="linear", rho=0.3), [(0.306, 1.0)], (0.48, 0.26)),
    # the fold sits 3e-4 from q = rho: followed in log(rho - q)
    (dict(prior="gauss_bernoulli", channel="relu", rho=0.95), [(1.90, 1.96)], (1.9313, 0.9497)),
])
def test_spinodal_is_found_whatever_the_drift_of_the_branch(params, brackets, guess):
    model = equations.get("glm_bayes", alpha=1.0, **params)
    last = None
    for bracket in brackets:
        thr = fp.threshold(model, "alpha", bracket, kind="spinodal", start="uninformed")
        assert thr.converged, thr.message
        last = thr.value
        # the fold of the uninformed branch, by an independent root finder
        ref = _fold(model, "alpha", thr.value, float(thr.below.x[0]) if thr.below.x[0] < thr.above.x[0] else guess[1])
        assert thr.value == pytest.approx(ref, abs=1e-6)
    assert last == pytest.approx(guess[0], abs=5e-3)


def test_narrow_coexistence_window_next_to_the_tricritical_point():
    # 3e-4 below rho_c the window is 1.5e-4 wide in snr: continuation in snr used to step over it
    # and report the uninformed fold as the informed one (both 1.0395856)
    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.09611578252427282, snr=1.0)
    low = fp.threshold(model, "snr", (0.05, 2.0), kind="spinodal", start="informed")
    up = fp.threshold(model, "snr", (0.05, 2.0), kind="spinodal", start="uninformed")
    assert low.converged and up.converged
    assert low.value < up.value - 1e-4
    assert low.value == pytest.approx(_fold(model, "snr", low.value, float(low.above.x[0])), abs=1e-8)
    assert up.value == pytest.approx(_fold(model, "snr", up.value, float(up.below.x[0])), abs=1e-8)


def test_no_spinodal_above_the_tricritical_sparsity():
    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.0972, snr=1.0)
    assert model.tricritical_rho() < 0.0972 if hasattr(model, "tricritical_rho") else True
    with pytest.raises(ValueError, match="no spinodal"):
        fp.threshold(model, "snr", (0.9, 1.1), kind="spinodal", start="uninformed")


def test_spinodal_below_the_tricritical_sparsity_is_the_fold_past_snr_1():
    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.05, snr=1.0)
    up = fp.threshold(model, "snr", (0.5, 1.5), kind="spinodal", start="uninformed")
    assert up.converged
    # the uninformed branch leaves m = 0 continuously at snr = 1 (BBP) and folds just above
    assert 1.0 < up.value < 1.05
    low = fp.threshold(model, "snr", (0.5, 1.5), kind="spinodal", start="informed")
    assert low.converged and low.value < 1.0
    for thr in (up, low):
        ref = _fold(model, "snr", thr.value, float(thr.below.x[0] if thr is up else thr.above.x[0]))
        assert thr.value == pytest.approx(ref, abs=1e-6)


# ---------------------------------------------------------------- unique fixed point: other start

class _Convex:
    """A contraction to x* = 1 whose map is undefined below x = 0.5 (as a model whose integrals
    fail far from the solution): the uninformed start fails, the informed one converges."""

    name = "toy_convex"
    state_names = ("x",)
    unique_fixed_point = True

    def initial_state(self, start="uninformed"):
        return np.array([0.1 if start == "uninformed" else 2.0])

    def update(self, x):
        x = float(x[0])
        return np.array([math.nan if x < 0.5 else 0.5 * x + 0.5])

    def observables(self, x):
        return {"x2": float(x[0]) ** 2}

    def simulate(self, d, seed):
        return {}


def test_a_unique_fixed_point_model_is_retried_from_the_other_start():
    sol = fp.solve(_Convex(), start="uninformed")
    assert sol.converged
    assert sol["x"] == pytest.approx(1.0, abs=1e-9)
    assert "unique fixed point" in sol.message


# ---------------------------------------------------------------- first order: narrow windows

@pytest.mark.parametrize("rho", [0.09, 0.095])
def test_first_order_in_a_narrow_coexistence_window_near_the_tricritical_point(rho):
    """Just below the tricritical sparsity the two branches coexist on a window of width 1e-2 to
    1e-3 in snr. The crossing must lie inside it, where the free entropies of the two branches
    change sign (checked here by solving the branches at both ends of a small interval); the
    old scan instead took the noise between two slow solves of the same point at snr ~ 1 - 2e-5
    for a crossing."""
    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=rho, snr=1.0)
    low = fp.threshold(model, "snr", (0.5, 1.5), kind="spinodal", start="informed").value
    up = fp.threshold(model, "snr", (0.5, 1.5), kind="spinodal", start="uninformed").value
    thr = fp.threshold(model, "snr", (0.5, 1.5), kind="first_order")
    assert thr.converged, thr.message
    assert low < thr.value < up
    signs = []
    for v in (thr.value - 1e-6, thr.value + 1e-6):
        m = at(model, snr=v)
        lo, hi = fp.solve(m, start="uninformed"), fp.solve(m, start="informed")
        assert abs(lo["m"] - hi["m"]) > 1e-3  # two distinct branches
        signs.append(np.sign(m.free_entropy(hi.x) - m.free_entropy(lo.x)))
    assert signs == [-1.0, 1.0]


def test_algorithmic_line_of_sparse_wigner_matches_the_fold_of_the_uninformed_branch():
    """The engine's spinodal line (continuation through the BBP bifurcation at snr = 1 onto the
    small-overlap branch, then to its fold) against the fold computed from the prior's overlap
    function alone (``fold_of_uninformed_branch``: the maximum of overlap(u)/u), including very
    sparse priors where the fold is within 1e-3 of snr = 1."""
    from equations.spiked_wigner import fold_of_uninformed_branch

    base = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.05, snr=1.0)
    rhos = np.linspace(0.02, 0.09, 8)
    line = fp.threshold_line(base, "snr", (0.99, 1.3), over={"rho": rhos}, kind="spinodal", start="uninformed")
    assert line.converged.all(), line.messages
    ref = [fold_of_uninformed_branch("sparse_rademacher", r) for r in rhos]
    assert line.values == pytest.approx(ref, abs=1e-8)


def test_a_solution_says_when_rounding_limits_its_accuracy_next_to_the_boundary():
    # at alpha = 1e6, rho - q ~ 2e-12 next to q ~ 1: float64 resolves it to ~5e-4 only
    sol = fp.solve(equations.get("glm_bayes", prior="gaussian", channel="sign", alpha=1e6))
    assert sol.converged and "resolved to about" in sol.message
    assert 1e6 * sol["gen_error"] == pytest.approx(0.4417, rel=1e-3)
    far = fp.solve(equations.get("glm_bayes", prior="gaussian", channel="sign", alpha=10.0))
    assert "resolved to about" not in far.message


# (reg = 1e-6 at alpha = 200 is tests/equations/test_glm_erm.py::test_max_margin_one_solve_agrees_with_the_sweep)
@pytest.mark.parametrize("alpha, reg", [(300.0, 1e-4)])
def test_max_margin_hinge_converges_in_one_solve(alpha, reg):
    """Near max-margin a single cold solve (from the max-margin norm) reaches the point a
    warm-started sweep from alpha = 50 reaches by continuation, and the sweep is fast: its
    predictor extrapolates in the model's solver coordinates, where the branch is nearly straight
    (the secant in the state crossed |m| = sqrt(rho q) and its warm starts took ~20 000
    evaluations per point; now ~20-100)."""
    model = equations.get("glm_erm", loss="hinge", channel="sign", alpha=alpha, reg=reg)
    sol = fp.solve(model)
    assert sol.converged, sol.message
    sw = fp.sweep(model, "alpha", np.linspace(50.0, alpha, 30))
    assert sw.converged.all()
    assert sw.evaluations[1:].max() < 1000
    # the map contracts by ~0.996 per step there, so a residual of 1e-10 leaves ~1e-8 in the state
    assert sol["gen_error"] == pytest.approx(sw["gen_error"][-1], rel=1e-6)
    assert sol.x == pytest.approx(sw.x[-1], rel=1e-6)


def test_acceleration_does_not_cancel_a_seed_that_plain_iteration_amplifies():
    # m decays slowly (0.995 per step); while m > 0.1 the plain map amplifies theta (a seed 1e-3
    # off the invariant line theta = 0) by up to 1.1 per step, ~500-fold in all, past the unstable
    # point theta = 0.237 into the basin of theta = 0.666. At m = 0, theta = 0 is stable too. The
    # secant solved the linear m in two steps and theta then decayed to 0: the accelerated solve
    # converged, stably, where plain iteration from the same start does not go (the entrywise rule
    # of the solver's safeguard 2 keeps the seed; plain iteration takes 3217 evaluations, the
    # accelerated solve now ~100).
    F = lambda x: np.array([0.995 * x[0], x[1] + x[1] * (x[0] - 0.1 + 2 * x[1] ** 2 - 4 * x[1] ** 4)])
    x0 = np.array([0.2, 1e-3])
    plain = fp.solve(F, x0, solver=fp.Damped(0.0))
    assert plain.converged and plain.x[1] == pytest.approx(0.66607, abs=1e-4)
    fast = fp.solve(F, x0)
    assert fast.converged and fast.x == pytest.approx(plain.x, abs=1e-6)
    assert fast.evaluations < plain.evaluations / 10


def test_a_saddle_that_plain_iteration_stops_at_is_reported_as_unstable():
    # x0 = 0 repels with rate 1.001 (attractors at +-1); from x0 = 0 exactly (an invariant line)
    # plain iteration stays at the saddle. The solve is converged by its definition, and says that
    # the point is unstable and why it stayed.
    F = lambda x: np.array([x[0] + 1e-3 * (x[0] - x[0] ** 3), 0.5 * x[1] + 1.0])
    sol = fp.solve(F, np.array([0.0, 0.0]))
    assert sol.converged and sol.x[0] == 0.0 and sol.x[1] == pytest.approx(2.0)
    assert sol.spectral_radius == pytest.approx(1.001, rel=1e-6)
    assert "unstable under plain iteration (spectral radius 1.001)" in sol.message
    assert "stable manifold" in sol.message
    # from a start 1e-3 along the unstable direction, plain iteration leaves it: no such note
    away = fp.solve(F, np.array([1e-3, 0.0]))
    assert away.x[0] == pytest.approx(1.0, abs=1e-6) and "unstable under plain" not in away.message


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_plain_iteration_that_meets_the_tolerance_at_a_saddle_goes_on_along_its_side(side):
    # rate 1.01 along x0: from x0 = +-1e-9 the residual along it (1.4e-11 when x1 has converged) is
    # below the tolerance, so plain iteration meets it at the saddle x0 = 0 and stops. Iterated on,
    # it leaves along the sign of x0 to +-1. The last plain step's component along the unstable
    # direction (1e-2 x0, resolved far above rounding) says which side: the solve goes on there.
    F = lambda x: np.array([x[0] + 1e-2 * (x[0] - x[0] ** 3), 0.5 * x[1] + 1.0])
    x0 = np.array([side * 1e-9, 0.0])
    stopped = fp.solve(F, x0, solver=fp.Damped(0.0))
    assert stopped.converged and abs(stopped.x[0]) < 1e-8            # the definition's stopping rule
    sol = fp.solve(F, x0)
    assert sol.converged and sol.x == pytest.approx([side, 2.0], abs=1e-8)
    assert sol.spectral_radius < 1 and "went on from there" in sol.message
    # and where plain iteration itself goes once asked for more than the tolerance: the same side
    far = fp.solve(F, x0, solver=fp.Damped(0.0), atol=1e-300, rtol=1e-14, max_iter=20000)
    assert np.sign(far.x[0]) == side and abs(far.x[0]) > 0.5


def test_an_instability_seen_by_forward_differences_is_confirmed_by_central_ones():
    # a map that is not smooth below 1e-9 (as a rule with internal tolerances is not): a ramp of
    # slope 3 over [1e-10, 1.1e-9] next to the fixed point u = 0 of u -> u / 2. The forward step
    # (1e-9) sees a slope of 3.2, an instability; the central step (1e-7) sees 0.515, the map's
    # slope at the scale of its accuracy. The solver acts on the confirmed verdict only.
    from fixedpoint import solvers

    F = lambda x: 0.5 * x + 3.0 * np.clip(x - 1e-10, 0.0, 1e-9)
    forward, _ = fp.solvers.numerical_jacobian(F, np.zeros(1))
    assert forward[0, 0] == pytest.approx(3.2, rel=1e-6)
    run = solvers._Run()
    run.x, run.fx = np.zeros(1), F(np.zeros(1))
    J, rho = solvers._jacobian_at(F, None, run, np.array([-np.inf]), np.array([np.inf]), 0.0)
    assert rho == pytest.approx(0.515, rel=1e-6) and run.nev == 1 + 2


class _RampWithoutJacobian:
    """``u -> u / 2 + 3 clip(u - 1e-10, 0, 1e-9)`` (the ramp above) as a model whose ``jacobian`` is
    exact at ``u = 1`` only and ``None`` elsewhere, as a model with an exact operator at its trivial
    point and nothing better than finite differences away from it (``multi_index``)."""

    name = "ramp"
    state_names = ("u",)

    def initial_state(self, start="uninformed"):
        return np.array([0.3])

    def update(self, x):
        return 0.5 * x + 3.0 * np.clip(x - 1e-10, 0.0, 1e-9)

    def jacobian(self, x):
        return np.array([[0.5]]) if x[0] == 1.0 else None

    def observables(self, x):
        return {"u": float(x[0])}

    def simulate(self, d, seed):
        return {}


def test_a_model_jacobian_of_none_hands_the_state_to_the_engine_differences():
    from fixedpoint.solvers import model_jacobian

    m = _RampWithoutJacobian()
    assert model_jacobian(m, np.array([1.0]))[0, 0] == 0.5                       # the model's own
    assert model_jacobian(m, np.zeros(1))[0, 0] == pytest.approx(0.515, rel=1e-6)  # central differences
    # the solve's stability check at its fixed point, u = 6e-9 (u / 2 + 3e-9), where the model has
    # none: the engine's differences (the map's slope there, 1/2), not a NaN Jacobian
    sol = fp.solve(m)
    assert sol.converged and sol.x[0] == pytest.approx(6e-9, abs=1e-10)  # (the tolerance: atol 1e-10)
    assert sol.spectral_radius == pytest.approx(0.5, rel=1e-6) and "could not be checked" not in sol.message


def test_attention_point_that_forward_differences_called_unstable_is_solved_without_an_escape():
    # the semantic point at omega = 0.36, alpha = 1.23 (8 nodes): forward differences with the old
    # step 1.5e-8 gave a radius of 3.97 there (central: 0.9317), and the escape it set off cost 1288
    # evaluations to come back to the same point
    model = equations.get("dot_product_attention", omega=0.3603448276, alpha=1.2344827586, nodes=8)
    sol = fp.solve(model, start="semantic")
    # the reference: central differences written out here, at a step 10 times the engine's
    # (1e-4 of each entry's scale), and the eigenvalues by numpy
    h = 1e-4 * np.maximum(np.abs(sol.x), 1e-2)
    J = np.column_stack([(model.update(sol.x + h[j] * e) - model.update(sol.x - h[j] * e)) / (2 * h[j])
                         for j, e in enumerate(np.eye(4))])
    reference = float(np.max(np.abs(np.linalg.eigvals(J))))
    assert reference == pytest.approx(0.9317, abs=2e-4)
    assert sol.converged and sol.spectral_radius == pytest.approx(reference, abs=2e-4)
    assert "leaves" not in sol.message and sol.evaluations < 500
    assert abs(sol["m"]) < 1e-8 and sol["theta"] == pytest.approx(0.1098971, abs=1e-6)


def test_plain_iteration_after_a_second_landing_resumes_where_the_escape_run_handed_over():
    # the same saddle, with a slower stable mode (0.9 per step): the escape run's plain phase hands
    # over to acceleration, which lands on the saddle again; plain iteration alone then resumes from
    # the hand-over point (on its own path from the start), meets the tolerance at the saddle, and
    # its last step tells the side. The answer is where plain iteration far past the tolerance goes.
    F = lambda x: np.array([x[0] + 1e-2 * (x[0] - x[0] ** 3), 0.9 * x[1] + 0.2])
    for side in (1.0, -1.0):
        x0 = np.array([side * 1e-9, 0.0])
        sol = fp.solve(F, x0)
        assert "finished by plain iteration alone" in sol.message and "went on from there" in sol.message
        far = fp.solve(F, x0, solver=fp.Damped(0.0), atol=1e-300, rtol=1e-14, max_iter=20000)
        assert sol.converged and sol.x == pytest.approx(far.x, abs=1e-8)
        assert sol.x == pytest.approx([side, 2.0], abs=1e-8)


@pytest.mark.parametrize("side", [1.0, -1.0])
def test_the_approach_to_a_saddle_found_twice_is_fast_forwarded_by_its_linear_model(side):
    # a weaker saddle (growth 1.003 per step) and a slow stable mode (0.98 per step): after
    # acceleration lands on the saddle twice, plain iteration alone from the hand-over point needs
    # ~900 steps for the stable component to meet the tolerance there (2122 evaluations in all).
    # Jumps by the saddle's linear model (checked at each landing) do that decay at once, without
    # letting the unstable component grow past the tolerance, so the side plain iteration leaves by
    # is still read off its own last step. The answer is where plain iteration far past the
    # tolerance goes.
    F = lambda x: np.array([x[0] + 3e-3 * (x[0] - x[0] ** 3), 0.98 * x[1] + 0.2])
    x0 = np.array([side * 1e-9, 0.0])
    sol = fp.solve(F, x0)
    assert "finished by plain iteration alone" in sol.message and "went on from there" in sol.message
    far = fp.solve(F, x0, solver=fp.Damped(0.0), atol=1e-300, rtol=1e-14, max_iter=200000)
    assert sol.converged and sol.x == pytest.approx(far.x, abs=1e-8) and sol.x == pytest.approx([side, 10.0])
    assert sol.evaluations < 1400


# ---------------------------------------------------------------- escapes from a saddle: fast-forward

@pytest.mark.parametrize("side", [1.0, -1.0])
def test_a_slow_escape_from_a_saddle_is_fast_forwarded_along_its_unstable_direction(side):
    # saddle at 0: u grows by 1.005 per step along v = (1, 1/3) (s relaxes toward u / 2 by 0.99 per
    # step: a non-normal Jacobian, and a stable component still decaying while u grows), attractors
    # at +-(1, 1/2). From u = +-1e-6 plain iteration takes ~2900 steps to leave. The plain steps'
    # direction and growth stay disturbed by the decaying s for hundreds of steps, so the geometric
    # fast-forward along the plain step fired late, was undone, and was given up (2780 evaluations);
    # the jump along v alone, judged on the component along the left eigenvector, takes ~400
    F = lambda x: np.array([x[0] + 0.005 * (x[0] - x[0] ** 3), x[1] - 0.01 * (x[1] - 0.5 * x[0])])
    x0 = np.array([side * 1e-6, 1.0])
    plain = fp.solve(F, x0, solver=fp.Damped(0.0), atol=1e-300, rtol=1e-15, max_iter=100_000)
    assert plain.x == pytest.approx([side, 0.5 * side], abs=1e-12)
    fast = fp.solve(F, x0)
    assert fast.converged and fast.x == pytest.approx(plain.x, abs=1e-7)
    assert fast.evaluations < 700 and fast.evaluations < plain.evaluations / 10


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("eigenvalues", [np.linspace(-0.5, 0.999, 10),
                                         np.concatenate([np.linspace(-0.9, 0.9, 47), [0.99, 0.995, 0.999]])])
def test_a_contraction_whose_scaled_residual_grows_for_a_while_buys_no_jacobian(monkeypatch, seed, eigenvalues):
    # F(x) = A x + b, A symmetric with spectral radius 0.999: no saddle anywhere, yet after an
    # Anderson stall the scaled residual of plain steps may grow a few times in a row. The
    # fast-forward's Jacobian (2 n evaluations by central differences: 20 of the 82 evaluations of
    # the engine benchmark's 10-dimensional case) waits for 3 + n growing steps
    from fixedpoint import solvers

    taken = []
    make = solvers._jacobian_for
    monkeypatch.setattr(solvers, "_jacobian_for", lambda *a, **k: (
        lambda x, fx, f=make(*a, **k): taken.append(1) or f(x, fx)))
    d = eigenvalues.size
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    A = Q @ np.diag(eigenvalues) @ Q.T
    x_star = 1.0 + rng.uniform(0.0, 1.0, d)
    sol = fp.solve(lambda x: A @ x + x_star - A @ x_star, np.zeros(d))
    # (within the tolerance's reach: 1e-10 relative over 1 - 0.999)
    assert sol.converged and sol.x == pytest.approx(x_star, abs=1e-6)
    assert not taken


def _curved_escape(u, s):
    """A saddle at 0 whose unstable manifold s = u^2 curves away from the straight line along its
    unstable direction v = (1, 0): in p = s - u^2, p relaxes by 0.999 per step, and u grows by
    1.005 per step, pushed toward negative u once the point is below the manifold by more than
    0.01 (p < -0.01). Attractors (+-1, 1); the straight line (u, 0) beyond u ~ 0.3 lies in the
    basin of (-1, 1)."""
    p = s - u * u
    u1 = u + 0.005 * (u * (1 - u * u) + 5.0 * min(0.0, p + 0.01))
    return np.array([u1, u1 * u1 + (1 - 0.001) * p])


def test_a_jump_along_the_unstable_direction_that_would_cross_into_another_basin_is_undone():
    F = lambda x: _curved_escape(*x)
    x0 = np.array([1e-6, 0.3])
    plain = fp.solve(F, x0, solver=fp.Damped(0.0), atol=1e-300, rtol=1e-15, max_iter=100_000)
    assert plain.x == pytest.approx([1.0, 1.0], abs=1e-12)
    seen = []
    fast = fp.solve(lambda x: seen.append(np.array(x)) or F(x), x0)
    assert fast.converged and fast.x == pytest.approx(plain.x, abs=1e-7)
    assert fast.evaluations < plain.evaluations / 10
    # the solve did try jumps along v far beyond the linear regime, onto the straight line where plain
    # iteration goes to the other attractor; the check at the jumped point undid them
    # (far below the manifold, p = s - u^2 < -0.05, where u is pushed toward the other attractor)
    tried = [x for x in seen if 0.35 < x[0] < 3.0 and x[1] - x[0] ** 2 < -0.05]
    assert tried
    other = fp.solve(F, tried[0], solver=fp.Damped(0.0), max_iter=100_000)
    assert other.converged and other.x == pytest.approx([-1.0, 1.0], abs=1e-6)


def test_the_fast_forward_keeps_away_from_a_growth_that_depends_on_a_moving_component():
    # theta grows by 1 + (m - 0.1) per step while m decays by 0.995: the growth has a saddle's look
    # (a real eigenvalue 1.1 of the Jacobian, steady ratios over a few steps), but m is far from
    # rest, so skipping steps along theta alone would amplify the seed past what plain iteration
    # does (500-fold) and change the basin. The stable part of the displacement from the linear
    # model's saddle (m = 0.2) is far larger than the unstable one (theta = 1e-3): no jump
    F = lambda x: np.array([0.995 * x[0], x[1] + x[1] * (x[0] - 0.1 + 2 * x[1] ** 2 - 4 * x[1] ** 4)])
    x0 = np.array([0.2, 1e-3])
    plain = fp.solve(F, x0, solver=fp.Damped(0.0), atol=1e-300, rtol=1e-15, max_iter=100_000)
    fast = fp.solve(F, x0)
    assert fast.converged and fast.x == pytest.approx(plain.x, abs=1e-7) and fast.x[1] > 0.6


# ---------------------------------------------------------------- a slow solve's lucky point

def test_a_slow_solves_point_is_checked_by_one_more_plain_step():
    # plain iteration of x -> J x with J = [[0.99, 100], [0, 0.99]] (a stable, strongly non-normal
    # map: the error grows before it decays) from a start chosen so that at iteration 150 the first
    # residual entry passes through zero: the residual meets the tolerance there (0.74) while the
    # error is 2214 and the next plain step's residual is 74 tolerances. A solve that slow is checked
    # by one more plain step (fixedpoint.solvers._SLOW_SOLVE), which must meet the tolerance too:
    # iteration goes on, to a point where both do
    rho, c, k0 = 0.99, 100.0, 150
    J = np.array([[rho, c], [0.0, rho]])
    x0 = np.array([(c - (1 - rho) * c * k0 / rho) / (1 - rho), 1.0])
    x = x0.copy()
    for _ in range(k0):
        x = J @ x
    assert np.max(np.abs(J @ x - x)) < 3e-3 < np.max(np.abs(J @ (J @ x) - J @ x)) / 50  # the lucky point
    sol = fp.solve(lambda v: J @ v, x0=x0, solver=fp.Damped(0.0), atol=3e-3, rtol=0.0, max_iter=5000)
    assert sol.converged, sol.message
    assert sol.iterations > k0
    x = sol.x
    assert np.max(np.abs(J @ x - x)) <= 3e-3 and np.max(np.abs(J @ (J @ x) - J @ x)) <= 3e-3


# ---------------------------------------------------------------- the residual is not the error

def test_a_slow_contractions_error_not_only_its_residual_meets_the_tolerance():
    """A non-normal linear map contracting at 0.98: a residual at the tolerance is an error up to
    50 times larger. The converged point is polished until its error, measured against the exact
    fixed point (I - A)^-1 b, is within the tolerance, and error_estimate says so."""
    A = np.array([[0.98, 0.5, 0.0], [0.0, 0.9, 0.3], [0.0, 0.0, 0.5]])
    b = np.array([1.0, -2.0, 0.5])
    exact = np.linalg.solve(np.eye(3) - A, b)
    for solver in (fp.Anderson(), fp.Damped(0.0)):
        sol = fp.solve(lambda x: A @ x + b, np.zeros(3), solver=solver, atol=1e-9, rtol=0.0)
        assert sol.converged, sol.message
        error = float(np.max(np.abs(sol.x - exact))) / 1e-9
        assert error <= 1.0 and sol.error_estimate <= 1.0, (solver, error, sol.error_estimate)


def test_a_plain_solve_estimates_its_error_from_its_rate():
    """x -> 0.99 x + 0.1 (x* = 10) by plain iteration: at the first point whose residual meets the
    tolerance the error is 100 times the residual; without the polish the estimate from the plain
    step's rate is that error, and with it the point is exact to the tolerance."""
    import fixedpoint.solvers as solvers

    run = solvers._iterate(lambda x: 0.99 * x + 0.1, np.zeros(1), memory=0, damping=0.0, reg=0.0, safeguard=2.0,
                           adaptive=False, tolerance=solvers.make_tolerance(1e-8, 0.0), max_iter=10_000,
                           lower=np.full(1, -np.inf), upper=np.full(1, np.inf), names=("x",), patience=1000)
    true = abs(run.x[0] - 10.0) / 1e-8
    assert 50.0 < true and run.error == pytest.approx(true, rel=1e-3)
    sol = fp.solve(lambda x: 0.99 * x + 0.1, [0.0], solver=fp.Damped(0.0), atol=1e-8, rtol=0.0)
    assert sol.converged and abs(sol.x[0] - 10.0) <= 1e-8 and sol.error_estimate <= 1.0


def test_an_error_the_polish_cannot_remove_is_reported():
    """x -> 0.99 x on x >= 0, by plain iteration, creeps toward its fixed point 0 on the boundary,
    where the Newton step may not land (a map need not be defined there): the solve converges on
    the residual, 100 times the tolerance from 0, and says so. (The glm_erm hinge loss at its
    minimiser w = 0 is such a case: an error of 270 tolerances, reported.)"""
    sol = fp.solve(lambda x: 0.99 * x, [1.0], solver=fp.Damped(0.0), atol=1e-10, rtol=0.0,
                   bounds=([0.0], [np.inf]))
    assert sol.converged
    true = sol.x[0] / 1e-10
    assert true > 50.0 and sol.error_estimate == pytest.approx(true, rel=0.05)
    assert "the error is estimated at" in sol.message and "tighten atol and rtol" in sol.message


def test_the_confirming_plain_step_of_a_slow_solve_also_estimates_its_error():
    """Without a history (the point reached by an accelerated or restarted step), the plain step that
    a slow solve takes to confirm its point gives the rate: for x -> 0.995 x at x = 1e-8 (tolerance
    1e-10) the residual is 0.5 tolerances, the error 100, and the confirming step's residual 0.4975."""
    import fixedpoint.solvers as solvers

    lam, x, tol = 0.995, 1e-8, 1e-10
    r = (1.0 - lam) * x / tol
    est, _ = solvers._estimate_error(solvers._History(1, 1), None, np.array([x]), np.array([lam * x]),
                                     np.array([tol]), r, 0.0, 0.0, False, step_after=lam * r)
    assert est == pytest.approx(x / tol, rel=1e-12)
    est, _ = solvers._estimate_error(solvers._History(1, 1), None, np.array([x]), np.array([lam * x]),
                                     np.array([tol]), r, 0.0, 0.0, False)
    assert math.isnan(est)
