"""The solver driver: convergence on the true residual, safeguards, reporting, bad input."""

import math

import numpy as np
import pytest
from scipy import optimize

import fixedpoint as fp
from fixedpoint import Anderson, Damped, Status
from fixedpoint.solvers import _solve_near

from .toymodels import Cubic, Pitchfork, Specialising


def _perceptron_se(alpha):
    """Gaussian-prior sign-channel GLM state evolution (spherical perceptron, Bayes-optimal).

    q_hat = alpha E[g_out^2], q = q_hat / (1 + q_hat), with
    E[g_out^2] = 2 E_xi[ N(sqrt(q/(1-q)) xi)^2 / H(sqrt(q/(1-q)) xi) ] / (2 pi (1-q)) ... written
    with plain Gauss-Hermite here (the engine test needs a realistic map, not its exact value).
    """
    z, w = fp.quadrature.gauss_hermite(120)

    def F(x):
        q = min(max(x[0], 0.0), 1 - 1e-12)
        t = np.sqrt(q / (1 - q)) * z
        logH = np.array([fp.quadrature.logH(-v) for v in t])
        ratio = np.exp(-0.5 * t * t - 0.5 * np.log(2 * np.pi) - logH)
        qhat = alpha * 2 * np.dot(w, ratio ** 2 * np.exp(logH)) / (1 - q) / 1.0
        return np.array([qhat / (1 + qhat)])

    return F


CATALOGUE = {
    # name: (map, start, reference solution or None); a residual r leaves an error up to
    # r / (1 - rho(J)), see KAPPA
    "linear_0.99": (lambda x: 0.99 * x + 1.0, [0.0], [100.0]),
    "linear_0.999_3d": (lambda x: np.array([[0.999, 0, 0], [0.1, 0.5, 0], [0, 0.2, 0.9]]) @ x + 1.0,
                        [0.0, 0.0, 0.0], None),
    "cos": (lambda x: np.cos(x), [1.0], [0.7390851332151607]),
    "coupled": (lambda x: np.array([np.tanh(2 * x[1]), np.tanh(0.8 * x[0] + 0.5 * x[1])]), [0.1, 0.1], None),
    "pitchfork_1.5": (lambda x: np.tanh(1.5 * x), [1e-3], None),
    "perceptron_se": (_perceptron_se(2.0), [1e-3], None),
}


#: 1 / (1 - spectral radius) at the fixed point, bounding error / residual
KAPPA = {"linear_0.99": 100, "linear_0.999_3d": 1000}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@pytest.mark.parametrize("solver", [Anderson(), Anderson(memory=2, damping=0.3), Damped(0.0), Damped(0.5),
                                    Damped(0.3, adaptive=True)], ids=repr)
def test_catalogue_converges_to_the_same_point(name, solver):
    F, x0, ref = CATALOGUE[name]
    plain = fp.solve(F, x0, solver=Damped(0.0), max_iter=200_000)
    sol = fp.solve(F, x0, solver=solver, max_iter=200_000)
    assert plain.converged and sol.converged, sol.message
    # judged on the true residual
    x = sol.x
    assert np.all(np.abs(np.asarray(F(x)) - x) <= 1e-10 + 1e-10 * np.abs(x))
    # the same fixed point as plain iteration from the same start
    tol = 2e-10 * KAPPA.get(name, 10)
    np.testing.assert_allclose(sol.x, plain.x, rtol=tol, atol=tol)
    if ref is not None:
        np.testing.assert_allclose(sol.x, ref, rtol=tol)


@pytest.mark.parametrize("name, factor", [("linear_0.99", 10), ("linear_0.999_3d", 10), ("cos", 2),
                                          ("perceptron_se", 2)])
