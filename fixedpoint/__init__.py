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
"""

from . import quadrature, tabulate
from .continuation import sweep
from .diagram import phase_diagram
from .optimize import optimize
from .phase_lines import phase_lines
from .protocol import Model
from .results import Optimum, PhaseDiagram, PhaseLine, PhaseLines, Solution, Status, Sweep, Threshold
from .solvers import Anderson, Damped, solve
from .thresholds import ThresholdLine, jacobian, threshold, threshold_line

__all__ = [
    "Anderson", "Damped", "Model", "Optimum", "PhaseDiagram", "PhaseLine", "PhaseLines", "Solution", "Status", "Sweep", "Threshold",
    "ThresholdLine", "jacobian", "optimize", "phase_diagram", "phase_lines", "quadrature", "solve", "sweep", "tabulate", "threshold",
    "threshold_line",
]
__version__ = "0.1.0"
