"""``fixedpoint.phase_lines``: lines, their ends and special points against closed forms.

The toy models (tests/toymodels.py) have every line in closed form: the cusp catastrophe
(two spinodals and a first-order line meeting at a critical point) and an overlap-type
weak-recovery transition that turns first order at a tricritical point. The physics checks use
independent references: the sparse spiked Wigner tricritical sparsity and fold from the
``overlap(u)/u`` curve (``equations.spiked_wigner``), and thresholds located by solves
(``fixedpoint.threshold``), which share no code with the curve tracing.
"""

import json
import math

import numpy as np
import pytest

import equations
import fixedpoint as fp
from equations.spiked_wigner import fold_of_uninformed_branch, tricritical_rho
from tests.toymodels import Cusp, CuspPair, Tricritical

# grids that do not contain the special points: their ends are located, not read off the grid
A_GRID = np.linspace(-0.37, 0.61, 7)
G_GRID = np.linspace(-0.37, 0.52, 7)


@pytest.mark.parametrize("model", [Cusp(), CuspPair()], ids=["scalar", "vector"])
def test_cusp_spinodals_first_order_line_and_critical_point(model):
    pl = fp.phase_lines(model, "p", over={"a": A_GRID}, within=(-1.0, 1.0))
    assert {line.key for line in pl} == {"spinodal_uninformed", "spinodal_informed", "first_order"}
    (pt,) = pl.points
    assert pt["kind"] == "critical"
    assert abs(pt["a"]) < 1e-8 and abs(pt["p"]) < 1e-8
    for key, sign in (("spinodal_uninformed", 1), ("spinodal_informed", -1)):
        line = pl[key]
        a, p = line.over_values, line.values
        ok = np.isfinite(p)
        assert np.all(a[ok] >= pt["a"] - 1e-12)  # the lines exist only where the curve folds
        np.testing.assert_allclose(p[ok], sign * 2 * (np.maximum(a[ok], 0) / 3) ** 1.5, atol=1e-10)
        (interval,) = line.intervals
        assert interval[0] == pytest.approx(pt["a"], abs=1e-12) and interval[1] == pytest.approx(A_GRID[-1])
    it = pl["IT"]
    assert np.nanmax(np.abs(it.values)) < 1e-10  # equal free entropies at p = 0 by symmetry


def test_tricritical_point_and_the_lines_around_it():
    pl = fp.phase_lines(Tricritical(), "beta", over={"g": G_GRID}, within=(0.5, 1.5))
    (pt,) = pl.points
    assert pt["kind"] == "tricritical"
    assert abs(pt["g"]) < 1e-8 and pt["beta"] == pytest.approx(1.0, abs=1e-10)
    wr = pl["weak recovery"]
    assert wr.intervals == ((G_GRID[0], G_GRID[-1]),)
    np.testing.assert_allclose(wr.values, 1.0, atol=1e-10)
    g, low = pl["lower spinodal"].over_values, pl["lower spinodal"].values
    ok = np.isfinite(low) & (g > 1e-6)
    np.testing.assert_allclose(low[ok], 1 - g[ok] ** 2 / 4, atol=1e-10)
    g, it = pl["IT"].over_values, pl["IT"].values
    ok = np.isfinite(it)
    np.testing.assert_allclose(it[ok], 1 - 2 * np.maximum(g[ok], 0) ** 2 / 9, atol=1e-10)
    assert pl["IT"].intervals[0][0] == pytest.approx(pt["g"], abs=1e-12)
    # subcritical: the uninformed branch (q = 0) is lost at the weak-recovery threshold itself
    alg = pl["algorithmic"]
    np.testing.assert_allclose(alg.values[np.isfinite(alg.values)], 1.0, atol=1e-10)


def test_a_line_that_leaves_the_range_ends_where_it_crosses_it():
    pl = fp.phase_lines(Tricritical(), "beta", over={"g": G_GRID}, within=(0.95, 1.5))
    # 1 - g^2/4 = 0.95 and 1 - 2 g^2/9 = 0.95
    assert pl["lower spinodal"].intervals[-1][1] == pytest.approx(2 * math.sqrt(0.05), abs=1e-7)
    assert pl["IT"].intervals[-1][1] == pytest.approx(math.sqrt(0.225), abs=1e-7)


def test_regions_from_the_lines():
    pl = fp.phase_lines(Tricritical(), "beta", over={"g": G_GRID}, within=(0.5, 1.5))
    # at a computed g: lower spinodal 1 - g^2/4, IT 1 - 2 g^2/9, algorithmic = weak recovery = 1
    g = G_GRID[5]
    low, it = 1 - g * g / 4, 1 - 2 * g * g / 9
    betas = [low - 1e-3, 0.5 * (low + it), it + 1e-3, 1.01]
    assert list(pl.regions([g], betas)[0]) == ["impossible", "impossible", "hard", "easy"]
    # g = -0.3: continuous at beta = 1
    assert [pl.region(-0.3, b) for b in (0.99, 1.01)] == ["impossible", "easy"]


