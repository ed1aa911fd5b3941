"""Tiered kernels (``fixedpoint._jit``): interpreted first, compiled once the budget is spent.

The rule's pieces are checked on small kernels defined here, each in a fresh interpreter when
the check is about the state of a process; the equivalence of the two tiers is checked on the
first example of every registered model whose kernels are tiered.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import equations
from fixedpoint import _jit
from fixedpoint.quadrature import H

ROOT = Path(__file__).resolve().parents[1]

#: families whose kernels are declared ``njit_compiled`` (seconds per call as Python)
_ALWAYS_COMPILED = ("multi_index", "sequence_multi_index", "subspace_clustering")


def _python(code: str, **env) -> str:
    full = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **env}
    for key, value in env.items():
        if value is None:
            full.pop(key)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


# kernels for the rule's checks: module level, so that they pickle and a compiled kernel finds
# them as globals


@_jit.njit(cache=False, inline="always")
def _square(x):
    return x * x


@_jit.njit(cache=False)
def _sum_of_squares(a):
    s = 0.0
    for i in range(a.size):
        s += _square(a[i])
    return s


@_jit.njit(cache=False)
def _log_into(a, out):
    # writes, then meets log(0): Python raises ValueError, Numba gives -inf
    for i in range(a.size):
        out[i] = 7.0
    for i in range(a.size):
        out[i] = math.log(a[i])
    return out[0]


@_jit.njit(cache=False)
def _refuse(x):
    if x < 0.0:
        raise ValueError("x must be >= 0")
    return x


def test_kernel_keeps_its_python_function_and_name():
    assert _sum_of_squares.__name__ == "_sum_of_squares"
    assert _sum_of_squares.py_func(np.arange(3.0)) == 5.0
    assert "Kernel" in repr(_sum_of_squares)


def test_kernels_pickle_by_reference():
    assert pickle.loads(pickle.dumps(H)) is H
    assert pickle.loads(pickle.dumps(_sum_of_squares)) is _sum_of_squares


def test_compiled_kernel_calls_and_inlines_a_kernel_global():
    # Numba types the Kernel global as its dispatcher, and inlines it (inline="always" read off
    # the Kernel's targetoptions): the machine code has no call to it (mangled as "7_square")
    a = np.arange(5.0)
    assert _sum_of_squares.dispatcher(a) == 30.0
    (llvm,) = _sum_of_squares.dispatcher.inspect_llvm().values()
    assert "15_sum_of_squares" in llvm and "7_square" not in llvm


def test_python_exception_falls_back_to_the_compiled_kernel_with_arguments_restored():
    code = """
import numpy as np, json
from fixedpoint import _jit
from tests.test_jit import _log_into
a = np.array([1.0, 0.0, 2.0]); out = np.full(3, -1.0)
first = _log_into(a, out)
print(json.dumps({"first": first, "out": [str(v) for v in out], "state": _jit.mode()}))
"""
    got = json.loads(_python(code, FIXEDPOINT_JIT=None))
    # the compiled kernel's answer, from the restored arguments: log(0) = -inf, no exception
    assert got["first"] == 0.0 and got["out"] == ["0.0", "-inf", str(math.log(2.0))]
    # that kernel is compiled from now on; the process keeps its tier for the others
    assert got["state"]["fallbacks"] == ["tests.test_jit._log_into"] and not got["state"]["compiled"]


def test_an_error_the_kernel_raises_on_purpose_is_raised_in_both_tiers():
    with pytest.raises(ValueError, match="x must be >= 0"):
        _refuse.py_func(-1.0)
    with pytest.raises(ValueError, match="x must be >= 0"):
        _refuse.dispatcher(-1.0)
    with pytest.raises(ValueError, match="x must be >= 0"):
        _refuse(-1.0)


def test_budget_switches_a_process_to_compiled_kernels():
    code = """
import json, sys, numpy as np
from fixedpoint import _jit
from tests.test_jit import _sum_of_squares
a = np.arange(4.0)
before = ("numba" in sys.modules, _jit.mode()["compiled"])
_sum_of_squares(a)           # interpreted: spends the (zero) budget
after_one = _jit.mode()["compiled"]
_sum_of_squares(a)           # compiled
print(json.dumps([before, after_one, "numba" in sys.modules, len(_sum_of_squares.dispatcher.signatures)]))
"""
    before, after_one, numba_now, n_signatures = json.loads(_python(code, FIXEDPOINT_JIT=None, FIXEDPOINT_JIT_BUDGET="0"))
    assert before == [False, False]
    assert after_one is True and numba_now and n_signatures == 1


def test_default_budget_keeps_a_short_job_interpreted_and_numba_unimported():
    code = """
