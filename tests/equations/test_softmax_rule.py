"""The outer rule in the softmax coordinates of two-token attention (equations/_softmax_rule.py)
against adaptive quadrature in the Gaussian coordinates, an independent integrator."""

import math

import numpy as np
import pytest
from scipy import integrate

from equations._softmax_rule import softmax_rule
from equations.sequence import _softmax_weights


def _sigma(u):
    return 0.5 * (1.0 + math.tanh(0.5 * u))


def _adaptive(f, c):
    """``E f(s_1, s_2, z_11, z_12)`` over ``z_1 ~ N(0, I)`` by nested adaptive quadrature in ``delta
    = z_12 - z_11 >= 0`` (weight 2) and ``mu = (z_11 + z_12) / 2``, the inner one told where the
    softmax weights switch (``mu = +-delta / 2``, width ``1 / delta``) and the outer where ``det A``
    changes (``delta ~ sqrt(c)``)."""

    def inner(delta):
        def g(mu):
            u1 = mu * delta - 0.5 * delta * delta
            u2 = -mu * delta - 0.5 * delta * delta
            return f(_sigma(u1), _sigma(u2), mu - 0.5 * delta, mu + 0.5 * delta) * math.exp(-mu * mu) / math.sqrt(math.pi)
        pts = sorted({-0.5 * delta, 0.0, 0.5 * delta})
        return integrate.quad(g, -7.0, 7.0, points=pts, limit=400, epsabs=1e-14, epsrel=1e-12)[0]

    def outer(delta):
        return 2.0 * inner(delta) * math.exp(-0.25 * delta * delta) / math.sqrt(4.0 * math.pi)

    pts = [math.sqrt(c), 1.0, 2.0, 4.0]
    return integrate.quad(outer, 0.0, 13.0, points=pts, limit=400, epsabs=1e-14, epsrel=1e-12)[0]


@pytest.mark.parametrize("c, n, tol", [(1.0, 16, 1e-9), (0.01, 16, 1e-9), (0.1, (12, 16), 3e-9)])
def test_softmax_rule_against_adaptive_quadrature(c, n, tol):
    """Smooth functions of the softmax weights, alone and times the Nishimori factors ``z_1 z_1^T -
    I`` (which go into the weights), integrate to 1e-9 with 16 nodes per coordinate, and to 3e-9
    with the anisotropic ``(12, 16)`` of ``deep_staircase`` for ``0.1 <= c < 0.5`` (1.6e-9 at ``c =
    0.1``, 8e-11 at 0.25); the mass is one and the Nishimori weights integrate ``E[z_11^2 - 1] =
    E[z_11 z_12] = 0``."""
    Zs, W = softmax_rule(c, n)
    assert W[0].sum() == pytest.approx(1.0, abs=1e-14)
    for k in (1, 2, 3):
        assert abs(W[k].sum()) < 1e-13
    s = np.array([_softmax_weights(*z) for z in Zs])
    assert np.all(Zs[:, 1] >= Zs[:, 0])

    def smooth(s1, s2):
        return (1.0 + 0.3 * s1 - 0.7 * s2) / (1.0 + c + 0.5 * (1.0 - s1 - s2)) ** 2 + s1 * s2 * s2

    vals = np.array([smooth(a, b) for a, b in s])
    for k, factor in enumerate((lambda z1, z2: 1.0, lambda z1, z2: z1 * z1 - 1.0, lambda z1, z2: z1 * z2,
                                lambda z1, z2: z2 * z2 - 1.0)):
        ref = _adaptive(lambda s1, s2, z1, z2: smooth(s1, s2) * factor(z1, z2), c)
        assert W[k] @ vals == pytest.approx(ref, abs=tol)


def test_softmax_rule_nodes_and_validation():
    """The nodes map back onto the tensor grid in ``(zeta, a)`` (the softmax weights recomputed from
    ``z_1*`` by the model's own function), ``zeta`` the slow index when the two coordinates have
    different numbers of nodes, one number is the pair of it, and bad arguments are refused."""
    c, nz, na = 0.25, 5, 7
    Zs, W = softmax_rule(c, (nz, na))
    assert Zs.shape == (nz * na, 2) and W.shape == (4, nz * na)
    xz = 0.5 * (np.polynomial.legendre.leggauss(nz)[0] + 1.0)
    xa = 0.5 * (np.polynomial.legendre.leggauss(na)[0] + 1.0)
    g = c * np.expm1(xz * math.log1p(1.0 / c))
    G, A = np.meshgrid(g, xa, indexing="ij")
    s = np.array([_softmax_weights(*z) for z in Zs])
    np.testing.assert_allclose(s[:, 0], ((1.0 - G) * A).ravel(), rtol=1e-12)
    np.testing.assert_allclose(s[:, 1], ((1.0 - G) * (1.0 - A)).ravel(), rtol=1e-12)
    assert not W.flags.writeable
    for a, b in zip(softmax_rule(c, 7), softmax_rule(c, (7, 7))):
        assert a is b       # one cached rule for both spellings (and a list is accepted)
    assert softmax_rule(c, [5, 7])[0] is Zs
    with pytest.raises(ValueError, match="c"):
        softmax_rule(0.0, 8)
    for bad in (1, (8,), (8, 1), (8, 8, 8), (8, 2.5), True, [8, [8]]):
        with pytest.raises(ValueError, match="n"):
            softmax_rule(1.0, bad)
