"""``phase_diagram``: fixed points on a 2-D parameter grid, in parallel and resumable.

Each row (one value of the first parameter) is a :func:`fixedpoint.sweep` along the second
parameter, so it has the sweep's semantics: every point is the fixed point that
``solve(model_at_point, start=start)`` reaches. Rows are independent tasks for any
``concurrent.futures.Executor`` (a process pool, or a dask.distributed client's
``get_executor()``); the result does not depend on the number of workers.

With ``checkpoint=path`` every finished row is written atomically (write to a temporary file,
then ``os.replace``) under the folder ``path``, next to a ``meta.json`` that fingerprints the
model, grid, start and tolerances. Running again with the same path computes only the rows
that are missing; a checkpoint written for another model or grid is refused.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from . import _validate
from .continuation import at, sweep
from .results import PhaseDiagram, Status

__all__ = ["phase_diagram"]


def _row(model, p1, v1, p2, values2, start, kw):
    """One row: a sweep along ``p2`` at ``p1 = v1`` (module level so that it pickles)."""
    try:
        m = at(model, **{p1: v1})
    except ValueError:
        # the model rejects this value of p1 (a valid number, e.g. a negative variance): every
        # point of the row failed, as a rejected value fails its point in a sweep
        n = len(values2)
        return {"x": np.full((n, len(model.state_names)), np.nan), "converged": np.zeros(n, bool),
                "status": np.full(n, Status.FAILED.value), "iterations": np.zeros(n, int),
                "evaluations": np.zeros(n, int), "observables": {}}
    sw = sweep(m, p2, values2, start=start, **kw)
    return {"x": np.asarray(sw.x), "converged": np.asarray(sw.converged), "status": np.asarray(sw.status),
            "iterations": np.asarray(sw.iterations), "evaluations": np.asarray(sw.evaluations),
            "observables": {k: np.asarray(v) for k, v in sw.observables.items()}}


def _fingerprint(model, p1, values1, p2, values2, start, kw) -> dict:
    grid = json.dumps([p1, values1.tolist(), p2, values2.tolist()])
    return {
        "model": repr(model),
        "grid_sha256": hashlib.sha256(grid.encode()).hexdigest(),
        "params": [p1, p2],
        "shape": [len(values1), len(values2)],
        "start": start if isinstance(start, str) else np.asarray(start, float).tolist(),
        "options": {k: repr(v) for k, v in sorted(kw.items())},
    }


def _save_row(folder: Path, i: int, row: dict) -> None:
    tmp = folder / f".row_{i:05d}.tmp.npz"
    arrays = {k: v for k, v in row.items() if k != "observables"}
    arrays.update({f"obs::{k}": v for k, v in row["observables"].items()})
    np.savez(tmp, **arrays)
    os.replace(tmp, folder / f"row_{i:05d}.npz")  # atomic: a row file is complete or absent


def _load_row(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as d:
        row = {k: d[k] for k in d.files if not k.startswith("obs::")}
        row["observables"] = {k[5:]: d[k] for k in d.files if k.startswith("obs::")}
    return row


def _open_checkpoint(path, fp) -> tuple[Path, dict]:
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "meta.json"
    if meta.exists():
        old = json.loads(meta.read_text())
        if old != fp:
            diff = [k for k in fp if old.get(k) != fp[k]]
            raise ValueError(f"checkpoint {folder} was written for a different computation (differs in: "
                             f"{', '.join(diff)}); use another checkpoint path or delete this one")
    else:
        tmp = folder / ".meta.tmp"
        tmp.write_text(json.dumps(fp, indent=1))
        os.replace(tmp, meta)
    done = {}
    for f in folder.glob("row_*.npz"):
        done[int(f.stem[4:])] = _load_row(f)
    return folder, done


def _make_executor(executor):
    """(executor, owned) from None | int | "process" | "thread" | Executor."""
    if executor is None:
        return None, False
    if isinstance(executor, cf.Executor):
        return executor, False
    if isinstance(executor, str):
        if executor == "process":
            return cf.ProcessPoolExecutor(max_workers=os.cpu_count()), True
        if executor == "thread":
            return cf.ThreadPoolExecutor(max_workers=os.cpu_count()), True
    if isinstance(executor, int) and not isinstance(executor, bool) and executor >= 1:
        return (None, False) if executor == 1 else (cf.ProcessPoolExecutor(max_workers=executor), True)
    if hasattr(executor, "submit"):  # duck-typed executors (e.g. dask's ClientExecutor)
        return executor, False
    raise ValueError(f"executor must be None, a number of worker processes, 'process', 'thread' or a "
                     f"concurrent.futures.Executor, got {executor!r}")


def phase_diagram(model, grid: dict, start="uninformed", *, executor=None, checkpoint=None, progress: bool = False,
                  solver=None, atol: float = 1e-10, rtol: float = 1e-10, max_iter: int = 10_000,
                  warm: bool | None = None) -> PhaseDiagram:
    """Fixed points from ``start`` on the grid ``{p1: values1, p2: values2}``.

    Parameters
    ----------
    model : Model
    grid : dict
        Exactly two parameters (in order): rows along the first, sweeps along the second.
    start : {"uninformed", "informed"} or array
    executor : None, int, "process", "thread" or concurrent.futures.Executor
        ``None`` computes serially; an integer is a number of worker processes; an executor
        given by the caller is used as is (and not shut down).
    checkpoint : path, optional
        Folder where finished rows are written; re-running resumes from it.
    progress : bool
        A tqdm progress bar over rows.
    solver, atol, rtol, max_iter, warm
        As in :func:`fixedpoint.sweep`.

    Returns
    -------
    PhaseDiagram
        Arrays of shape ``(len(values1), len(values2))``.

    Raises
    ------
    ValueError
        For an invalid argument, before any row is computed. A value the model rejects, or a
        point where it raises, is recorded as failed instead.
    """
    p1, values1, p2, values2 = _validate.grid(model, grid)
    # checked here, before any row, though each row's sweep checks them again; passed on as
    # given, so that checkpoint fingerprints (reprs of the options) stay what they were
    _validate.start(model, start)
    _validate.solver(solver)
    _validate.tolerances(atol, rtol)
    _validate.max_iter(max_iter)
    _validate.flag(warm, "warm", optional=True)
    _validate.flag(progress, "progress")
    kw = dict(solver=solver, atol=atol, rtol=rtol, max_iter=max_iter, warm=warm)
    rows: dict[int, dict] = {}
    folder = None
    if checkpoint is not None:
        folder, rows = _open_checkpoint(checkpoint, _fingerprint(model, p1, values1, p2, values2, start, kw))
    todo = [i for i in range(len(values1)) if i not in rows]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(values1), initial=len(values1) - len(todo), desc="phase diagram", unit="row")

    def finished(i, row):
        rows[i] = row
        if folder is not None:
            _save_row(folder, i, row)
        if bar is not None:
            bar.update(1)

    pool, owned = _make_executor(executor)
    try:
        if pool is None:
            for i in todo:
                finished(i, _row(model, p1, values1[i], p2, values2, start, kw))
        else:
            futures = {pool.submit(_row, model, p1, float(values1[i]), p2, values2, start, kw): i for i in todo}
            for fut in cf.as_completed(futures):
                finished(futures[fut], fut.result())
    finally:
        if owned:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()

    order = [rows[i] for i in range(len(values1))]
    obs_names = sorted({k for r in order for k in r["observables"]})
    observables = {}
    for k in obs_names:
        observables[k] = np.stack([r["observables"].get(k, np.full(len(values2), np.nan)) for r in order])
    return PhaseDiagram(
        params=(p1, p2), values=(values1, values2), x=np.stack([r["x"] for r in order]),
        names=tuple(model.state_names), converged=np.stack([r["converged"] for r in order]),
        status=np.stack([r["status"] for r in order]), iterations=np.stack([r["iterations"] for r in order]),
        evaluations=np.stack([r["evaluations"] for r in order]), observables=observables,
        start=start if isinstance(start, str) else "array", model=repr(model),
    )
