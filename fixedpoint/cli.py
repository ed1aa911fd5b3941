"""The ``fixedpoint`` command.

Models are found through the entry-point group ``fixedpoint.models``: each entry point names a
module with ``available()`` and ``get(name, **params)`` (the toolkit's own ``equations`` package
is registered by setup.cfg), so the engine never imports a model package and a user's own
package of models plugs in by declaring the same entry point.

Parameter values on the command line: ``key=1.5`` (a number), ``key=text`` (a string),
``key=[0.5,0.5]`` (JSON); a swept or gridded parameter is ``key=a:b:n`` (``n`` values from
``a`` to ``b``) or ``key=a:b:n:log`` (log-spaced).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["main", "load_models"]

EPILOG = """examples:
  fixedpoint list
  fixedpoint solve spiked_wigner prior=rademacher snr=1.5
  fixedpoint sweep spiked_wigner prior=sparse_rademacher rho=0.05 snr=0.5:3:100 --start both --out out/
  fixedpoint diagram spiked_wigner prior=sparse_rademacher rho=0.02:0.3:40 snr=0.5:3:60 --out out/ \\
      --line spinodal:0.5:3:uninformed --line first_order:0.5:3 --line spinodal:0.5:3:informed
  fixedpoint threshold spiked_wigner snr --bracket 0.5 2 --kind stability prior=rademacher
