"""Invalid arguments raise ``ValueError`` naming the argument, before anything is solved;
everything the model itself raises at a point is recorded there (DESIGN.md, errors).

The toy models count every evaluation of their map, so "nothing was solved" is checked
directly: a raise that came after a solve had started would leave evaluations behind.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import ClassVar

import numpy as np
import pytest

import fixedpoint as fp
from fixedpoint import _validate

EVALS: list = []  # one entry per evaluation of a toy map below


@pytest.fixture(autouse=True)
def _fresh_counter():
    EVALS.clear()
    yield
    EVALS.clear()


@dataclasses.dataclass(frozen=True)
class Spy:
    """``x -> x - 0.2 (x^3 + skew x^2 - x - drive)`` (a fold, as ``toymodels.Asymmetric``), counting
    its evaluations; ``skew`` must be >= 0 (checked by the model, as real models check theirs)."""

    drive: float = 0.0
    skew: float = 0.3
    name: ClassVar[str] = "spy"
    state_names: ClassVar[tuple[str, ...]] = ("x",)

    def __post_init__(self):
        if not self.skew >= 0:
            raise ValueError(f"skew must be >= 0, got {self.skew}")

    def initial_state(self, start="uninformed"):
        return np.array([-1.8 if start == "uninformed" else 1.5])

    def update(self, x):
        EVALS.append(self.drive)
        return x - 0.2 * (x ** 3 + self.skew * x ** 2 - x - self.drive)

    def observables(self, x):
        return {"x2": float(x[0] ** 2)}

    def free_entropy(self, x):
        y = x[0]
        return float(-(y ** 4 / 4 + self.skew * y ** 3 / 3 - y ** 2 / 2 - self.drive * y))

    def simulate(self, d, seed):
        return {}


@dataclasses.dataclass(frozen=True)
class Brittle(Spy):
    """A Spy whose map raises (the model's own error) at ``drive = 0.25``."""

    error: ClassVar[type] = ZeroDivisionError

    def update(self, x):
        if self.drive == 0.25:
            raise self.error("the map has no value at drive = 0.25")
        return super().update(x)


@dataclasses.dataclass(frozen=True)
class Bowl:
    """``x -> (x + a) / 2`` (fixed point ``x = a``) with ``f = (x - 0.3)^2``, minimal at ``a = 0.3``.

    The map raises below ``a = floor``; the observables are not defined at the start ``x = 5``.
    """

    a: float = 0.0
    floor: float = -10.0
    name: ClassVar[str] = "bowl"
    state_names: ClassVar[tuple[str, ...]] = ("x",)

    def initial_state(self, start="uninformed"):
        return np.array([5.0])

    def update(self, x):
        EVALS.append(self.a)
        if self.a < self.floor:
            raise ArithmeticError(f"no fixed point below a = {self.floor}")
        return 0.5 * (x + self.a)

    def observables(self, x):
        if x[0] > 2:
            raise ValueError("f is only defined for x <= 2")
        return {"f": float((x[0] - 0.3) ** 2)}

    def simulate(self, d, seed):
        return {}


ENTRIES = {
    "solve": lambda **kw: fp.solve(Spy(), **kw),
    "sweep": lambda **kw: fp.sweep(Spy(), "drive", [-0.5, 0.5], **kw),
    "phase_diagram": lambda **kw: fp.phase_diagram(Spy(), {"skew": [0.1, 0.3], "drive": [-0.5, 0.5]}, **kw),
    "threshold": lambda **kw: fp.threshold(Spy(), "drive", (-1.0, 1.0), kind="spinodal", **kw),
    "threshold_line": lambda **kw: fp.threshold_line(Spy(), "drive", (-1.0, 1.0), over={"skew": [0.1, 0.3]},
                                                     kind="spinodal", **kw),
    "optimize": lambda **kw: fp.optimize(Spy(), "drive", "x2", bounds=(-1.0, 1.0), **kw),
}

COMMON = [  # (keyword arguments, a word the message must contain)
    ({"start": "unformed"}, "start"),
    ({"start": "Uninformed"}, "start"),
    ({"start": [0.1, 0.2]}, "start"),
    ({"start": [math.nan]}, "start"),
    ({"start": [[0.1], [0.2]]}, "start"),
    ({"start": None}, "start"),
    ({"solver": "fast"}, "solver"),
    ({"solver": fp.Anderson}, "solver"),
    ({"atol": math.nan}, "atol"),
    ({"atol": math.inf}, "atol"),
    ({"atol": "1e-8"}, "atol"),
    ({"atol": True}, "atol"),
    ({"atol": np.array([1e-8])}, "atol"),
    ({"rtol": -1.0}, "rtol"),
    ({"rtol": np.float32(-1e-8)}, "rtol"),
    ({"atol": 0.0, "rtol": 0.0}, "atol"),
    ({"atol": 0, "rtol": np.float64(0)}, "rtol"),
    ({"max_iter": 0}, "max_iter"),
    ({"max_iter": -3}, "max_iter"),
    ({"max_iter": True}, "max_iter"),
    ({"max_iter": 1.5}, "max_iter"),
    ({"max_iter": 100.0}, "max_iter"),
    ({"max_iter": np.int64(0)}, "max_iter"),
    ({"max_iter": "100"}, "max_iter"),
]


def _bad(call, word):
    """``call()`` raises a ValueError naming ``word`` and evaluated no map."""
    with pytest.raises(ValueError, match=word) as info:
        call()
    assert not isinstance(info.value, KeyError)
    assert EVALS == [], f"{len(EVALS)} evaluations of the map before the error"
    return info.value


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_the_spy_sees_the_solves_of_a_valid_call(entry):
    # (so that "no evaluations" below does mean that nothing was solved)
    ENTRIES[entry]()
    assert len(EVALS) > 0


@pytest.mark.parametrize("kwargs, word", COMMON, ids=[f"{k}-{w}" for k, w in ((repr(c[0]), c[1]) for c in COMMON)])
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_bad_common_arguments_raise_before_any_solve(entry, kwargs, word):
    _bad(lambda: ENTRIES[entry](**kwargs), word)


SPECIFIC = {
    # sweep: values and param
    "sweep-values-empty": (lambda: fp.sweep(Spy(), "drive", []), "values"),
    "sweep-values-nan": (lambda: fp.sweep(Spy(), "drive", [0.1, math.nan]), "values"),
    "sweep-values-inf": (lambda: fp.sweep(Spy(), "drive", [0.1, -math.inf]), "values"),
    "sweep-values-2d": (lambda: fp.sweep(Spy(), "drive", np.zeros((2, 3))), "values"),
    "sweep-values-strings": (lambda: fp.sweep(Spy(), "drive", ["0.1", "0.2"]), "values"),
    "sweep-values-string": (lambda: fp.sweep(Spy(), "drive", "0.1"), "values"),
    "sweep-values-complex": (lambda: fp.sweep(Spy(), "drive", [0.1 + 1j]), "values"),
    "sweep-values-bool": (lambda: fp.sweep(Spy(), "drive", [True, False]), "values"),
    "sweep-values-ragged": (lambda: fp.sweep(Spy(), "drive", [[0.1], [0.2, 0.3]]), "values"),
    "sweep-values-none": (lambda: fp.sweep(Spy(), "drive", [0.1, None]), "values"),
    "sweep-param": (lambda: fp.sweep(Spy(), "gamma", [0.1]), "param"),
    "sweep-param-not-str": (lambda: fp.sweep(Spy(), 3, [0.1]), "param"),
    "sweep-warm": (lambda: fp.sweep(Spy(), "drive", [0.1], warm="yes"), "warm"),
    "sweep-progress": (lambda: fp.sweep(Spy(), "drive", [0.1], progress="yes"), "progress"),
    # phase_diagram: the grid
    "diagram-grid-one": (lambda: fp.phase_diagram(Spy(), {"drive": [0.1]}), "grid"),
    "diagram-grid-list": (lambda: fp.phase_diagram(Spy(), [("skew", [0.1]), ("drive", [0.1])]), "grid"),
    "diagram-grid-param": (lambda: fp.phase_diagram(Spy(), {"gamma": [0.1], "drive": [0.1]}), "gamma"),
    "diagram-grid-nan": (lambda: fp.phase_diagram(Spy(), {"skew": [0.1, math.nan], "drive": [0.1]}), "skew"),
    "diagram-grid-2d": (lambda: fp.phase_diagram(Spy(), {"skew": [0.1], "drive": np.ones((2, 2))}), "drive"),
    "diagram-grid-empty": (lambda: fp.phase_diagram(Spy(), {"skew": [0.1], "drive": []}), "grid"),
    "diagram-warm": (lambda: fp.phase_diagram(Spy(), {"skew": [0.1], "drive": [0.1]}, warm=1), "warm"),
    "diagram-progress": (lambda: fp.phase_diagram(Spy(), {"skew": [0.1], "drive": [0.1]}, progress=None), "progress"),
    # threshold
    "threshold-kind": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="magic"), "kind"),
    "threshold-kind-none": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind=None), "kind"),
    "threshold-param": (lambda: fp.threshold(Spy(), "gamma", (-1, 1), kind="spinodal"), "param"),
    "threshold-bracket-order": (lambda: fp.threshold(Spy(), "drive", (1, -1), kind="spinodal"), "bracket"),
    "threshold-bracket-nan": (lambda: fp.threshold(Spy(), "drive", (math.nan, 1), kind="spinodal"), "bracket"),
    "threshold-bracket-str": (lambda: fp.threshold(Spy(), "drive", ("-1", 1), kind="spinodal"), "bracket"),
    "threshold-bracket-three": (lambda: fp.threshold(Spy(), "drive", (-1, 0, 1), kind="spinodal"), "bracket"),
    "threshold-bracket-scalar": (lambda: fp.threshold(Spy(), "drive", 1.0, kind="spinodal"), "bracket"),
    "threshold-tol-zero": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="spinodal", tol=0), "tol"),
    "threshold-tol-negative": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="spinodal", tol=-1), "tol"),
    "threshold-tol-nan": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="spinodal", tol=math.nan), "tol"),
    "threshold-tol-str": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="spinodal", tol="1e-6"), "tol"),
    "threshold-level-nan": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="level", observable="x2",
                                                 level=math.nan), "level"),
    "threshold-level-inf": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="level", observable="x2",
                                                 level=math.inf), "level"),
    "threshold-level-missing": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="level", observable="x2"),
                                "level"),
    "threshold-observable-unknown": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="level", observable="nope",
                                                          level=1.0), "observable"),
    "threshold-observable-missing": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="level", level=1.0),
                                     "observable"),
    "threshold-observable-not-str": (lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="level", observable=0,
                                                          level=1.0), "observable"),
    # threshold_line: over, and the threshold's own arguments (checked once, up front)
    "line-over-list": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over=[0.1], kind="spinodal"), "over"),
    "line-over-two": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [0.1], "drive": [0.0]},
                                                kind="spinodal"), "over"),
    "line-over-param": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"gamma": [0.1]}, kind="spinodal"),
                        "over"),
    "line-over-itself": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"drive": [0.1]}, kind="spinodal"),
                         "over"),
    "line-over-nan": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [0.1, math.nan]},
                                                kind="spinodal"), "skew"),
    "line-over-empty": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": []}, kind="spinodal"),
                        "over"),
    "line-over-2d": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": np.ones((2, 2))},
                                               kind="spinodal"), "over"),
    "line-kind": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [0.1]}, kind="magic"), "kind"),
    "line-param": (lambda: fp.threshold_line(Spy(), "gamma", (-1, 1), over={"skew": [0.1]}, kind="spinodal"),
                   "param"),
    "line-bracket": (lambda: fp.threshold_line(Spy(), "drive", (1, -1), over={"skew": [0.1]}, kind="spinodal"),
                     "bracket"),
    "line-tol": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [0.1]}, kind="spinodal", tol=0),
                 "tol"),
    "line-observable": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [0.1]}, kind="level",
                                                  observable="nope", level=1.0), "observable"),
    "line-level": (lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [0.1]}, kind="level",
                                             observable="x2", level=math.nan), "level"),
    # optimize
    "optimize-xtol-nan": (lambda: fp.optimize(Spy(), "drive", "x2", (-1, 1), xtol=math.nan), "xtol"),
    "optimize-xtol-zero": (lambda: fp.optimize(Spy(), "drive", "x2", (-1, 1), xtol=0.0), "xtol"),
    "optimize-xtol-negative": (lambda: fp.optimize(Spy(), "drive", "x2", (-1, 1), xtol=-1e-6), "xtol"),
    "optimize-xtol-inf": (lambda: fp.optimize(Spy(), "drive", "x2", (-1, 1), xtol=math.inf), "xtol"),
    "optimize-observable": (lambda: fp.optimize(Spy(), "drive", "nope", (-1, 1)), "observable"),
    "optimize-observable-none": (lambda: fp.optimize(Spy(), "drive", None, (-1, 1)), "observable"),
    "optimize-param": (lambda: fp.optimize(Spy(), "gamma", "x2", (-1, 1)), "param"),
    "optimize-bounds-order": (lambda: fp.optimize(Spy(), "drive", "x2", (1, -1)), "bounds"),
    "optimize-bounds-nan": (lambda: fp.optimize(Spy(), "drive", "x2", (math.nan, 1)), "bounds"),
    "optimize-bounds-str": (lambda: fp.optimize(Spy(), "drive", "x2", "ab"), "bounds"),
    "optimize-bounds-three": (lambda: fp.optimize(Spy(), "drive", "x2", (-1, 0, 1)), "bounds"),
    "optimize-log": (lambda: fp.optimize(Spy(), "drive", "x2", (-1, 1), log="yes"), "log"),
    "optimize-log-negative-bounds": (lambda: fp.optimize(Spy(), "drive", "x2", (-1, 1), log=True), "log"),
    # solve: x0 names itself
    "solve-x0-nan": (lambda: fp.solve(Spy(), [math.nan]), "x0"),
    "solve-x0-size": (lambda: fp.solve(Spy(), [0.1, 0.2]), "x0"),
    "solve-x0-str": (lambda: fp.solve(Spy(), "uninformed "), "x0"),
}


