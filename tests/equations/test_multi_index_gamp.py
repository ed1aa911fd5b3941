"""GAMP for Bayes-optimal multi-index models (equations._simulate.gamp_multi) against the state
evolution of equations.multi_index."""

import math

import numpy as np
import pytest

import fixedpoint
from equations.multi_index import MultiIndex  # importing the module registers the family
from equations._simulate.gamp_multi import symmetry_group


def test_simulate_returns_the_documented_keys():
    m = MultiIndex(target="committee", p=2, alpha=1.5)
    r = m.simulate(300, 0)
    keys = {"Q[0,0]", "Q[0,1]", "Q[1,1]", "Q_sv[0]", "Q_sv[1]", "overlap", "mse", "specialisation",
            "gen_error", "label_mse", "iterations", "converged"}
    assert set(r) == keys
    assert all(isinstance(v, float) and math.isfinite(v) for v in r.values())
    assert 0.0 < r["overlap"] < 1.0
    assert r["overlap"] == pytest.approx((r["Q[0,0]"] + r["Q[1,1]"]) / 2)
    assert 0.0 <= r["gen_error"] <= 1.0


def test_simulate_validates_d():
    m = MultiIndex(target="committee", p=2, alpha=1.5)
    for bad in (1, 2.5, True, "100"):
        with pytest.raises(ValueError, match="d must"):
            m.simulate(bad, 0)


def test_symmetry_groups_of_the_builtin_targets():
    # committee: the hidden units can be exchanged, no sign flip keeps the label
    g = symmetry_group(MultiIndex(target="committee", p=2)._target)
    assert len(g) == 2
    # sign(z1 z2): +-I and +-swap
    g = symmetry_group(MultiIndex(target="sign_z1z2", p=2)._target)
    assert len(g) == 4
    assert any(np.array_equal(P, -np.eye(2)) for P in g)
    # committee of 3 sign units: the 6 permutations
    assert len(symmetry_group(MultiIndex(target="committee", p=3)._target)) == 6


GAMP_CASES = [
    dict(target="committee", p=2, prior="gaussian", alpha=1.5),
    dict(target="committee", p=2, prior="rademacher", alpha=1.0),
]


@pytest.mark.slow
@pytest.mark.parametrize("kw", GAMP_CASES)
def test_gamp_agrees_with_state_evolution(kw):
    m = MultiIndex(**kw)
    theory = fixedpoint.solve(m, start="uninformed")
    assert theory.converged
    d = 2000
    runs = [m.simulate(d, seed) for seed in range(5)]
    for key in ("overlap", "mse", "gen_error"):
        vals = np.array([r[key] for r in runs])
        se = vals.std(ddof=1) / math.sqrt(len(vals))
        # within 3 standard errors of the mean over the seeds
        assert abs(vals.mean() - theory[key]) < 3 * se, (key, vals, theory[key])
