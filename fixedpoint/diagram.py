"""``phase_diagram``: fixed points on a 2-D parameter grid, in parallel and resumable.

Each row (one value of the first parameter) is a :func:`fixedpoint.sweep` along the second
parameter, so it has the sweep's semantics: every point is the fixed point that
``solve(model_at_point, start=start)`` reaches. Rows are independent tasks for any
``concurrent.futures.Executor`` (a process pool, or a dask.distributed client's
``get_executor()``); the result does not depend on the number of workers. With
``executor=n`` or ``"process"`` (a pool of worker processes started here), the first row is
computed in the calling process before the others are submitted, so that the Numba kernels a
row needs are compiled once there (workers forked afterwards inherit them, spawned ones load
them from the on-disk cache) rather than once in every worker.

Checkpoints
-----------
With ``checkpoint=path`` the folder ``path`` holds

``meta.json``
    The fingerprint of the computation: ``repr`` of the model, a sha256 of the grid, the
    parameter names, the grid shape, the start and the solver options. It is written before
    the first row.
``row_00005.npz``
    Row 5 (the name has at least five digits), an ``.npz`` archive without pickled data:
    ``x`` of shape ``(n2, k)`` (``k`` state entries, float), ``converged`` (bool),
    ``status`` (str), ``iterations`` and ``evaluations`` (int), ``error_estimate`` (float; absent
    from rows written before it existed, read back as NaN), one ``obs::<name>`` (float)
    per observable, all of shape ``(n2,)``; ``row_index`` (the row the file holds) and
    ``sha256``, a checksum over the fingerprint, the row index and every array's name,
    dtype, shape and bytes.

Guarantees:

* Every file is written to a temporary file in the same folder, flushed and ``fsync``-ed,
  renamed over its final name with ``os.replace`` and the folder is ``fsync``-ed too (where
  the OS can open a folder). After a crash, a kill or a power cut a file is complete or
  absent; leftover temporary files (hidden, ending in ``.tmp``) are removed on the next run.
* Running again with the same path computes only the rows that are missing or unusable, and
  the result is bit for bit that of an uninterrupted run.
* A row file that cannot be read, has missing, extra or pickled arrays, wrong shapes or
  dtypes, a row index other than its name's, or a checksum that does not match (an edited
  file, or one from another checkpoint) is never used: it is recomputed (and overwritten),
  with a :class:`CheckpointWarning` naming the file and what was wrong.
* A folder written for another computation, or holding row files without a readable
  ``meta.json``, is refused with a ``ValueError``: its rows cannot be told apart from
  another computation's. An empty or new folder is fine.
* Two runs must not share a checkpoint folder at the same time.

Worker processes that ``phase_diagram`` starts itself (``executor=2``, ``"process"``) exit when
the parent process dies, even from ``kill -9`` (see :func:`_exit_with_parent`).
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import hashlib
import json
import multiprocessing
import os
import re
import secrets
import signal
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from . import _jit, _validate
from .continuation import at, sweep
from .protocol import THREADS_VARIABLE
from .results import PhaseDiagram, Status

__all__ = ["phase_diagram", "CheckpointWarning"]


class CheckpointWarning(UserWarning):
    """A checkpoint file was damaged, foreign or edited; it is ignored and its row recomputed."""


def _row(model, p1, v1, p2, values2, start, kw):
    """One row: a sweep along ``p2`` at ``p1 = v1`` (module level so that it pickles)."""
    # a diagram is a long job: compiled kernels from its first point, in every process, so that
    # its points do not depend on which process computed them (fixedpoint._jit)
    _jit.compile_now()
    try:
        m = at(model, **{p1: v1})
    except ValueError:
        # the model rejects this value of p1 (a valid number, e.g. a negative variance): every
        # point of the row failed, as a rejected value fails its point in a sweep
        n = len(values2)
        return {"x": np.full((n, len(model.state_names)), np.nan), "converged": np.zeros(n, bool),
                "status": np.full(n, Status.FAILED.value), "iterations": np.zeros(n, int),
                "evaluations": np.zeros(n, int), "error_estimate": np.full(n, np.nan), "observables": {}}
    sw = sweep(m, p2, values2, start=start, **kw)
    return {"x": np.asarray(sw.x), "converged": np.asarray(sw.converged), "status": np.asarray(sw.status),
            "iterations": np.asarray(sw.iterations), "evaluations": np.asarray(sw.evaluations),
            "error_estimate": np.asarray(sw.error_estimate),
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


def _fingerprint_sha256(fp: dict) -> str:
    """sha256 of the fingerprint in a canonical JSON form (key order and spacing fixed)."""
    return hashlib.sha256(json.dumps(fp, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ----------------------------------------------------------------------------- row files

_ROW_KEY = "row_index"  # the row a file holds: a file copied to another name is caught
_SUM_KEY = "sha256"  # checksum of everything else, see _row_checksum
_OBS = "obs::"  # prefix of observables (cannot collide with the fixed keys below)
_ARRAY_KINDS = {"x": "f", "converged": "b", "status": "U", "iterations": "iu", "evaluations": "iu"}
#: arrays a row file has unless it was written before they existed (read back as NaN then)
_LATER_KINDS = {"error_estimate": "f"}
_ROW_NAME = re.compile(r"row_(\d+)\.npz")
_ZIP_MAGIC = b"PK\x03\x04"  # an .npz is a zip archive; anything else is not even tried


class _BadRow(Exception):
    """A row (file) that must not be used; the message says why."""


def _row_arrays(row: dict) -> dict[str, np.ndarray]:
    """The flat ``{name: array}`` form in which a row is stored (observables prefixed)."""
    arrays = {k: np.asarray(row[k]) for k in (*_ARRAY_KINDS, *_LATER_KINDS)}
    arrays.update({_OBS + k: np.asarray(v) for k, v in row["observables"].items()})
    return arrays


def _check_arrays(arrays: dict, n2: int, k: int) -> None:
    """Raise ``_BadRow`` unless ``arrays`` has exactly the keys, shapes and dtypes of a row."""
    missing = sorted(set(_ARRAY_KINDS) - set(arrays))
    if missing:
        raise _BadRow(f"missing arrays {missing}")
    extra = sorted(n for n in arrays if n not in _ARRAY_KINDS and n not in _LATER_KINDS and not n.startswith(_OBS))
    if extra:
        raise _BadRow(f"unexpected arrays {extra}")
    for name, a in arrays.items():
        shape = (n2, k) if name == "x" else (n2,)
        kinds = _ARRAY_KINDS.get(name, _LATER_KINDS.get(name, "f"))  # observables are float
        if a.dtype.kind not in kinds:
            raise _BadRow(f"array {name!r} has dtype {a.dtype}, expected kind {kinds!r}")
        if a.shape != shape:
            raise _BadRow(f"array {name!r} has shape {a.shape}, expected {shape}")


def _row_checksum(arrays: dict, i: int, fp_sha256: str) -> str:
    """sha256 binding a row's arrays to its index and to the computation's fingerprint.

    The fingerprint's hash is part of the checksum, so a row written by another computation
    (another model, grid or start) does not pass even when it has the same shape. Each array
    contributes its name, dtype and shape (which fix its byte length, so the encoding is
    unambiguous) followed by its bytes in C order.
    """
    h = hashlib.sha256()
    h.update(json.dumps(["fixedpoint checkpoint row", 1, fp_sha256, int(i)]).encode())
    for name in sorted(arrays):
        a = arrays[name]
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes(order="C"))
    return h.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where a folder cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse to fsync a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _write_durably(folder: Path, name: str, write) -> None:
    """Write ``folder / name`` atomically and durably; ``write(f)`` fills a binary file object.

    The data goes to a hidden temporary file in the same folder (so that the rename stays on
    one file system), is flushed and fsync-ed, then renamed over ``name`` and the folder is
    fsync-ed: after a crash or a power cut ``name`` is either its old content or the complete
    new one, never a prefix (a rename without the fsync can reach the disk before the data).
    """
    tmp = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _save_row(folder: Path, i: int, row: dict, fp_sha256: str) -> None:
    """Write row ``i`` with its index and checksum (see the module docstring for the format)."""
    arrays = _row_arrays(row)
    try:
        # what the loader would reject (e.g. an object array, which np.savez would pickle) is a
        # bug to report now, not a file to discard on resume
        _check_arrays(arrays, *(arrays["x"].shape if arrays["x"].ndim == 2 else (-1, -1)))
    except _BadRow as exc:
        raise RuntimeError(f"row {i} cannot be checkpointed: {exc}") from None
    stored = dict(arrays)
    stored[_ROW_KEY] = np.asarray(i, np.int64)
    stored[_SUM_KEY] = np.asarray(_row_checksum(arrays, i, fp_sha256))
    _write_durably(folder, f"row_{i:05d}.npz", lambda f: np.savez(f, **stored))


def _read_npz(f) -> dict[str, np.ndarray]:
    """Every array of the open .npz file ``f``; ``allow_pickle=False``: a file is data, never code."""
    with np.load(f, allow_pickle=False) as d:
        return {name: d[name] for name in d.files}


def _load_row(path: Path, i: int, n2: int, k: int, fp_sha256: str) -> dict:
    """Row ``i`` from ``path``, validated; raises ``_BadRow`` saying what is wrong with it."""
    # our own handle, closed whatever happens (np.load(path) leaks its handle on a broken zip)
    with open(path, "rb") as f:
        head = f.read(len(_ZIP_MAGIC))
        if not head:
            raise _BadRow("the file is empty")
        if head != _ZIP_MAGIC:
            raise _BadRow("not an .npz archive")
        f.seek(0)
        try:
            arrays = _read_npz(f)
        except ValueError as exc:
            if "pickle" in str(exc):
                raise _BadRow("it contains a pickled (object) array") from None
            raise _BadRow(f"unreadable .npz archive ({exc})") from None
        except Exception as exc:  # truncated archive, bad CRC, broken .npy header: zipfile and numpy raise many types
            raise _BadRow(f"unreadable .npz archive ({type(exc).__name__}: {exc})") from None
    stored_i, checksum = arrays.pop(_ROW_KEY, None), arrays.pop(_SUM_KEY, None)
    if stored_i is None or checksum is None:
        raise _BadRow(f"no {_ROW_KEY!r} or {_SUM_KEY!r} entry (written by an older fixedpoint, or not a row)")
    if stored_i.shape != () or stored_i.dtype.kind not in "iu":
        raise _BadRow(f"{_ROW_KEY!r} is not an integer")
    if checksum.shape != () or checksum.dtype.kind != "U":
        raise _BadRow(f"{_SUM_KEY!r} is not a string")
    if int(stored_i) != i:
        raise _BadRow(f"it holds row {int(stored_i)}, not row {i} (a copied or renamed file)")
    _check_arrays(arrays, n2, k)
    if str(checksum) != _row_checksum(arrays, i, fp_sha256):
        raise _BadRow("checksum mismatch (the file was edited, or written for another computation)")
    row = {name: arrays[name] for name in _ARRAY_KINDS}
    for name in _LATER_KINDS:
        row[name] = arrays[name] if name in arrays else np.full(n2, np.nan)
    row["observables"] = {name[len(_OBS):]: a for name, a in arrays.items() if name.startswith(_OBS)}
    return row


# ----------------------------------------------------------------------------- the folder

# hidden temporary files of _write_durably (and of versions before it); never final files
_TMP_PATTERNS = (".row_*.tmp", ".row_*.tmp.npz", ".meta*.tmp")


def _read_meta(meta: Path):
    """The fingerprint stored in ``meta``, or ``None`` when it is absent; ``ValueError`` if unreadable."""
    if not meta.exists():
        return None
    try:
        old = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = "it is empty" if meta.stat().st_size == 0 else f"it is not valid JSON ({exc})"
    else:
        if isinstance(old, dict):
            return old
        reason = "it is not a JSON object"
    raise ValueError(f"checkpoint folder {meta.parent} has an unreadable meta.json ({reason}), so its row files "
                     f"cannot be checked; delete the folder (or its meta.json and row_*.npz files) or use "
                     f"another checkpoint path")


def _open_checkpoint(path, fp: dict, k: int) -> tuple[Path, dict, str]:
    """Open (or create) the checkpoint folder ``path`` for the computation ``fp``.

    Parameters
    ----------
    path : path-like
        The checkpoint folder (created if needed).
    fp : dict
        The computation's fingerprint (:func:`_fingerprint`).
    k : int
        Number of state entries of the model.

    Returns
    -------
    folder : Path
    rows : dict of int -> dict
        The valid rows already computed; damaged ones are left out with a ``CheckpointWarning``.
    fp_sha256 : str
        Hash of ``fp``, part of every row's checksum.

    Raises
    ------
    ValueError
        If ``path`` is not a folder, its ``meta.json`` is unreadable or for another
        computation, or it holds row files but no ``meta.json``.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint must be a folder, but {folder} is a file")
    folder.mkdir(parents=True, exist_ok=True)
    for pattern in _TMP_PATTERNS:  # left by a run killed while writing (see the module docstring)
        for tmp in folder.glob(pattern):
            try:
                tmp.unlink()
            except OSError:
                pass
    n1, n2 = fp["shape"]
    meta = folder / "meta.json"
    old = _read_meta(meta)
    files = sorted(folder.glob("row_*.npz"))
    if old is None:
        if files:
            # rows without a fingerprint could be any computation's: never guess
            raise ValueError(f"checkpoint folder {folder} has {len(files)} row file(s) but no meta.json, so it "
                             f"cannot tell which computation wrote them; delete the folder (or its row_*.npz "
                             f"files) or use another checkpoint path")
        _write_durably(folder, "meta.json", lambda f: f.write(json.dumps(fp, indent=1).encode("utf-8")))
    elif old != fp:
        diff = [key for key in fp if old.get(key) != fp[key]] + [key for key in old if key not in fp]
        raise ValueError(f"checkpoint {folder} was written for a different computation (differs in: "
                         f"{', '.join(diff)}); use another checkpoint path or delete this one")
    fp_sha256 = _fingerprint_sha256(fp)
    done = {}
    for f in files:
        m = _ROW_NAME.fullmatch(f.name)
        i = int(m.group(1)) if m else -1
        if not m or f.name != f"row_{i:05d}.npz" or i >= n1:
            warnings.warn(f"checkpoint file {f} is not a row of this {n1}-row diagram; ignored (delete it)",
                          CheckpointWarning, stacklevel=3)
            continue
        try:
            done[i] = _load_row(f, i, n2, k, fp_sha256)
        except (_BadRow, OSError) as exc:
            warnings.warn(f"checkpoint file {f} is damaged: {exc}; recomputing row {i}",
                          CheckpointWarning, stacklevel=3)
    return folder, done, fp_sha256


