"""Symmetries a model declares: two solves ending on mirror images of one solution are one
solution to the engine (sweeps' checks, first-order coexistence), and two different solutions
stay two. And the share of the cores a phase diagram's workers give their models' threads."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest

import equations
import fixedpoint as fp
from fixedpoint.protocol import THREADS_VARIABLE, thread_budget
from fixedpoint.symmetry import IDENTITY, images, same_fixed_point


def _flip_b(x):
    return np.array([x[0], -x[1]])


@dataclasses.dataclass(frozen=True)
class MirrorWell:
    """``(a, b) -> (a + (t - a)/2, tanh(t b) + skew)``: ``a = t``, and for ``t > 1`` the mirror pair
    ``b = +-b*(t)`` (``b = 0`` unstable). ``b -> -b`` is a symmetry when ``skew = 0``; a small
    ``skew`` breaks it as a rule that is not exactly equivariant would. The start's side of
    ``b = 0`` changes at ``t = 2.2``: a cold solve from it lands on one image or the other, as
    Anderson steps that cross an invariant plane do in attention."""

    t: float = 2.0
    skew: float = 0.0
    declare: bool = True
    name: ClassVar[str] = "mirror_well"
    state_names: ClassVar[tuple[str, ...]] = ("a", "b")

    def initial_state(self, start="uninformed"):
        side = 1.0 if self.t < 2.2 else -1.0
        return np.array([0.0, 0.3 * side])

    def update(self, x):
        return np.array([x[0] + 0.5 * (self.t - x[0]), math.tanh(self.t * x[1]) + self.skew])

    def observables(self, x):
        return {"b2": float(x[1] ** 2)}

    def symmetries(self):
        return {"b -> -b": _flip_b} if self.declare else {}

    def simulate(self, d, seed):
        return {}


def _sweep(declare):
    ts = np.linspace(1.5, 2.5, 12)
    return fp.sweep(MirrorWell(declare=declare), "t", ts, start="uninformed")


def test_a_checked_sweep_keeps_its_branch_when_the_cold_check_lands_on_the_mirror_image():
    ts = np.linspace(1.5, 2.5, 12)
    assert MirrorWell(t=ts[0]).initial_state()[1] * MirrorWell(t=ts[-1]).initial_state()[1] < 0
    # (the cold check at the end starts on the other side)
    declared, undeclared = _sweep(True), _sweep(False)
    assert declared.converged.all() and undeclared.converged.all()
    b = declared.x[:, 1]
    # one continuous branch on the first start's side, each point a fixed point
    assert np.all(np.sign(b) == np.sign(b[0]))
    for t, x in zip(declared.values, declared.x):
        np.testing.assert_allclose(MirrorWell(t=t).update(x), x, atol=1e-9)
    assert all("image under the model's symmetry (b -> -b)" in msg for msg in declared.messages[1:])
    # without the declaration the check disagrees and the run is solved cold: the cold answers,
    # on both sides, at more cost
    assert set(np.sign(undeclared.x[:, 1])) == {-1.0, 1.0}
    np.testing.assert_allclose(np.abs(undeclared.x), np.abs(declared.x), atol=1e-9)
    assert undeclared.evaluations.sum() > declared.evaluations.sum()


def _solution(x, radius=0.5):
    return SimpleNamespace(x=np.asarray(x, dtype=float), spectral_radius=radius)


def test_same_fixed_point_names_the_symmetry_and_tells_different_points_apart():
    model = MirrorWell(t=2.0)
    b = fp.solve(model, start=np.array([0.0, 0.3]), atol=1e-13, rtol=1e-13).x[1]
    kw = dict(atol=1e-10, rtol=1e-10)
    r = lambda s: s.spectral_radius
    up, down = _solution([2.0, b]), _solution([2.0, -b])
    assert same_fixed_point(model, up, up, kw, r) == IDENTITY
    assert same_fixed_point(model, up, down, kw, r) == "b -> -b"
    assert same_fixed_point(MirrorWell(t=2.0, declare=False), up, down, kw, r) is None
    assert same_fixed_point(model, up, _solution([2.0, 0.0]), kw, r) is None  # the unstable point is another
    assert same_fixed_point(model, up, _solution([2.0, 0.999 * b]), kw, r) is None
    assert [name for name, _ in images(model, up.x)] == [IDENTITY, "b -> -b"]


def test_an_image_counts_when_the_rule_breaks_the_symmetry_only_at_its_accuracy():
    # skew = 1e-9: the two images are fixed points of the discretised map only to ~1e-9, far
    # outside the solves' tolerance; the true residual at the image decides (within 10 times
    # what it moves the fixed point), and a real difference still does not pass
    kw = dict(atol=1e-12, rtol=1e-12)
    r = lambda s: s.spectral_radius
    model = MirrorWell(t=2.0, skew=1e-9)
    tight = dict(atol=1e-14, rtol=1e-14)
    up = fp.solve(model, start=np.array([0.0, 0.3]), **tight)
    down = fp.solve(model, start=np.array([0.0, -0.3]), **tight)
    assert up.converged and down.converged
    assert abs(up.x[1] + down.x[1]) > 1e-10  # not exact images
    up, down = _solution(up.x, up.spectral_radius), _solution(down.x, down.spectral_radius)
    assert same_fixed_point(model, up, down, kw, r) == "b -> -b"
    # the other fixed point, b = 0 (unstable; its radius is not asked for: it is not near)
    assert same_fixed_point(model, up, _solution([2.0, 0.0], 0.5), kw, r) is None


@pytest.mark.parametrize("name", [n for n in equations.available()
                                  if callable(getattr(equations.MODELS[n], "symmetries", None))])
def test_declared_symmetries_commute_with_the_map(name):
    """``F(S x) = S F(x)`` and the free entropy is unchanged, at a generic state, to the rule's
    accuracy (the lines rule of attention is not exactly equivariant: ~1e-7 relative)."""
    model = equations.get(name, **equations.MODELS[name].examples[0])
    x0 = np.asarray(model.initial_state("informed"), dtype=float)
    x = 0.5 * (x0 + np.asarray(model.initial_state("uninformed"), dtype=float))
    fx = np.asarray(model.update(x), dtype=float)
    declared = model.symmetries()
    assert declared and all(isinstance(k, str) for k in declared)
    for label, S in declared.items():
        y = np.asarray(S(x.copy()), dtype=float)
        assert not np.allclose(y, x), label  # a symmetry that moves this state
        np.testing.assert_allclose(model.update(y), S(fx.copy()), rtol=1e-6, atol=1e-9, err_msg=label)
        np.testing.assert_allclose(S(y.copy()), x, atol=0, err_msg=label)  # each declared map is an involution here
        if callable(getattr(model, "free_entropy", None)):
            assert model.free_entropy(y) == pytest.approx(model.free_entropy(x), rel=1e-7, abs=1e-10), label


def test_attention_declares_the_token_swap_only_for_a_symmetric_positional_matrix():
    sym = equations.get("dot_product_attention", nodes=4)
    asym = equations.get("dot_product_attention", nodes=4, A=((0.7, 0.3), (0.4, 0.6)))
    assert len(sym.symmetries()) == 3 and len(asym.symmetries()) == 1


def test_thread_budget(monkeypatch):
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert thread_budget(2) == 2
    monkeypatch.setenv(THREADS_VARIABLE, "1")
    assert thread_budget(2) == 1
    monkeypatch.setenv(THREADS_VARIABLE, "8")
    assert thread_budget(2) == 2  # a budget caps, never adds
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(THREADS_VARIABLE, bad)
        with pytest.raises(ValueError, match=THREADS_VARIABLE):
            thread_budget(2)


def test_attention_sums_do_not_depend_on_the_thread_budget(monkeypatch):
    model = equations.get("dot_product_attention", omega=0.3, alpha=1.0, nodes=4)
    x = np.array([0.07, 0.12, 0.05, 18.0])
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    two = model.update(x)
    monkeypatch.setenv(THREADS_VARIABLE, "1")
    one = model.update(x)
    np.testing.assert_array_equal(one, two)
