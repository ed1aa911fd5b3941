"""fixedpoint: fast, verified solvers for saddle-point and state-evolution equations.

The engine knows nothing about any model: a model is any object following
:class:`fixedpoint.protocol.Model` (the registry of physics models lives in the separate
``equations`` package). Public API (DESIGN.md)::

    sol = fixedpoint.solve(model, start="uninformed")
    sw = fixedpoint.sweep(model, "snr", values, start="uninformed")
    diagram = fixedpoint.phase_diagram(model, {"rho": rhos, "snr": snrs})
    thr = fixedpoint.threshold(model, "snr", bracket=(0.5, 2.0), kind="stability")
    line = fixedpoint.threshold_line(model, "snr", (0.5, 2.0), over={"rho": rhos}, kind="spinodal")
    best = fixedpoint.optimize(model, "reg", observable="gen_error", bounds=(1e-4, 10.0))
    lines = fixedpoint.phase_lines(model, "snr", over={"rho": rhos}, within=(0.05, 2.0))
"""

import importlib
import sys
import types

from . import gaussian, matrices, quadrature, tabulate
from .continuation import sweep
from .protocol import Model
from .results import Optimum, PhaseDiagram, PhaseLine, PhaseLines, Solution, Status, Sweep, Threshold
from .solvers import Anderson, Damped, solve

#: public names whose modules import ``scipy.optimize`` (a third of a second) or the process
#: machinery of the diagrams: imported on first use, so ``import fixedpoint`` and a first
#: ``solve`` do not pay for them (PEP 562)
_LAZY = {
    "phase_diagram": "diagram",
    "optimize": "optimize",
    "phase_lines": "phase_lines",
    "ThresholdLine": "thresholds",
    "jacobian": "thresholds",
    "threshold": "thresholds",
    "threshold_line": "thresholds",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """The package's module type: importing the submodule ``fixedpoint.optimize`` (which the
    import system binds as an attribute of the package) leaves ``fixedpoint.optimize`` the
    public function, as an eager ``from .optimize import optimize`` did; the same for
    ``phase_lines``."""

    def __setattr__(self, name, value):
        if name in ("optimize", "phase_lines") and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "Anderson", "Damped", "Model", "Optimum", "PhaseDiagram", "PhaseLine", "PhaseLines", "Solution", "Status", "Sweep", "Threshold",
    "ThresholdLine", "gaussian", "jacobian", "matrices", "optimize", "phase_diagram", "phase_lines", "quadrature", "solve", "sweep", "tabulate", "threshold",
    "threshold_line",
]
__version__ = "0.1.0"