def test_anderson_needs_fewer_evaluations(name, factor):
    # (maps whose start sits next to an unstable fixed point are excluded: there the accelerated
    # solve first finds that point and then pays for escaping it as plain iteration would)
    F, x0, _ = CATALOGUE[name]
    plain = fp.solve(F, x0, solver=Damped(0.0), max_iter=200_000)
    acc = fp.solve(F, x0, solver=Anderson(), max_iter=200_000)
    assert factor * acc.evaluations <= plain.evaluations


def test_anderson_memory_zero_is_damped():
    F = CATALOGUE["coupled"][0]
    a = fp.solve(F, [0.1, 0.1], solver=Anderson(memory=0, damping=0.4))
    d = fp.solve(F, [0.1, 0.1], solver=Damped(0.4))
    assert a.evaluations == d.evaluations and a.iterations == d.iterations
    np.testing.assert_array_equal(a.x, d.x)
    np.testing.assert_array_equal(a.residuals, d.residuals)


def test_unstable_trivial_point_is_escaped_as_plain_iteration_would():
    # Anderson is a secant method and finds m = 0 first; plain iteration leaves it
    for beta in (1.05, 1.5, 3.0):
        sol = fp.solve(Pitchfork(beta=beta))
        m_star = optimize.brentq(lambda m: np.tanh(beta * m) - m, 1e-6, 1.0, xtol=1e-15)
        assert sol.converged and abs(sol["m"] - m_star) < 1e-8, (beta, sol)
        assert sol.spectral_radius < 1


def test_stable_trivial_point_is_returned_to():
    sol = fp.solve(Pitchfork(beta=0.7))
    assert sol.converged and abs(sol["m"]) < 1e-9


def test_fold_ghost_is_passed_like_plain_iteration():
    # just beyond the fold at p = 2/(3 sqrt 3) the lower branch is gone; the iteration crawls past
    # its ghost and lands on the upper branch
    m = Cubic(p=0.3869)
    sol, plain = fp.solve(m), fp.solve(m, solver=Damped(0.0), max_iter=100_000)
    assert sol.converged and plain.converged
    assert abs(sol["x"] - plain["x"]) < 1e-8 and sol["x"] > 1


def test_bounds_extrapolation_never_reaches_an_absorbing_boundary():
    # q -> q + 0.5 (1 - q) (1 - q) ... converges to the boundary q = 1 only in the limit; plain and
    # accelerated must agree and the state never exceeds the bound
    seen = []

    def F(x):
        seen.append(x.copy())
        return np.array([0.5 + 0.5 * x[0] ** 2 * 0.9])

    sol = fp.solve(F, [0.0], bounds=([0.0], [1.0]))
    plain = fp.solve(F, [0.0], bounds=([0.0], [1.0]), solver=Damped(0))
    assert sol.converged and abs(sol.x[0] - plain.x[0]) < 1e-8
    assert all(0.0 <= s[0] < 1.0 for s in seen)


def test_map_leaving_its_domain_is_reported():
    sol = fp.solve(lambda x: x - 1.0, [0.5], bounds=([0.0], [1.0]))
    assert not sol.converged and sol.status is Status.OUT_OF_DOMAIN
    assert "outside" in sol.message and "x0" in sol.message


def test_nonfinite_is_reported_not_raised():
    sol = fp.solve(lambda x: np.log(x - 1.0), [0.5])
    assert not sol.converged and sol.status is Status.NONFINITE
    assert "non-finite" in sol.message and "Try" in sol.message


def test_max_iter_is_reported_with_advice():
    sol = fp.solve(lambda x: 0.999999 * x + 1, [0.0], solver=Damped(0.0), max_iter=50)
    assert not sol.converged and sol.status is Status.MAX_ITER
    assert sol.iterations == 50 and "max_iter" in sol.message
    assert sol.residual > 1


def test_cycle_is_reported_as_stagnation():
    sol = fp.solve(lambda x: -x + 0.1, [1.0], solver=Damped(0.0))
    assert not sol.converged and sol.status is Status.STAGNATED


