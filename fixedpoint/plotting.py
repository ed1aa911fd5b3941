"""Matplotlib helpers for figures fit for a paper (matplotlib is imported when a function is
called, not with the package).

``plot_sweep``: one or two branches of a sweep; where the branches from "uninformed" and
"informed" coexist and the model has a free entropy, the branch with the larger free entropy is
drawn solid (stable) and the other dashed (metastable); thresholds are marked as vertical lines.
``plot_diagram``: a phase-diagram heat map with its transition lines, special points and the
names of the regions ("impossible", "hard", "easy") on top.
``save_figure``: a PNG plus, on request, vector formats.

Figures default to the width of one column of a two-column paper (:data:`FIGSIZE`), with text
of :data:`FONTSIZE` points (axis labels) and one point less (ticks, legends, annotations), so
that they stay legible printed at their own size. Every physics line has a fixed colour and
dash (:data:`LINE_STYLES`) and a thin black outline, so that it stands out on dark and light
colours alike; legends have an opaque white frame. Axis and colorbar labels come from the
model's optional ``labels`` (``{"snr": r"$\\lambda$", "mmse": "MMSE"}``), passed as ``labels=``
(a mapping, or the model itself) because results keep only the model's ``repr``; a name without
a label is printed as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["plot_sweep", "plot_diagram", "save_figure", "FIGSIZE", "FONTSIZE", "LINE_STYLES"]

#: figure sizes in inches: one column and the full width of a two-column paper
FIGSIZE = {"single": (3.4, 2.6), "double": (7.0, 3.2)}
#: axis labels; ticks, legends and annotations are one point smaller (never below 7 pt)
FONTSIZE = 8
_SMALL = FONTSIZE - 1

#: colour and dash of each physics line, keyed by ``PhaseLine.key`` (IT: red solid, algorithmic:
#: orange dashed, lower spinodal: pink dash-dot, weak recovery: white dotted); other lines take
#: :data:`_OTHER_STYLES` in turn
LINE_STYLES = {
    "first_order": {"color": "#e41a1c", "linestyle": "-"},
    "spinodal_uninformed": {"color": "#ff8c00", "linestyle": (0, (4.0, 1.5))},
    "spinodal_informed": {"color": "#f781bf", "linestyle": (0, (4.0, 1.5, 1.0, 1.5))},
    "stability": {"color": "#ffffff", "linestyle": (0, (1.0, 1.2))},
}
_OTHER_STYLES = ({"color": "#00e5ff", "linestyle": (0, (3.0, 1.0, 1.0, 1.0, 1.0, 1.0))},
                 {"color": "#b2df8a", "linestyle": "-"},
                 {"color": "#cab2d6", "linestyle": (0, (2.0, 1.0))},
                 {"color": "#ffff33", "linestyle": (0, (5.0, 1.0, 1.0, 1.0))})
#: what the engine and the command line call the lines, mapped to ``PhaseLine.key``
_LINE_KEYS = {"stability": "stability", "weak recovery": "stability",
              "first_order": "first_order", "IT": "first_order", "information-theoretic": "first_order",
              "spinodal (uninformed)": "spinodal_uninformed", "spinodal_uninformed": "spinodal_uninformed",
              "algorithmic": "spinodal_uninformed",
              "spinodal (informed)": "spinodal_informed", "spinodal_informed": "spinodal_informed",
              "lower spinodal": "spinodal_informed"}
#: the physics name shown in legends, by ``PhaseLine.key``
_LINE_NAMES = {"stability": "weak recovery", "first_order": "IT", "spinodal_uninformed": "algorithmic",
               "spinodal_informed": "lower spinodal"}
#: marker of each kind of special point of :class:`fixedpoint.PhaseLines`
_POINT_STYLES = {"tricritical": {"marker": "*", "markersize": 10},
                 "critical": {"marker": "o", "markersize": 6}}
#: the regions of :meth:`fixedpoint.PhaseLines.regions` that are named on a diagram
_REGION_NAMES = ("impossible", "hard", "easy")
_LINE_WIDTH, _OUTLINE = 1.3, 1.4  # the outline adds this much to the line width


def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    if isinstance(figsize, str):
        if figsize not in FIGSIZE:
            raise ValueError(f"figsize must be one of {sorted(FIGSIZE)} or (width, height) in inches, got {figsize!r}")
        figsize = FIGSIZE[figsize]
    _, ax = plt.subplots(figsize=figsize)
    return ax


def _labels(labels) -> Mapping:
    """The name -> label mapping from ``labels`` (a mapping, a model with ``labels``, or None)."""
    if labels is None:
        return {}
    if isinstance(labels, Mapping):
        return labels
    found = getattr(labels, "labels", None)
    if isinstance(found, Mapping):
        return found
    raise ValueError(f"labels must be a mapping of names to labels or a model with a `labels` mapping, got {labels!r}")


def _outline(width=_LINE_WIDTH):
    from matplotlib import patheffects

    return [patheffects.Stroke(linewidth=width + _OUTLINE, foreground="k"), patheffects.Normal()]


def _line_style(key, k_other: int, width=_LINE_WIDTH) -> dict:
    style = LINE_STYLES.get(key) or _OTHER_STYLES[k_other % len(_OTHER_STYLES)]
    return dict(style, linewidth=width, path_effects=_outline(width))


def _finish_axes(ax, xlabel, ylabel):
    ax.set_xlabel(xlabel, fontsize=FONTSIZE)
    ax.set_ylabel(ylabel, fontsize=FONTSIZE)
    ax.tick_params(labelsize=_SMALL)
    # a title set later (the command line's names the model and its parameters) wraps at the
    # figure's edge instead of running off a one-column figure
    ax.title.set_wrap(True)


def _legend(ax, **kw):
    style = dict(fontsize=_SMALL, framealpha=1.0, facecolor="white", edgecolor="0.4", fancybox=False,
                 handlelength=2.4, borderpad=0.35, labelspacing=0.3, borderaxespad=0.4)
    leg = ax.legend(**{**style, **kw})
    leg.get_frame().set_linewidth(0.6)
    return leg


def plot_sweep(sweeps, observable: str, *, free_entropy: str | None = "free_entropy", thresholds=(), at=None,
               labels=None, ax=None, label=None, color=None, figsize="single"):
    """Plot ``observable`` along one or two sweeps of the same parameter.

    Parameters
    ----------
    sweeps : Sweep or sequence of Sweep
        Typically ``(sweep_from_uninformed, sweep_from_informed)``.
    observable : str
        State entry or observable to plot.
    free_entropy : str or None
        Observable used to tell stable (solid) from metastable (dashed) where two branches
        differ; ``None`` draws every branch solid.
    thresholds : sequence of Threshold, PhaseLine, PhaseLines or (label, value)
        Marked as vertical lines in the style of the same line on a diagram, with their value
        in the legend. A ``PhaseLine`` (or every line of a ``PhaseLines``) is evaluated at
        ``at``; a line that does not exist there is left out.
    at : float, optional
        The value of the lines' ``over`` parameter at which the sweep was taken (needed for
        ``PhaseLine`` thresholds).
    labels : mapping or model, optional
        Physics names of the parameter and the observable (``model.labels``, or the model).
    ax : matplotlib Axes, optional
    label : str, optional
        Legend entry of the (stable) curve.
    color : color, optional
    figsize : "single", "double" or (width, height)
        Size of a new figure (:data:`FIGSIZE`); ignored with ``ax``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .results import Sweep

    sweeps = [sweeps] if isinstance(sweeps, Sweep) else list(sweeps)
    if not sweeps:
        raise ValueError("sweeps must contain at least one Sweep")
    param = sweeps[0].param
    if any(s.param != param for s in sweeps):
        raise ValueError("all sweeps must be along the same parameter")
    names = _labels(labels)
    marks = _threshold_marks(thresholds, param, at)
    ax = _axes(ax, figsize)
    color = color or "C0"
    phis = None
    if free_entropy and len(sweeps) > 1 and all(free_entropy in s.observables for s in sweeps):
        phis = np.vstack([s[free_entropy] for s in sweeps])
    metastable = False
    if phis is not None:
        # where a branch sits on another one (it jumped there, or the two never split)
        states = np.stack([np.asarray(s.x, float)[np.argsort(s.values)] for s in sweeps])
        on_other = [np.any([np.all(abs(states[k] - states[o]) <= 1e-6 * (1 + abs(states[k])), axis=-1)
                            for o in range(len(sweeps)) if o != k], axis=0) for k in range(len(sweeps))]
    for k, s in enumerate(sweeps):
        y = np.asarray(s[observable], float)
        v = np.asarray(s.values, float)
        order = np.argsort(v)
        v, y = v[order], y[order]
        if phis is None:
            ax.plot(v, y, "-", color=color, lw=1.4, label=label if k == 0 else None)
            continue
        phi = phis[:, order]
        stable = phi[k] >= np.nanmax(phi, axis=0) - 1e-12
        ax.plot(v, np.where(stable, y, np.nan), "-", color=color, lw=1.4,
                label=(label or "stable") if k == 0 else None)
        # the dashed stretch reaches the neighbouring solid point of the same branch, so that the
        # branch has no gap where it turns stable (at a first-order point); not where the branch
        # jumped onto another one (at a spinodal), which would draw a vertical line
        meta = ~stable
        meta = meta | ((np.r_[meta[1:], False] | np.r_[False, meta[:-1]]) & ~on_other[k])
        dashed = np.where(meta, y, np.nan)
        shown = bool(np.isfinite(dashed).any()) and not metastable
        metastable |= shown
        ax.plot(v, dashed, "--", color=color, lw=1.4, alpha=0.85, label="metastable" if shown else None)
    k_other = 0
    for key, name, value in marks:
        ax.axvline(value, label=f"{name} ({value:.4g})", zorder=1.5, **_line_style(key, k_other, width=1.0))
        k_other += key not in LINE_STYLES
    if _geometric(np.concatenate([np.asarray(s.values, float) for s in sweeps])):
        ax.set_xscale("log")
    _finish_axes(ax, names.get(param, param), names.get(observable, observable))
    if any(ln.get_label() and not ln.get_label().startswith("_") for ln in ax.lines):
        _legend(ax, loc="best")
    return ax