@pytest.mark.parametrize("case", list(SPECIFIC))
def test_bad_specific_arguments_raise_before_any_solve(case):
    call, word = SPECIFIC[case]
    _bad(call, word)


def test_values_messages_name_the_parameter():
    assert "'drive'" in str(_bad(lambda: fp.sweep(Spy(), "drive", [math.nan]), "values"))
    assert "'skew'" in str(_bad(lambda: fp.phase_diagram(Spy(), {"skew": [], "drive": [0.0]}), "grid"))
    assert "'skew'" in str(_bad(lambda: fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [math.inf]},
                                                          kind="spinodal"), "over"))


def test_unknown_observable_is_a_value_error_listing_the_known_ones():
    err = _bad(lambda: fp.optimize(Spy(), "drive", "nope", (-1, 1)), "observable")
    assert "x2" in str(err) and "'x'" in str(err)
    err = _bad(lambda: fp.threshold(Spy(), "drive", (-1, 1), kind="level", observable="nope", level=0.5), "nope")
    assert "x2" in str(err)


def test_an_unknown_threshold_keyword_raises_before_any_solve():
    with pytest.raises(TypeError, match="obsevable"):
        fp.threshold_line(Spy(), "drive", (-1, 1), over={"skew": [0.1]}, kind="level", obsevable="x2", level=1.0)
    assert EVALS == []


