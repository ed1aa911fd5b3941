"""The command line as a user meets it: wrong input gives one line on stderr and exit status 2
(never a traceback, nothing computed first), non-convergence exit status 1 with a count, and the
files hold plain numbers."""

import json
import math
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import fixedpoint as fp
from fixedpoint import cli
from fixedpoint.results import Status
from fixedpoint.solvers import _HINTS

from .toymodels import Asymmetric, Cubic, Pitchfork

TOYS = {"cubic": Cubic, "asymmetric": Asymmetric, "pitchfork": Pitchfork}
COMMANDS = ("solve", "sweep", "diagram", "threshold")


@pytest.fixture
def toys(monkeypatch):
    provider = types.SimpleNamespace(available=lambda: tuple(TOYS), get=lambda name, **kw: TOYS[name](**kw))
    monkeypatch.setattr(cli, "load_models", lambda: {n: provider for n in TOYS})


@pytest.fixture
def nothing_computed(monkeypatch):
    """Any solve, sweep, diagram or threshold fails the test: the input must be refused before."""
    def computed(*args, **kwargs):
        raise AssertionError("invalid input must be refused before anything is computed")

    for name in ("solve", "sweep", "phase_diagram", "threshold", "threshold_line"):
        monkeypatch.setattr(fp, name, computed)


def _usage_error(capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err, err
    assert words in err, err
    return err


@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "afile"
    path.write_text("not a folder\n")
    return path


@pytest.mark.parametrize("argv, words", [
    (["sweep", "cubic", "p=-1:1:5", "--observable", "bogus"], "--observable"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--observable", "bogus"], "--observable"),
    (["solve", "pitchfork", "--start", "[0.1, 0.2]"], "--start"),
    (["sweep", "cubic", "p=-1:1:5", "--start", "[0.1, 0.2]"], "--start"),
    (["solve", "pitchfork", "--start", "sideways"], "--start"),
    (["solve", "pitchfork", "--max-iter", "0"], "--max-iter"),
    (["sweep", "cubic", "p=-1:1:5", "--max-iter", "-3"], "--max-iter"),
    (["threshold", "pitchfork", "beta", "--bracket", "0.5", "2", "--max-iter", "0"], "--max-iter"),
    (["threshold", "pitchfork", "beta", "--bracket", "0.5", "2", "--kind", "first_order", "--start", "informed"],
     "--start"),
    (["threshold", "pitchfork", "beta", "--bracket", "2", "0.5"], "bracket"),
    (["solve", "pitchfork", "--damping", "1"], "--damping"),
    (["solve", "pitchfork", "--atol", "-1"], "--atol"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--line", "bogus:0.5:2"], "KIND"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--line", "spinodal:-1:1:bogus"], "START"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--line", "spinodal:1:-1"], "LO < HI"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--line", "first_order:-1:1:informed"], "START"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--line", "level:-1:1"], "--level"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--lines", "auto", "--line", "first_order:-1:1"], "not both"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--lines", "some"], "--lines"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--workers", "0"], "--workers"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--workers", "-3"], "--workers"),
    (["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--figure-format", "pdf,eps"], "--figure-format"),
    (["diagram", "asymmetric", "c=0:1:100000000", "p=0:1:100000000"], "100,000,000"),
    (["diagram", "asymmetric", "c=0:1:10000", "p=0:1:10000"], "points"),
    (["sweep", "cubic", "p=-1:1:5", "p=0"], "twice"),
    (["solve", "nosuchmodel"], "unknown model"),
    (["nosuchcommand"], "invalid choice"),
])
def test_invalid_input_is_one_line_exit_2(toys, nothing_computed, capsys, tmp_path, argv, words):
    if argv[0] in ("sweep", "diagram"):
        argv = [*argv, "--out", str(tmp_path / "out")]
    _usage_error(capsys, argv, words)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_huge_grid_is_refused_before_it_is_allocated(toys, monkeypatch, capsys):
    monkeypatch.setattr(cli._Range, "values", lambda self: pytest.fail("the grid was allocated"))
    _usage_error(capsys, ["diagram", "asymmetric", "c=0:0.4:20000", "p=-1:1:20000"], "400,000,000 points")


