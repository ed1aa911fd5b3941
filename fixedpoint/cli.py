"""The ``fixedpoint`` command.

Models are found through the entry-point group ``fixedpoint.models``: each entry point names a
module with ``available()`` and ``get(name, **params)`` (the toolkit's own ``equations`` package
is registered by setup.cfg), so the engine never imports a model package and a user's own
package of models plugs in by declaring the same entry point.

Parameter values on the command line, anywhere among the options: ``key=1.5`` (a number),
``key=text`` (a string), ``key=[0.5,0.5]`` (JSON); a swept or gridded parameter is
``key=a:b:n`` (``n`` values from ``a`` to ``b``) or ``key=a:b:n:log`` (log-spaced).

Exit status: 0 when every point converged, 1 when the run finished but some points did not
(their number is printed on stderr), 2 on invalid input or usage (one line on stderr, never a
traceback). Every check that needs no solve is made before anything is solved.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import math
import os
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["main", "load_models", "build_parser", "catalogue", "cli_message"]

EXIT_STATUS = """exit status:
  0  every point converged
  1  the run finished but some points did not converge (how many is printed on stderr)
  2  invalid input or usage (one line on stderr)
"""

EPILOG = """examples:
  fixedpoint list
  fixedpoint solve spiked_wigner prior=rademacher snr=1.5
  fixedpoint sweep spiked_wigner prior=sparse_rademacher rho=0.05 snr=0.5:3:100 --start both --out out/
  fixedpoint diagram spiked_wigner prior=sparse_rademacher rho=0.02:0.3:40 snr=0.5:3:60 --out out/ \\
      --line spinodal:0.5:3:uninformed --line first_order:0.5:3 --line spinodal:0.5:3:informed
  fixedpoint threshold spiked_wigner snr --bracket 0.5 2 --kind stability prior=rademacher

