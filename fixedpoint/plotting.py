"""Matplotlib helpers (matplotlib is imported when a function is called, not with the package).

``plot_sweep``: one or two branches of a sweep; where the branches from "uninformed" and
"informed" coexist and the model has a free entropy, the branch with the larger free entropy is
drawn solid (stable) and the other dashed (metastable); thresholds are marked as vertical lines.
``plot_diagram``: a phase-diagram heat map with threshold lines on top.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_sweep", "plot_diagram"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_sweep(sweeps, observable: str, *, free_entropy: str | None = "free_entropy", thresholds=(), ax=None,
               label=None, color=None):
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
    thresholds : sequence of Threshold or (label, value)
        Marked as vertical dotted lines.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from .results import Sweep

    ax = _axes(ax)
    sweeps = [sweeps] if isinstance(sweeps, Sweep) else list(sweeps)
    if not sweeps:
        raise ValueError("sweeps must contain at least one Sweep")
    param = sweeps[0].param
    if any(s.param != param for s in sweeps):
        raise ValueError("all sweeps must be along the same parameter")
    color = color or "C0"
    phis = None
    if free_entropy and len(sweeps) > 1 and all(free_entropy in s.observables for s in sweeps):
        phis = np.vstack([s[free_entropy] for s in sweeps])
    for k, s in enumerate(sweeps):
        y = np.asarray(s[observable], float)
        v = np.asarray(s.values, float)
        order = np.argsort(v)
        v, y = v[order], y[order]
        if phis is None:
            ax.plot(v, y, "-", color=color, label=label if k == 0 else None)
            continue
        phi = phis[:, order]
        stable = phi[k] >= np.nanmax(phi, axis=0) - 1e-12
        ax.plot(v, np.where(stable, y, np.nan), "-", color=color, label=label if k == 0 else None)
        ax.plot(v, np.where(stable, np.nan, y), "--", color=color, alpha=0.8)
    for t in thresholds:
        name, value = (t.kind, t.value) if hasattr(t, "kind") else t
        if np.isfinite(value):
            ax.axvline(value, ls=":", color="0.3", lw=1)
            ax.annotate(f"{name}\n{value:.4g}", (value, 1.0), xycoords=("data", "axes fraction"), fontsize=7,
                        ha="left", va="top", xytext=(2, -2), textcoords="offset points")
    ax.set_xlabel(param)
    ax.set_ylabel(observable)
    return ax


def plot_diagram(diagram, observable: str, *, lines=(), ax=None, cmap="viridis", colorbar: bool = True):
    """Heat map of ``observable`` over a phase diagram, with threshold lines.

    Parameters
    ----------
    diagram : PhaseDiagram
    observable : str
    lines : sequence of ThresholdLine or (label, x_values, y_values)
        Drawn on top. A ``ThresholdLine`` traced in the diagram's second parameter over its
        first is drawn in the diagram's axes (first parameter on the vertical axis).
    """
    ax = _axes(ax)
    p1, p2 = diagram.params
    v1, v2 = diagram.values
    z = np.asarray(diagram[observable], float)
    mesh = ax.pcolormesh(v2, v1, z, shading="nearest", cmap=cmap)
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=observable)
    styles = ["-", "--", "-.", ":"]
    for k, line in enumerate(lines):
        if hasattr(line, "over"):
            if {line.param, line.over} != {p1, p2}:
                raise ValueError(f"a threshold line in {line.param} over {line.over} does not fit a diagram in {p1}, {p2}")
            xs, ys = (line.values, line.over_values) if line.param == p2 else (line.over_values, line.values)
            name = line.kind
        else:
            name, xs, ys = line
        ax.plot(xs, ys, styles[k % len(styles)], color="w", lw=1.8, label=name)
        ax.plot(xs, ys, styles[k % len(styles)], color="k", lw=0.8)
    if lines:
        ax.legend(fontsize=8, loc="upper left")
    # a geometric grid (e.g. CLI ``noise=0.01:1:20:log``) is drawn on a log axis, where its
    # cells have equal widths
    if _geometric(v2):
        ax.set_xscale("log")
    if _geometric(v1):
        ax.set_yscale("log")
    ax.set_xlabel(p2)
    ax.set_ylabel(p1)
    return ax


def _geometric(values) -> bool:
    """Whether ``values`` (at least three, positive) are evenly spaced in log but not in linear
    scale."""
    v = np.asarray(values, float)
    if v.size < 3 or not np.all(v > 0):
        return False
    d, dl = np.diff(v), np.diff(np.log(v))
    even_log = np.allclose(dl, dl[0], rtol=1e-6)
    even_lin = np.allclose(d, d[0], rtol=1e-6)
    return bool(even_log and not even_lin)