def test_a_bad_start_in_a_sweep_of_a_real_model_raises_instead_of_blaming_the_model():
    import equations

    m = equations.get("spiked_wigner", prior="rademacher", snr=1.5)
    err = _bad(lambda: fp.sweep(m, "snr", [1, 2], start="unformed"), "start")
    assert "unformed" in str(err) and "uninformed" in str(err)


def test_a_rejected_phase_diagram_leaves_no_checkpoint(tmp_path):
    ck = tmp_path / "ck"
    _bad(lambda: fp.phase_diagram(Spy(), {"skew": [0.1], "drive": [0.1]}, checkpoint=ck, start="unformed"), "start")
    assert not ck.exists()


def test_an_observable_the_model_cannot_evaluate_at_its_start_is_not_rejected():
    # Bowl's observables raise at its start x = 5; the observable is then checked on the solutions
    best = fp.optimize(Bowl(), "a", "f", bounds=(-1.0, 1.0), xtol=1e-9)
    assert best.converged and best.value == pytest.approx(0.3, abs=1e-6)


# ----------------------------------------------------------------------------- numpy scalars


def _same_solution(s, t):
    np.testing.assert_array_equal(s.x, t.x)
    assert (s.converged, s.iterations, s.evaluations, s.status) == (t.converged, t.iterations, t.evaluations, t.status)


