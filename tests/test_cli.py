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
    out = capsys.readouterr().out.splitlines()
    cubic = out[out.index(next(line for line in out if line.startswith("cubic:"))):]
    assert "  state: x" in cubic and any(line.split() == ["p=0.0"] for line in cubic)
    assert "  observables: x2" in cubic


def test_list_json_is_the_catalogue(toys, capsys):
    assert cli.main(["list", "--json"]) == 0
    cat = json.loads(capsys.readouterr().out)
    assert set(cat) == set(TOYS)
    assert cat["asymmetric"]["parameters"] == {"p": {"default": 0.0}, "c": {"default": 0.3}}
    assert cat["pitchfork"]["observables"] == ["m2"]
    kinds = {(k["kind"], k["start"]) for k in cat["pitchfork"]["thresholds"]}
    # pitchfork: a trivial fixed point m = 0 and a free entropy; cubic: no trivial fixed point
    assert kinds == {("stability", None), ("spinodal", "uninformed"), ("spinodal", "informed"), ("first_order", None),
                     ("level", "uninformed")}
    assert "stability" not in {k["kind"] for k in cat["cubic"]["thresholds"]}


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
    assert summary["grid_points"] == 60 and summary["points"] == [] and summary["lines"] == {"spinodal (uninformed)": 4, "first_order": 4}
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
        assert any(line.startswith(f"{name}: ") for line in proc.stdout.splitlines())
    proc = subprocess.run([sys.executable, "-m", "fixedpoint.cli", "solve", "no_such_model"], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and "unknown model" in proc.stderr
    help_text = subprocess.run([sys.executable, "-m", "fixedpoint.cli", "diagram", "--help"], capture_output=True,
                               text=True).stdout
    assert "examples:" in help_text and "--line" in help_text


# ----------------------------------------------------------------------------- the real catalogue

import dataclasses  # noqa: E402
import math  # noqa: E402

import equations  # noqa: E402


@pytest.mark.parametrize("name", equations.available())
def test_model_parameters_match_the_dataclass(name):
    """``parameters()`` describes exactly the fields, with their defaults, in field order."""
    cls = equations.MODELS[name]
    table = cls.parameters()
    fields = [f for f in dataclasses.fields(cls) if f.init]
    assert list(table) == [f.name for f in fields]
    for f in fields:
        entry = table[f.name]
        assert entry["default"] == f.default and entry["doc"]
        assert not ("allowed" in entry and "range" in entry)


@pytest.mark.parametrize("name", equations.available())
def test_model_parameters_allowed_values_construct(name):
    """Every listed value makes a model; a value outside the list or the range is refused, naming the parameter."""
    cls = equations.MODELS[name]
    settings = [{}, *cls.examples]
    for key, entry in cls.parameters().items():
        # (a value may need other parameters changed, e.g. a continuous target noise > 0 and
        # p = 2: the examples merged pairwise cover such combinations)
        merged = [{**a, **{k: v for k, v in b.items() if k != key}} for a in cls.examples for b in cls.examples]
        for value in entry.get("allowed", ()):
            made = []
            for kw in settings + merged:
                try:
                    made.append(equations.get(name, **{**kw, key: value}))
                except ValueError:
                    pass
            assert made and all(getattr(m, key) == value for m in made), f"{key}={value!r} constructs in no example"
        if "allowed" in entry:
            with pytest.raises(ValueError, match=key):
                equations.get(name, **{key: "no-such-choice"})
        if "range" in entry:
            (lo, hi), (lo_open, hi_open) = entry["range"], entry["open"]
            inside = (lo + hi) / 2 if hi is not None else lo + 1.5
            made = []
            for kw in settings:
                try:
                    made.append(equations.get(name, **{**kw, key: inside}))
                except ValueError:  # a value that needs another parameter changed (rho < 1: a sparse prior)
                    pass
            assert made, f"{key}={inside} constructs in no example"
            outside = [lo - 1.0] + ([lo] if lo_open else []) + ([hi + 1.0] if hi is not None else [])
            outside += [hi] if hi is not None and hi_open else []
            for bad in outside:
                for kw in settings:
                    with pytest.raises(ValueError, match=key):
                        equations.get(name, **{**kw, key: bad})


def test_catalogue_threshold_kinds_follow_the_physics():
    cat = cli.catalogue()
    kinds = {name: {(k["kind"], k["start"]) for k in entry["thresholds"]} for name, entry in cat.items()}
    # spiked Wigner: trivial point m = 0 (BBP), two branches with a free entropy for sparse priors
    assert kinds["spiked_wigner"] == {("stability", None), ("spinodal", "uninformed"), ("spinodal", "informed"),
                                      ("first_order", None), ("level", "uninformed")}
    # ERM is convex: one fixed point, so no spinodal or first-order transition, and never m = 0
    assert kinds["glm_erm"] == {("level", "uninformed")}
    # Bayes GLM: q = 0 is a fixed point only for an even channel (abs)
    stability = next(k for k in cat["glm_bayes"]["thresholds"] if k["kind"] == "stability")
    assert "channel=abs" in stability["physics"]
    assert cat["spiked_wigner"]["parameters"]["snr"]["range"] == [0.0, None]
    assert set(cat["glm_bayes"]["parameters"]["prior"]["allowed"]) == set(equations.priors.PRIOR_KINDS)
    assert "mmse" in cat["spiked_wigner"]["observables"]


@pytest.mark.parametrize("loss, channel", [("logistic", "sign"), ("hinge", "sign"), ("square", "linear"),
                                           ("huber", "linear"), ("absolute", "linear")])
def test_glm_erm_channel_follows_the_loss(loss, channel):
    assert equations.get("glm_erm", loss=loss).channel == channel
    assert equations.get("glm_erm", loss=loss, channel=channel) == equations.get("glm_erm", loss=loss)


def test_glm_erm_classification_loss_with_a_regression_teacher_is_refused():
    with pytest.raises(ValueError, match="channel"):
        equations.get("glm_erm", loss="logistic", channel="linear")


def test_spiked_wigner_default_is_off_the_critical_point():
    import fixedpoint as fp

    model = equations.get("spiked_wigner", prior="gaussian")
    # Gaussian prior: m = 1 - 1/snr above the BBP point snr = 1, reached without critical slowing down
    sol = fp.solve(model)
    assert sol.converged and sol.iterations < 100
    assert math.isclose(sol["m"], 1 - 1 / model.snr, rel_tol=1e-8) and sol["m"] > 0.1


def test_diagram_lines_auto_writes_lines_and_the_tricritical_point(tmp_path, capsys):
    # the real registry: sparse spiked Wigner, tricritical sparsity 0.0964 (equations.spiked_wigner)
    from equations.spiked_wigner import tricritical_rho

    args = ["diagram", "spiked_wigner", "prior=sparse_rademacher", "rho=0.02:0.3:6", "snr=0.05:2.0:8",
            "--out", str(tmp_path), "--lines", "auto", "--figure-format", "png,svg"]
    assert cli.main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "diagram.json").read_text())
    assert set(saved["lines"]) == {"stability", "spinodal_uninformed", "spinodal_informed", "first_order"}
    (point,) = saved["points"]
    assert set(point) == {"kind", "rho", "snr"} and point["kind"] == "tricritical"
    assert point["rho"] == pytest.approx(tricritical_rho("sparse_rademacher"), abs=1e-4)
    assert printed["points"] == saved["points"]
    it = saved["lines"]["first_order"]
    assert it["intervals"] == [[0.02, pytest.approx(point["rho"])]] and len(it["rho"]) == len(it["snr"])
    rows = (tmp_path / "line_first_order.csv").read_text().splitlines()
    assert rows[0] == "rho,snr" and all(float(c) == float(c) for row in rows[1:] for c in row.split(",")[:1])
    assert {"diagram.png", "diagram.svg", "line_stability.csv"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.parametrize("text, value", [("True", True), ("False", False), ("true", True), ("false", False),
                                         ("3", 3), ("0.5", 0.5), ("hinge", "hinge"), ("[1, 2]", (1, 2))])
def test_key_value_tokens_parse_as_python_would(text, value):
    # bias=True was passed on as the string 'True', and the model refused it ("bias must be True or
    # False, got 'True'"); JSON's lowercase spelling worked
    got = cli._value(text)
    assert got == value and type(got) is type(value)