import json, sys
import equations, fixedpoint
from fixedpoint import _jit
sol = fixedpoint.solve(equations.get("glm_bayes", prior="rademacher", channel="sign", alpha=1.3))
print(json.dumps([sol.converged, "numba" in sys.modules, _jit.mode()]))
"""
    converged, numba_imported, state = json.loads(_python(code, FIXEDPOINT_JIT=None, FIXEDPOINT_JIT_BUDGET=None))
    assert converged and not numba_imported
    assert state["mode"] == "auto" and not state["compiled"] and 0.0 < state["interpreted_seconds"] < state["budget"]


@pytest.mark.parametrize("variable, value", [("FIXEDPOINT_JIT", "bogus"), ("FIXEDPOINT_JIT_BUDGET", "-1"),
                                             ("FIXEDPOINT_JIT_BUDGET", "soon")])
def test_wrong_environment_is_a_value_error_naming_the_variable(variable, value):
    code = f"""
import json
from tests.test_jit import _square
try:
    _square(2.0)
except ValueError as e:
    print(json.dumps(str(e)))
"""
    message = json.loads(_python(code, **{variable: value}))
    assert variable in message and value in message


def test_command_line_reports_a_wrong_environment_in_one_line():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FIXEDPOINT_JIT": "fast"}
    proc = subprocess.run([sys.executable, "-m", "fixedpoint.cli", "solve", "spiked_wigner", "snr=2"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    assert "FIXEDPOINT_JIT" in proc.stderr and "Traceback" not in proc.stderr


def _tiered_examples():
    """The first example of every tiered model (all examples would interpret for ~2 minutes: the
    tabulated channels of glm_bayes take 25-35 s each as Python, which is what the budget is for)."""
    return [(name, 0) for name in sorted(equations.MODELS) if name not in _ALWAYS_COMPILED]


_SOLVE_ALL = """
import json, warnings
import numpy as np
import equations, fixedpoint
warnings.simplefilter("ignore")
out = {}
for name, i in json.loads(%r):
    params = equations.MODELS[name].examples[i]
    sol = fixedpoint.solve(equations.get(name, **params), start="informed")
    out[f"{name}[{i}]"] = [sol.converged, [float(v) for v in np.asarray(sol.x, float)]]
out["state"] = fixedpoint._jit.mode()
print(json.dumps(out))
"""


@pytest.mark.slow
def test_interpreted_and_compiled_kernels_reach_the_same_fixed_points():
    """Every tiered model's examples, solved by a process that never compiles and by one that
    compiles from the start: the same fixed points to rounding (the module docstring's claim)."""
    which = json.dumps(_tiered_examples())
    # an unlimited budget: everything interpreted, but for the kernels in which Python raised
    interpreted = json.loads(_python(_SOLVE_ALL % which, FIXEDPOINT_JIT="auto", FIXEDPOINT_JIT_BUDGET="1e9"))
    compiled = json.loads(_python(_SOLVE_ALL % which, FIXEDPOINT_JIT="compile"))
    state = interpreted.pop("state")
    assert not state["compiled"] and state["interpreted_seconds"] > 0.5
    # Python raises in few kernels (divisions by zero that Numba's IEEE arithmetic turns to inf)
    assert len(state["fallbacks"]) <= 5, state["fallbacks"]
    compiled.pop("state")
    assert interpreted.keys() == compiled.keys() and len(compiled) >= 10
    worst = {}
    for key, (conv_c, x_c) in compiled.items():
        conv_i, x_i = interpreted[key]
        assert conv_i == conv_c, key
        x_c, x_i = np.array(x_c), np.array(x_i)
        assert np.array_equal(np.isnan(x_c), np.isnan(x_i)), key
        ok = ~np.isnan(x_c)
        worst[key] = float(np.max(np.abs(x_c[ok] - x_i[ok]) / (1e-12 + np.abs(x_c[ok])), initial=0.0))
    # a contraction keeps rounding differences at rounding level; an iteration count that differs
    # by one moves the point by less than the solve's own tolerance (1e-10 relative)
    assert max(worst.values()) < 1e-9, sorted(worst.items(), key=lambda kv: -kv[1])[:5]