NUMPY_SCALARS = {  # (numpy keyword arguments, the same as Python numbers), built when the test runs
    "atol-float32": lambda: ({"atol": np.float32(1e-8)}, {"atol": float(np.float32(1e-8))}),
    "rtol-float32": lambda: ({"rtol": np.float32(1e-6), "atol": np.float64(0.0)},
                             {"rtol": float(np.float32(1e-6)), "atol": 0.0}),
    "max_iter-int64": lambda: ({"max_iter": np.int64(500)}, {"max_iter": 500}),
    "max_iter-int32-too-few": lambda: ({"max_iter": np.int32(3)}, {"max_iter": 3}),  # the budget is used
    "damped-float32": lambda: ({"solver": fp.Damped(np.float32(0.5))}, {"solver": fp.Damped(0.5)}),
    "anderson-int64-float64": lambda: ({"solver": fp.Anderson(memory=np.int64(2), damping=np.float64(0.3))},
                                       {"solver": fp.Anderson(2, 0.3)}),
}


@pytest.mark.parametrize("case", list(NUMPY_SCALARS))
def test_numpy_scalars_give_the_result_of_python_numbers(case):
    kw, plain = NUMPY_SCALARS[case]()
    _same_solution(fp.solve(Spy(), **kw), fp.solve(Spy(), **plain))
    a = fp.sweep(Spy(), "drive", np.array([-0.5, 0.0, 0.5], dtype=np.float32), **kw)
    b = fp.sweep(Spy(), "drive", [float(np.float32(v)) for v in (-0.5, 0.0, 0.5)], **plain)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.iterations, b.iterations)
    assert list(a.status) == list(b.status)
    if plain.get("max_iter") == 3:
        assert not fp.solve(Spy(), **kw).converged


