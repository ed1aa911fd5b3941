"""The command line: a round trip on toy models plugged in as a provider, and the real entry point."""

import json
import subprocess
import sys
import types

import numpy as np
import pytest

from fixedpoint import cli

from .toymodels import Asymmetric, Cubic, Pitchfork

TOYS = {"cubic": Cubic, "asymmetric": Asymmetric, "pitchfork": Pitchfork}


@pytest.fixture
def toys(monkeypatch):
    provider = types.SimpleNamespace(available=lambda: tuple(TOYS), get=lambda name, **kw: TOYS[name](**kw))
    monkeypatch.setattr(cli, "load_models", lambda: {n: provider for n in TOYS})


def test_list(toys, capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "cubic: state (x); parameters: p=0.0" in out


def test_solve_prints_json(toys, capsys, tmp_path):
    assert cli.main(["solve", "cubic", "p=0.2", "--start", "informed", "--out", str(tmp_path)]) == 0
    res = json.loads(capsys.readouterr().out)
    r = np.roots([1, 0, -1, -0.2]).real.max()
    assert res["converged"] and abs(res["state"]["x"] - r) < 1e-9
    assert json.loads((tmp_path / "solution.json").read_text()) == res


def test_sweep_writes_csv_json_png(toys, tmp_path, capsys):
    assert cli.main(["sweep", "cubic", "p=-1:1:21", "--out", str(tmp_path)]) == 0
    files = {p.name for p in tmp_path.iterdir()}
    assert {"sweep_uninformed.csv", "sweep_informed.csv", "sweep.png", "sweep.json"} <= files
    rows = (tmp_path / "sweep_informed.csv").read_text().splitlines()
    assert rows[0].startswith("p,x,x2,converged") and len(rows) == 22
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


def test_diagram_with_lines_and_checkpoint(toys, tmp_path, capsys):
    args = ["diagram", "asymmetric", "c=0:0.4:4", "p=-1:1:15", "--out", str(tmp_path / "o"),
            "--checkpoint", str(tmp_path / "ck"), "--line", "spinodal:-1:1:uninformed", "--line", "first_order:-0.5:0.5"]
    assert cli.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["points"] == 60 and summary["lines"] == {"spinodal (uninformed)": 4, "first_order": 4}
    files = {p.name for p in (tmp_path / "o").iterdir()}
    assert {"diagram.csv", "diagram.npz", "diagram.png", "diagram.json", "line_spinodal_uninformed.csv",
            "line_first_order.csv"} <= files
    assert len(list((tmp_path / "ck").glob("row_*.npz"))) == 4


def test_threshold(toys, capsys):
    assert cli.main(["threshold", "pitchfork", "beta", "--bracket", "0.5", "2", "--kind", "stability"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert abs(res["value"] - 1) < 1e-8 and res["converged"]


@pytest.mark.parametrize("argv, words", [
    (["solve", "nosuchmodel"], "unknown model"),
    (["solve", "pitchfork", "beta=-1"], "beta"),
    (["solve", "pitchfork", "gamma=1"], "gamma"),
    (["sweep", "cubic", "p=1"], "range"),
    (["diagram", "cubic", "p=0:1:3"], "two"),
    (["threshold", "cubic", "p", "--bracket", "0.5", "0.9", "--kind", "first_order"], "bracket"),
])
def test_errors_are_one_line_and_nonzero(toys, capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fixedpoint: error:") and words in err and "\n" not in err


def test_console_script_and_entry_point():
    # the installed command finds the equations package through the fixedpoint.models group
    proc = subprocess.run([sys.executable, "-m", "fixedpoint.cli", "list"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    import equations

    for name in equations.available():
        assert f"{name}: state" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "fixedpoint.cli", "solve", "no_such_model"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "unknown model" in proc.stderr
    help_text = subprocess.run([sys.executable, "-m", "fixedpoint.cli", "diagram", "--help"], capture_output=True,
                               text=True).stdout
    assert "examples:" in help_text and "--line" in help_text
