"""An outer rule over the teacher's first-layer pre-activations ``z_1* ~ N(0, I_2)`` of two-token
tied attention, in the coordinates of its softmax weights.

Why. In the staircase threshold of ``deep_attention`` (:func:`equations.sequence.deep_staircase`)
the teacher's ``z_1*`` enters the outer integrand only through the attention matrix
``A(s) = [[1 - s_1 + c, s_1], [s_2, 1 - s_2 + c]]``, with the two off-diagonal softmax weights

    s_1 = sigma(u_1),  s_2 = sigma(u_2),  u_1 = z_11 (z_12 - z_11),  u_2 = -z_12 (z_12 - z_11),

and ``A`` is linear in ``s``. In ``z_1*`` the integrand therefore has transition layers along
``z_11* = 0``, ``z_12* = 0`` and ``z_11* = z_12*`` of width ``~ 1 / |z_1*|``, which a tensor
Gauss-Hermite rule aliases (its results moved by up to 5e-4 in the growth rate between 24 and 64
nodes per axis, not monotonically). As a function of ``s`` it is smooth (measured along lines
through the simplex, up to its edges). The difficulty moves into the density of ``s``, which is
singular (like ``s_i^{-1/2} / |log s_i|`` at the edges ``s_i -> 0``, like ``1 / g`` in a cusp of
width ``sqrt(g)`` at the middle of the edge ``s_1 + s_2 = 1``, ``g = 1 - s_1 - s_2``) but known
exactly and independent of the model. So the rule here is interpolatory: tensor Gauss-Legendre
nodes in two coordinates of the simplex, weighted by the exact integrals of the Lagrange basis
against that density, computed once from a fine rule in the Gaussian coordinates.

Coordinates.
- ``a = s_1 / (s_1 + s_2)`` in ``[0, 1]``;
- ``zeta = log(1 + g / c) / log(1 + 1 / c)`` in ``[0, 1]``: ``det A = (1 + c)(c + g)``, so at a
  small skip ``c`` the integrand changes on the scale ``g ~ c`` (measured at ``c = 0.01``: ``K_2``
  drops by 22% between ``g = 0`` and ``g = 0.01``); ``zeta`` spreads that layer over half the
  interval, and is nearly ``g`` itself at ``c >= 1``.
A node ``(zeta, a)`` maps back to one ``z_1*`` with ``z_12* >= z_11*`` (``z_1* -> -z_1*`` leaves
``s`` and ``z_1* z_1*^T`` unchanged): ``t = -(u_1 + u_2) = log(1 + g / (s_1 s_2))`` (free of
cancellation as ``g -> 0``), ``delta = sqrt(t)``, ``z_11* = u_1 / delta``, ``z_12* = -u_2 / delta``.

Weights. For a node ``j`` with Lagrange basis function ``l_j(zeta, a)`` (tensor product of the
one-dimensional ones on the Gauss-Legendre nodes):

    W_j = E[l_j],   W^(11)_j = E[l_j (z_11^2 - 1)],   W^(12)_j = E[l_j z_11 z_12],
    W^(22)_j = E[l_j (z_12^2 - 1)],

expectations over ``z_1 ~ N(0, I)``. The last three give the Nishimori form ``E tr(G (z_1*
z_1*^T - I))`` from the node averages of ``G`` alone: ``z_1* z_1*^T`` is a function of ``s`` but
not a smooth one (it grows like ``|log s_i|`` at the edges), so it goes into the weights. The rule
integrates exactly every polynomial of degree below ``n`` in each coordinate; the weights are not
all positive (the density is singular; the most negative is -0.02 at 16 nodes per axis).

The fine rule. ``delta = z_12 - z_11 >= 0`` (weight 2) and ``mu = (z_11 + z_12) / 2`` are
independent Gaussians; the basis functions vary on the scale ``1 / max(1, delta)`` in both (``u``
changes by ``delta`` per unit of ``mu``), so both get composite Gauss-Legendre panels of that width
(``delta`` in ``[0, 12]``, graded toward 0 from ``0.05 sqrt(c)``, ``mu`` in ``[-6, 6]``), about
1.8e6 nodes, of which the 1.06e6 above ``1e-18`` of the largest weight are kept (the others carry
1e-16 of the mass; :data:`_W_DROP`), built once per ``c`` (about 0.5 s) and then turned into the
rule of each ``n`` (0.4 s for 8 nodes per axis, 1 s for 20; before the nodes were shared and
dropped, 1.5 and 2 s each, the nodes included). Measured: the mass is 1 to 3e-16; the weights
agree with a rule of half the panel widths to 1e-9 (16 nodes per axis, ``c = 1`` and ``c =
0.01``), and moved by at most 6e-15 when the nodes were dropped.

Accuracy of the outer average (``deep_staircase``'s integrand at ``q = 0.97``, ``c = 1``, fine
inner rules): the growth rate ``alpha_q K_1`` (``alpha_q`` from the Nishimori form of ``K_2``,
``K_1`` direct) is 0.920067, 0.917961, 0.917815, 0.917798, 0.917805
with 8, 12, 16, 20, 24 nodes per axis (``K_1`` agrees to 5e-8 between 20 and 24), against
0.917964 from the tensor Gauss-Hermite rule with 24 nodes per axis (188 nodes on the half plane):
1e-5 at 256 nodes where the former rule was 1.6e-4 off with 188.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["softmax_rule"]

#: the fine rule: delta up to _DMAX (P(delta > 12) ~ 1e-17), mu in [-_MUMAX, _MUMAX] (P ~ 2e-17),
#: composite Gauss-Legendre panels of _N_FINE nodes and width _PANEL / max(1, delta)
_DMAX = 12.0
_MUMAX = 6.0
_N_FINE = 8
_PANEL = 0.5
#: the first delta panel, in units of sqrt(c) (capped at 1): det A changes on the scale delta ~ sqrt(c)
_H0 = 0.1
_CHUNK = 1 << 17
#: fine nodes of weight at most this fraction of the largest are dropped: 41% of the 1.8e6 nodes, of
#: total weight 1e-16 (and 4e-15 in the weight of z_11^2 - 1), at any c; the rules of every n at
#: one c share the rest (_fine_nodes)
_W_DROP = 1e-18


def _legendre01(n: int):
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def _fine_rule(c: float):
    """Nodes ``(delta, mu)`` and weights of ``N(0, I)`` in ``z_1`` (the half ``delta >= 0``, weight
    doubled), on panels of width ``_PANEL / max(1, delta)`` (module docstring)."""
    gx, gw = _legendre01(_N_FINE)
    edges = [0.0]
    width = _H0 * min(1.0, math.sqrt(c)) * _PANEL
    while edges[-1] < _DMAX:
        edges.append(min(edges[-1] + width, _DMAX))
        width = min(2.0 * width, _PANEL / max(1.0, edges[-1]))
    e = np.array(edges)
    delta = (e[:-1, None] + np.diff(e)[:, None] * gx).ravel()
    w_delta = (np.diff(e)[:, None] * gw).ravel() * np.exp(-0.25 * delta * delta) / math.sqrt(math.pi)
    D, M, W = [], [], []
    for d, wd in zip(delta, w_delta):
        n_panels = int(math.ceil(2.0 * _MUMAX * max(1.0, d) / _PANEL))
        me = np.linspace(-_MUMAX, _MUMAX, n_panels + 1)
        mu = (me[:-1, None] + np.diff(me)[:, None] * gx).ravel()
        w_mu = (np.diff(me)[:, None] * gw).ravel() * np.exp(-mu * mu) / math.sqrt(math.pi)
        D.append(np.full(mu.size, d))
        M.append(mu)
        W.append(wd * w_mu)
    return np.concatenate(D), np.concatenate(M), np.concatenate(W)


def _simplex_coordinates(delta, mu, c):
    """``(zeta, a)`` of the softmax weights at ``z_1 = (mu - delta / 2, mu + delta / 2)``."""
    u1 = mu * delta - 0.5 * delta * delta
    u2 = -mu * delta - 0.5 * delta * delta
    # s_1 / (s_1 + s_2) = 1 / (1 + s_2 / s_1), s_2 / s_1 = (1 + e^{-u_1}) / (1 + e^{-u_2})
    log_ratio = np.logaddexp(0.0, -u1) - np.logaddexp(0.0, -u2)
    a = 0.5 * (1.0 - np.tanh(0.5 * log_ratio))
    # g = 1 - s_1 - s_2 without the cancellation at z_11 = z_12
    g = np.sinh(0.5 * delta * delta) / (2.0 * np.cosh(0.5 * u1) * np.cosh(0.5 * u2))
    zeta = np.log1p(g / c) / math.log1p(1.0 / c)
    return zeta, a


@functools.lru_cache(maxsize=4)
def _fine_nodes(c: float):
    """The fine rule at ``c`` without its nodes of negligible weight (:data:`_W_DROP`), as ``(w,
    zeta, a, z_11, z_12)``: computed once per ``c`` for the rules of every ``n`` (the coarse and the
    fine rule of ``deep_staircase``)."""
    delta, mu, w = _fine_rule(c)
    keep = w > _W_DROP * w.max()
    delta, mu, w = delta[keep], mu[keep], w[keep]
    zeta, a = _simplex_coordinates(delta, mu, c)
    out = (w, zeta, a, mu - 0.5 * delta, mu + 0.5 * delta)
    for x in out:
        x.flags.writeable = False
    return out


def _lagrange_basis(x, nodes):
    """Values of the Lagrange basis on ``nodes`` at the points ``x`` (barycentric form)."""
    lam = np.array([1.0 / np.prod(nodes[j] - np.delete(nodes, j)) for j in range(nodes.size)])
    diff = x[:, None] - nodes[None, :]
    hit = diff == 0.0
    diff[hit] = 1.0
    t = lam / diff
    out = t / t.sum(axis=1, keepdims=True)
    rows = hit.any(axis=1)
    if rows.any():
        out[rows] = hit[rows].astype(float)
    return out


def softmax_rule(c: float, n):
    """The outer rule in ``z_1*`` (module docstring): ``n_zeta x n_a`` nodes in ``(zeta, a)``.

    Parameters
    ----------
    c : float
        The skip strength (only the coordinate ``zeta`` depends on it).
    n : int or (int, int)
        Gauss-Legendre nodes per coordinate: one number for both, or ``(n_zeta, n_a)``.

    Returns
    -------
    Zs : ndarray, shape (n_zeta * n_a, 2)
        The nodes as ``z_1*`` (``z_12* >= z_11*``), ``zeta`` the slow index.
    W : ndarray, shape (4, n_zeta * n_a)
        The weights ``W``, ``W^(11)``, ``W^(12)``, ``W^(22)`` (module docstring). Read-only.
    """
    c = float(c)
    if not c > 0.0:
        raise ValueError(f"c must be > 0, got {c}")
    pair = tuple(n) if isinstance(n, (tuple, list)) else (n, n)
    if len(pair) != 2 or any(isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 2 <= m <= 64
                             for m in pair):
        raise ValueError(f"n must be an integer in [2, 64] or a pair of them (n_zeta, n_a), got {n!r}")
    return _softmax_rule(c, *(int(m) for m in pair))


@functools.lru_cache(maxsize=16)
def _softmax_rule(c: float, nz: int, na: int):
    """:func:`softmax_rule` on validated arguments, cached by ``(c, n_zeta, n_a)`` (so that ``n``
    and ``(n, n)`` share one entry)."""
    xz, _ = _legendre01(nz)
    xa, _ = _legendre01(na)
    w, zeta, a, z11, z12 = _fine_nodes(c)
    weights = np.zeros((4, nz, na))
    for i in range(0, w.size, _CHUNK):
        sl = slice(i, i + _CHUNK)
        Lz = _lagrange_basis(zeta[sl], xz)
        La = _lagrange_basis(a[sl], xa)
        for k, f in enumerate((w[sl], w[sl] * (z11[sl] ** 2 - 1.0), w[sl] * z11[sl] * z12[sl],
                               w[sl] * (z12[sl] ** 2 - 1.0))):
            weights[k] += Lz.T @ (f[:, None] * La)
    # the nodes as z_1*
    g = c * np.expm1(xz * math.log1p(1.0 / c))
    G, A = np.meshgrid(g, xa, indexing="ij")
    s1, s2 = (1.0 - G) * A, (1.0 - G) * (1.0 - A)
    u1, u2 = np.log(s1 / (1.0 - s1)), np.log(s2 / (1.0 - s2))
    d = np.sqrt(np.log1p(G / (s1 * s2)))
    Zs = np.ascontiguousarray(np.stack([(u1 / d).ravel(), (-u2 / d).ravel()], 1))
    W = np.ascontiguousarray(weights.reshape(4, -1))
    Zs.flags.writeable = False
    W.flags.writeable = False
    return Zs, W
