"""Plot helpers: stable branches solid, metastable dashed, thresholds and lines drawn."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fixedpoint as fp  # noqa: E402
from fixedpoint.plotting import plot_diagram, plot_sweep  # noqa: E402

from .toymodels import Asymmetric  # noqa: E402




def _sweeps():
    ps = np.linspace(-0.6, 0.6, 25)
    return [fp.sweep(Asymmetric(), "p", ps, start=s) for s in ("uninformed", "informed")]


def test_plot_sweep_marks_metastable_branch_dashed(tmp_path):
    import dataclasses

    lo, hi = _sweeps()
    # attach the free entropy as an observable so that the plot can compare the branches
    phi = lambda sw: np.array([Asymmetric(p=p).free_entropy(np.array([x])) for p, x in zip(sw.values, sw["x"])])
    lo = dataclasses.replace(lo, observables={"free_entropy": phi(lo)})
    hi = dataclasses.replace(hi, observables={"free_entropy": phi(hi)})
    thr = fp.threshold(Asymmetric(), "p", (-0.6, 0.6), kind="first_order")
    ax = plot_sweep([lo, hi], "x", thresholds=[thr])
    solid = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    # the informed branch is metastable (dashed) below the crossing, where it coexists
    xd = np.asarray(dashed[1].get_xdata())[np.isfinite(np.asarray(dashed[1].get_ydata(), float))]
    assert xd.size and np.all(xd < thr.value)
    # solid below the crossing only where the informed start lands on the uninformed branch
    xs = np.asarray(solid[1].get_xdata())[np.isfinite(np.asarray(solid[1].get_ydata(), float))]
    below = np.isin(hi.values, xs[xs < thr.value])
    np.testing.assert_allclose(hi["x"][below], lo["x"][below], atol=1e-8)
    assert below.sum() < len(xs)
    assert any(ln.get_linestyle() == ":" for ln in ax.lines)  # the threshold
    ax.figure.savefig(tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_plot_diagram_with_a_threshold_line(tmp_path):
    grid = {"c": np.linspace(0, 0.4, 4), "p": np.linspace(-1, 1, 11)}
    d = fp.phase_diagram(Asymmetric(), grid)
    line = fp.threshold_line(Asymmetric(), "p", (-1, 1), over={"c": grid["c"]}, kind="spinodal")
    ax = plot_diagram(d, "x", lines=[line])
    assert ax.get_xlabel() == "p" and ax.get_ylabel() == "c"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), grid["c"])
    ax.figure.savefig(tmp_path / "d.png")
    bad = fp.threshold_line(Asymmetric(), "c", (0, 0.4), over={"p": [0.0]}, kind="level", observable="x", level=5.0)
    with pytest.raises(ValueError):
        plot_sweep([], "x")
    assert np.isnan(bad.values).all()


def test_plot_diagram_uses_a_log_axis_for_a_geometric_grid():
    grid = {"c": np.geomspace(0.01, 0.4, 5), "p": np.linspace(-1, 1, 5)}
    ax = plot_diagram(fp.phase_diagram(Asymmetric(), grid), "x")
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    grid = {"c": np.linspace(0.01, 0.4, 5), "p": np.linspace(0.1, 1, 5)}
    ax = plot_diagram(fp.phase_diagram(Asymmetric(), grid), "x")
    assert ax.get_yscale() == "linear" and ax.get_xscale() == "linear"