def test_convergence_is_judged_on_the_true_residual_not_the_step():
    # with damping 0.999 the steps are tiny long before the fixed point is reached
    sol = fp.solve(lambda x: np.cos(x), [0.0], solver=Damped(0.999), max_iter=100)
    assert not sol.converged
    ok = fp.solve(lambda x: np.cos(x), [0.0], solver=Damped(0.999), max_iter=200_000)
    assert ok.converged and abs(ok.x[0] - 0.7390851332151607) < 1e-9


def test_tolerances_are_respected():
    # x = 0.9 x + 1 contracts at 0.9, so a residual at the tolerance is an error ten times larger:
    # the loose solve's point is polished by a Newton step until its error is within the tolerance
    # too, and still takes far fewer iterations than the tight one
    loose = fp.solve(lambda x: 0.9 * x + 1, [0.0], solver=Damped(0), atol=1e-4, rtol=0)
    tight = fp.solve(lambda x: 0.9 * x + 1, [0.0], solver=Damped(0), atol=1e-12, rtol=0)
    assert abs(0.9 * loose.x[0] + 1 - loose.x[0]) <= 1e-4 * 1.0000001
    assert abs(loose.x[0] - 10) <= 1e-4 and loose.error_estimate <= 1.0
    assert abs(tight.x[0] - 10) < 1e-10 and loose.iterations < tight.iterations


def test_solution_access_and_model_observables():
    sol = fp.solve(Pitchfork(beta=2.0), start="informed")
    assert sol.names == ("m",) and sol["m"] == sol.x[0]
    assert sol["m2"] == pytest.approx(sol.x[0] ** 2) and sol.observables["m2"] == sol["m2"]
    with pytest.raises(KeyError):
        sol["nope"]
    with pytest.raises(ValueError):  # frozen arrays
        sol.x[0] = 1.0


@pytest.mark.parametrize("kwargs, word", [
    (dict(max_iter=0), "max_iter"), (dict(max_iter=2.5), "max_iter"), (dict(atol=-1.0), "atol"),
    (dict(rtol=math.nan), "rtol"), (dict(atol=0.0, rtol=0.0), "atol"), (dict(solver="fast"), "solver"),
])
def test_bad_arguments_raise(kwargs, word):
    with pytest.raises(ValueError, match=word):
        fp.solve(lambda x: 0.5 * x, [1.0], **kwargs)


def test_bad_starts_raise():
    with pytest.raises(ValueError, match="finite"):
        fp.solve(lambda x: 0.5 * x, [math.nan])
    with pytest.raises(ValueError, match="x0"):
        fp.solve(lambda x: 0.5 * x)
    with pytest.raises(ValueError, match="entries"):
        fp.solve(Pitchfork(), start=[0.1, 0.2])
    with pytest.raises(ValueError, match="start"):
        fp.solve(Pitchfork(), start="clever")
    with pytest.raises(ValueError, match="domain"):
        fp.solve(Pitchfork(), start=[2.0])
    with pytest.raises(ValueError, match="shape"):
        fp.solve(lambda x: np.ones(3), [1.0, 2.0])


@pytest.mark.parametrize("kwargs, word", [(dict(memory=-1), "memory"), (dict(damping=1.0), "damping"),
                                          (dict(reg=-1), "reg"), (dict(safeguard=0.5), "safeguard")])
