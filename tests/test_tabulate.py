"""fixedpoint.tabulate.LazyChebyshev: accuracy against the function itself, laziness,
independence of the query order, derivatives, pieces that cannot be interpolated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fixedpoint.tabulate import LazyChebyshev, lobatto_points


class Counted:
    """A vector function of one variable that counts its calls."""

    def __init__(self, f):
        self.f = f
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return self.f(x)


def smooth(x):
    return (math.exp(x) * math.sin(5 * x), 1.0 / (1.0 + 25.0 * x * x))


def test_lobatto_points_are_nested():
    assert lobatto_points(32)[::2] == pytest.approx(lobatto_points(16), abs=1e-15)
    assert lobatto_points(16)[[0, -1]] == pytest.approx([1.0, -1.0])


@pytest.mark.parametrize("rtol", [1e-6, 1e-10, 1e-13])
def test_accuracy_matches_the_tolerance(rtol):
    f = Counted(smooth)
    table = LazyChebyshev(f, [-1.0, 0.0, 1.0], rtol=rtol)
    xs = np.random.default_rng(0).uniform(-1, 1, 500)
    got = np.array([table(x) for x in xs])
    ref = np.array([smooth(x) for x in xs])
    # the tail bounds the error up to a modest factor; the scale of both outputs is ~1
    assert np.max(np.abs(got - ref)) < 20 * rtol
    assert table.max_tail <= rtol
    assert table.direct_pieces == 0
    assert table.evaluations == f.calls
    # a tighter tolerance needs more pieces or degree, never fewer evaluations
    assert table.pieces >= 2


def test_values_at_nodes_are_the_function_values():
    table = LazyChebyshev(smooth, [0.0, 1.0], rtol=1e-12)
    for x in 0.5 + 0.5 * lobatto_points(32):
        assert table(x) == pytest.approx(smooth(x), abs=1e-13)


def test_only_visited_pieces_are_built():
    f = Counted(smooth)
    table = LazyChebyshev(f, [-1.0, -0.5, 0.0, 0.5, 1.0], rtol=1e-10)
    table(-0.75)
    first = f.calls
    assert first in (17, 33)  # one piece: degree 16, possibly completed to 32
    for x in np.linspace(-0.99, -0.51, 20):
        table(x)
    assert f.calls == first  # no new evaluation inside a built piece
    table(0.75)
    assert f.calls > first
    assert table.pieces == 2


def test_query_order_does_not_change_values():
    xs = np.random.default_rng(1).uniform(-1, 1, 300)
    a = LazyChebyshev(smooth, [-1.0, 0.0, 1.0], rtol=1e-11)
    b = LazyChebyshev(smooth, [-1.0, 0.0, 1.0], rtol=1e-11)
    va = np.array([a(x) for x in xs])
    vb = np.array([b(x) for x in xs[::-1]])[::-1]
    assert np.array_equal(va, vb)


def test_derivative():
    table = LazyChebyshev(lambda x: (math.sin(3 * x), x**5), [0.0, 2.0], rtol=1e-13)
    for x in np.linspace(0.0, 2.0, 41):
        d = table.derivative(x)
        assert d[0] == pytest.approx(3 * math.cos(3 * x), abs=1e-9)
        assert d[1] == pytest.approx(5 * x**4, rel=1e-9, abs=1e-9)


def test_kink_is_bisected_then_called_directly():
    """|x - 0.3| is not analytic: the piece holding the kink is bisected down to max_depth and
    then called directly, so every answer stays exact to the tolerance."""
    f = Counted(lambda x: (abs(x - 0.3),))
    table = LazyChebyshev(f, [0.0, 1.0], rtol=1e-12, atol=1e-14, max_depth=8)
    for x in np.linspace(0.0, 1.0, 201):
        assert table(x)[0] == pytest.approx(abs(x - 0.3), abs=1e-12)
    assert table.direct_pieces == 1
    assert table.pieces >= 6  # the smooth siblings along the way (those visited)


def test_non_finite_values_make_a_direct_piece():
    table = LazyChebyshev(lambda x: (1.0 / x if x else math.inf,), [0.0, 0.5, 1.0])
    assert table(0.25)[0] == 4.0
    assert table.direct_pieces == 1
    assert table(0.75)[0] == pytest.approx(1 / 0.75, rel=1e-10)
    assert table.pieces == 1


@pytest.mark.parametrize("kwargs,name", [
    ({"breakpoints": [1.0]}, "breakpoints"),
    ({"breakpoints": [0.0, 0.0, 1.0]}, "breakpoints"),
    ({"breakpoints": [0.0, math.nan]}, "breakpoints"),
    ({"degrees": (16, 24)}, "degrees"),
    ({"degrees": (2,)}, "degrees"),
    ({"rtol": 0.0}, "rtol"),
    ({"rtol": -1.0}, "rtol"),
    ({"max_depth": -1}, "max_depth"),
])
def test_bad_arguments_raise_naming_them(kwargs, name):
    args = {"breakpoints": [0.0, 1.0], **kwargs}
    bp = args.pop("breakpoints")
    with pytest.raises(ValueError, match=name):
        LazyChebyshev(smooth, bp, **args)


def test_query_outside_the_domain_raises():
    table = LazyChebyshev(smooth, [0.0, 1.0])
    with pytest.raises(ValueError, match="x must be in"):
        table(1.5)


def test_threads_share_a_table():
    from concurrent.futures import ThreadPoolExecutor

    f = Counted(smooth)
    table = LazyChebyshev(f, [-1.0, 0.0, 1.0], rtol=1e-11)
    xs = np.random.default_rng(2).uniform(-1, 1, 400)
    with ThreadPoolExecutor(4) as pool:
        got = np.array(list(pool.map(table, xs)))
    serial = LazyChebyshev(smooth, [-1.0, 0.0, 1.0], rtol=1e-11)
    assert np.array_equal(got, np.array([serial(x) for x in xs]))
    assert f.calls == serial.evaluations  # no piece built twice
