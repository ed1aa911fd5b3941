"""The registry contract, parametrised over every registered model and each of its examples."""

import dataclasses
import math
import pickle

import numpy as np
import pytest

import equations
import fixedpoint as fp
from fixedpoint.solvers import model_bounds

CASES = [(name, i) for name in equations.available() for i in range(len(equations.MODELS[name].examples))]


def test_registry_api():
    assert isinstance(equations.available(), tuple)
    assert list(equations.available()) == sorted(equations.MODELS)
    with pytest.raises(ValueError, match="unknown model"):
        equations.get("no_such_model")
    for name in equations.available():
        with pytest.raises(ValueError, match="no_such_parameter"):
            equations.get(name, no_such_parameter=1.0)


@pytest.mark.parametrize("name", equations.available())
def test_model_class_contract(name):
    cls = equations.MODELS[name]
    assert cls.name == name
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen
    assert isinstance(cls.state_names, tuple) and cls.state_names
    assert len(cls.examples) >= 1
    for member in ("initial_state", "update", "observables", "simulate"):
        assert callable(getattr(cls, member, None)), member
    equations.get(name)  # the defaults are a valid model


@pytest.mark.parametrize("name, i", CASES)
def test_protocol_on_each_example(name, i):
    params = equations.MODELS[name].examples[i]
    model = equations.get(name, **params)
    n = len(model.state_names)
    lo, hi = model_bounds(model, n)
    for start in ("uninformed", "informed"):
        x0 = np.asarray(model.initial_state(start))
        assert x0.shape == (n,) and x0.dtype == np.float64 and np.all(np.isfinite(x0))
        assert np.all(x0 >= lo) and np.all(x0 <= hi)
        fx = np.asarray(model.update(x0))
        assert fx.shape == (n,) and np.all(np.isfinite(fx))
    triv = getattr(model, "trivial_state", lambda: None)()
    if triv is not None:
        triv = np.asarray(triv, dtype=float)
        assert triv.shape == (n,)
        np.testing.assert_allclose(model.update(triv), triv, atol=1e-12)
    sol = fp.solve(model, start="informed")
    assert sol.converged, sol.message
    obs = model.observables(sol.x)
    assert obs and all(isinstance(k, str) and isinstance(v, float) for k, v in obs.items())
    if callable(getattr(model, "observable_names", None)):
        # the declared names (what `fixedpoint list` prints without evaluating) are the keys, in order
        assert tuple(model.observable_names()) == tuple(obs)
    if getattr(model, "free_entropy", None) is not None:
        assert math.isfinite(model.free_entropy(sol.x))
    assert pickle.loads(pickle.dumps(model)) == model
    assert hash(model) == hash(dataclasses.replace(model))


@pytest.mark.parametrize("name", equations.available())
def test_invalid_parameters_raise_naming_them(name):
    cls = equations.MODELS[name]
    base = equations.get(name, **cls.examples[0])
    for f in dataclasses.fields(cls):
        value = getattr(base, f.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            bad = math.nan
        elif isinstance(value, str):
            bad = "no-such-choice"
        else:
            continue
        with pytest.raises(ValueError, match=f.name):
            dataclasses.replace(base, **{f.name: bad})
