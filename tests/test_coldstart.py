"""Cold start: what ``import fixedpoint`` pulls in and what a first solve compiles.

Each check runs in a fresh interpreter (the modules imported and the kernels compiled are
properties of a new process). Kernels are counted by their Numba signatures, which a process
registers whether it compiles a kernel or loads it from the on-disk cache; nothing here
measures time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import fixedpoint as fp
from fixedpoint.quadrature import sorted_copy

ROOT = Path(__file__).resolve().parents[1]

#: optional or heavy dependencies that neither the engine nor a solve needs (Numba: imported when a
#: kernel is first compiled, fixedpoint._jit)
HEAVY = ("numba", "sympy", "matplotlib", "scipy.optimize", "scipy.special", "pandas", "xarray", "mpmath", "dask", "tqdm")

#: prints, as JSON, {kernel: [signatures]} of the kernels this process has: those of fixedpoint and
#: equations, and Numba's own implementations they compiled (``numba.*``, e.g. ``np.empty``)
KERNELS = """
import gc, json
from numba.core.registry import CPUDispatcher
found = {}
for d in gc.get_objects():
    if isinstance(d, CPUDispatcher) and d.signatures:
        mod = d.py_func.__module__
        if mod.split(".")[0] in ("fixedpoint", "equations", "numba"):
            found[mod + "." + d.py_func.__qualname__] = [str(s) for s in d.signatures]
print(json.dumps(found))
"""


def _own(kernels: dict) -> dict:
    """The kernels of fixedpoint and equations among ``kernels``."""
    return {k: s for k, s in kernels.items() if k.startswith(("fixedpoint.", "equations."))}


def _string_machinery(kernels: dict) -> list:
    """Numba's string formatting compiled by a first solve: ~3 s of CPU for an error message
    built inside a kernel (a slice assignment from an array, an f-string in a raise)."""
    return [k for k in kernels if k.startswith("numba.cpython.unicode") or "raise_with_shape_context" in k]


def _python(code: str) -> str:
    """stdout of ``code`` run by a fresh interpreter that imports this checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


#: (name, params) -> the kernels of a first solve with an empty cache, each computed once
_COLD: dict = {}


def _kernels_of_first_solve(name: str, params: dict, cache_root: Path) -> dict:
    """``{kernel: [signatures]}`` after a first solve with an empty Numba cache.

    The cache must be empty: a kernel loaded from the cache brings the kernels it calls inside
    its own machine code, so only the kernels called from Python would be listed."""
    key = (name, json.dumps(params, sort_keys=True))
    if key not in _COLD:
        cache = cache_root / f"numba-{len(_COLD)}"
        code = (f"import os\nos.environ['NUMBA_CACHE_DIR'] = {str(cache)!r}\n"
                f"os.environ['FIXEDPOINT_JIT'] = 'compile'\n"
                f"import equations, fixedpoint\n"
                f"fixedpoint.solve(equations.get({name!r}, **{params!r}), start='informed')\n" + KERNELS)
        _COLD[key] = json.loads(_python(code).strip().splitlines()[-1])
    return _COLD[key]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("coldstart")


def test_import_does_not_pull_heavy_dependencies():
    code = "import sys, json, equations, fixedpoint\nprint(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(_python(code)))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_lazy_public_names_are_the_functions_of_their_modules():
    code = """
import fixedpoint.optimize, fixedpoint.thresholds, fixedpoint.diagram
import fixedpoint as fp
from fixedpoint import optimize as opt_fn
assert callable(fp.optimize) and fp.optimize is opt_fn, fp.optimize
assert fp.optimize is __import__("sys").modules["fixedpoint.optimize"].optimize
assert fp.threshold is fixedpoint.thresholds.threshold
assert fp.threshold_line is fixedpoint.thresholds.threshold_line
assert fp.ThresholdLine is fixedpoint.thresholds.ThresholdLine
assert fp.jacobian is fixedpoint.thresholds.jacobian
assert fp.phase_diagram is fixedpoint.diagram.phase_diagram
assert set(fp.__all__) <= set(dir(fp))
try:
    fp.no_such_name
except AttributeError as e:
    assert "no_such_name" in str(e)
else:
    raise AssertionError("no AttributeError")
print("ok")
"""
    assert _python(code).strip() == "ok"


