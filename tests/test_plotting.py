"""Plot helpers: stable branches solid, metastable dashed, thresholds and lines drawn; figures
checked through their artists (legend texts, colours against the heat map under the lines,
region names where the regions are, markers, labels, scales), not through pixels."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fixedpoint as fp  # noqa: E402
from fixedpoint.plotting import FIGSIZE, FONTSIZE, plot_diagram, plot_sweep, save_figure  # noqa: E402
from fixedpoint.results import PhaseDiagram, PhaseLine, PhaseLines, Sweep  # noqa: E402

from .toymodels import Asymmetric  # noqa: E402

RHO_C = 0.0964  # the tricritical sparsity of the sparse Rademacher spiked Wigner model (rough)
LABELS = {"snr": r"$\lambda$", "rho": r"$\rho$", "mmse": "MMSE", "m": r"overlap $m$"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _sparse_wigner_lines():
    """The sparse spiked Wigner picture, roughly: weak recovery at snr = 1 for every rho; below the
    tricritical sparsity the lower spinodal < IT < 1 < algorithmic, meeting at the tricritical point."""
    rho = np.linspace(0.02, 0.3, 29)
    first = rho <= RHO_C
    t = (RHO_C - rho) / RHO_C

    def line(kind, start, name, values, where):
        v = np.where(where, values, np.nan)
        return PhaseLine(kind=kind, start=start, name=name, param="snr", over="rho", over_values=rho, values=v,
                         converged=np.isfinite(v), intervals=((float(rho[where][0]), float(rho[where][-1])),))

    lines = (line("stability", None, "weak recovery", np.ones_like(rho), np.ones_like(rho, bool)),
             line("spinodal", "uninformed", "algorithmic", 1.04 + 0.02 * t, first),
             line("spinodal", "informed", "lower spinodal", 1.04 - 0.9 * t, first),
             line("first_order", None, "IT", 1.04 - 0.5 * t, first))
    tricritical = {"kind": "tricritical", "rho": RHO_C, "snr": 1.04}
    return PhaseLines(param="snr", over="rho", lines=lines, points=(tricritical,))


def _diagram(rho, snr):
    """A hand-made (rho, snr) diagram: MMSE 1 below snr = 1, falling above (dark on viridis)."""
    r, s = np.meshgrid(rho, snr, indexing="ij")
    m = np.clip((s - 1.0) / (s + r), 0.0, 1.0)
    shape = m.shape
    return PhaseDiagram(params=("rho", "snr"), values=(rho, snr), x=m[..., None], names=("m",),
                        converged=np.ones(shape, bool), status=np.full(shape, "converged"),
                        iterations=np.ones(shape, int), evaluations=np.ones(shape, int),
                        observables={"mmse": 1.0 - m ** 2})


def _mesh_rgb(ax, d, observable, x, y):
    """The colour the heat map shows at data point (x, y): the cell of the nearest grid value."""
    from matplotlib.collections import QuadMesh

    mesh, = [c for c in ax.collections if isinstance(c, QuadMesh)]
    i = np.argmin(abs(d.values[0] - y))
    j = np.argmin(abs(d.values[1] - x))
    return np.asarray(mesh.cmap(mesh.norm(d[observable][i, j])))[:3]


def test_plot_diagram_draws_phase_lines_for_a_paper(tmp_path):
    from matplotlib.colors import to_rgb

    lines = _sparse_wigner_lines()
    d = _diagram(np.linspace(0.02, 0.3, 30), np.linspace(0.05, 2.0, 60))
    ax = plot_diagram(d, "mmse", lines=lines, labels=LABELS)
    fig = ax.figure
    np.testing.assert_allclose(fig.get_size_inches()[0], 3.4)  # one column of a two-column paper
    # physics names on the axes and on the colorbar
    assert ax.get_xlabel() == r"$\lambda$" and ax.get_ylabel() == r"$\rho$"
    cbar_ax, = [a for a in fig.axes if a is not ax]
    assert cbar_ax.get_ylabel() == "MMSE"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["weak recovery", "algorithmic", "lower spinodal", "IT", "tricritical point"]
    frame = ax.get_legend().get_frame()
    assert frame.get_alpha() in (None, 1.0) and to_rgb(frame.get_facecolor()) == (1.0, 1.0, 1.0)
    drawn = {ln.get_label(): ln for ln in ax.lines}
    physics = ("weak recovery", "algorithmic", "lower spinodal", "IT")
    colours = {name: to_rgb(drawn[name].get_color()) for name in physics}
    assert len(set(colours.values())) == 4  # each its own colour; IT solid, the others dashed or dotted
    assert [drawn[n].get_linestyle() == "-" for n in colours] == [False, False, False, True]
    for name, rgb in colours.items():
        # every line stands apart from the map where it runs, and has an outline
        xs, ys = drawn[name].get_xdata(), drawn[name].get_ydata()
        ok = np.flatnonzero(np.isfinite(xs))
        for k in ok[:: max(1, ok.size // 5)]:
            assert np.linalg.norm(np.subtract(rgb, _mesh_rgb(ax, d, "mmse", xs[k], ys[k]))) > 0.3, (name, xs[k], ys[k])
        assert drawn[name].get_path_effects()
    # the tricritical point, marked where it is
    star = drawn["tricritical point"]
    assert star.get_marker() not in ("None", "", None)
    np.testing.assert_allclose([star.get_xdata()[0], star.get_ydata()[0]], [1.04, RHO_C])
    # each region named once, at a point of that region
    texts = {t.get_text(): t.xy if hasattr(t, "xy") and t.arrow_patch is not None else t.get_position()
             for t in ax.texts}
    assert set(texts) == {"impossible", "hard", "easy"}
    for name, (x, y) in texts.items():
        if not any(getattr(t, "arrow_patch", None) is not None and t.get_text() == name for t in ax.texts):
            assert lines.region(y, x) == name, (name, x, y)
    # every text is at least 7 points, the axis labels at FONTSIZE
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize")) if t.get_text()]
    assert min(sizes) >= 7 and ax.xaxis.label.get_fontsize() == FONTSIZE
    paths = save_figure(fig, tmp_path / "diagram", formats=("png", "pdf"))
    assert [p.name for p in paths] == ["diagram.png", "diagram.pdf"] and all(p.stat().st_size > 1000 for p in paths)
    assert paths[1].read_bytes()[:4] == b"%PDF"


def test_plot_diagram_transposed_grid_and_a_log_axis():
    lines = _sparse_wigner_lines()
    snr = np.geomspace(0.1, 2.0, 40)
    d = _diagram(np.linspace(0.02, 0.3, 20), snr)
    swapped = PhaseDiagram(params=("snr", "rho"), values=(snr, d.values[0]), x=np.swapaxes(d.x, 0, 1),
                           names=d.names, converged=d.converged.T, status=d.status.T, iterations=d.iterations.T,
                           evaluations=d.evaluations.T, observables={"mmse": d["mmse"].T})
    ax = plot_diagram(swapped, "mmse", lines=lines, labels=LABELS, legend="best")
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    assert ax.get_xlabel() == r"$\rho$" and ax.get_ylabel() == r"$\lambda$"
    it = [ln for ln in ax.lines if ln.get_label() == "IT"][0]
    np.testing.assert_allclose(it.get_xdata(), lines["IT"].over_values)  # rho now on the x axis
    for t in ax.texts:
        if getattr(t, "arrow_patch", None) is None:
            x, y = t.get_position()
            assert lines.region(x, y) == t.get_text()
    with pytest.raises(ValueError, match="legend"):
        plot_diagram(swapped, "mmse", lines=lines, legend="outside")
    bad = PhaseLines(param="snr", over="alpha", lines=())
    with pytest.raises(ValueError, match="alpha"):
        plot_diagram(d, "mmse", lines=bad)


def test_plot_diagram_styles_command_line_tuples_as_physics_lines():
    d = _diagram(np.linspace(0.02, 0.3, 10), np.linspace(0.05, 2.0, 20))
    rho = d.values[0]
    ax = plot_diagram(d, "mmse", lines=[("first_order", 0.9 + rho, rho), ("spinodal (uninformed)", 1.1 + rho, rho),
                                        ("my line", 0.5 + rho, rho)])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["IT", "algorithmic", "my line"]
    assert ax.get_xlabel() == "snr" and ax.get_ylabel() == "rho"  # no labels: the raw names
    ref = plot_diagram(d, "mmse", lines=_sparse_wigner_lines())
    colour = {ln.get_label(): ln.get_color() for ln in ref.lines}
    assert ax.lines[0].get_color() == colour["IT"] and ax.lines[1].get_color() == colour["algorithmic"]
    with pytest.raises(ValueError, match="labels"):
        plot_diagram(d, "mmse", labels=["snr"])


def test_plot_sweep_legend_labels_thresholds_and_log_axis():
    values = np.geomspace(0.1, 3.0, 30)
    m = np.clip(1 - 1 / values, 0, None)
    sw = Sweep(param="snr", values=values, x=m[:, None], names=("m",), converged=np.ones(30, bool),
               status=np.full(30, "converged"), iterations=np.ones(30, int), evaluations=np.ones(30, int),
               observables={}, messages=("",) * 30, start="uninformed")
    lines = _sparse_wigner_lines()
    ax = plot_sweep(sw, "m", thresholds=[lines, ("BBP", 1.0)], at=0.05, labels=LABELS, label="state evolution")
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == r"$\lambda$" and ax.get_ylabel() == r"overlap $m$"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # every line of the picture exists at rho = 0.05, and is marked with its value there
    assert legend[0] == "state evolution" and len(legend) == 6
    for line in lines:
        assert f"{line.name} ({float(line(0.05)):.4g})" in legend
    ax = plot_sweep(sw, "m", thresholds=[lines], at=0.2)  # above the tricritical sparsity: weak recovery only
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["weak recovery (1)"]
    with pytest.raises(ValueError, match="at"):
        plot_sweep(sw, "m", thresholds=[lines])
    with pytest.raises(ValueError, match="thresholds"):
        plot_sweep(sw, "m", thresholds=[3.0])


def test_save_figure_validates_formats(tmp_path):
    ax = plot_sweep(_sweeps()[0], "x", figsize="double")
    np.testing.assert_allclose(ax.figure.get_size_inches(), FIGSIZE["double"])
    paths = save_figure(ax, tmp_path / "sweep.png")
    assert [p.name for p in paths] == ["sweep.png"]
    for bad in ((), ("png", "docx")):
        with pytest.raises(ValueError, match="formats"):
            save_figure(ax.figure, tmp_path / "sweep", formats=bad)
    with pytest.raises(ValueError, match="figsize"):
        plot_sweep(_sweeps()[0], "x", figsize="poster")


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
    # the informed branch is metastable (dashed) below the crossing, where it coexists; the dashed
    # stretch reaches the first stable point above it, so that the branch has no gap
    xd = np.asarray(dashed[1].get_xdata())[np.isfinite(np.asarray(dashed[1].get_ydata(), float))]
    assert xd.size > 1 and np.all(xd[:-1] < thr.value) and xd[-1] == hi.values[hi.values > thr.value][0]
    # solid below the crossing only where the informed start lands on the uninformed branch
    xs = np.asarray(solid[1].get_xdata())[np.isfinite(np.asarray(solid[1].get_ydata(), float))]
    below = np.isin(hi.values, xs[xs < thr.value])
    np.testing.assert_allclose(hi["x"][below], lo["x"][below], atol=1e-8)
    assert below.sum() < len(xs)
    # the threshold: a vertical line in the style of the IT line, its value in the legend
    mark, = [ln for ln in ax.lines if ln.get_label().startswith("IT")]
    np.testing.assert_allclose(mark.get_xdata(), [thr.value, thr.value])
    assert ax.get_legend() is not None
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