# ----------------------------------------------------------------------------- workers

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _exit_with_parent() -> None:
    """Initializer of the worker processes ``phase_diagram`` starts: exit when the parent dies.

    A process pool's workers are not children the OS kills with their parent: after a
    ``kill -9`` of the parent they would go on computing rows nobody collects. Two guards:

    * Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill this worker when
      the thread that forked it ends; that thread is the one blocked in ``phase_diagram``
      until the pool is shut down, so it only ends with the process (with the "forkserver"
      start method the parent is the fork server, which exits when the main process dies).
      It works even while a compiled kernel holds the GIL, which would stall the thread below.
    * Everywhere: a daemon thread waits on ``multiprocessing.parent_process()`` (a pipe that
      reaches EOF, or on Windows a process handle that is signalled, when the process that
      started the pool exits) and checks ``os.getppid()``, which changes when a POSIX parent
      dies and the worker is re-parented. The second check is needed with "fork": workers
      forked later inherit the write end of an earlier worker's pipe, which then reaches EOF
      only when they exit too. The worker then ends with ``os._exit``. Workers never write
      checkpoint files, so dying abruptly loses nothing but the rows in progress.

    Errors of the Linux guard are ignored: an initializer that raises breaks the pool.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # not started by multiprocessing: nothing to watch
        return
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: the thread below still works
            pass
    ppid = os.getppid()

    def watch():
        # is_alive() also catches a parent that died before this initializer ran (ppid would
        # then already be the new parent's, and prctl would have come too late)
        while parent.is_alive() and os.getppid() == ppid:
            parent.join(0.25)  # returns at once when the parent exits, else after 0.25 s
        os._exit(1)

    threading.Thread(target=watch, name="fixedpoint-exit-with-parent", daemon=True).start()


def _init_worker(threads: int) -> None:
    """Initializer of the worker processes ``phase_diagram`` starts: the watchdog
    (:func:`_exit_with_parent`), and the share of the cores each worker's model may use for
    threads of its own (:func:`fixedpoint.protocol.thread_budget`)."""
    _exit_with_parent()
    os.environ[THREADS_VARIABLE] = str(threads)


def _process_pool(workers: int):
    cores = os.cpu_count() or 1
    return cf.ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                  initargs=(max(1, cores // workers),))


def _make_executor(executor):
    """(executor, owned) from None | int | "process" | "thread" | Executor."""
    if executor is None:
        return None, False
    if isinstance(executor, cf.Executor):
        return executor, False
    if isinstance(executor, str):
        if executor == "process":
            return _process_pool(os.cpu_count() or 1), True
        if executor == "thread":
            return cf.ThreadPoolExecutor(max_workers=os.cpu_count()), True
    if isinstance(executor, int) and not isinstance(executor, bool) and executor >= 1:
        if executor == 1:
            return None, False
        return _process_pool(executor), True
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
        folder, rows, fp_sha256 = _open_checkpoint(checkpoint, _fingerprint(model, p1, values1, p2, values2, start, kw),
                                                   len(model.state_names))
    todo = [i for i in range(len(values1)) if i not in rows]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(values1), initial=len(values1) - len(todo), desc="phase diagram", unit="row")

    def finished(i, row):
        rows[i] = row
        if folder is not None:
            _save_row(folder, i, row, fp_sha256)
        if bar is not None:
            bar.update(1)

    pool, owned = _make_executor(executor)
    try:
        if pool is None:
            for i in todo:
                finished(i, _row(model, p1, values1[i], p2, values2, start, kw))
        else:
            if todo and owned and isinstance(pool, cf.ProcessPoolExecutor):
                # the first row here, before any task is submitted (the pool starts its workers at
                # the first submit): the Numba kernels of a row are compiled (or loaded from the
                # cache) once, in this process, and the workers forked afterwards inherit them
                # (spawned ones load them from the cache), instead of each compiling the same
                # kernels again: with an empty cache, ~3 s of CPU per worker for the README's diagram
                finished(todo[0], _row(model, p1, float(values1[todo[0]]), p2, values2, start, kw))
                todo = todo[1:]
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
        error_estimate=np.stack([r["error_estimate"] for r in order]),
    )