"""


class CLIError(Exception):
    pass


def load_models() -> dict:
    """``{name: provider}`` over every module registered in the ``fixedpoint.models`` group."""
    found = {}
    try:
        eps = metadata.entry_points(group="fixedpoint.models")
    except TypeError:  # Python < 3.10 API
        eps = metadata.entry_points().get("fixedpoint.models", [])
    for ep in eps:
        provider = ep.load()
        for name in provider.available():
            found.setdefault(name, provider)
    return found


def _value(text: str):
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        pass
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(tuple(e) if isinstance(e, list) else e for e in v) if isinstance(v, list) else v


def _range(text: str):
    parts = text.split(":")
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "log"):
        return None
    try:
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        return None
    if n < 1:
        raise CLIError(f"a range needs at least one value, got {text!r}")
    if len(parts) == 4:
        if a <= 0 or b <= 0:
            raise CLIError(f"a log range needs positive ends, got {text!r}")
        return np.geomspace(a, b, n)
    return np.linspace(a, b, n)


def _parse_params(items):
    fixed, ranges = {}, {}
    for item in items:
        if "=" not in item:
            raise CLIError(f"expected key=value, got {item!r}")
        key, text = item.split("=", 1)
        r = _range(text)
        if r is not None:
            ranges[key] = r
        else:
            fixed[key] = _value(text)
    return fixed, ranges


def _model(name, params):
    models = load_models()
    if name not in models:
        raise CLIError(f"unknown model {name!r}; available: {', '.join(sorted(models)) or 'none'}")
    try:
        return models[name].get(name, **params)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None


def _first_value_params(fixed, ranges):
    return {**fixed, **{k: float(v[0]) for k, v in ranges.items()}}


def _start(text):
    if text in ("uninformed", "informed"):
        return text
    try:
        return np.array(json.loads(text), dtype=float)
    except (json.JSONDecodeError, TypeError, ValueError):
        raise CLIError(f"--start must be uninformed, informed or a JSON list, got {text!r}") from None


def _out(path) -> Path:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _solution_dict(sol):
    return {"converged": sol.converged, "status": sol.status.value, "message": sol.message,
            "iterations": sol.iterations, "evaluations": sol.evaluations, "residual": sol.residual,
            "state": dict(zip(sol.names, map(float, sol.x))), "observables": dict(sol.observables)}


def _jsonable(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _dump(obj, path=None):
    text = json.dumps(obj, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    if path is not None:
        Path(path).write_text(text + "\n")
    return text


def cmd_list(args):
    models = load_models()
    for name in sorted(models):
        cls = type(models[name].get(name))  # the defaults make a valid model
        fields = ", ".join(f"{f.name}={f.default!r}" for f in dataclasses.fields(cls)
                           if f.default is not dataclasses.MISSING)
        print(f"{name}: state ({', '.join(cls.state_names)}); parameters: {fields}")
    return 0


def cmd_solve(args):
    fixed, ranges = _parse_params(args.params)
    if ranges:
        raise CLIError("solve takes single values; use `fixedpoint sweep` for a range")
    import fixedpoint as fp

    model = _model(args.model, fixed)
    sol = fp.solve(model, start=_start(args.start), max_iter=args.max_iter)
    result = {"model": repr(model), **_solution_dict(sol)}
    path = None
    if args.out:
        path = _out(args.out) / "solution.json"
    print(_dump(result, path))
    return 0 if sol.converged else 1


def cmd_sweep(args):
    fixed, ranges = _parse_params(args.params)
    if len(ranges) != 1:
        raise CLIError("sweep needs exactly one parameter given as a range key=a:b:n")
    (param, values), = ranges.items()
    import fixedpoint as fp

    model = _model(args.model, _first_value_params(fixed, ranges))
    starts = ["uninformed", "informed"] if args.start == "both" else [args.start]
    out = _out(args.out)
    sweeps = []
    for s in starts:
        sw = fp.sweep(model, param, values, start=_start(s), max_iter=args.max_iter, progress=args.progress)
        sweeps.append(sw)
        _write_csv(out / f"sweep_{s}.csv", sw)
    observable = args.observable or sweeps[0].keys()[0]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_sweep

    ax = plot_sweep(sweeps, observable)
    ax.set_title(_title(args.model, fixed, observable, "both" if len(starts) == 2 else starts[0]), fontsize=8)
    ax.figure.tight_layout()
    ax.figure.savefig(out / "sweep.png", dpi=120)
    plt.close(ax.figure)
    summary = {"model": repr(model), "param": param, "starts": starts,
               "converged": {s: int(sw.converged.sum()) for s, sw in zip(starts, sweeps)}, "points": len(values),
               "files": [f"sweep_{s}.csv" for s in starts] + ["sweep.png"]}
    print(_dump(summary, out / "sweep.json"))
    return 0


def _title(name, fixed, observable, start):
    params = ", ".join(f"{k}={v}" for k, v in fixed.items())
    return f"{name}({params}): {observable}, start {start}"


def _write_csv(path, table):
    keys = table.keys()
    with open(path, "w") as f:
        if hasattr(table, "param"):
            f.write(",".join([table.param, *keys, "converged", "status"]) + "\n")
            for i, v in enumerate(table.values):
                row = [repr(float(v)), *(repr(float(table[k][i])) for k in keys), str(bool(table.converged[i])),
                       str(table.status[i])]
                f.write(",".join(row) + "\n")
        else:
            p1, p2 = table.params
            f.write(",".join([p1, p2, *keys, "converged", "status"]) + "\n")
            for i, a in enumerate(table.values[0]):
                for j, b in enumerate(table.values[1]):
                    row = [repr(float(a)), repr(float(b)), *(repr(float(table[k][i, j])) for k in keys),
                           str(bool(table.converged[i, j])), str(table.status[i, j])]
                    f.write(",".join(row) + "\n")


def _parse_line(text, p2):
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise CLIError(f"--line must be KIND:LO:HI or KIND:LO:HI:START, got {text!r}")
    kind = parts[0]
    try:
        lo, hi = float(parts[1]), float(parts[2])
    except ValueError:
        raise CLIError(f"--line bracket must be numbers, got {text!r}") from None
    start = parts[3] if len(parts) == 4 else "uninformed"
    return kind, (lo, hi), start


def cmd_diagram(args):
    fixed, ranges = _parse_params(args.params)
    if len(ranges) != 2:
        raise CLIError("diagram needs exactly two parameters given as ranges: p1=a:b:n p2=a:b:n")
    (p1, v1), (p2, v2) = ranges.items()
    import fixedpoint as fp

    model = _model(args.model, _first_value_params(fixed, ranges))
    out = _out(args.out)
    executor = args.workers if args.workers and args.workers > 1 else None
    d = fp.phase_diagram(model, {p1: v1, p2: v2}, start=_start(args.start), executor=executor,
                         checkpoint=args.checkpoint, progress=args.progress, max_iter=args.max_iter)
    d.save(out / "diagram.npz")
    _write_csv(out / "diagram.csv", d)
    lines = []  # (label, values of p2, values of p1) for the plot
    for text in args.line:
        kind, bracket, start = _parse_line(text, p2)
        kw = {"start": start} if kind in ("spinodal", "level") else {}
        try:
            line = fp.threshold_line(model, p2, bracket, over={p1: v1}, kind=kind, **kw)
        except ValueError as exc:
            raise CLIError(f"--line {text}: {exc}") from None
        label = kind if kind != "spinodal" else f"spinodal ({start})"
        lines.append((label, line.values, line.over_values))
        with open(out / f"line_{kind}{'_' + start if kind == 'spinodal' else ''}.csv", "w") as f:
            f.write(f"{p1},{p2},converged\n")
            for a, b, c in zip(line.over_values, line.values, line.converged):
                f.write(f"{a!r},{b!r},{bool(c)}\n")
    observable = args.observable or d.keys()[0]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_diagram

    ax = plot_diagram(d, observable, lines=lines)
    ax.set_title(_title(args.model, fixed, observable, args.start), fontsize=8)
    ax.figure.tight_layout()
    ax.figure.savefig(out / "diagram.png", dpi=130)
    plt.close(ax.figure)
    summary = {"model": repr(model), "grid": {p1: [float(v1[0]), float(v1[-1]), len(v1)],
                                              p2: [float(v2[0]), float(v2[-1]), len(v2)]},
               "converged": int(d.converged.sum()), "points": int(d.converged.size),
               "lines": {label: int(np.isfinite(xs).sum()) for label, xs, _ in lines},
               "files": sorted(p.name for p in out.iterdir())}
    print(_dump(summary, out / "diagram.json"))
    return 0


def cmd_threshold(args):
    fixed, ranges = _parse_params(args.params)
    if ranges:
        raise CLIError("threshold takes single parameter values; the varied parameter is given by --bracket")
    import fixedpoint as fp

    fixed.setdefault(args.param, float(args.bracket[0]))
    model = _model(args.model, fixed)
    kw = {}
    if args.kind in ("spinodal", "level", "stability") and args.start:
        kw["start"] = _start(args.start)
    if args.kind == "level":
        kw.update(observable=args.observable, level=args.level)
    try:
        thr = fp.threshold(model, args.param, tuple(args.bracket), kind=args.kind, **kw)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    result = {"model": repr(model), "kind": thr.kind, "param": thr.param, "value": _jsonable(thr.value),
              "bracket": list(thr.bracket), "converged": thr.converged, "message": thr.message, "solves": thr.solves}
    path = _out(args.out) / "threshold.json" if args.out else None
    print(_dump(result, path))
    return 0 if thr.converged else 1


def build_parser():
    p = argparse.ArgumentParser(prog="fixedpoint", description="Solve saddle-point / state-evolution equations, "
                                "sweep them, draw phase diagrams and find thresholds.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered models and their parameters")

    def common(sp, out_default=None):
        sp.add_argument("model", help="registry name (see `fixedpoint list`)")
        sp.add_argument("params", nargs="*", help="key=value, or key=a:b:n for a range")
        sp.add_argument("--start", default="uninformed", help="uninformed | informed | a JSON list")
        sp.add_argument("--max-iter", type=int, default=10_000)
        sp.add_argument("--out", default=out_default, help="output folder")

    sp = sub.add_parser("solve", help="solve at one parameter point", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    common(sp)
    sp = sub.add_parser("sweep", help="one parameter as a range; CSV, JSON and PNG", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    common(sp, "out")
    sp.add_argument("--observable", help="what to plot (default: the first state entry)")
    sp.add_argument("--progress", action="store_true")
    sp.set_defaults(start="both")
    sp = sub.add_parser("diagram", help="two parameters as ranges; CSV, NPZ, JSON and PNG", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    common(sp, "out")
    sp.add_argument("--observable", help="what to plot (default: the first state entry)")
    sp.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    sp.add_argument("--checkpoint", help="folder to write finished rows to / resume from")
    sp.add_argument("--line", action="append", default=[],
                    help="threshold line in the second parameter, KIND:LO:HI[:START]; repeatable")
    sp.add_argument("--progress", action="store_true")
    sp = sub.add_parser("threshold", help="locate a threshold in one parameter", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("model")
    sp.add_argument("param", help="the parameter to vary")
    sp.add_argument("params", nargs="*", help="other parameters, key=value")
    sp.add_argument("--bracket", nargs=2, type=float, required=True, metavar=("LO", "HI"))
    sp.add_argument("--kind", choices=["stability", "spinodal", "first_order", "level"], default="stability")
    sp.add_argument("--start", default=None)
    sp.add_argument("--observable")
    sp.add_argument("--level", type=float)
    sp.add_argument("--out")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"list": cmd_list, "solve": cmd_solve, "sweep": cmd_sweep, "diagram": cmd_diagram,
               "threshold": cmd_threshold}[args.command]
    try:
        return handler(args)
    except CLIError as exc:
        print(f"fixedpoint: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