def test_numpy_scalars_in_threshold_and_optimize():
    a = fp.threshold(Spy(), "drive", (np.float32(-1), np.int64(1)), kind="spinodal", tol=np.float32(1e-6),
                     max_iter=np.int64(10_000))
    b = fp.threshold(Spy(), "drive", (-1.0, 1.0), kind="spinodal", tol=float(np.float32(1e-6)))
    assert a.converged and a.value == b.value
    a = fp.optimize(Bowl(), "a", "f", bounds=np.array([-1.0, 1.0]), xtol=np.float64(1e-9))
    b = fp.optimize(Bowl(), "a", "f", bounds=(-1.0, 1.0), xtol=1e-9)
    assert a.converged and a.value == b.value


def test_solver_parameters_accept_numpy_scalars_and_reject_bools():
    assert fp.Damped(damping=np.float32(0.5)) == fp.Damped(0.5)
    assert type(fp.Damped(damping=np.float32(0.5)).damping) is float
    assert fp.Anderson(memory=np.int64(3), damping=np.float64(0.3)) == fp.Anderson(memory=3, damping=0.3)
    assert repr(fp.Anderson(memory=np.int64(3), damping=np.float64(0.3))) == repr(fp.Anderson(3, 0.3))
    assert repr(fp.Damped(0)) == "Damped(damping=0, adaptive=False)"  # Python numbers are kept as given
    for bad in (True, False, "0.5", math.nan, -0.1, 1.0, np.float32(1.0), None):
        with pytest.raises(ValueError, match="damping"):
            fp.Damped(damping=bad)
        with pytest.raises(ValueError, match="damping"):
            fp.Anderson(damping=bad)
    for kwargs, word in [({"reg": "small"}, "reg"), ({"reg": True}, "reg"), ({"reg": math.inf}, "reg"),
                         ({"safeguard": 1}, "safeguard"), ({"safeguard": math.nan}, "safeguard")]:
        with pytest.raises(ValueError, match=word):
            fp.Anderson(**kwargs)


