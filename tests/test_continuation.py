"""Sweeps, thresholds, optimisation and phase diagrams on toy models with known answers."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import optimize

import fixedpoint as fp

from fixedpoint import continuation

from .toymodels import Asymmetric, Contraction, Cubic, Drifting, NonNormal, Pitchfork

FOLD = 2 / (3 * math.sqrt(3))  # x^3 - x = p folds at p = +-2/(3 sqrt 3)


def _cubic_roots(p):
    r = np.roots([1, 0, -1, -p])
    return np.sort(r[np.abs(r.imag) < 1e-9].real)


# ----------------------------------------------------------------------------- sweep


def test_sweep_follows_the_branch_of_each_start_with_hysteresis():
    ps = np.linspace(-1, 1, 41)
    up = fp.sweep(Cubic(), "p", ps, start="uninformed")
    down = fp.sweep(Cubic(), "p", ps, start="informed")
    assert up.converged.all() and down.converged.all()
    for p, xu, xd in zip(ps, up["x"], down["x"]):
        r = _cubic_roots(p)
        # uninformed (x0 = -1.5) sits on the lowest root while it exists, informed on the highest
        assert xu == pytest.approx(r[0] if p < FOLD else r[-1], abs=1e-8)
        assert xd == pytest.approx(r[-1] if p > -FOLD else r[0], abs=1e-8)
    both = (ps > -FOLD) & (ps < FOLD)
    assert np.all(up["x"][both] < 0) and np.all(down["x"][both] > 0)  # hysteresis loop


def test_sweep_does_not_depend_on_order_or_neighbours():
    ps = np.linspace(-1, 1, 21)
    fwd = fp.sweep(Cubic(), "p", ps, start="informed")
    rev = fp.sweep(Cubic(), "p", ps[::-1], start="informed")
    np.testing.assert_allclose(fwd["x"], rev["x"][::-1], atol=1e-9)
    for p, x in zip(ps[::5], fwd["x"][::5]):
        assert x == pytest.approx(fp.solve(Cubic(p=p), start="informed")["x"], abs=1e-9)


def test_informed_branch_reappears_after_a_region_where_it_is_absent():
    # informed start: upper branch for p > -FOLD; a sweep going down then up must find it again
    ps = np.concatenate([np.linspace(0.5, -0.8, 14), np.linspace(-0.8, 0.5, 14)])
    sw = fp.sweep(Cubic(), "p", ps, start="informed")
    assert np.all(sw["x"][ps > -FOLD + 1e-3] > 0.5)


def test_warm_continuation_for_unique_fixed_points():
    vals = np.linspace(0.1, 1.3, 30)
    sw = fp.sweep(Contraction(), "a", vals)
    assert sw.converged.all()
    exact = np.array([Contraction(a=a).exact() for a in vals])
    np.testing.assert_allclose(sw.x, exact, rtol=1e-8)
    cold = fp.sweep(Contraction(), "a", vals, warm=False)
    assert sw.evaluations.sum() < cold.evaluations.sum()


def test_checked_warm_starts_give_the_cold_answers_at_every_point_with_fewer_evaluations():
    # a model without a unique fixed point is continued warm by default; every point is still
    # what the cold solve from the start gives there, on both sides of the hysteresis loop
    ps = np.linspace(-1, 1, 41)
    for start in ("uninformed", "informed"):
        checked = fp.sweep(Cubic(), "p", ps, start=start)
        cold = fp.sweep(Cubic(), "p", ps, start=start, warm=False)
        assert checked.converged.all() and cold.converged.all()
        np.testing.assert_allclose(checked.x, cold.x, atol=1e-8)
        if start == "uninformed":  # (the informed run below is solved twice: warm, then cold)
            assert checked.evaluations.sum() < 0.7 * cold.evaluations.sum()
    # the informed start's branch is the upper root inside the loop, while warm starts from
    # p = -1 (lower root only) stay on the lower one: the run's cold check sees it and solves the
    # run cold (and no point of it keeps the warm answer)
    down = fp.sweep(Cubic(), "p", ps, start="informed")
    inside = (ps > -FOLD) & (ps < FOLD)
    assert np.all(down.x[inside, 0] > 0)
    assert any("warm-started along the branch" in msg for msg in down.messages)


def test_warm_starts_take_chord_steps_with_the_branchs_extrapolated_jacobians(monkeypatch):
    # a contraction far from normal, continued warm: each warm solve starts by chord Newton steps
    # with the Jacobian extrapolated from the last two points, where the secant history needs n + 1
    # evaluations first. The answers are the cold solves'; the evaluations fewer (measured: 244
    # against 318)
    ps = np.linspace(0.5, 2.0, 25)
    guessed = fp.sweep(NonNormal(), "p", ps)
    cold = fp.sweep(NonNormal(), "p", ps, warm=False)
    monkeypatch.setattr(continuation, "_predict_jacobian", lambda jacobians, v: None)
    secant = fp.sweep(NonNormal(), "p", ps)
    assert guessed.converged.all() and cold.converged.all() and secant.converged.all()
    np.testing.assert_allclose(guessed.x, cold.x, rtol=1e-8)
    np.testing.assert_allclose(secant.x, cold.x, rtol=1e-8)
    assert guessed.evaluations.sum() < 0.85 * secant.evaluations.sum()


def test_no_warm_start_where_the_extrapolated_jacobian_says_the_branch_lost_stability(monkeypatch):
    # along s = 0 the Jacobian [[1/2, 1/2], [0, beta]] loses stability at beta = 1: at 1.05 its
    # extrapolation from 0.8 and 0.9 has the eigenvalue 1.05, so the point is solved cold at once
    # (the run before it checked first), where the warm start would be spent on a point the sweep
    # does not keep. Every answer is the cold solve's, with the rule and without it
    betas = np.r_[np.linspace(0.5, 0.9, 5), np.linspace(1.05, 2.0, 6)]
    attempts = []
    near, predicted_stable = continuation._solve_near, continuation._predicted_stable

    def recording(m, **kw):
        attempts.append(m.beta)
        return near(m, **kw)

    monkeypatch.setattr(continuation, "_solve_near", recording)
    ruled = fp.sweep(Drifting(), "beta", betas)
    tried, attempts[:] = list(attempts), []
    monkeypatch.setattr(continuation, "_predicted_stable", lambda J, solver: True)
    unruled = fp.sweep(Drifting(), "beta", betas)
    cold = fp.sweep(Drifting(), "beta", betas, warm=False)
    assert ruled.converged.all() and unruled.converged.all() and cold.converged.all()
    np.testing.assert_allclose(ruled.x, cold.x, atol=1e-8)
    np.testing.assert_allclose(unruled.x, cold.x, atol=1e-8)
    # and the closed form: (sin beta, 0) up to beta = 1, (sin beta + s*, s*) with s* = tanh(beta s*) past it
    s_star = [optimize.brentq(lambda s: math.tanh(b * s) - s, 1e-3, 1.0) if b > 1 else 0.0 for b in betas]
    np.testing.assert_allclose(ruled.x, np.column_stack([np.sin(betas) + s_star, s_star]), atol=1e-8)
    assert 0.9 in tried and 1.05 not in tried and 1.05 in attempts
    assert ruled.evaluations[5] == cold.evaluations[5] < unruled.evaluations[5]
    # the run of warm points below beta = 1 was checked by a cold solve at its last value first
    assert all("cold solve from 'uninformed' at beta=0.9 reached the same branch" in msg for msg in ruled.messages[1:4])
    assert ruled.evaluations[4] > cold.evaluations[4]  # (its warm solve, then the cold check)
    # the radius is the damped map's: damping by 1/2 turns the eigenvalue -1.5 into -0.25
    assert predicted_stable(None, fp.Anderson())
    assert not predicted_stable(np.diag([0.5, 1.0]), fp.Anderson())
    assert not predicted_stable(np.diag([0.5, -1.5]), fp.Anderson())
    assert predicted_stable(np.diag([0.5, -1.5]), fp.Damped(damping=0.5))


def test_jacobian_extrapolation_is_exact_for_a_jacobian_linear_in_the_parameter():
    A, B = np.array([[0.5, 0.1], [0.0, 0.2]]), np.array([[0.2, 0.0], [0.1, -0.2]])
    J0 = A + 1.0 * B
    J = continuation._predict_jacobian([(1.0, J0), (1.5, A + 1.5 * B)], 2.25)
    np.testing.assert_allclose(J, A + 2.25 * B, rtol=1e-14, atol=1e-15)
    assert continuation._predict_jacobian([(1.0, J0)], 2.0) is J0
    assert continuation._predict_jacobian([], 2.0) is None


def test_a_warm_start_that_leaves_the_branch_is_given_up_for_the_cold_solve_early():
    # just past the informed branch's fold the warm start crawls through the fold's ghost; it is
    # given up after max(60, 4 x the previous point's iterations), so the point costs the cold
    # solve plus that budget, not a second full solve. (The cold solve passes the ghost too, to
    # the one fixed point left, the lower root: its slow passage is fast-forwarded by jumps along
    # the local linear model's unstable direction, each checked; before those could be tried
    # again after one was undone, both solves spent their 10 000 iterations in the ghost.)
    ps = np.array([0.0, -0.1, -0.2, -0.3, -0.35, -0.38, -0.384, -FOLD - 1e-7])
    warm = fp.sweep(Cubic(), "p", ps, start="informed")
    cold = fp.sweep(Cubic(), "p", ps, start="informed", warm=False)
    np.testing.assert_allclose(warm.x[:-1], cold.x[:-1], atol=1e-8)
    (root,) = _cubic_roots(-FOLD - 1e-7)
    assert warm.converged[-1] and cold.converged[-1]
    assert warm.x[-1, 0] == pytest.approx(root, abs=1e-8) and cold.x[-1, 0] == pytest.approx(root, abs=1e-8)
    assert warm.evaluations[-1] - cold.evaluations[-1] <= 4 * warm.iterations[-2] + 60 + 10
    assert warm.evaluations[:-1].sum() < cold.evaluations[:-1].sum()


def test_a_sweep_by_descending_values_leaves_a_warm_branch_that_the_start_does_not_reach():
    # uninformed start (x0 = -1.5) from p = 1 downward: the upper root is continued warm into
    # the loop, where the start reaches the lower root; the cold check at the end of the run
    # catches it, at every point
    ps = np.linspace(1, -1, 30)
    sw = fp.sweep(Cubic(), "p", ps)
    for p, x in zip(ps, sw.x[:, 0]):
        assert x == pytest.approx(_cubic_roots(p)[0] if p < FOLD else _cubic_roots(p)[-1], abs=1e-8)


def test_a_warm_start_on_a_point_plain_iteration_leaves_is_not_kept():
    # pitchfork past beta = 1: the warm guess m = 0 is the (now unstable) trivial point itself,
    # a fixed point the warm solve "converges" to at once; the sweep must not keep it
    # (away from beta = 1, where the approach to 0 is too slow for a comparison at 1e-8)
    betas = np.concatenate([np.linspace(0.5, 0.8, 4), np.linspace(1.2, 2.0, 9)])
    sw = fp.sweep(Pitchfork(), "beta", betas)
    for b, m in zip(betas, sw.x[:, 0]):
        exact = optimize.brentq(lambda x: math.tanh(b * x) - x, 1e-3, 1.0) if b > 1 else 0.0
        assert m == pytest.approx(exact, abs=1e-8)


@pytest.mark.slow
def test_committee_sweep_equals_cold_solves_across_the_specialisation_transition():
    # K = 2 committee (alpha_spec = 2.05238): non-specialised below, specialised above; the warm
    # continuation must report at each alpha what an independent cold solve from the uninformed
    # start reports there (Q to the solves' tolerance)
    from equations.multi_index import MultiIndex

    m = MultiIndex(target="committee", p=2, alpha=1.5)
    alphas = np.array([2.0, 2.3, 2.35, 2.4])
    sw = fp.sweep(m, "alpha", alphas)
    assert sw.converged.all()
    for a, x in zip(alphas, sw.x):
        cold = fp.solve(MultiIndex(target="committee", p=2, alpha=float(a)))
        np.testing.assert_allclose(x, cold.x, atol=1e-8)
    Q = sw["Q"]
    assert abs(Q[0, 0, 0] - Q[0, 0, 1]) < 1e-6  # non-specialised
    assert np.all(Q[1:, 0, 0] - Q[1:, 0, 1] > 0.05)  # specialised


def test_failed_points_are_recorded_and_the_sweep_goes_on():
    sw = fp.sweep(Pitchfork(), "beta", [0.5, -1.0, 2.0])
    assert list(sw.converged) == [True, False, True]
    assert sw.status[1] == "failed" and "beta" in sw.messages[1] and np.isnan(sw.x[1]).all()
    assert np.isnan(sw["m2"][1]) and sw["m2"][2] > 0.5


def test_sweep_outputs(tmp_path):
    sw = fp.sweep(Pitchfork(), "beta", np.linspace(0.5, 2, 7))
    df = sw.to_pandas()
    assert list(df.columns[:3]) == ["beta", "m", "m2"] and len(df) == 7
    ds = sw.to_xarray()
    assert ds["m"].dims == ("beta",)
    path = sw.save(tmp_path / "sw")
    back = fp.Sweep.load(path)
    np.testing.assert_array_equal(back.x, sw.x)
    assert back.param == "beta" and back.start == "uninformed" and list(back.status) == list(sw.status)
    np.testing.assert_array_equal(back["m2"], sw["m2"])


def test_sweep_bad_input():
    with pytest.raises(ValueError, match="gamma"):
        fp.sweep(Pitchfork(), "gamma", [1.0])
    with pytest.raises(ValueError, match="values"):
        fp.sweep(Pitchfork(), "beta", [])
    with pytest.raises(ValueError, match="values"):
        fp.sweep(Pitchfork(), "beta", [1.0, math.nan])


# ----------------------------------------------------------------------------- thresholds


def test_stability_threshold_of_the_pitchfork_is_one():
    thr = fp.threshold(Pitchfork(), "beta", (0.3, 2.5), kind="stability")
    assert thr.converged and abs(thr.value - 1.0) < 1e-8
    assert thr.solves < 100


def test_spinodals_of_the_fold_match_the_closed_form():
    up = fp.threshold(Cubic(), "p", (0.0, 1.0), kind="spinodal", start="uninformed")
    down = fp.threshold(Cubic(), "p", (-1.0, 0.0), kind="spinodal", start="informed")
    assert up.converged and abs(up.value - FOLD) < 1e-6
    assert down.converged and abs(down.value + FOLD) < 1e-6
    assert up.solves < 100 and down.solves < 100


def test_first_order_crossing_against_an_independent_computation():
    c = 0.3

    def potential_gap(p):  # V at the right minimum minus V at the left one
        r = np.roots([1, c, -1, -p])
        r = np.sort(r[np.abs(r.imag) < 1e-12].real)
        V = lambda x: x ** 4 / 4 + c * x ** 3 / 3 - x ** 2 / 2 - p * x
        return V(r[-1]) - V(r[0])

    exact = optimize.brentq(potential_gap, -0.3, 0.3, xtol=1e-14)
    thr = fp.threshold(Asymmetric(c=c), "p", (-0.3, 0.3), kind="first_order")
    assert thr.converged and abs(thr.value - exact) < 1e-8
    assert thr.below.x[0] < 0 < thr.above.x[0]


def test_level_crossing():
    # on the informed branch of the cubic, x = 1 exactly at p = 0
    thr = fp.threshold(Cubic(), "p", (-0.3, 0.9), kind="level", start="informed", observable="x", level=1.0)
    assert thr.converged and abs(thr.value) < 1e-8


@pytest.mark.parametrize("kind, kwargs, bracket", [
    ("stability", {}, (0.3, 0.9)),
    ("spinodal", {"start": "uninformed"}, (-0.5, 0.2)),
    ("first_order", {}, (0.5, 0.9)),
    ("level", {"start": "informed", "observable": "x", "level": 1.0}, (0.1, 0.9)),
])
def test_brackets_without_the_event_raise(kind, kwargs, bracket):
    model = Pitchfork() if kind == "stability" else Cubic()
    param = "beta" if kind == "stability" else "p"
    with pytest.raises(ValueError, match="bracket"):
        fp.threshold(model, param, bracket, kind=kind, **kwargs)


def test_threshold_bad_input():
    with pytest.raises(ValueError, match="kind"):
        fp.threshold(Cubic(), "p", (0, 1), kind="magic")
    with pytest.raises(ValueError, match="bracket"):
        fp.threshold(Cubic(), "p", (1, 0), kind="spinodal")
    with pytest.raises(ValueError, match="observable"):
        fp.threshold(Cubic(), "p", (0, 1), kind="level")


def test_threshold_line_traces_the_closed_form():
    cs = np.linspace(0.0, 0.4, 5)
    line = fp.threshold_line(Asymmetric(), "p", (-1.0, 1.0), over={"c": cs}, kind="spinodal", start="uninformed")
    for c, v in zip(cs, line.values):
        # fold of the lower branch: V'(x) = x^3 + c x^2 - x = p with V''(x) = 0 at the left critical point
        xc = (-2 * c - math.sqrt(4 * c * c + 12)) / 6
        assert v == pytest.approx(xc ** 3 + c * xc ** 2 - xc, abs=1e-6)
    assert line.converged.all()


# ----------------------------------------------------------------------------- optimize


def test_optimize_finds_the_minimum_of_an_observable():
    best = fp.optimize(Contraction(), "a", "gap", bounds=(0.2, 1.3), xtol=1e-9)
    assert best.converged and abs(best.value - 1.0) < 1e-6 and best.minimum < 1e-10
    assert best.solution["gap"] == best.minimum and best.solves < 60
    edge = fp.optimize(Contraction(), "a", "gap", bounds=(0.2, 0.8))
    assert not edge.converged and "edge" in edge.message
    with pytest.raises(ValueError, match="bounds"):
        fp.optimize(Contraction(), "a", "gap", bounds=(1.0, 0.5))


# ----------------------------------------------------------------------------- phase diagrams


def test_phase_diagram_equals_sweeps_and_parallel_equals_serial(tmp_path):
    grid = {"c": np.linspace(0, 0.3, 4), "p": np.linspace(-0.6, 0.6, 7)}
    serial = fp.phase_diagram(Asymmetric(), grid)
    par = fp.phase_diagram(Asymmetric(), grid, executor=2)
    np.testing.assert_array_equal(serial.x, par.x)
    assert serial.shape == (4, 7)
    for i, c in enumerate(grid["c"]):
        sw = fp.sweep(Asymmetric(c=c), "p", grid["p"])
        np.testing.assert_array_equal(serial.x[i], sw.x)
    df = serial.to_pandas()
    assert len(df) == 28
    back = fp.PhaseDiagram.load(serial.save(tmp_path / "d"))
    np.testing.assert_array_equal(back.x, serial.x)


def test_phase_diagram_with_a_dask_client():
    distributed = pytest.importorskip("distributed")
    grid = {"c": np.linspace(0, 0.3, 3), "p": np.linspace(-0.6, 0.6, 5)}
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        d = fp.phase_diagram(Asymmetric(), grid, executor=client.get_executor())
    np.testing.assert_array_equal(d.x, fp.phase_diagram(Asymmetric(), grid).x)


def test_checkpoint_resumes_after_a_kill_and_refuses_another_grid(tmp_path):
    ck = tmp_path / "ck"
    script = textwrap.dedent(f"""
        import os, sys, numpy as np
        sys.path.insert(0, {str(tmp_path.parent)!r})
        import fixedpoint as fp
        from fixedpoint import continuation
        from tests.toymodels import Asymmetric
        done = [0]
        real = continuation.sweep
        def dying(*a, **k):
            done[0] += 1
            if done[0] == 3:
                os._exit(9)  # killed in the middle of the third row
            return real(*a, **k)
        import fixedpoint.diagram as dg
        dg.sweep = dying
        fp.phase_diagram(Asymmetric(), {{"c": np.linspace(0, 0.3, 5), "p": np.linspace(-0.6, 0.6, 6)}},
                         checkpoint={str(ck)!r})
    """)
    import tests

    root = str(__import__("pathlib").Path(tests.__file__).parent.parent)
    proc = subprocess.run([sys.executable, "-c", script.replace(repr(str(tmp_path.parent)), repr(root))],
                          capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    rows = sorted(p.name for p in ck.glob("row_*.npz"))
    assert rows == ["row_00000.npz", "row_00001.npz"]
    grid = {"c": np.linspace(0, 0.3, 5), "p": np.linspace(-0.6, 0.6, 6)}
    calls = []
    import fixedpoint.diagram as dg

    real = dg.sweep
    try:
        dg.sweep = lambda *a, **k: calls.append(1) or real(*a, **k)
        resumed = fp.phase_diagram(Asymmetric(), grid, checkpoint=ck)
    finally:
        dg.sweep = real
    assert len(calls) == 3  # only the three missing rows
    np.testing.assert_array_equal(resumed.x, fp.phase_diagram(Asymmetric(), grid).x)
    with pytest.raises(ValueError, match="different"):
        fp.phase_diagram(Asymmetric(), {"c": np.linspace(0, 0.3, 5), "p": np.linspace(-0.6, 0.7, 6)}, checkpoint=ck)
    with pytest.raises(ValueError, match="different"):
        fp.phase_diagram(Asymmetric(c=0.1), grid, checkpoint=ck)


def test_phase_diagram_bad_input():
    with pytest.raises(ValueError, match="two"):
        fp.phase_diagram(Asymmetric(), {"p": [0.0]})
    with pytest.raises(ValueError, match="executor"):
        fp.phase_diagram(Asymmetric(), {"c": [0.0], "p": [0.0]}, executor="gpu")


def test_level_threshold_reports_a_failed_solve_instead_of_raising():
    # beyond the fold (p > 2/(3 sqrt 3)) with a tiny budget the uninformed solve does not converge
    thr = fp.threshold(Cubic(), "p", (-0.5, 0.3), kind="level", start="uninformed", observable="x", level=-1.0,
                       max_iter=10_000)
    assert thr.converged and abs(thr.value) < 1e-8
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Flaky(Cubic):
        def update(self, x):  # no fixed point at all for p > 0.1: the solve fails there
            return x + 0.05 if 0.1 < self.p < 0.2 else super().update(x)

    # x = 1.05 on the informed branch at p = 1.05^3 - 1.05 = 0.1076, inside the failing stretch
    thr = fp.threshold(Flaky(), "p", (-0.5, 0.35), kind="level", start="informed", observable="x", level=1.05)
    assert not thr.converged and "did not converge" in thr.message


def test_level_threshold_warm_starts_unique_models():
    # u = b / (1 - a^2/2) crosses 1.5 at a^2 = 2 (1 - 1/1.5)
    thr = fp.threshold(Contraction(), "a", (0.1, 1.3), kind="level", observable="u", level=1.5)
    assert thr.converged and abs(thr.value - (2 * (1 - 1 / 1.5)) ** 0.5) < 1e-8
    assert thr.below.evaluations < fp.solve(Contraction(a=thr.value)).evaluations


def test_sweeps_and_diagrams_carry_each_points_error_estimate(tmp_path):
    """The tables hold what each point's Solution reports: its estimated error, within the
    tolerance wherever a point converged (the residual is not the error; ``fixedpoint.solvers``),
    and NaN at a failed point; saved and loaded with the rest."""
    sw = fp.sweep(Contraction(), "a", np.linspace(0.2, 0.9, 8))
    assert sw.error_estimate.shape == (8,) and np.all(sw.converged)
    for a, x, e in zip(sw.values, sw.x, sw.error_estimate):
        true = np.max(np.abs(x - Contraction(a=a).exact()) / (1e-10 + 1e-10 * np.abs(x)))
        assert e <= 1.0 and true <= 1.0, (a, e, true)
    d = fp.phase_diagram(Contraction(), {"a": np.linspace(0.2, 0.8, 3), "b": np.linspace(0.5, 1.5, 4)})
    assert d.error_estimate.shape == (3, 4) and np.nanmax(d.error_estimate) <= 1.0
    back = fp.PhaseDiagram.load(d.save(tmp_path / "d.npz"))
    assert np.array_equal(back.error_estimate, d.error_estimate, equal_nan=True)
    back = fp.Sweep.load(sw.save(tmp_path / "s.npz"))
    assert np.array_equal(back.error_estimate, sw.error_estimate, equal_nan=True)