@pytest.mark.parametrize("where", ["file", "under_file", "proc"])
def test_impossible_out_is_refused(toys, nothing_computed, capsys, afile, where):
    if where == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    out = {"file": afile, "under_file": afile / "sub", "proc": Path("/proc/no_such_fixedpoint_output")}[where]
    for argv in (["sweep", "cubic", "p=-1:1:5"], ["solve", "cubic"],
                 ["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4"]):
        _usage_error(capsys, [*argv, "--out", str(out)], "--out")


def test_checkpoint_of_another_run_is_refused(toys, capsys, tmp_path, afile):
    base = ["diagram", "asymmetric", "c=0:0.4:3", "--checkpoint", str(tmp_path / "ck"), "--out", str(tmp_path / "o")]
    assert cli.main([*base, "p=-1:1:5"]) == 0
    capsys.readouterr()
    _usage_error(capsys, [*base, "p=-1:1:6"], "different computation")
    _usage_error(capsys, ["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:5", "--checkpoint", str(afile),
                          "--out", str(tmp_path / "o")], "--checkpoint")


def test_real_entry_point_never_prints_a_traceback(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    for argv in (["sweep", "spiked_wigner", "snr=0.5:3:5", "--observable", "bogus", "--out", str(tmp_path / "o")],
                 ["sweep", "spiked_wigner", "snr=0.5:3:5", "--out", str(afile)],
                 ["solve", "spiked_wigner", "--start", "[0.1, 0.2]"],
                 ["solve", "spiked_wigner", "--max-iter", "0"],
                 ["solve", "glm_erm", "loss=logistic", "channel=linear"]):
        proc = subprocess.run([sys.executable, "-m", "fixedpoint.cli", *argv], capture_output=True, text=True)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (argv, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "error:" in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------- exit status 1


def test_solve_that_does_not_converge_exits_1_with_cli_advice(toys, capsys):
    # the uninformed start of the supercritical pitchfork needs far more than 2 iterations
    assert cli.main(["solve", "pitchfork", "beta=1.5", "--max-iter", "2", "--solver", "damped"]) == 1
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert not res["converged"] and res["scaled_residual"] > 1
    assert "did not converge" in captured.err and "--max-iter" in captured.err and "max_iter=" not in captured.err


def test_sweep_and_diagram_count_what_did_not_converge(toys, capsys, tmp_path):
    assert cli.main(["sweep", "pitchfork", "beta=1.2:2:5", "--max-iter", "2", "--solver", "damped",
                     "--start", "uninformed", "--out", str(tmp_path / "s")]) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    failed = summary["not_converged"]["uninformed"]
    assert failed >= 1 and f"{failed} of 5 points did not converge" in captured.err
    assert cli.main(["diagram", "pitchfork", "h=0:0.1:2", "beta=1.2:2:3", "--max-iter", "2", "--solver", "damped",
                     "--out", str(tmp_path / "d")]) == 1
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["not_converged"] >= 1 and f"{summary['not_converged']} of 6 points" in captured.err


@pytest.mark.parametrize("command", ["list", *COMMANDS])
def test_help_documents_the_exit_status(command, capsys):
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "exit status:" in out
    for code in ("0  every point converged", "1  the run finished but some points did not converge",
                 "2  invalid input or usage"):
        assert code in out


# ----------------------------------------------------------------------------- key=value anywhere


def test_epilog_threshold_example_runs_as_written(capsys):
    example = next(line.strip() for line in cli.EPILOG.splitlines() if line.strip().startswith("fixedpoint threshold"))
    assert cli.main(example.split()[1:]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["converged"] and abs(res["value"] - 1.0) < 1e-6  # BBP: snr = 1 for the Rademacher prior


@pytest.mark.parametrize("argv", [
    ["solve", "pitchfork", "beta=1.5", "--start", "informed", "--max-iter", "500"],
    ["solve", "pitchfork", "--start", "informed", "beta=1.5", "--max-iter", "500"],
    ["solve", "--start", "informed", "--max-iter", "500", "pitchfork", "beta=1.5"],
])
def test_parameters_anywhere_among_the_options(toys, capsys, argv):
    assert cli.main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    # pitchfork m = tanh(beta m): the positive root at beta = 1.5
    m = res["state"]["m"]
    assert abs(m - math.tanh(1.5 * m)) < 1e-9 and m > 0.5


def test_threshold_param_may_follow_the_fixed_ones(toys, capsys):
    assert cli.main(["threshold", "pitchfork", "h=0", "beta", "--bracket", "0.5", "2"]) == 0
    assert abs(json.loads(capsys.readouterr().out)["value"] - 1.0) < 1e-8
    _usage_error(capsys, ["threshold", "pitchfork", "beta", "h", "--bracket", "0.5", "2"], "exactly one parameter")


# ----------------------------------------------------------------------------- files


def _cells_are_plain(path):
    for row in path.read_text().splitlines()[1:]:
        for cell in row.split(","):
            if cell in ("True", "False") or cell in {s.value for s in Status}:
                continue
            float(cell)  # raises on np.float64(...) or anything but a number


def test_csv_and_json_hold_plain_numbers(toys, capsys, tmp_path):
    out = tmp_path / "o"
    assert cli.main(["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:7", "--out", str(out),
                     "--line", "spinodal:-1:1:uninformed", "--line", "first_order:-0.5:0.5"]) == 0
    assert cli.main(["sweep", "cubic", "p=-1:1:5", "--out", str(out)]) == 0
    csvs = sorted(out.glob("*.csv"))
    assert {p.name for p in csvs} >= {"line_spinodal_uninformed.csv", "line_first_order.csv", "diagram.csv",
                                     "sweep_uninformed.csv"}
    for path in csvs:
        assert "np." not in path.read_text()
        _cells_are_plain(path)
    rows = (out / "line_first_order.csv").read_text().splitlines()
    assert rows[0] == "c,p,converged" and rows[1].split(",")[0] == "0.0" and rows[2].split(",")[0] == "0.2"
    for path in out.glob("*.json"):
        json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"{path.name} holds {c}"))


def test_solution_json_names_its_residuals(toys, capsys):
    assert cli.main(["solve", "cubic", "p=0.2", "--start", "informed", "--atol", "1e-12", "--rtol", "0"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert "residual" not in res and 0 <= res["scaled_residual"] <= 1
    # no residual_scale on this model: w = atol + rtol |x| = 1e-12, so the raw residual is the scaled one times 1e-12
    assert math.isclose(res["residual_max"], res["scaled_residual"] * 1e-12, rel_tol=1e-6, abs_tol=1e-300)
    assert res["error_estimate"] is None or 0 <= res["error_estimate"] <= 1
    assert "scaled_residual" in subprocess.run([sys.executable, "-m", "fixedpoint.cli", "solve", "--help"],
                                               capture_output=True, text=True).stdout


def test_figure_formats(toys, capsys, tmp_path):
    out = tmp_path / "o"
    assert cli.main(["diagram", "asymmetric", "c=0:0.4:3", "p=-1:1:4", "--out", str(out),
                     "--figure-format", "pdf,svg", "--figure-format", "png"]) == 0
    assert (out / "diagram.pdf").read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in (out / "diagram.svg").read_bytes()[:1000]
    assert (out / "diagram.png").read_bytes()[:4] == b"\x89PNG"


# ----------------------------------------------------------------------------- advice


def test_engine_advice_names_cli_options_that_exist():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for status, hint in _HINTS.items():
        text = cli.cli_message(hint)
        assert not re.search(r"\w=\)|=[0-9.]+\)|fixedpoint\.|solver=", text), (status, text)
        options = set(re.findall(r"--[a-z][a-z-]*", text))
        for command in COMMANDS:
            known = {s for a in commands[command]._actions for s in a.option_strings}
            assert options <= known, (command, options - known)
    assert "--max-iter" in cli.cli_message(_HINTS[Status.MAX_ITER])
    assert "--damping" in cli.cli_message(_HINTS[Status.NONFINITE])
    assert "--atol" in cli.cli_message(_HINTS[Status.STAGNATED])


@pytest.mark.parametrize("solver, cls, damping", [("damped", fp.Damped, 0.8), ("anderson", fp.Anderson, 0.3)])
def test_solver_options_reach_the_engine(toys, capsys, monkeypatch, solver, cls, damping):
    seen = {}
    real = fp.solve

    def spy(model, **kw):
        seen.update(kw)
        return real(model, **kw)

    monkeypatch.setattr(fp, "solve", spy)
    assert cli.main(["solve", "cubic", "--solver", solver, "--damping", str(damping), "--atol", "1e-9",
                     "--rtol", "1e-8", "--max-iter", "777"]) == 0
    assert seen["solver"] == cls(damping=damping) and seen["max_iter"] == 777
    assert seen["atol"] == 1e-9 and seen["rtol"] == 1e-8
    assert np.isfinite(json.loads(capsys.readouterr().out)["state"]["x"])
