"""Matrix order parameters: packing, results that return matrices, and domains that are not boxes."""

import dataclasses
from typing import ClassVar

import numpy as np
import pytest

import fixedpoint as fp
from fixedpoint import matrices


@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_pack_unpack_round_trip_and_names(p):
    rng = np.random.default_rng(p)
    A = rng.normal(size=(p, p))
    M = A + A.T
    v = matrices.pack(M)
    assert v.shape == (p * (p + 1) // 2,) == (matrices.size_for(p),)
    np.testing.assert_array_equal(matrices.unpack(v, p), M)
    names = matrices.sym_names("Q", p)
    assert names[0] == "Q[0,0]" and names[-1] == f"Q[{p - 1},{p - 1}]" and len(names) == v.size
    # the order of the names is the order of pack: entry (i, j) under Q[i,j]
    for name, value in zip(names, v):
        i, j = (int(k) for k in name[2:-1].split(","))
        assert M[i, j] == value
    np.testing.assert_array_equal(matrices.block(names, v, "Q"), M)
    stacked = np.stack([v, 2 * v, 3 * v])
    np.testing.assert_array_equal(matrices.block(names, stacked, "Q"), np.stack([M, 2 * M, 3 * M]))


def test_pack_refuses_what_is_not_a_symmetric_matrix():
    with pytest.raises(ValueError, match="square"):
        matrices.pack(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="symmetric"):
        matrices.pack(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="entries"):
        matrices.unpack(np.zeros(4), 2)
    with pytest.raises(ValueError, match="p must"):
        matrices.sym_names("Q", 0)


def test_psd_violation():
    assert matrices.psd_violation(np.eye(2), upper=1.0) is None
    assert matrices.psd_violation(np.array([[1.0, 1.0], [1.0, 1.0]])) is None  # singular PSD is inside
    assert "positive semi-definite" in matrices.psd_violation(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert "exceeds" in matrices.psd_violation(np.diag([0.5, 1.2]), upper=1.0)
    assert matrices.psd_violation(np.diag([0.5, 1.0 + 1e-15]), upper=1.0) is None  # rounding
    assert "non-finite" in matrices.psd_violation(np.array([[np.nan, 0.0], [0.0, 1.0]]))


@dataclasses.dataclass(frozen=True)
class MatrixToy:
    """``Q -> (Q + A Q A^T + B) / 2`` on symmetric 2x2 matrices, in the packed state: a
    contraction with the fixed point solving ``Q = A Q A^T + B`` (a Stein equation)."""

    scale: float = 0.5
    b: float = 1.0
    name: ClassVar[str] = "matrix_toy"
    state_names: ClassVar[tuple] = matrices.sym_names("Q", 2)

    def _ab(self):
        A = self.scale * np.array([[0.6, 0.3], [0.1, 0.5]])
        return A, np.array([[self.b, 0.2], [0.2, 0.5]])

    def initial_state(self, start="uninformed"):
        return matrices.pack(np.eye(2) * (1e-3 if start == "uninformed" else 2.0))

    def update(self, x):
        A, B = self._ab()
        Q = matrices.unpack(x, 2)
        return matrices.pack(0.5 * (Q + A @ Q @ A.T + B))

    def domain_violation(self, x):
        return matrices.psd_violation(matrices.unpack(x, 2))

    def observables(self, x):
        return {"trace": float(np.trace(matrices.unpack(x, 2)))}

    def simulate(self, d, seed):
        return {}


def test_solutions_and_sweeps_return_matrices():
    model = MatrixToy()
    sol = fp.solve(model)
    assert sol.converged
    A, B = model._ab()
    # the Stein equation Q = A Q A^T + B, solved by vectorisation (independent of the iteration)
    exact = np.linalg.solve(np.eye(4) - np.kron(A, A), B.ravel()).reshape(2, 2)
    np.testing.assert_allclose(sol["Q"], exact, rtol=1e-9)
    assert sol["Q[0,1]"] == pytest.approx(exact[0, 1], rel=1e-9)
    sw = fp.sweep(model, "scale", [0.2, 0.5, 0.8])
    assert sw["Q"].shape == (3, 2, 2)
    np.testing.assert_allclose(sw["Q"][1], exact, rtol=1e-9)
    d = fp.phase_diagram(model, {"b": [1.0, 2.0], "scale": [0.2, 0.5]})
    assert d["Q"].shape == (2, 2, 2, 2)
    np.testing.assert_allclose(d["Q"][0, 1], exact, rtol=1e-9)
    with pytest.raises(KeyError):
        sol["P"]


@dataclasses.dataclass(frozen=True)
class Root:
    """``x -> sqrt(x)`` toward ``x* = 1``: plain iteration from below stays below 1, while the
    secant through two iterates of the concave ``sqrt(x) - x`` overshoots past its root, so
    Anderson extrapolation proposes points above 1. With the domain ``x <= 1`` declared by
    ``domain_violation`` (not by bounds), the map must never be evaluated above 1."""

    declare: bool = True
    name: ClassVar[str] = "root"
    state_names: ClassVar[tuple] = ("x",)
    seen: list = dataclasses.field(default_factory=list, compare=False)

    def initial_state(self, start="uninformed"):
        return np.array([0.01])

    def update(self, x):
        self.seen.append(float(x[0]))
        return np.sqrt(x)

    def observables(self, x):
        return {}

    def simulate(self, d, seed):
        return {}


class DeclaredRoot(Root):
    def domain_violation(self, x):
        return None if x[0] <= 1.0 else f"x = {x[0]:.17g} > 1"


def test_an_extrapolated_iterate_outside_the_domain_is_replaced_by_the_plain_step():
    free = Root()
    sol = fp.solve(free, start="uninformed")
    assert sol.converged and max(free.seen) > 1.0  # without the domain, extrapolation does overshoot
    boxed = DeclaredRoot()
    sol = fp.solve(boxed, start="uninformed")
    assert sol.converged and sol["x"] == pytest.approx(1.0, abs=1e-9)
    assert max(boxed.seen) <= 1.0


class LeavesTheDomain(MatrixToy):
    def update(self, x):
        return matrices.pack(np.array([[1.0, 2.0], [2.0, 1.0]]))  # not PSD


def test_a_map_that_leaves_the_domain_is_reported_with_the_models_reason():
    sol = fp.solve(LeavesTheDomain())
    assert not sol.converged and sol.status is fp.Status.OUT_OF_DOMAIN
    assert "positive semi-definite" in sol.message


def test_a_start_outside_the_domain_is_refused():
    with pytest.raises(ValueError, match="positive semi-definite"):
        fp.solve(MatrixToy(), start=matrices.pack(np.array([[1.0, 2.0], [2.0, 1.0]])))


@dataclasses.dataclass(frozen=True)
class TwoBlocks:
    """A linear map on symmetric 2x2 matrices at the trivial point Q = 0:
    ``Q -> alpha (a Q[0,0] E00 + b Q[1,1] E11 + c Q[0,1] (E01 + E10))``. The entry with the
    largest gain leaves 0 first, at ``alpha = 1 / max(a, b, c)``: here ``Q[1,1]`` (b = 2)."""

    alpha: float = 0.1
    name: ClassVar[str] = "two_blocks"
    state_names: ClassVar[tuple] = matrices.sym_names("Q", 2)

    def initial_state(self, start="uninformed"):
        return matrices.pack(np.eye(2) * (1e-3 if start == "uninformed" else 1.0))

    def trivial_state(self):
        return np.zeros(3)

    def update(self, x):
        Q = matrices.unpack(x, 2)
        out = self.alpha * np.array([[1.5 * Q[0, 0], 0.5 * Q[0, 1]], [0.5 * Q[0, 1], 2.0 * Q[1, 1]]])
        return matrices.pack(np.tanh(out))

    def observables(self, x):
        return {}

    def simulate(self, d, seed):
        return {}


def test_the_stability_threshold_reports_the_direction_learned_first():
    thr = fp.threshold(TwoBlocks(), "alpha", (0.1, 1.0), kind="stability")
    assert thr.value == pytest.approx(0.5, abs=1e-8)
    Q = matrices.block(thr.above.names, thr.direction, "Q")
    np.testing.assert_allclose(Q, [[0.0, 0.0], [0.0, 1.0]], atol=1e-6)
    assert "Q[1,1]: 1" in thr.message
