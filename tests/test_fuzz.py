"""Fuzz over the registry: random valid parameters (each model's examples with their numbers
scaled at random), both starts. No exception; a converged result has a finite state inside the
bounds whose true residual meets the tolerance; a unique-fixed-point model gives the same answer
from both starts."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import equations
import fixedpoint as fp
from fixedpoint.solvers import make_tolerance, model_bounds

NAMES = equations.available()


def _scaled(example, factors):
    out = dict(example)
    for (k, v), f in zip(sorted(example.items()), factors):
        if isinstance(v, float) and not isinstance(v, bool) and v != 0:
            out[k] = v * f
    return out


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_valid_parameters(name, data):
    cls = equations.MODELS[name]
    examples = getattr(cls, "examples", ({},))
    example = data.draw(st.sampled_from(examples))
    factors = data.draw(st.lists(st.floats(0.5, 2.0), min_size=len(example), max_size=len(example)))
    try:
        model = equations.get(name, **_scaled(example, factors))
    except ValueError:
        assume(False)
    lo, hi = model_bounds(model, len(model.state_names))
    tolerance = make_tolerance(1e-10, 1e-10, getattr(model, "residual_scale", None))
    answers = {}
    for start in ("uninformed", "informed"):
        sol = fp.solve(model, start=start)
        if not sol.converged:
            assert sol.message
            continue
        x = sol.x
        assert np.all(np.isfinite(x)), sol
        assert np.all(x >= lo) and np.all(x <= hi), sol
        r = np.max(np.abs(np.asarray(model.update(x), float) - x) / tolerance(x))
        assert r <= 1.0 + 1e-9, (sol, r)
        answers[start] = x
    if getattr(model, "unique_fixed_point", False):
        assert len(answers) == 2, f"{model!r}: a unique-fixed-point model failed from a start"
        a, b = answers["uninformed"], answers["informed"]
        assert np.allclose(a, b, rtol=1e-6, atol=1e-8), (model, a, b)