def test_bad_solver_parameters_raise(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Anderson(**kwargs)


def test_damped_rejects_bad_damping():
    with pytest.raises(ValueError, match="damping"):
        Damped(damping=-0.1)


def test_no_convergence_where_plain_iteration_diverges():
    # eigenvalue -1.5 at the only fixed point: plain iteration oscillates away from it, so the
    # accelerated solve must not report it as the answer (DESIGN: acceleration never changes it)
    A = np.diag([-1.5, 0.9, 0.5])
    sol = fp.solve(lambda x: A @ x + 1.0, np.zeros(3), solver=Anderson())
    plain = fp.solve(lambda x: A @ x + 1.0, np.zeros(3), solver=Damped(0.0))
    assert not plain.converged and not sol.converged
    # when the iteration budget runs out instead (a slow oscillating divergence), the default
    # solver says so and retries with damping (same fixed points, different stability)
    B = np.diag([-1.2, 0.5])
    explicit = fp.solve(lambda x: B @ x + 1.0, np.zeros(2), solver=Anderson(), max_iter=500)
    default = fp.solve(lambda x: B @ x + 1.0, np.zeros(2), max_iter=500)
    assert not explicit.converged
    assert default.converged and "retried with Anderson(memory=5, damping=0.5" in default.message
    np.testing.assert_allclose(default.x, [1 / 2.2, 2.0], atol=1e-9)
    # with enough damping plain iteration converges, and so does the accelerated solve, to the same point
    damped = fp.solve(lambda x: A @ x + 1.0, np.zeros(3), solver=Anderson(damping=0.5))
    assert damped.converged and np.allclose(damped.x, np.linalg.solve(np.eye(3) - A, np.ones(3)), atol=1e-8)


@pytest.mark.parametrize("beta", [1.0005, 1.002, 1.02])
def test_slow_escape_near_criticality_matches_plain_iteration(beta):
    sol = fp.solve(Pitchfork(beta=beta), max_iter=200_000)
    plain = fp.solve(Pitchfork(beta=beta), solver=Damped(0.0), max_iter=200_000)
    m_star = optimize.brentq(lambda m: np.tanh(beta * m) - m, 1e-6, 1.0, xtol=1e-15)
    assert sol.converged and plain.converged
    # error bound: residual / (1 - slope) with slope ~ 1 - 2 (beta - 1)
    assert abs(sol["m"] - m_star) < 1e-10 / (2 * (beta - 1)) * 3
    assert sol.evaluations < plain.evaluations


def test_retry_after_nan_only_counts_clear_of_the_boundary():
    # undamped iteration overshoots into x < 0 where the map is undefined (NaN); damped iteration
    # converges to the interior fixed point x = 0.8: the default solver retries and takes it
    G = lambda x: np.where(x >= 0, 2.0 - 1.5 * x, np.nan)  # slope -1.5: plain overshoots below 0
    plain = fp.solve(G, [0.1], solver=Damped(0.0))
    assert not plain.converged and plain.status is Status.NONFINITE
    default = fp.solve(G, [0.1])
    assert default.converged and abs(default.x[0] - 0.8) < 1e-9 and "retried" in default.message

    # a map with no answer: it drops to exactly 0, where it is undefined (like an l1 penalty that
    # zeroes every weight); the damped retry creeps toward the boundary point and is not taken
    def H(x):
        if x[0] == 0.0:
            return np.array([np.nan])
        return np.array([0.0 if x[0] < 0.3 else 0.5 * x[0]])

    sol = fp.solve(H, [0.5], bounds=([0.0], [np.inf]))
    assert not sol.converged and sol.status is Status.NONFINITE
    assert "not taken" in sol.message


@pytest.mark.parametrize("x", [[0.3, 0.7], [0.0, 0.5], [0.4, 1.0]])
def test_numerical_jacobian_orders_and_bounds(x):
    from fixedpoint.solvers import numerical_jacobian

    F = lambda v: np.array([np.sin(2 * v[0]) * v[1], np.exp(v[0]) + v[1] ** 3])
    exact = lambda v: np.array([[2 * np.cos(2 * v[0]) * v[1], np.sin(2 * v[0])], [np.exp(v[0]), 3 * v[1] ** 2]])
    lo, hi = np.zeros(2), np.ones(2)
    seen = []
    G = lambda v: seen.append(v.copy()) or F(v)
    J1, n1 = numerical_jacobian(G, np.array(x), lo, hi)
    J2, n2 = numerical_jacobian(G, np.array(x), lo, hi, order=2)
    np.testing.assert_allclose(J1, exact(x), atol=1e-6)
    np.testing.assert_allclose(J2, exact(x), atol=1e-9)
    assert n1 == 3 and n2 in (4, 5) and all(np.all(v >= lo) and np.all(v <= hi) for v in seen)


def test_default_solver_retries_with_more_damping_where_half_is_not_enough():
    # eigenvalue -9 at the fixed point x = 1 (as l1-penalised ERM with few samples has), and a map
    # undefined beyond |x - 1| > 0.5: plain iteration and damping 0.5 both leave the domain, 0.9
    # keeps the iteration contracting (0.9 + 0.1 (-9) = 0)
    def F(x):
        u = x[0] - 1.0
        return np.array([1.0 - 9.0 * u + 5.0 * u * u if abs(u) <= 0.5 else math.nan])

    half = fp.solve(F, np.array([1.3]), solver=Anderson(damping=0.5))
    assert not half.converged
    sol = fp.solve(F, np.array([1.3]))
    assert sol.converged and "retried with Anderson(memory=5, damping=0.9" in sol.message
    assert sol.x[0] == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("beta", [1.6, 2.5, 4.0])
def test_escape_from_an_unstable_point_is_accelerated_away_from_the_start(beta):
    # acceleration lands on the unstable non-specialised point (1, 0); the escape by plain
    # iteration from the start leaves it toward larger a, away from the start: once plain
    # iteration converges steadily there, extrapolation must resume (it used to be kept on the
    # start's side of the unstable point, leaving the whole decay to plain iteration)
    model = Specialising(beta=beta)
    s_star = optimize.brentq(lambda s: math.tanh(beta * s) - s, 1e-3, 1.0)
    acc = fp.solve(model)
    plain = fp.solve(model, solver=Damped(0.0))
    assert acc.converged and plain.converged
    assert acc["s"] == pytest.approx(s_star, abs=1e-8) and acc["a"] == pytest.approx(1 + s_star, abs=1e-8)
    assert np.max(np.abs(acc.x - plain.x)) < 1e-8  # the point plain iteration reaches
    assert acc.spectral_radius < 1 and "escaped it by plain iteration from the start" in acc.message
    assert acc.iterations < 0.7 * plain.iterations


def test_acceleration_goes_on_while_an_entry_decays_onto_a_bound():
    # a -> a / 2 decays onto its lower bound 0 (an overlap along a direction that is not learned,
    # as deep attention's Q_11 on its sub-branch); b -> 0.999 b + 1 contracts slowly to 1000.
    # Once a is within rounding of 0, every extrapolated iterate has a below the box's margin: the
    # solver used to reject them all and iterate plainly (thousands of steps for b). The entry the
    # map itself keeps at its bound takes its plain value; b is still extrapolated.
    F = lambda x: np.array([0.5 * x[0], 0.999 * x[1] + 1.0])
    sol = fp.solve(F, np.array([1.0, 0.0]), bounds=([0.0, -np.inf], [np.inf, np.inf]))
    assert sol.converged and sol.x == pytest.approx([0.0, 1000.0], abs=1e-6)
    assert sol.evaluations < 100
    plain = fp.solve(F, np.array([1.0, 0.0]), bounds=([0.0, -np.inf], [np.inf, np.inf]), solver=Damped(0.0))
    assert plain.evaluations > 10_000


@pytest.mark.parametrize("rtol", [1e-10, 1e-300])
def test_atol_zero_with_an_entry_exactly_zero(rtol):
    """atol = 0 gave an entry that is exactly 0 the tolerance weight 0: the solve raised
    ZeroDivisionError. Now the weight has a floor and Anderson resolves the other entries
    (the weights' range is capped) instead of stalling into plain iteration."""
    sol = fp.solve(lambda x: np.array([0.5 * x[0] + 1.0, 0.0 * x[1], 0.9 * x[2] + 0.1]), [0.0, 0.0, 0.0],
                   atol=0.0, rtol=rtol)
    assert sol.converged and sol.iterations <= 10
    np.testing.assert_allclose(sol.x, [2.0, 0.0, 1.0], rtol=1e-9, atol=0.0)


def _linear(n=4, seed=3):
    """``F(x) = A x + b`` with spectral radius 0.95 (a slow contraction) and its fixed point."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = Q @ np.diag(np.linspace(0.95, -0.3, n)) @ Q.T
    b = rng.normal(size=n)
    return (lambda x: A @ x + b), A, np.linalg.solve(np.eye(n) - A, b)


# the sweep's warm starts: a solve that begins with chord Newton steps (fixedpoint.solvers._solve_near)


def test_an_exact_jacobian_guess_takes_one_newton_step():
    # with the map's own Jacobian the first chord step lands on the fixed point of a linear map
    F, A, x_star = _linear()
    x0 = np.zeros(4)
    sol = _solve_near(F, x0, jacobian_guess=A)
    plain = fp.solve(F, x0)
    assert sol.converged and plain.converged
    assert sol.iterations == 1 and sol.iterations < plain.iterations
    np.testing.assert_allclose(sol.x, x_star, rtol=1e-12, atol=1e-12)
    # the stability check's Jacobian is reported (forward differences of a linear map: exact to
    # the step's rounding)
    np.testing.assert_allclose(sol.jacobian, A, atol=1e-6)
    assert abs(sol.spectral_radius - 0.95) < 1e-6


@pytest.mark.parametrize("scale", [0.5, 0.99, -0.9])
def test_a_wrong_jacobian_guess_is_given_up_for_extrapolation(scale):
    # guesses far from the map's Jacobian (0.99: a Newton step 100 plain steps long, which
    # overshoots and is undone) end in the same fixed point
    F, A, x_star = _linear()
    sol = _solve_near(F, np.zeros(4), jacobian_guess=scale * np.eye(4))
    assert sol.converged, sol.message
    np.testing.assert_allclose(sol.x, x_star, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("guess", [[[1.5]], [[1.0]]])
def test_a_jacobian_guess_of_a_repelling_point_is_not_used(guess):
    # the pitchfork at beta = 1.5 from m = 0.01, with the Jacobian at m = 0 (beta, a point plain
    # iteration leaves) or one with an eigenvalue on the unit circle: the chord step would aim at
    # m = 0; no chord step is taken, so the solve is the one without a guess, evaluation for evaluation
    sol = _solve_near(Pitchfork(beta=1.5), start=[0.01], jacobian_guess=guess)
    ref = fp.solve(Pitchfork(beta=1.5), start=[0.01])
    assert sol.converged and sol.x == pytest.approx(ref.x, abs=0.0)
    assert sol.evaluations == ref.evaluations


def test_a_jacobian_guess_from_another_basin_can_carry_the_solve_there():
    # why solve() offers no guess, and why a sweep checks its warm starts by cold solves: the map
    # of test_trust.py whose plain iteration amplifies a seed over a long transient reaches theta =
    # 0.666 from (0.2, 1e-3); with the Jacobian at the other attractor (0, 0) the chord skips the
    # transient and lands there, a stable point
    F = lambda x: np.array([0.995 * x[0], x[1] + x[1] * (x[0] - 0.1 + 2 * x[1] ** 2 - 4 * x[1] ** 4)])
    x0 = np.array([0.2, 1e-3])
    assert fp.solve(F, x0).x[1] == pytest.approx(0.66607, abs=1e-4)
    guided = _solve_near(F, x0, jacobian_guess=np.diag([0.995, 0.9]))
    assert guided.converged and abs(guided.x[1]) < 1e-8 and guided.spectral_radius < 1


@pytest.mark.parametrize("guess", [np.eye(3), [[np.nan, 0], [0, 0]], "abc"])
def test_bad_jacobian_guess_raises(guess):
    with pytest.raises(ValueError, match="jacobian_guess"):
        _solve_near(lambda x: 0.5 * x, [1.0, 2.0], jacobian_guess=guess)