def test_lazy_name_first_then_submodule():
    # the function first (through the package), then the submodule imported explicitly
    code = """
import fixedpoint as fp
f = fp.optimize
import fixedpoint.optimize
assert fp.optimize is f and callable(f)
from fixedpoint import threshold
import fixedpoint.thresholds as T
assert threshold is T.threshold
print("ok")
"""
    assert _python(code).strip() == "ok"


def _one_specialisation_each(kernels: dict) -> dict:
    """The kernels compiled more than once, or for a constant (a literal int would compile a
    kernel once per value): none expected."""
    return {k: s for k, s in kernels.items() if len(s) > 1 or any("Literal" in t for t in s)}


@pytest.mark.slow
def test_spiked_wigner_first_solve_compiles_only_its_kernels(cache_root):
    kernels = _kernels_of_first_solve("spiked_wigner", {"prior": "rademacher", "snr": 2.0}, cache_root)
    assert "equations.priors._sr_averages" in kernels
    assert "fixedpoint.solvers._anderson_mix" in kernels
    foreign = [k for k in kernels if k.startswith(("equations.channels.", "equations.glm_erm.", "equations.losses."))]
    assert not foreign
    assert not _one_specialisation_each(_own(kernels))
    # the averages' helpers are inlined into the kernels that call them, not compiled on their own
    helpers = ("_windows", "_merge_windows", "_n_steps", "_sr_posterior", "_log_cosh", "_sech2")
    assert not [h for h in helpers if f"equations.priors.{h}" in kernels]
    assert not _string_machinery(kernels)


@pytest.mark.slow
@pytest.mark.parametrize("channel, used, unused", [
    ("sign", ("_sign_step", "_class_integrals", "_sign_panels"), ("_linear_step", "_linear_integrals")),
    # (the mirror image, 15 s of CI, in the exhaustive run)
    pytest.param("linear", ("_linear_step", "_linear_integrals"), ("_sign_step", "_class_integrals", "_sign_panels"),
                 marks=pytest.mark.exhaustive),
])
def test_glm_erm_first_solve_compiles_only_its_teacher(channel, used, unused, cache_root):
    params = {"loss": "square", "alpha": 2.0, "reg": 0.1, "channel": channel}
    kernels = _kernels_of_first_solve("glm_erm", params, cache_root)
    assert all(f"equations.glm_erm.{k}" in kernels for k in used)
    assert not [k for k in unused if f"equations.glm_erm.{k}" in kernels]
    assert not [k for k in kernels if k.startswith(("equations.priors.", "equations.channels."))]
    assert not _one_specialisation_each(_own(kernels))
    assert not _string_machinery(kernels)


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(0, 120),
              elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                 st.sampled_from([0.0, -0.0, 1.0, -1.0]))))
def test_sorted_copy_returns_what_np_sort_returns(a):
    before = a.copy()
    out = sorted_copy(a)
    expected = np.sort(a)
    assert out.shape == a.shape
    # equal values, NaNs last (signed zeros compare equal, as np.sort leaves their order open)
    assert np.array_equal(out, expected, equal_nan=True)
    assert np.array_equal(a, before, equal_nan=True)  # a copy: the argument is left as it was


@dataclasses.dataclass(frozen=True)
class _Where:
    """``x -> a x + b``; its observable is the process that computed the point."""

    a: float = 0.5
    b: float = 0.0
    name: ClassVar[str] = "where"
    state_names: ClassVar[tuple] = ("x",)

    def initial_state(self, start="uninformed"):
        return np.zeros(1)

    def update(self, x):
        return self.a * x + self.b

    def observables(self, x):
        return {"pid": float(os.getpid())}

    def simulate(self, d, seed):
        return {}


def test_a_pool_diagram_computes_its_first_row_before_starting_the_workers():
    # so that the workers, forked after it, inherit the kernels it compiled instead of each
    # compiling them again (the pool forks its workers at the first submit)
    d = fp.phase_diagram(_Where(), {"a": [0.1, 0.2, 0.3, 0.4], "b": [0.0, 1.0]}, executor=2)
    pids = d.observables["pid"]
    assert np.all(pids[0] == os.getpid())
    assert not np.any(pids[1:] == os.getpid())
    assert np.allclose(d.x[..., 0], np.array([0.0, 1.0]) / (1.0 - np.array([[0.1], [0.2], [0.3], [0.4]])))
    serial = fp.phase_diagram(_Where(), {"a": [0.1, 0.2, 0.3, 0.4], "b": [0.0, 1.0]})
    assert np.array_equal(serial.x, d.x)