# ----------------------------------------------------------------------------- failures at points


@pytest.mark.parametrize("error", [ZeroDivisionError, ValueError, FloatingPointError])
def test_a_model_raising_at_one_point_of_a_sweep_fails_only_that_point(error, monkeypatch):
    monkeypatch.setattr(Brittle, "error", error)
    sw = fp.sweep(Brittle(), "drive", [-0.5, 0.25, 0.5])
    assert list(sw.converged) == [True, False, True]
    assert sw.status[1] == "failed" and np.all(np.isnan(sw.x[1]))
    assert "the map has no value at drive = 0.25" in sw.messages[1] and "drive=0.25" in sw.messages[1]
    np.testing.assert_array_equal(sw.x[[0, 2]], fp.sweep(Spy(), "drive", [-0.5, 0.5]).x)


def test_a_value_the_model_rejects_is_a_failed_point_not_an_argument_error():
    # -1 is a valid number, but not a valid skew for this model: its __post_init__ raises there
    sw = fp.sweep(Spy(), "skew", [0.1, -1.0, 0.3])
    assert list(sw.converged) == [True, False, True] and sw.status[1] == "failed"
    assert "skew must be >= 0" in sw.messages[1]


def test_a_phase_diagram_row_the_model_rejects_is_recorded_as_failed():
    d = fp.phase_diagram(Spy(), {"skew": [0.1, -1.0, 0.3], "drive": [-0.5, 0.5]})
    assert d.converged[[0, 2]].all() and not d.converged[1].any()
    assert list(d.status[1]) == ["failed", "failed"] and np.all(np.isnan(d.x[1]))
    np.testing.assert_array_equal(d.x[2], fp.sweep(Spy(skew=0.3), "drive", [-0.5, 0.5]).x)


def test_a_threshold_line_point_the_model_rejects_is_recorded():
    line = fp.threshold_line(Spy(), "drive", (-1.0, 1.0), over={"skew": [0.1, -1.0, 0.3]}, kind="spinodal")
    assert list(line.converged) == [True, False, True] and math.isnan(line.values[1])
    assert "skew must be >= 0" in line.messages[1] and line.thresholds[1] is None


def test_an_optimize_probe_where_the_model_raises_counts_as_failed_with_its_message():
    # Brent's first probe, at a = -1 + 0.382 * 2 = -0.236, is below the floor
    best = fp.optimize(Bowl(floor=-0.2), "a", "f", bounds=(-1.0, 1.0), xtol=1e-9)
    assert best.value == pytest.approx(0.3, abs=1e-6) and not best.converged
    assert "no fixed point below a = -0.2" in best.message


ENGINE = [  # (module whose `solve` is replaced, a call that reaches it inside its loop)
    ("fixedpoint.continuation", lambda: fp.sweep(Spy(), "drive", [-0.5, 0.5])),
    ("fixedpoint.continuation", lambda: fp.phase_diagram(Spy(), {"skew": [0.1], "drive": [-0.5, 0.5]})),
    ("fixedpoint.thresholds", lambda: fp.threshold_line(Spy(), "drive", (-1.0, 1.0), over={"skew": [0.1]},
                                                       kind="spinodal")),
    ("fixedpoint.optimize", lambda: fp.optimize(Spy(), "drive", "x2", bounds=(-1.0, 1.0))),
]


@pytest.mark.parametrize("error", [RuntimeError("an engine bug"), _validate.ArgumentError("start must be ...")])
@pytest.mark.parametrize("module, call", ENGINE, ids=["sweep", "phase_diagram", "threshold_line", "optimize"])
def test_engine_errors_inside_the_loops_are_not_recorded_as_model_failures(module, call, error, monkeypatch):
    # after the arguments were checked, a bad argument at a point (or any non-model error) can
    # only come from the engine itself: it must surface, not become a "failed point"
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(importlib.import_module(module), "solve", broken)
    with pytest.raises(type(error), match=str(error)[:10]):
        call()