def _threshold_marks(thresholds, param, at):
    """``(key, name, value)`` of each finite threshold, checked against the swept ``param``."""
    from .results import PhaseLine, PhaseLines

    marks = []
    for t in thresholds:
        if isinstance(t, (PhaseLine, PhaseLines)):
            if at is None:
                raise ValueError("at must give the value of the lines' `over` parameter to mark a PhaseLine")
            for line in (t.lines if isinstance(t, PhaseLines) else (t,)):
                if line.param != param:
                    raise ValueError(f"thresholds: a line in {line.param!r} does not mark a sweep in {param!r}")
                marks.append((line.key, line.name, float(line(float(at)))))
        elif hasattr(t, "kind") and hasattr(t, "value"):
            if getattr(t, "param", param) != param:
                raise ValueError(f"thresholds: a threshold in {t.param!r} does not mark a sweep in {param!r}")
            # a spinodal's solutions say which branch ends (its start)
            start = getattr(t.below, "start", None) or getattr(t.above, "start", None)
            key = f"spinodal_{start}" if t.kind == "spinodal" and isinstance(start, str) else t.kind
            key = _LINE_KEYS.get(key, key)
            marks.append((key, _LINE_NAMES.get(key, t.kind), float(t.value)))
        else:
            try:
                name, value = t
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"thresholds: expected a Threshold, a PhaseLine or (label, value), "
                                 f"got {t!r}") from None
            key = _LINE_KEYS.get(name, name)
            marks.append((key, name, value))
    return [m for m in marks if math.isfinite(m[2])]


