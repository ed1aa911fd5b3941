"""Self-healing phase-diagram checkpoints (``fixedpoint.diagram``).

A damaged, foreign or edited row file is recomputed with a ``CheckpointWarning`` naming it and
the diagram is bit for bit that of an uncheckpointed run; a folder whose rows cannot be
attributed to this computation is refused; files are written durably; worker processes do not
outlive a killed parent.
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import fixedpoint as fp
import fixedpoint.diagram as dg

from .toymodels import Contraction, Pitchfork

# Contraction: two state entries and two observables, so shapes (n2, k) with k = 2 are exercised
GRID = {"a": np.linspace(0.2, 0.8, 4), "b": np.linspace(0.5, 1.5, 5)}


@pytest.fixture(scope="module")
def reference():
    return fp.phase_diagram(Contraction(), GRID)


@pytest.fixture
def ck(tmp_path):
    """A complete checkpoint folder of the reference computation."""
    folder = tmp_path / "ck"
    fp.phase_diagram(Contraction(), GRID, checkpoint=folder)
    assert sorted(p.name for p in folder.glob("row_*.npz")) == [f"row_{i:05d}.npz" for i in range(4)]
    return folder


@pytest.fixture
def computed(monkeypatch):
    """The row indices ``phase_diagram`` computes (rather than loads) from now on."""
    rows = []
    real = dg._row

    def spy(model, p1, v1, *args):
        rows.append(int(np.flatnonzero(GRID["a"] == v1)[0]))
        return real(model, p1, v1, *args)

    monkeypatch.setattr(dg, "_row", spy)
    return rows


def assert_identical(d, ref):
    assert d.params == ref.params and d.names == ref.names and d.start == ref.start and d.model == ref.model
    for a, b in zip(d.values, ref.values):
        assert np.array_equal(a, b)
    for name in ("x", "converged", "status", "iterations", "evaluations", "error_estimate"):
        a, b = getattr(d, name), getattr(ref, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert set(d.observables) == set(ref.observables)
    for name in ref.observables:
        assert np.array_equal(d.observables[name], ref.observables[name], equal_nan=True), name


@contextmanager
def _no_checkpoint_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", dg.CheckpointWarning)
        yield


def _arrays(path):
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def _resave_with_valid_checksum(folder, name, edit):
    """Rewrite ``folder/name`` after ``edit(arrays)`` with a checksum that matches the edit.

    Only the structural checks (keys, shapes, dtypes) can then reject the file.
    """
    fp_hash = dg._fingerprint_sha256(json.loads((folder / "meta.json").read_text()))
    arrays = _arrays(folder / name)
    i, arrays = int(arrays.pop(dg._ROW_KEY)), {k: v for k, v in arrays.items() if k != dg._SUM_KEY}
    edit(arrays)
    np.savez(folder / name, **arrays, **{dg._ROW_KEY: np.int64(i), dg._SUM_KEY: dg._row_checksum(arrays, i, fp_hash)})


# ----------------------------------------------------------------------------- damage


def truncate(folder):
    p = folder / "row_00002.npz"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return p


def empty(folder):
    p = folder / "row_00002.npz"
    p.write_bytes(b"")
    return p


def garbage(folder):
    p = folder / "row_00002.npz"
    p.write_bytes(np.random.default_rng(0).bytes(500))
    return p


def garbage_zip(folder):
    p = folder / "row_00002.npz"  # the zip magic, then noise: numpy and zipfile get further
    p.write_bytes(b"PK\x03\x04" + np.random.default_rng(1).bytes(500))
    return p


def copied(folder):
    shutil.copyfile(folder / "row_00001.npz", folder / "row_00003.npz")
    return folder / "row_00003.npz"


def edited_value(folder):
    # one ulp in one entry, the rest (old checksum included) kept: a valid .npz that lies
    p = folder / "row_00002.npz"
    arrays = _arrays(p)
    arrays["x"][1, 0] = np.nextafter(arrays["x"][1, 0], np.inf)
    np.savez(p, **arrays)
    return p


def edited_checksum(folder):
    p = folder / "row_00001.npz"
    arrays = _arrays(p)
    old = str(arrays[dg._SUM_KEY])
    arrays[dg._SUM_KEY] = np.asarray(old[:-1] + ("0" if old[-1] != "0" else "1"))
    np.savez(p, **arrays)
    return p


def foreign(folder):
    # the same arrays bit for bit (Contraction ignores the start), but another computation's
    # fingerprint: only the checksum can tell
    other = folder.parent / "other"
    fp.phase_diagram(Contraction(), GRID, start="informed", checkpoint=other)
    assert np.array_equal(_arrays(other / "row_00000.npz")["x"], _arrays(folder / "row_00000.npz")["x"])
    shutil.copyfile(other / "row_00000.npz", folder / "row_00000.npz")
    return folder / "row_00000.npz"


def pickled(folder):
    p = folder / "row_00003.npz"
    arrays = _arrays(p)
    arrays["status"] = arrays["status"].astype(object)
    np.savez(p, **arrays)  # np.savez pickles object arrays
    return p


def no_checksum(folder):
    # what versions before checksums wrote
    p = folder / "row_00001.npz"
    arrays = _arrays(p)
    del arrays[dg._SUM_KEY]
    np.savez(p, **arrays)
    return p


def wrong_shape(folder):
    _resave_with_valid_checksum(folder, "row_00002.npz", lambda a: a.update(x=a["x"][:, :1]))
    return folder / "row_00002.npz"


def wrong_dtype(folder):
    _resave_with_valid_checksum(folder, "row_00002.npz", lambda a: a.update(iterations=a["iterations"] * 1.0))
    return folder / "row_00002.npz"


def missing_array(folder):
    _resave_with_valid_checksum(folder, "row_00000.npz", lambda a: a.pop("converged"))
    return folder / "row_00000.npz"


def extra_array(folder):
    _resave_with_valid_checksum(folder, "row_00000.npz", lambda a: a.update(extra=np.zeros(5)))
    return folder / "row_00000.npz"


@pytest.mark.parametrize("damage, reason", [
    (truncate, "unreadable"),
    (empty, "empty"),
    (garbage, "not an .npz"),
    (garbage_zip, "unreadable"),
    (copied, "holds row 1, not row 3"),
    (edited_value, "checksum"),
    (edited_checksum, "checksum"),
    (foreign, "checksum"),
    (pickled, "pickled"),
    (no_checksum, "no 'row_index' or 'sha256'"),
    (wrong_shape, r"'x' has shape \(5, 1\), expected \(5, 2\)"),
    (wrong_dtype, "'iterations' has dtype float64"),
    (missing_array, "missing arrays \\['converged'\\]"),
    (extra_array, "unexpected arrays \\['extra'\\]"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_a_damaged_row_is_recomputed_with_a_warning_naming_it(ck, reference, computed, damage, reason):
    bad = damage(ck)
    i = int(bad.stem[4:])
    computed.clear()  # (foreign computes another checkpoint)
    with pytest.warns(dg.CheckpointWarning) as record:
        d = fp.phase_diagram(Contraction(), GRID, checkpoint=ck)
    messages = [str(w.message) for w in record if issubclass(w.category, dg.CheckpointWarning)]
    assert len(messages) == 1, messages
    assert str(bad) in messages[0] and re.search(reason, messages[0]), messages[0]
    assert computed == [i]  # that row only, the others are loaded
    assert_identical(d, reference)
    # healed: the row was rewritten, the next run warns about nothing and computes nothing
    computed.clear()
    with _no_checkpoint_warnings():
        assert_identical(fp.phase_diagram(Contraction(), GRID, checkpoint=ck), reference)
    assert computed == []


def test_a_damaged_row_is_also_recomputed_by_a_process_pool(ck, reference):
    truncate(ck)
    with pytest.warns(dg.CheckpointWarning, match="row_00002.npz"):
        d = fp.phase_diagram(Contraction(), GRID, checkpoint=ck, executor=2)
    assert_identical(d, reference)


def test_files_that_are_not_rows_of_this_diagram_are_ignored_with_a_warning(ck, reference, computed):
    shutil.copyfile(ck / "row_00001.npz", ck / "row_00007.npz")  # beyond the 4 rows
    shutil.copyfile(ck / "row_00001.npz", ck / "row_1.npz")  # not a name this code writes
    with pytest.warns(dg.CheckpointWarning) as record:
        d = fp.phase_diagram(Contraction(), GRID, checkpoint=ck)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert str(ck / "row_00007.npz") in messages[0] and str(ck / "row_1.npz") in messages[1]
    assert all("not a row of this 4-row diagram" in m for m in messages)
    assert computed == []
    assert_identical(d, reference)


# ----------------------------------------------------------------------------- resuming


def test_resuming_a_complete_checkpoint_computes_nothing_and_rewrites_nothing(ck, reference, monkeypatch):
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in ck.iterdir()}

    def no_rows(*args):
        raise AssertionError("a row was computed")

    monkeypatch.setattr(dg, "_row", no_rows)
    with _no_checkpoint_warnings():
        d = fp.phase_diagram(Contraction(), GRID, checkpoint=ck)
    assert_identical(d, reference)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in ck.iterdir()} == before


def test_leftover_temporary_files_are_removed_and_ignored(ck, reference, computed):
    # what a run killed while writing leaves: hidden temporary files, possibly half-written
    leftovers = [".row_00002.npz.123.abcd1234.tmp", ".row_00003.tmp.npz", ".meta.json.123.abcd1234.tmp", ".meta.tmp"]
    for name in leftovers:
        (ck / name).write_bytes(b"PK\x03\x04half")
    (ck / "row_00002.npz").unlink()  # the row the killed run was writing
    with _no_checkpoint_warnings():
        d = fp.phase_diagram(Contraction(), GRID, checkpoint=ck)
    assert computed == [2]
    assert_identical(d, reference)
    assert sorted(p.name for p in ck.iterdir()) == ["meta.json"] + [f"row_{i:05d}.npz" for i in range(4)]


def test_a_failed_write_leaves_no_row_and_no_temporary_file(tmp_path, monkeypatch):
    real = os.replace

    def failing(src, dst):
        if Path(dst).name == "row_00001.npz":
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(dg.os, "replace", failing)
    with pytest.raises(OSError, match="disk full"):
        fp.phase_diagram(Contraction(), GRID, checkpoint=tmp_path / "ck")
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["meta.json", "row_00000.npz"]


def test_every_file_is_fsynced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"))
        return real_fsync(fd)

    def replace(src, dst):
        assert Path(src).parent == Path(dst).parent and Path(src).name.startswith(".")
        events.append(("replace", Path(dst).name))
        return real_replace(src, dst)

    monkeypatch.setattr(dg.os, "fsync", fsync)
    monkeypatch.setattr(dg.os, "replace", replace)
    fp.phase_diagram(Contraction(), GRID, checkpoint=tmp_path / "ck")
    expected = []
    for name in ["meta.json"] + [f"row_{i:05d}.npz" for i in range(4)]:
        expected += [("fsync", "file"), ("replace", name), ("fsync", "folder")]
    assert events == expected


def test_keyboard_interrupt_shuts_the_owned_pool_down_and_cancels(tmp_path, monkeypatch):
    import concurrent.futures as cf

    calls = []

    class Spy(cf.ThreadPoolExecutor):
        def shutdown(self, *args, **kwargs):
            calls.append((args, kwargs))
            return super().shutdown(*args, **kwargs)

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(dg, "_make_executor", lambda executor: (Spy(max_workers=1), True))
    monkeypatch.setattr(dg, "_row", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fp.phase_diagram(Contraction(), GRID, checkpoint=tmp_path / "ck", executor=2)
    assert calls == [((), {"cancel_futures": True})]


# ----------------------------------------------------------------------------- refused folders


def test_rows_without_meta_json_are_refused_even_for_another_model(ck):
    (ck / "meta.json").unlink()
    for model, grid in [(Contraction(), GRID), (Pitchfork(), {"beta": GRID["a"], "h": GRID["b"]})]:
        with pytest.raises(ValueError, match=re.escape(f"checkpoint folder {ck} has 4 row file(s) but no meta.json")):
            fp.phase_diagram(model, grid, checkpoint=ck)
    assert not (ck / "meta.json").exists()  # refused, not adopted


@pytest.mark.parametrize("content, reason", [
    (b"", "it is empty"),
    (b"{\"model\": \"Contr", "it is not valid JSON"),
    (b"\xff\xfe\x00garbage", "it is not valid JSON"),
    (b"[1, 2]", "it is not a JSON object"),
])
def test_an_unreadable_meta_json_is_refused(ck, content, reason):
    (ck / "meta.json").write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(f"checkpoint folder {ck} has an unreadable meta.json ({reason}")):
        fp.phase_diagram(Contraction(), GRID, checkpoint=ck)
    assert (ck / "meta.json").read_bytes() == content  # left for the user to look at


def test_a_meta_json_of_another_computation_is_refused(ck):
    with pytest.raises(ValueError, match=f"checkpoint {re.escape(str(ck))} was written for a different computation "
                                         r"\(differs in: model, grid_sha256, params\)"):
        fp.phase_diagram(Pitchfork(), {"beta": GRID["a"], "h": GRID["b"]}, checkpoint=ck)
    meta = json.loads((ck / "meta.json").read_text())
    meta["extra"] = 1
    (ck / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"differs in: extra"):
        fp.phase_diagram(Contraction(), GRID, checkpoint=ck)


def test_new_and_empty_folders_are_fine_and_a_file_is_refused(tmp_path, reference):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "new" / "nested"):
        assert_identical(fp.phase_diagram(Contraction(), GRID, checkpoint=folder), reference)
        assert len(list(folder.glob("row_*.npz"))) == 4
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="checkpoint must be a folder"):
        fp.phase_diagram(Contraction(), GRID, checkpoint=tmp_path / "file")


def test_the_row_format_is_documented_and_contains_no_pickles(ck):
    meta = json.loads((ck / "meta.json").read_text())
    fp_hash = dg._fingerprint_sha256(meta)
    with np.load(ck / "row_00002.npz", allow_pickle=False) as d:
        arrays = {k: d[k] for k in d.files}
    assert sorted(arrays) == sorted(["x", "converged", "status", "iterations", "evaluations", "error_estimate",
                                     "obs::sum", "obs::gap", "row_index", "sha256"])
    assert arrays["x"].shape == (5, 2) and all(arrays[k].shape == (5,) for k in arrays if k not in
                                                 ("x", "row_index", "sha256"))
    assert int(arrays.pop("row_index")) == 2
    checksum = str(arrays.pop("sha256"))
    assert checksum == dg._row_checksum(arrays, 2, fp_hash)
    # the checksum binds the row index and the computation
    assert checksum != dg._row_checksum(arrays, 3, fp_hash)
    assert checksum != dg._row_checksum(arrays, 2, "0" * 64)


def test_a_row_written_before_error_estimates_existed_is_used_with_nan_estimates(ck, reference, computed):
    _resave_with_valid_checksum(ck, "row_00001.npz", lambda arrays: arrays.pop("error_estimate"))
    with _no_checkpoint_warnings():
        d = fp.phase_diagram(Contraction(), GRID, checkpoint=ck)
    assert computed == []
    assert np.all(np.isnan(d.error_estimate[1]))
    assert np.array_equal(d.error_estimate[[0, 2, 3]], reference.error_estimate[[0, 2, 3]], equal_nan=True)
    assert np.array_equal(d.x, reference.x, equal_nan=True)


# ----------------------------------------------------------------------------- worker processes

SLOW_MODEL = '''
import dataclasses, multiprocessing, os, time
from typing import ClassVar

import numpy as np


@dataclasses.dataclass(frozen=True)
class Slow:
    """A row takes a minute in a worker: the first update announces the worker's pid, then sleeps
    (the parent computes the first row itself, at once, before the workers start)."""

    a: float = 0.5
    b: float = 0.0
    name: ClassVar[str] = "slow"
    state_names: ClassVar[tuple] = ("x",)

    def initial_state(self, start="uninformed"):
        return np.zeros(1)

    def update(self, x):
        if multiprocessing.parent_process() is not None:
            open(os.path.join(os.environ["FIXEDPOINT_TEST_PIDS"], str(os.getpid())), "w").close()
            time.sleep(60)
        return self.a * x + self.b

    def observables(self, x):
        return {}

    def simulate(self, d, seed):
        return {}
'''


def test_the_pools_phase_diagram_creates_get_the_parent_watchdog(monkeypatch):
    import concurrent.futures as cf

    monkeypatch.setattr(cf, "ProcessPoolExecutor", lambda **kwargs: kwargs)  # records the arguments
    import os

    for executor in (2, "process"):
        kwargs, owned = dg._make_executor(executor)
        assert owned and kwargs["initializer"] is dg._init_worker, executor
        # each worker's share of the cores, for the threads of its model
        assert kwargs["initargs"] == (max(1, (os.cpu_count() or 1) // kwargs["max_workers"]),), executor


def test_the_watchdog_does_nothing_outside_a_worker_process():
    # in the main process there is no parent to watch: no thread, and above all no exit
    before = {t.name for t in threading.enumerate()}
    dg._exit_with_parent()
    assert {t.name for t in threading.enumerate()} == before


def _alive(pid):
    """Whether ``pid`` runs (a zombie, dead but not reaped by a non-reaping init, does not)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return text[text.rindex(")") + 2] not in "ZX"


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(pid, 0) terminates a process on Windows")
def test_worker_processes_die_with_a_killed_parent(tmp_path):
    (tmp_path / "slowmodel.py").write_text(SLOW_MODEL)
    pids = tmp_path / "pids"
    pids.mkdir()
    root = str(Path(fp.__file__).resolve().parent.parent)
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{root!r}, {str(tmp_path)!r}]
        import fixedpoint as fp
        from slowmodel import Slow
        fp.phase_diagram(Slow(), {{"a": [0.1, 0.2, 0.3], "b": [0.0, 1.0]}}, executor=2)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "FIXEDPOINT_TEST_PIDS": str(pids)},
                              stderr=subprocess.PIPE)
    workers = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            assert parent.poll() is None, parent.stderr.read().decode()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
            workers = [int(p.name) for p in pids.iterdir()]
        assert all(_alive(pid) for pid in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = [pid for pid in workers if _alive(pid)]
        assert survivors == [], f"worker processes {survivors} outlived their killed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stderr.close()
        for pid in workers:  # on failure only: do not leave sleeping workers behind
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