""" + EXIT_STATUS

#: most points a sweep or a diagram computes: the size is checked before any array is allocated
#: (10 million points hold about a gigabyte of results and take hours at a millisecond a solve)
MAX_POINTS = 10_000_000

#: the figure formats of ``diagram --figure-format`` (vector formats for papers)
FIGURE_FORMATS = ("png", "pdf", "svg")

#: the engine's advice (phrased for Python callers) -> the same advice as command-line options
_CLI_ADVICE = (
    ("Anderson acceleration (solver=fixedpoint.Anderson())", "Anderson acceleration (--solver anderson, the default)"),
    ("fixedpoint.Damped(damping=0.8)", "--solver damped --damping 0.8"),
    ("a smaller Anderson memory", "plain damped iteration (--solver damped)"),
    ("(max_iter=)", "(--max-iter)"),
    ("(atol=, rtol=)", "(--atol, --rtol)"),
)

#: the fields of a solution in the JSON output
SOLUTION_FIELDS = """JSON fields: scaled_residual = max_i |F(x)_i - x_i| / w_i with w_i = atol + rtol |x_i| (or the
model's scaled tolerance), converged iff <= 1; residual_max = max_i |F(x)_i - x_i|, the raw residual;
error_estimate = the estimated max_i |x_i - x*_i| / w_i of a converged point (null if unknown; above 2 the
message says why)."""


class CLIError(Exception):
    """Invalid input or usage: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (the usage is under ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


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


def cli_message(text: str) -> str:
    """An engine message with its Python advice (``max_iter=``, ``Damped(...)``) as command-line options."""
    for python, option in _CLI_ADVICE:
        text = text.replace(python, option)
    return text


# ----------------------------------------------------------------------------- parameters


def _value(text: str):
    """A ``key=value`` token's value: int, float, a boolean (``True``/``False`` as Python spells
    them, or JSON's ``true``/``false``), JSON (lists become tuples), else the text itself."""
    try:
        return int(text) if text.lstrip("+-").isdigit() else float(text)
    except ValueError:
        pass
    if text in ("True", "False"):  # (JSON knows only true / false; bias=True came through as a string)
        return text == "True"
    try:
        v = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(tuple(e) if isinstance(e, list) else e for e in v) if isinstance(v, list) else v


@dataclasses.dataclass(frozen=True)
class _Range:
    """``key=a:b:n[:log]``, checked but not yet allocated."""

    key: str
    a: float
    b: float
    n: int
    log: bool

    def values(self) -> np.ndarray:
        return np.geomspace(self.a, self.b, self.n) if self.log else np.linspace(self.a, self.b, self.n)


def _range(key: str, text: str):
    parts = text.split(":")
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "log"):
        return None
    try:
        a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        return None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise CLIError(f"{key}: a range needs finite ends, got {text!r}")
    if not 1 <= n <= MAX_POINTS:
        raise CLIError(f"{key}: a range has 1 to {MAX_POINTS:,} values, got {n:,} in {text!r}")
    if len(parts) == 4 and (a <= 0 or b <= 0):
        raise CLIError(f"{key}: a log range needs positive ends, got {text!r}")
    return _Range(key, a, b, n, len(parts) == 4)


def _parse_params(items):
    """``({key: value}, {key: _Range})`` from the ``key=value`` tokens."""
    fixed, ranges = {}, {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise CLIError(f"expected key=value, got {item!r}")
        if key in fixed or key in ranges:
            raise CLIError(f"parameter {key} is given twice")
        r = _range(key, text)
        if r is not None:
            ranges[key] = r
        else:
            fixed[key] = _value(text)
    return fixed, ranges


def _check_size(ranges) -> None:
    """Refuse a grid of more than :data:`MAX_POINTS` points before allocating it."""
    total = math.prod(r.n for r in ranges)
    if total > MAX_POINTS:
        shape = " x ".join(f"{r.n:,} ({r.key})" for r in ranges)
        raise CLIError(f"the grid has {shape} = {total:,} points, more than the {MAX_POINTS:,} a run computes; "
                       f"use fewer values")


def _model(name, params):
    models = load_models()
    if name not in models:
        raise CLIError(f"unknown model {name!r}; available: {', '.join(sorted(models)) or 'none'}")
    try:
        return models[name].get(name, **params)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None


def _first_value_params(fixed, ranges):
    return {**fixed, **{k: r.a for k, r in ranges.items()}}


def _start(model, text, option="--start"):
    """``uninformed``, ``informed``, a start the model names (its ``starts``, e.g. ``specialised``)
    or a JSON list, checked against the model."""
    from . import _validate

    named = _validate.STARTS + tuple(getattr(model, "starts", ()))
    if text in named:
        return text
    try:
        value = np.array(json.loads(text), dtype=float)
    except (json.JSONDecodeError, TypeError, ValueError):
        raise CLIError(f"{option} must be {', '.join(named)} or a JSON list, got {text!r}") from None
    try:
        return _validate.start(model, value, option)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _observable(model, name):
    from . import _validate

    try:
        return _validate.observable(model, name, "--observable")
    except ValueError as exc:
        raise CLIError(str(exc)) from None


# ----------------------------------------------------------------------------- output


def _out(path) -> Path:
    """The output folder, created; a file, an impossible or a read-only path is refused."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {path} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"--out {path}: cannot create the folder ({exc.strerror})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise CLIError(f"--out {path}: the folder is not writable")
    return out


def _plain(obj):
    """``obj`` with numpy values as Python ones and non-finite floats as ``None`` (valid JSON)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _dump(obj, path=None):
    text = json.dumps(_plain(obj), indent=2, allow_nan=False, default=str)
    if path is not None:
        Path(path).write_text(text + "\n")
    return text


def _number(v) -> str:
    """A CSV cell: the shortest text that reads back as the same float (``repr`` of a Python float)."""
    return repr(float(v))


def _write_csv(path, table):
    keys = table.keys()
    with open(path, "w") as f:
        if hasattr(table, "param"):
            f.write(",".join([table.param, *keys, "converged", "status"]) + "\n")
            for i, v in enumerate(table.values):
                row = [_number(v), *(_number(table[k][i]) for k in keys), str(bool(table.converged[i])),
                       str(table.status[i])]
                f.write(",".join(row) + "\n")
        else:
            p1, p2 = table.params
            f.write(",".join([p1, p2, *keys, "converged", "status"]) + "\n")
            for i, a in enumerate(table.values[0]):
                for j, b in enumerate(table.values[1]):
                    row = [_number(a), _number(b), *(_number(table[k][i, j]) for k in keys),
                           str(bool(table.converged[i, j])), str(table.status[i, j])]
                    f.write(",".join(row) + "\n")


def _residual_max(model, x):
    """``max_i |F(x)_i - x_i|``, or ``None`` where the map cannot be evaluated."""
    try:
        with np.errstate(all="ignore"):
            return float(np.max(np.abs(np.asarray(model.update(x), dtype=float) - x)))
    except Exception:  # the model's own code at a failed point: the raw residual is then unavailable
        return None


def _solution_dict(model, sol):
    return {"converged": sol.converged, "status": sol.status.value, "message": cli_message(sol.message),
            "iterations": sol.iterations, "evaluations": sol.evaluations, "scaled_residual": sol.residual,
            "residual_max": _residual_max(model, sol.x), "error_estimate": sol.error_estimate,
            "state": dict(zip(sol.names, map(float, sol.x))),
            "observables": dict(sol.observables)}


def _report_failures(failed: int, total: int, statuses, where: str) -> int:
    """Exit status 0 or 1; on 1 the count, where to look and what to try go to stderr."""
    if not failed:
        return 0
    from .results import Status
    from .solvers import _HINTS

    common = collections.Counter(str(s) for s in statuses).most_common(1)[0][0]
    try:
        hint = " " + cli_message(_HINTS[Status(common)])
    except (ValueError, KeyError):
        hint = ""
    print(f"fixedpoint: {failed} of {total} points did not converge ({where}; mostly {common}).{hint}",
          file=sys.stderr)
    return 1


def _figure(ax, args, fixed, observable, start):
    ax.set_title(_title(args.model, fixed, observable, start), fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def _title(name, fixed, observable, start):
    params = ", ".join(f"{k}={v}" for k, v in fixed.items())
    return f"{name}({params}): {observable}, start {start}"


# ----------------------------------------------------------------------------- solver options


def _solver_kw(args) -> dict:
    """The engine's keyword arguments from ``--max-iter --atol --rtol --solver --damping``
    (only those given, besides the iteration budget, so that checkpoints of earlier runs
    keep their fingerprints)."""
    import fixedpoint as fp

    kw = {"max_iter": args.max_iter}
    for key in ("atol", "rtol"):
        if getattr(args, key) is not None:
            kw[key] = getattr(args, key)
    if args.solver is not None or args.damping is not None:
        cls = fp.Damped if args.solver == "damped" else fp.Anderson
        kw["solver"] = cls() if args.damping is None else cls(damping=args.damping)
    return kw


def _positive_int(text):
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {n}")
    return n


def _parsed(text, ok, what):
    """``float(text)`` when ``ok`` of it holds, else argparse's one-line error ``must be {what}``."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not ok(v):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return v


def _tolerance(text):
    return _parsed(text, lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")


def _damping(text):
    return _parsed(text, lambda v: 0 <= v < 1, "a number in [0, 1) (the weight of the old iterate)")


def _figure_formats(text):
    formats = [f.strip().lower() for f in text.split(",")]
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad or not formats:
        raise argparse.ArgumentTypeError(f"must be a comma list of {', '.join(FIGURE_FORMATS)}, got {text!r}")
    return formats


# ----------------------------------------------------------------------------- list


def _parameter_table(cls) -> dict:
    """The model's own ``parameters()`` (protocol member), or its dataclass defaults."""
    own = getattr(cls, "parameters", None)
    if callable(own):
        return own()
    return {f.name: {"default": f.default} for f in dataclasses.fields(cls)
            if f.init and f.default is not dataclasses.MISSING}


def _has_trivial_state(model) -> bool:
    trivial = getattr(model, "trivial_state", None)
    return callable(trivial) and trivial() is not None


def _trivial_state_where(model, table) -> list:
    """``key=value`` settings of one listed parameter under which ``model`` has a trivial fixed point
    (``[]`` if none), for a model that has none at its defaults."""
    where = []
    for key, entry in table.items():
        for value in entry.get("allowed", ()):
            try:
                other = dataclasses.replace(model, **{key: value})
            except (ValueError, TypeError):  # this value needs other parameters changed too
                continue
            if _has_trivial_state(other):
                where.append(f"{key}={value}")
    return where


def _threshold_kinds(model, table) -> list:
    """The threshold kinds that make sense for ``model``, with the physics they locate."""
    kinds = []
    stability = "weak recovery: the trivial fixed point loses stability"
    if _has_trivial_state(model):
        kinds.append({"kind": "stability", "start": None, "physics": stability})
    elif dataclasses.is_dataclass(model) and (where := _trivial_state_where(model, table)):
        kinds.append({"kind": "stability", "start": None,
                      "physics": f"{stability} (only with {' or '.join(where)}: a trivial fixed point)"})
    if not getattr(model, "unique_fixed_point", False):  # one fixed point: no second branch to end or cross
        kinds.append({"kind": "spinodal", "start": "uninformed",
                      "physics": "algorithmic threshold: the branch reached from an uninformed start ends"})
        kinds.append({"kind": "spinodal", "start": "informed",
                      "physics": "lower spinodal: the branch reached from an informed start ends"})
        if callable(getattr(model, "free_entropy", None)):
            kinds.append({"kind": "first_order", "start": None,
                          "physics": "information-theoretic threshold: the two branches have equal free entropies"})
    kinds.append({"kind": "level", "start": "uninformed",
                  "physics": "an observable crosses a level (--observable, --level), e.g. an error of 0.1"})
    return kinds


def catalogue(models=None) -> dict:
    """``{model name: {"doc", "state", "parameters", "observables", "thresholds"}}``, what
    ``fixedpoint list --json`` prints."""
    models = load_models() if models is None else models
    out = {}
    for name in sorted(models):
        model = models[name].get(name)  # the defaults make a valid model
        cls = type(model)
        try:
            named = getattr(model, "observable_names", None)
            # declared names need no evaluation of the map (which compiles the model's kernels)
            observables = list(named() if callable(named) else
                               model.observables(np.asarray(model.initial_state("uninformed"), dtype=float)))
        except Exception:  # the model's own code at its start: the list is then unknown, not an error
            observables = None
        table = _parameter_table(cls)
        out[name] = {"doc": (cls.__doc__ or "").strip().split("\n")[0], "state": list(model.state_names),
                     "parameters": _plain(table), "observables": observables,
                     "thresholds": _threshold_kinds(model, table)}
    return out


def _allowed_text(entry) -> str:
    if "allowed" in entry:
        return "one of " + ", ".join(map(str, entry["allowed"]))
    if "range" in entry:
        (lo, hi), (lo_open, hi_open) = entry["range"], entry.get("open", (False, False))
        if lo is None and hi is None:
            return "any real number"
        if hi is None:
            return f"{'>' if lo_open else '>='} {lo:g}"
        if lo is None:
            return f"{'<' if hi_open else '<='} {hi:g}"
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    return ""


def cmd_list(args):
    cat = catalogue()
    if args.json:
        print(_dump(cat))
        return 0
    for name, entry in cat.items():
        print(f"{name}: {entry['doc']}")
        print(f"  state: {', '.join(entry['state'])}")
        print("  parameters:")
        for key, p in entry["parameters"].items():
            default = p.get("default")
            default = default if isinstance(default, str) else "(unset)" if default is None else json.dumps(default)
            what = "; ".join(t for t in (_allowed_text(p), p.get("doc", "")) if t)
            print(f"    {key}={default}".ljust(30) + f" {what}".rstrip())
        if entry["observables"] is not None:
            print(f"  observables: {', '.join(entry['observables'])}")
        print("  thresholds (fixedpoint threshold --kind ...):")
        for k in entry["thresholds"]:
            kind = k["kind"] + (f" --start {k['start']}" if k["kind"] == "spinodal" else "")
            print(f"    {kind}".ljust(32) + f" {k['physics']}")
    return 0


# ----------------------------------------------------------------------------- solve, sweep


def cmd_solve(args):
    fixed, ranges = _parse_params(args.params)
    if ranges:
        raise CLIError("solve takes single values; use `fixedpoint sweep` for a range")
    import fixedpoint as fp

    model = _model(args.model, fixed)
    start = _start(model, args.start)
    path = _out(args.out) / "solution.json" if args.out else None
    sol = fp.solve(model, start=start, **_solver_kw(args))
    print(_dump({"model": repr(model), **_solution_dict(model, sol)}, path))
    if not sol.converged:
        print(f"fixedpoint: the solve did not converge ({sol.status.value}): {cli_message(sol.message)}",
              file=sys.stderr)
    return 0 if sol.converged else 1


def cmd_sweep(args):
    fixed, ranges = _parse_params(args.params)
    if len(ranges) != 1:
        raise CLIError("sweep needs exactly one parameter given as a range key=a:b:n")
    (param, spec), = ranges.items()
    import fixedpoint as fp

    model = _model(args.model, _first_value_params(fixed, ranges))
    names = ["uninformed", "informed"] if args.start == "both" else [args.start]
    starts = [_start(model, s) for s in names]
    observable = _observable(model, args.observable) if args.observable else None
    out = _out(args.out)
    values, kw = spec.values(), _solver_kw(args)
    sweeps = []
    for name, s in zip(names, starts):
        sw = fp.sweep(model, param, values, start=s, progress=args.progress, **kw)
        sweeps.append(sw)
        _write_csv(out / f"sweep_{_file_label(name)}.csv", sw)
    observable = observable or sweeps[0].keys()[0]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_sweep

    ax = plot_sweep(sweeps, observable, labels=getattr(model, "labels", None))
    fig = _figure(ax, args, fixed, observable, "both" if len(names) == 2 else names[0])
    fig.savefig(out / "sweep.png", dpi=200)
    plt.close(fig)
    failed = {name: int((~sw.converged).sum()) for name, sw in zip(names, sweeps)}
    summary = {"model": repr(model), "param": param, "starts": names,
               "converged": {name: int(sw.converged.sum()) for name, sw in zip(names, sweeps)},
               "not_converged": failed, "points": len(values),
               "files": [f"sweep_{_file_label(n)}.csv" for n in names] + ["sweep.png"]}
    print(_dump(summary, out / "sweep.json"))
    where = ", ".join(f"{n} start: {k}" for n, k in failed.items() if k) + "; see the status column of the CSV"
    statuses = [s for sw in sweeps for s, c in zip(sw.status, sw.converged) if not c]
    return _report_failures(sum(failed.values()), len(values) * len(names), statuses, where)


def _file_label(start_text):
    """The start's name (``uninformed``, ``informed``, ``specialised``, ...), or ``custom`` for a
    start vector."""
    return start_text if start_text.isidentifier() else "custom"


# ----------------------------------------------------------------------------- diagram


_LINE_KINDS = ("stability", "spinodal", "first_order", "level")


def _parse_line(text, model, args):
    """``KIND:LO:HI[:START]`` -> ``(kind, (lo, hi), keyword arguments, label, file name)``."""
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise CLIError(f"--line must be KIND:LO:HI or KIND:LO:HI:START, got {text!r}")
    kind = parts[0]
    if kind not in _LINE_KINDS:
        raise CLIError(f"--line {text}: KIND must be one of {', '.join(_LINE_KINDS)}, got {kind!r}")
    try:
        lo, hi = float(parts[1]), float(parts[2])
    except ValueError:
        raise CLIError(f"--line {text}: the bracket LO:HI must be numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise CLIError(f"--line {text}: the bracket needs finite LO < HI, got {lo:g}:{hi:g}")
    if kind in ("stability", "first_order"):
        if len(parts) == 4:
            raise CLIError(f"--line {text}: a {kind} line takes no START")
        return kind, (lo, hi), {}, kind, f"line_{kind}.csv"
    start = parts[3] if len(parts) == 4 else "uninformed"
    if start not in ("uninformed", "informed"):
        raise CLIError(f"--line {text}: START must be uninformed or informed, got {start!r}")
    kw = {"start": start}
    if kind == "level":
        if args.level is None:
            raise CLIError(f"--line {text}: a level line needs --level (and --observable, default the first "
                           f"state entry)")
        kw.update(observable=_observable(model, args.observable or model.state_names[0]), level=args.level)
    return kind, (lo, hi), kw, f"{kind} ({start})", f"line_{kind}_{start}.csv"


def _threshold_lines(model, p1, v1, p2, asked, kw, out) -> list:
    """Trace the ``--line`` thresholds in ``p2`` across ``p1 = v1``, one CSV each; returns
    ``(label, values of p2, values of p1)`` per line, for the plot."""
    import fixedpoint as fp

    lines = []
    for (kind, bracket, line_kw, label, filename), text in asked:
        try:
            line = fp.threshold_line(model, p2, bracket, over={p1: v1}, kind=kind, **line_kw, **kw)
        except ValueError as exc:
            raise CLIError(f"--line {text}: {exc}") from None
        lines.append((label, line.values, line.over_values))
        with open(out / filename, "w") as f:
            f.write(f"{p1},{p2},converged\n")
            for a, b, c in zip(line.over_values, line.values, line.converged):
                f.write(f"{_number(a)},{_number(b)},{bool(c)}\n")
    return lines


def _auto_lines(model, p1, v1, p2, v2, kw, workers, out):
    """``--lines auto``: every transition line in ``p2`` over ``p1 = v1`` within the grid's range
    of ``p2`` (:func:`fixedpoint.phase_lines`), one CSV per line."""
    import fixedpoint as fp

    try:
        found = fp.phase_lines(model, p2, over={p1: v1}, within=(float(np.min(v2)), float(np.max(v2))),
                               workers=workers, **kw)
    except ValueError as exc:
        raise CLIError(f"--lines auto: {exc}") from None
    for line in found:
        with open(out / f"line_{line.key}.csv", "w") as f:
            f.write(f"{p1},{p2}\n")
            for a, b in zip(line.over_values, line.values):
                f.write(f"{_number(a)},{_number(b)}\n")
    return found


def _checkpoint(path):
    if path is not None and Path(path).exists() and not Path(path).is_dir():
        raise CLIError(f"--checkpoint {path} is a file, not a folder")
    return path


def cmd_diagram(args):
    fixed, ranges = _parse_params(args.params)
    if len(ranges) != 2:
        raise CLIError("diagram needs exactly two parameters given as ranges: p1=a:b:n p2=a:b:n")
    _check_size(ranges.values())
    (p1, spec1), (p2, spec2) = ranges.items()
    import fixedpoint as fp

    model = _model(args.model, _first_value_params(fixed, ranges))
    start = _start(model, args.start)
    observable = _observable(model, args.observable) if args.observable else None
    lines_asked = [_parse_line(text, model, args) for text in args.line]
    if args.lines and lines_asked:
        raise CLIError("--lines auto finds every line: give it or --line, not both")
    formats = list(dict.fromkeys(f for group in (args.figure_format or [["png"]]) for f in group))
    out = _out(args.out)
    kw = _solver_kw(args)
    v1, v2 = spec1.values(), spec2.values()
    executor = args.workers if args.workers > 1 else None
    d = fp.phase_diagram(model, {p1: v1, p2: v2}, start=start, executor=executor,
                         checkpoint=_checkpoint(args.checkpoint), progress=args.progress, **kw)
    d.save(out / "diagram.npz")
    _write_csv(out / "diagram.csv", d)
    if args.lines == "auto":
        lines = _auto_lines(model, p1, v1, p2, v2, kw, args.workers, out)
        found = lines.to_dict()
        line_summary, points = found["lines"], found["points"]
    else:
        lines = _threshold_lines(model, p1, v1, p2, zip(lines_asked, args.line), kw, out)
        line_summary, points = {label: int(np.isfinite(xs).sum()) for label, xs, _ in lines}, []
    observable = observable or d.keys()[0]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import plot_diagram, save_figure

    ax = plot_diagram(d, observable, lines=lines, labels=getattr(model, "labels", None))
    fig = _figure(ax, args, fixed, observable, args.start)
    save_figure(fig, out / "diagram", formats=formats, dpi=200)
    plt.close(fig)
    failed = int((~d.converged).sum())
    summary = {"model": repr(model), "grid": {p1: [spec1.a, spec1.b, spec1.n], p2: [spec2.a, spec2.b, spec2.n]},
               "converged": int(d.converged.sum()), "not_converged": failed, "grid_points": int(d.converged.size),
               "lines": line_summary, "points": points, "files": sorted(p.name for p in out.iterdir())}
    _dump(summary, out / "diagram.json")
    if args.lines == "auto":  # on the terminal, where each line exists (its values are in the files)
        summary["lines"] = {k: {"name": v["name"], "intervals": v["intervals"]} for k, v in line_summary.items()}
    print(_dump(summary))
    statuses = d.status[~d.converged]
    return _report_failures(failed, int(d.converged.size), statuses, "see the status column of diagram.csv")


# ----------------------------------------------------------------------------- threshold


def _split_param(args):
    """The varied parameter is the one positional without ``=``, wherever it was given."""
    tokens = [args.param, *args.params]
    names = [t for t in tokens if "=" not in t]
    if len(names) != 1:
        raise CLIError(f"threshold needs exactly one parameter to vary (a name without =), got {names or 'none'}")
    return names[0], [t for t in tokens if "=" in t]


def cmd_threshold(args):
    param, items = _split_param(args)
    fixed, ranges = _parse_params(items)
    if ranges:
        raise CLIError("threshold takes single parameter values; the varied parameter is given by --bracket")
    if param in fixed:
        raise CLIError(f"{param} is the varied parameter: its values are given by --bracket, not {param}=")
    lo, hi = args.bracket
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise CLIError(f"--bracket needs finite LO < HI, got {lo:g} {hi:g}")
    import fixedpoint as fp

    fixed[param] = lo
    model = _model(args.model, fixed)
    kw = _solver_kw(args)
    if args.start and args.kind == "first_order":
        raise CLIError("--kind first_order compares the uninformed and informed branches: it takes no --start")
    if args.start:
        kw["start"] = _start(model, args.start)
    if args.kind == "level":
        kw.update(observable=args.observable, level=args.level)
    path = _out(args.out) / "threshold.json" if args.out else None
    thr = fp.threshold(model, param, tuple(args.bracket), kind=args.kind, **kw)
    result = {"model": repr(model), "kind": thr.kind, "param": thr.param, "value": thr.value,
              "bracket": list(thr.bracket), "converged": thr.converged, "message": cli_message(thr.message),
              "solves": thr.solves}
    print(_dump(result, path))
    if not thr.converged:
        print(f"fixedpoint: the threshold was not located: {cli_message(thr.message)}", file=sys.stderr)
    return 0 if thr.converged else 1


# ----------------------------------------------------------------------------- parser


def _subparser(sub, name, help, description=None):
    return sub.add_parser(name, help=help, description=description or help, epilog=EPILOG,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _solver_options(sp, out_default=None):
    sp.add_argument("--out", default=out_default, help="output folder" + (f" (default {out_default})"
                                                                           if out_default else ""))
    g = sp.add_argument_group("solver")
    g.add_argument("--max-iter", type=_positive_int, default=10_000, help="iterations per solve (default 10000)")
    g.add_argument("--atol", type=_tolerance, help="absolute tolerance (default 1e-10)")
    g.add_argument("--rtol", type=_tolerance, help="relative tolerance (default 1e-10)")
    g.add_argument("--solver", choices=("anderson", "damped"),
                   help="anderson (safeguarded Anderson acceleration, the default) or damped (plain damped iteration)")
    g.add_argument("--damping", type=_damping,
                   help="weight of the old iterate, in [0, 1) (default 0 for anderson, 0.5 for damped)")


def build_parser():
    p = _Parser(prog="fixedpoint", description="Solve saddle-point / state-evolution equations, "
                "sweep them, draw phase diagrams and find thresholds.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    sp = _subparser(sub, "list", "list the registered models: parameters, observables, threshold kinds")
    sp.add_argument("--json", action="store_true", help="print the catalogue as JSON")

    def model_and_params(sp):
        sp.add_argument("model", help="registry name (see `fixedpoint list`)")
        sp.add_argument("params", nargs="*", metavar="key=value", help="key=value, or key=a:b:n[:log] for a range")
        sp.add_argument("--start", default="uninformed",
                        help="uninformed | informed | a start the model names (e.g. specialised) | a JSON list")

    sp = _subparser(sub, "solve", "solve at one parameter point", "Solve at one parameter point; print the "
                    "solution as JSON.\n\n" + SOLUTION_FIELDS)
    model_and_params(sp)
    _solver_options(sp)
    sp = _subparser(sub, "sweep", "one parameter as a range; CSV, JSON and PNG")
    model_and_params(sp)
    sp.set_defaults(start="both")
    sp.add_argument("--observable", help="what to plot (default: the first state entry)")
    sp.add_argument("--progress", action="store_true")
    _solver_options(sp, "out")
    sp = _subparser(sub, "diagram", "two parameters as ranges; CSV, NPZ, JSON and figures")
    model_and_params(sp)
    sp.add_argument("--observable", help="what to plot (default: the first state entry)")
    sp.add_argument("--workers", type=_positive_int, default=1, help="worker processes (default 1)")
    sp.add_argument("--checkpoint", help="folder to write finished rows to / resume from")
    sp.add_argument("--line", action="append", default=[],
                    help="threshold line in the second parameter, KIND:LO:HI[:START] (KIND stability, "
                         "first_order, or spinodal / level with START uninformed or informed); repeatable. Where the "
                         "threshold does not exist in the bracket the line is NaN there (not a failure)")
    sp.add_argument("--lines", choices=["auto"],
                    help="auto: every transition line in the second parameter over the first, found by "
                         "fixedpoint.phase_lines (weak recovery, algorithmic, lower spinodal, IT), their ends and "
                         "special points (e.g. tricritical), regions named on the figure; written to line_*.csv "
                         "and to diagram.json under \"lines\" and \"points\"")
    sp.add_argument("--level", type=float, help="the level of a level line (of --observable)")
    sp.add_argument("--figure-format", action="append", type=_figure_formats, metavar="FORMAT[,FORMAT]",
                    help=f"figure formats, {', '.join(FIGURE_FORMATS)}: repeatable or a comma list (default png)")
    sp.add_argument("--progress", action="store_true")
    _solver_options(sp, "out")
    sp = _subparser(sub, "threshold", "locate a threshold in one parameter")
    sp.add_argument("model")
    sp.add_argument("param", help="the parameter to vary")
    sp.add_argument("params", nargs="*", metavar="key=value", help="other parameters")
    sp.add_argument("--bracket", nargs=2, type=float, required=True, metavar=("LO", "HI"))
    sp.add_argument("--kind", choices=list(_LINE_KINDS), default="stability")
    sp.add_argument("--start", default=None)
    sp.add_argument("--observable")
    sp.add_argument("--level", type=float)
    _solver_options(sp)
    return p


def _parse(parser, argv):
    """Parse with ``key=value`` tokens allowed anywhere among a subcommand's options."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    if argv and argv[0] in commands:
        args = commands[argv[0]].parse_intermixed_args(argv[1:])
        args.command = argv[0]
        return args
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parse(build_parser(), argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return exc.code if isinstance(exc.code, int) else 2
    handler = {"list": cmd_list, "solve": cmd_solve, "sweep": cmd_sweep, "diagram": cmd_diagram,
               "threshold": cmd_threshold}[args.command]
    try:
        return handler(args)
    except (CLIError, ValueError) as exc:  # ValueError: the engine's check of an argument
        message = cli_message(str(exc))
    except BrokenPipeError:  # the reader of stdout went away (`| head`): stop quietly, as killed by SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        message = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    except KeyboardInterrupt:
        print("fixedpoint: interrupted", file=sys.stderr)
        return 130
    print(f"fixedpoint: error: {message}".replace("\n", " "), file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