def plot_diagram(diagram, observable: str, *, lines=(), labels=None, regions: bool = True, legend="below",
                 ax=None, cmap="viridis", colorbar: bool = True, figsize=(3.4, 3.0)):
    """Heat map of ``observable`` over a phase diagram, with its transition lines on top.

    The first parameter of the diagram is on the vertical axis, the second on the horizontal
    one; a geometric grid is drawn on a log axis.

    Parameters
    ----------
    diagram : PhaseDiagram
    observable : str
    lines : PhaseLines, or sequence of PhaseLine, ThresholdLine or (label, x_values, y_values)
        Drawn on top, each physics line in its own colour and dash (:data:`LINE_STYLES`; a
        tuple labelled with an engine or physics name, e.g. ``"first_order"``, ``"spinodal
        (uninformed)"``, ``"weak recovery"``, takes that line's style and physics name). A line
        traced in either parameter of the diagram over the other is drawn in its axes. A
        ``PhaseLines`` also marks its special points (tricritical, critical) and, with
        ``regions``, names the regions "impossible", "hard" and "easy" where there is room.
    labels : mapping or model, optional
        Physics names of the parameters and the observable: ``model.labels`` (or the model
        itself; a ``PhaseDiagram`` keeps only the model's ``repr``). Missing names are printed
        as they are.
    regions : bool
        Name the regions of a ``PhaseLines``; a region too small for its name is named from
        the nearest place with room, with an arrow.
    legend : "below", "best" or None
        Below the axes (default: it hides nothing, and a title above stays free), inside where
        it hides least, or none.
    ax : matplotlib Axes, optional
    cmap : str or Colormap
    colorbar : bool
    figsize : "single", "double" or (width, height)
        Size of a new figure (:data:`FIGSIZE`; by default one column, a little taller than
        ``"single"`` to hold the legend below); ignored with ``ax``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .results import PhaseLines

    if legend not in ("below", "best", None):
        raise ValueError(f"legend must be 'below', 'best' or None, got {legend!r}")
    names = _labels(labels)
    p1, p2 = diagram.params
    v1, v2 = (np.asarray(v, float) for v in diagram.values)
    if isinstance(lines, PhaseLines) and {lines.param, lines.over} != {p1, p2}:
        raise ValueError(f"lines in {lines.param} over {lines.over} do not fit a diagram in {p1}, {p2}")
    drawn = [_diagram_line(line, p1, p2) for line in lines]
    z = np.asarray(diagram[observable], float)
    ax = _axes(ax, figsize)
    # cells centred on the grid values; a geometric grid (e.g. CLI ``noise=0.01:1:20:log``) is
    # drawn on a log axis with cells of equal widths there
    log2, log1 = _geometric(v2), _geometric(v1)
    mesh = ax.pcolormesh(_cell_edges(v2, log2), _cell_edges(v1, log1), z, shading="flat", cmap=cmap,
                         rasterized=True)
    if colorbar:
        cb = ax.figure.colorbar(mesh, ax=ax)
        cb.set_label(names.get(observable, observable), fontsize=FONTSIZE)
        cb.ax.tick_params(labelsize=_SMALL)
    if log2:
        ax.set_xscale("log")
    if log1:
        ax.set_yscale("log")
    ax.set_xlim(*_cell_edges(v2, log2)[[0, -1]])
    ax.set_ylim(*_cell_edges(v1, log1)[[0, -1]])
    k_other = 0
    for key, name, xs, ys in drawn:
        ax.plot(xs, ys, label=name, **_line_style(key, k_other))
        k_other += key not in LINE_STYLES
    if isinstance(lines, PhaseLines):
        _mark_points(ax, lines.points, p1, p2)
        if regions and len(lines):  # without any transition the whole diagram is one phase: no names
            _name_regions(ax, mesh, lines, p1, p2)
    _finish_axes(ax, names.get(p2, p2), names.get(p1, p1))
    entries = len(drawn) + len({p.get("kind") for p in getattr(lines, "points", ())})
    if entries and legend == "best":
        _legend(ax, loc="best")
    elif entries and legend == "below":
        # under the x label: the pad (in font sizes) clears tick labels and the axis label
        clear = (ax.xaxis.get_tick_padding() + 2 * _SMALL + 2 * FONTSIZE) / _SMALL
        _legend(ax, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=min(entries, 3), borderaxespad=clear,
                handlelength=2.0, columnspacing=0.8, handletextpad=0.4)
    return ax


def _diagram_line(line, p1, p2):
    """``(style key, legend name, x values, y values)`` of a line in the axes of a (p1, p2) diagram."""
    if hasattr(line, "over"):
        if {line.param, line.over} != {p1, p2}:
            raise ValueError(f"a threshold line in {line.param} over {line.over} does not fit a diagram in {p1}, {p2}")
        xs, ys = (line.values, line.over_values) if line.param == p2 else (line.over_values, line.values)
        key = getattr(line, "key", line.kind)
        name = getattr(line, "name", None) or _LINE_NAMES.get(key, line.kind)
    else:
        try:
            name, xs, ys = line
        except (TypeError, ValueError):
            raise ValueError(f"lines: expected a PhaseLine, a ThresholdLine or (label, x, y), got {line!r}") from None
        key = _LINE_KEYS.get(name, name)
        name = _LINE_NAMES.get(key, name) if name in _LINE_KEYS else name
    return key, name, np.asarray(xs, float), np.asarray(ys, float)


def _cell_edges(v, geometric: bool) -> np.ndarray:
    """Edges of cells centred on the grid values ``v`` (midpoints in log scale for a geometric grid)."""
    v = np.log(v) if geometric else np.asarray(v, float)
    if v.size == 1:
        edges = np.array([v[0] - 0.5, v[0] + 0.5])
    else:
        mid = 0.5 * (v[1:] + v[:-1])
        edges = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    return np.exp(edges) if geometric else edges


def _mark_points(ax, points, p1, p2):
    seen = set()
    for p in points:
        kind = p.get("kind", "point")
        style = _POINT_STYLES.get(kind, {"marker": "D", "markersize": 5})
        ax.plot([p[p2]], [p[p1]], linestyle="none", markerfacecolor="white", markeredgecolor="k",
                markeredgewidth=0.9, zorder=5, label=f"{kind} point" if kind not in seen else None, **style)
        seen.add(kind)


def _name_regions(ax, mesh, lines, p1, p2, n=240):
    """Write each region's name at the point deepest inside the largest part of it where the
    name fits; a region too small for its name is named from the nearest place with room (in
    any region, away from the other names), with an arrow to its deepest point.

    The regions are evaluated on an ``n x n`` grid even in the axes' own scales, so that distances
    on it are distances on the page.
    """
    from scipy import ndimage

    xs, ys = (_even(ax.get_xlim(), ax.get_xscale(), n), _even(ax.get_ylim(), ax.get_yscale(), n))
    grid = lines.regions(ys, xs) if lines.over == p1 else lines.regions(xs, ys).T  # rows: y, columns: x
    pos = ax.get_position()
    width, height = ax.figure.get_size_inches() * np.array([pos.width, pos.height])
    cell = (height / (n - 1), width / (n - 1))  # inches per grid step (rows, columns)
    free = np.ones(grid.shape, bool)  # where a name may still be centred
    pending = []
    for name in _REGION_NAMES:
        parts, count = ndimage.label(grid == name)
        if not count:
            continue
        box = _text_box(name, cell)
        sizes = ndimage.sum_labels(np.ones_like(parts), parts, index=np.arange(1, count + 1))
        largest = parts == np.argmax(sizes) + 1
        for k in np.argsort(sizes)[::-1]:
            part = parts == k + 1
            fits = ndimage.binary_erosion(part, structure=np.ones(box, bool), border_value=0) & free
            if fits.any():
                i, j = np.unravel_index(np.argmax(np.where(fits, _depth(part, cell), -1.0)), part.shape)
                _region_text(ax, mesh, name, xs[j], ys[i])
                free &= ~_near((i, j), box, grid.shape)
                break
        else:
            pending.append((name, largest, box))
    for name, part, box in pending:  # named from outside, once the regions with room are named
        room = np.zeros(grid.shape, bool)
        for other in np.unique(grid):
            room |= ndimage.binary_erosion(grid == other, structure=np.ones(box, bool), border_value=0)
        room &= free
        if not room.any():
            continue
        ti, tj = np.unravel_index(np.argmax(_depth(part, cell)), part.shape)
        rows, cols = np.indices(grid.shape)
        dist = np.hypot((rows - ti) * cell[0], (cols - tj) * cell[1])
        i, j = np.unravel_index(np.argmin(np.where(room, dist, np.inf)), grid.shape)
        _region_text(ax, mesh, name, xs[j], ys[i], target=(xs[tj], ys[ti]))
        free &= ~_near((i, j), box, grid.shape)


def _text_box(name, cell):
    """Height and width (odd numbers of grid cells) of a region's name with a margin."""
    from matplotlib.textpath import TextPath

    ext = TextPath((0, 0), name, size=_SMALL).get_extents()
    return [max(1, 2 * math.ceil((size / 72 * 0.5 + 0.04) / c) + 1)
            for size, c in ((ext.height, cell[0]), (ext.width, cell[1]))]