def test_workers_give_the_same_lines():
    one = fp.phase_lines(Cusp(), "p", over={"a": A_GRID}, within=(-1.0, 1.0))
    two = fp.phase_lines(Cusp(), "p", over={"a": A_GRID}, within=(-1.0, 1.0), workers=2)
    assert one.points == two.points
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.values, b.values)


def test_serialisable():
    pl = fp.phase_lines(Tricritical(), "beta", over={"g": G_GRID}, within=(0.5, 1.5))
    d = json.loads(json.dumps(pl.to_dict()))
    assert d["points"][0]["kind"] == "tricritical" and set(d["points"][0]) == {"kind", "g", "beta"}
    assert set(d["lines"]) == {"stability", "spinodal_uninformed", "spinodal_informed", "first_order"}


@pytest.mark.parametrize("kwargs, name", [
    (dict(line_param="nope", over={"g": G_GRID}), "line_param"),
    (dict(line_param="beta", over={"nope": G_GRID}), "over"),
    (dict(line_param="beta", over={"g": G_GRID}, within=(1.5, 0.5)), "within"),
    (dict(line_param="beta", over={"g": G_GRID}, tol=-1.0), "tol"),
    (dict(line_param="beta", over={"g": G_GRID}, workers=0), "workers"),
])
def test_invalid_arguments_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        fp.phase_lines(Tricritical(), **kwargs)


# ----------------------------------------------------------------------------- physics


@pytest.fixture(scope="module")
def sparse_wigner():
    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.05, snr=0.5)
    return fp.phase_lines(model, "snr", over={"rho": np.linspace(0.01, 0.3, 30)}, within=(0.05, 2.0))


def test_sparse_spiked_wigner_lines_meet_at_the_tricritical_point(sparse_wigner):
    pl = sparse_wigner
    (pt,) = pl.points
    assert pt["kind"] == "tricritical"
    assert pt["rho"] == pytest.approx(tricritical_rho("sparse_rademacher"), abs=1e-4)
    for key in ("spinodal_uninformed", "spinodal_informed", "first_order"):
        (interval,) = pl[key].intervals
        assert interval == (pytest.approx(0.01), pytest.approx(pt["rho"], abs=1e-12))
    # the continuous weak-recovery line snr = 1 goes on above it
    wr = pl["weak recovery"]
    assert wr.intervals == ((pytest.approx(0.01), pytest.approx(0.3)),)
    np.testing.assert_allclose(wr.values, 1.0, atol=1e-8)


def test_sparse_spiked_wigner_lines_against_independent_references(sparse_wigner):
    alg = sparse_wigner["algorithmic"]
    for rho in alg.over_values[np.isfinite(alg.values)][::4]:
        if rho < 0.095:
            assert alg(rho) == pytest.approx(fold_of_uninformed_branch("sparse_rademacher", rho), abs=1e-9)
    model = equations.get("spiked_wigner", prior="sparse_rademacher", rho=0.06, snr=0.5)
    pl = fp.phase_lines(model, "snr", over={"rho": [0.06, 0.07]}, within=(0.05, 2.0))
    for key, kind, start in (("first_order", "first_order", "uninformed"), ("spinodal_informed", "spinodal", "informed")):
        ref = fp.threshold(model, "snr", (0.5, 1.2), kind=kind, start=start).value
        assert pl[key](0.06) == pytest.approx(ref, abs=1e-7)


def test_glm_bayes_compressed_sensing_algorithmic_and_it_lines():
    model = equations.get("glm_bayes", prior="gauss_bernoulli", channel="linear", rho=0.3, noise=1e-4, alpha=0.5)
    pl = fp.phase_lines(model, "alpha", over={"rho": np.linspace(0.1, 0.9, 9)}, within=(0.05, 1.5))
    assert {line.key for line in pl} == {"spinodal_uninformed", "spinodal_informed", "first_order"}
    (pt,) = pl.points
    assert pt["kind"] == "critical" and 0.7 < pt["rho"] < 0.9
    at = equations.get("glm_bayes", prior="gauss_bernoulli", channel="linear", rho=0.3, noise=1e-4, alpha=0.5)
    for key, kind, start in (("algorithmic", "spinodal", "uninformed"), ("IT", "first_order", "uninformed")):
        ref = fp.threshold(at, "alpha", (0.3, 0.7), kind=kind, start=start).value
        assert pl[key](0.3) == pytest.approx(ref, abs=1e-7)
    # IT below algorithmic, above the lower spinodal, wherever the three exist
    rho = pl["IT"].over_values
    it, alg, low = pl["IT"](rho), pl["algorithmic"](rho), pl["lower spinodal"](rho)
    ok = np.isfinite(it)
    assert np.all(low[ok] <= it[ok] + 1e-12) and np.all(it[ok] <= alg[ok] + 1e-12)