def _depth(part, cell):
    """Distance (inches) of each cell of ``part`` to its border or the axes' edge."""
    from scipy import ndimage

    return ndimage.distance_transform_edt(np.pad(part, 1), sampling=cell)[1:-1, 1:-1]


def _near(ij, box, shape):
    """Cells where another name centred would overlap a name centred at ``ij``."""
    out = np.zeros(shape, bool)
    (i, j), (h, w) = ij, box
    out[max(0, i - h + 1):i + h, max(0, j - w + 1):j + w] = True
    return out


def _region_text(ax, mesh, name, x, y, target=None):
    from matplotlib import patheffects

    dark = _luminance(mesh, x, y) < 0.45
    ink, halo = ("white", "black") if dark else ("black", "white")
    kw = dict(ha="center", va="center", fontsize=_SMALL, zorder=6, color=ink,
              path_effects=[patheffects.withStroke(linewidth=2.0, foreground=halo)])
    if target is None:
        ax.text(x, y, name, **kw)
    else:
        ax.annotate(name, xy=target, xytext=(x, y), arrowprops=dict(arrowstyle="-|>", color=ink, lw=0.8,
                                                                   shrinkA=3, shrinkB=1,
                                                                   path_effects=kw["path_effects"]), **kw)


def _even(lims, scale, n):
    lo, hi = sorted(lims)
    return np.geomspace(lo, hi, n) if scale == "log" else np.linspace(lo, hi, n)


def _luminance(mesh, x, y):
    """Relative luminance of the heat map's colour at data point ``(x, y)``."""
    rgba = mesh.to_rgba(np.asarray(mesh.get_array()))
    coords = mesh.get_coordinates()  # cell corners, shape (ny + 1, nx + 1, 2)
    cx = 0.5 * (coords[0, :-1, 0] + coords[0, 1:, 0])
    cy = 0.5 * (coords[:-1, 0, 1] + coords[1:, 0, 1])
    r, g, b = rgba.reshape(cy.size, cx.size, 4)[np.argmin(abs(cy - y)), np.argmin(abs(cx - x)), :3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def save_figure(fig, stem, formats=("png",), *, dpi: int = 300) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and, on request, vector formats (``"pdf"``, ``"svg"``, ``"eps"``).

    Parameters
    ----------
    fig : matplotlib Figure (or an Axes, whose figure is saved)
    stem : str or Path
        Path without extension (a trailing known extension is dropped).
    formats : sequence of str
        Any formats the figure's canvas writes; vector ones keep the heat map rasterised at
        ``dpi`` and everything else as vectors.
    dpi : int
        Resolution of raster output.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.
    """
    fig = getattr(fig, "figure", fig)
    supported = fig.canvas.get_supported_filetypes()
    if isinstance(formats, str):
        formats = (formats,)
    formats = [str(f).lower().lstrip(".") for f in formats]
    bad = [f for f in formats if f not in supported]
    if not formats or bad:
        raise ValueError(f"formats must be a non-empty selection of {sorted(supported)}, got {bad or formats}")
    if not (isinstance(dpi, (int, np.integer)) and dpi > 0):
        raise ValueError(f"dpi must be a positive integer, got {dpi!r}")
    stem = Path(stem)
    if stem.suffix.lstrip(".").lower() in supported:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.parent / f"{stem.name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight", pad_inches=0.02)
        paths.append(path)
    return paths


def _geometric(values) -> bool:
    """Whether ``values`` (at least three distinct, positive) are evenly spaced in log but not in
    linear scale."""
    v = np.unique(np.asarray(values, float))
    if v.size < 3 or not np.all(v > 0):
        return False
    d, dl = np.diff(v), np.diff(np.log(v))
    even_log = np.allclose(dl, dl[0], rtol=1e-6)
    even_lin = np.allclose(d, d[0], rtol=1e-6)
    return bool(even_log and not even_lin)