def test_inhomogeneous_spiked_wigner_vector_state_against_solves():
    # two blocks (a two-entry state with a trivial point): the vector path of the curve
    model = equations.get("spiked_wigner_inhomogeneous", prior="sparse_rademacher", rho=0.06, snr=0.5)
    pl = fp.phase_lines(model, "snr", over={"rho": [0.06, 0.061]}, within=(0.05, 3.0))
    for key, kind, start in (("weak recovery", "stability", "uninformed"), ("lower spinodal", "spinodal", "informed"),
                             ("IT", "first_order", "uninformed")):
        ref = fp.threshold(model, "snr", (0.05, 3.0), kind=kind, start=start).value
        assert pl[key](0.06) == pytest.approx(ref, abs=1e-7)
    assert pl["algorithmic"](0.06) > pl["weak recovery"](0.06)  # the small-overlap branch folds above it


# ----------------------------------------------------------------------------- every registered model

# the parameter the signal grows with, and the one the lines are traced over
_AXES = {
    "dot_product_attention": ("alpha", "omega"),
    "gcm_erm": ("alpha", "reg"),
    "glm_bayes": ("alpha", "noise"),
    "glm_erm": ("alpha", "reg"),
    "gmm_bayes": ("alpha", "noise"),
    "gmm_erm": ("alpha", "reg"),
    "mixture_single_index": ("alpha", "reg"),
    "multi_index": ("alpha", "noise"),
    "sequence_multi_index": ("alpha", "noise"),
    "spiked_random_features": ("alpha", "reg"),
    "spiked_wigner": ("snr", "rho"),
    "spiked_wigner_inhomogeneous": ("snr", "rho"),
    "storage": ("alpha", "kappa"),
    "subspace_clustering": ("snr", "rho"),
}
# every example of every family, except that multi_index (a solve costs 0.1-1 s) contributes
# its binary-weights committee only: its four examples take 3.5 minutes together; and
# dot_product_attention none: tracing its curves costs several thousand evaluations of a channel
# that locates the jumps of a non-convex prox (3 to 7 minutes at its example's 4 teacher nodes);
# its first-order line is tested through fixedpoint.threshold in tests/equations/test_attention.py
_EXAMPLES = [(name, ex) for name in equations.available() for ex in type(equations.get(name)).examples
             if (name != "multi_index" or ex.get("prior") == "rademacher") and name != "dot_product_attention"]


@pytest.mark.slow
@pytest.mark.parametrize("name, example", _EXAMPLES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_EXAMPLES)])
def test_every_registered_model_gets_consistent_lines(name, example):
    model = equations.get(name, **example)
    line_param, over = _AXES[name]  # a new family must say which axes its lines live on
    v0, s0 = getattr(model, over), getattr(model, line_param)
    values = [min(v, 1.0) if over == "rho" else v for v in (0.8 * v0, v0, 1.2 * v0)] if v0 > 0 else [0.0, 0.05, 0.1]
    lo, hi = s0 / 4, 4 * s0
    pl = fp.phase_lines(model, line_param, over={over: values}, within=(lo, hi))
    assert isinstance(pl, fp.PhaseLines) and (pl.param, pl.over) == (line_param, over)
    for line in pl:
        finite = np.isfinite(line.values)
        assert np.all((line.values[finite] >= lo) & (line.values[finite] <= hi))
        assert np.all(np.diff(line.over_values) > 0)
        for a, b in line.intervals:
            assert min(values) <= a <= b <= max(values)
    if getattr(model, "unique_fixed_point", False):
        assert pl.get("algorithmic") is None and pl.get("lower spinodal") is None and pl.get("IT") is None
    for point in pl.points:  # where a coexistence region closes, its three lines meet
        for key in ("spinodal_uninformed", "spinodal_informed", "first_order"):
            assert pl[key](point[over]) == pytest.approx(point[line_param], abs=1e-6)
    if all(pl.get(k) is not None for k in ("IT", "algorithmic", "lower spinodal")):
        grid = pl["IT"].over_values
        it, alg, low = pl["IT"](grid), pl["algorithmic"](grid), pl["lower spinodal"](grid)
        ok = np.isfinite(it) & np.isfinite(alg) & np.isfinite(low)
        assert np.all(low[ok] <= it[ok] + 1e-9) and np.all(it[ok] <= alg[ok] + 1e-9)
