"""The state evolution of the ``norm2`` target (``y = |z|^2 + sqrt(noise) xi``) at ``p >= 3`` by
the characteristic function of the label (the Fourier route; the kernels take any ``p``, the outer
rule is three-dimensional: ``p = 3``, an isotropic ``Q``, or at ``p >= 4`` an overlap with at most
three distinct eigenvalues, each eigenspace one coordinate). See the module docstring of
:mod:`equations.targets` (the paragraphs "norm2 at p = 3" and "norm2 at p >= 4") for the method and
its measured accuracy and cost.

In the frame where ``V`` is diagonal the coordinates ``z_i = omega_i + sqrt(v_i) x_i`` are
independent, and ``s |z|^2`` has the moment generating function

    E[exp(s |z|^2)] = prod_i (1 - 2 s v_i)^(-1/2) exp(s omega_i^2 / (1 - 2 s v_i)),
    E[(z_i - omega_i) exp(s |z|^2)] = 2 s v_i omega_i / (1 - 2 s v_i) E[exp(s |z|^2)],

so the characteristic functions of ``Z_out(y)`` and of ``Z_out(y) g_i(y)`` (``g = V^{-1}(E[z | y]
- omega)``) are closed forms, times ``exp(-noise u^2 / 2)`` for the noise. One FFT gives both on a
uniform grid of ``y`` (:func:`_n3_node`); the ``y`` integrals of ``Z log Z`` and ``(Z g_i)^2 / Z``
are the trapezoidal rule on the same grid. GAMP's channel (:func:`norm2_channel_fourier`, any
``p``) sums the same transforms, and those of the gradient and Hessian in ``omega``, at each
sample's own label.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from fixedpoint._jit import njit_compiled
from fixedpoint.gaussian import legendre_rule

from .targets import _graded_radii

#: Mahalanobis radius of the support of ``z`` (``P(chi2_3 > 81) = 2e-17``, ``P(chi2_4 > 81) = 1e-16``)
#: and the noise's window beyond it, in standard deviations (``exp(-9.5^2 / 2) = 2e-20``)
_F_MAHA = 9.0
_F_NOISE = 9.5
#: the characteristic functions are dropped beyond ``|u|`` where they fall below ``exp(-_F_LOGEPS)``
#: (times ``1 + 2 |u| |omega|``, the growth of the transform of ``Z g``)
_F_LOGEPS = 41.0
#: ``y`` points where ``Z_out`` is below this fraction of its largest value are skipped (roundoff)
_F_ZCUT = 1e-15
#: fewest and most points of one FFT
_F_NMIN = 64
_F_NMAX = 1 << 22


@njit_compiled(cache=True)
def _n3_logabs(u, w, v, m, noise, a):
    """``log |psi(u)| + log(1 + 2 u |omega|)``: the decay of the characteristic functions."""
    acc = -0.5 * noise * u * u + math.log1p(2.0 * u * a)
    for i in range(w.size):
        q = 4.0 * u * u * v[i] * v[i]
        acc += -0.25 * m[i] * math.log1p(q) - 2.0 * u * u * v[i] * w[i] * w[i] / (1.0 + q)
    return acc


@njit_compiled(cache=True)
def _psi(u, y0, w, v, m, noise):
    """``psi(u) exp(-i u y0)`` (a complex number), ``psi`` the characteristic function of the label:
    ``exp(-noise u^2 / 2) prod_i (1 - 2 i u v_i)^(-m_i / 2) exp(i u w_i^2 / (1 - 2 i u v_i))``, with
    ``1 / (1 - 2 i u v) = (1 + 2 i u v) / (1 + 4 u^2 v^2)``."""
    lr = -0.5 * noise * u * u
    li = -u * y0
    for i in range(w.size):
        q = 1.0 + 4.0 * u * u * v[i] * v[i]
        lr += -0.25 * m[i] * math.log(q) - 2.0 * u * u * v[i] * w[i] * w[i] / q
        li += 0.5 * m[i] * math.atan(2.0 * u * v[i]) + u * w[i] * w[i] / q
    e = math.exp(lr)
    return complex(e * math.cos(li), e * math.sin(li))


@njit_compiled(cache=True)
def _n3_size(w, v, m, noise, refine):
    """``(y_lo, L, N, u_max)``: the window ``[y_lo, y_lo + L)`` of ``y`` (the support of ``|z|^2``,
    Mahalanobis radius :data:`_F_MAHA`, widened by :data:`_F_NOISE` standard deviations of the noise)
    and the number ``N`` (a power of 2) of points of its grid: ``pi N / L >= refine u_max``,
    ``u_max`` where the characteristic functions have decayed below ``exp(-_F_LOGEPS)``.
    ``N = -1`` when that exceeds :data:`_F_NMAX`."""
    a = 0.0
    vmax = 0.0
    for i in range(w.size):
        a += w[i] * w[i]
        vmax = max(vmax, v[i])
    a = math.sqrt(a)
    s = math.sqrt(noise)
    ext = _F_MAHA * math.sqrt(vmax)
    t_lo = max(0.0, a - ext) ** 2
    t_hi = (a + ext) ** 2
    y_lo = t_lo - _F_NOISE * s
    L = t_hi + _F_NOISE * s - y_lo
    # u_max: the decay is eventually Gaussian (the noise); double, then bisect
    ub = 1.0 / L
    while _n3_logabs(ub, w, v, m, noise, a) > -_F_LOGEPS:
        ub *= 2.0
    ua = 0.5 * ub
    for _ in range(40):
        um = 0.5 * (ua + ub)
        if _n3_logabs(um, w, v, m, noise, a) > -_F_LOGEPS:
            ua = um
        else:
            ub = um
        if ub - ua < 1e-3 * ub:
            break
    need = refine * ub * L / math.pi
    N = _F_NMIN
    while N < need:
        N *= 2
        if N > _F_NMAX:
            return y_lo, L, -1, ub
    return y_lo, L, N, ub


@njit_compiled(cache=True)
def _fft(x, n, twr, twi):
    """In-place forward DFT ``X_j = sum_k x_k exp(-2 pi i j k / n)`` of ``x[:n]`` (``n`` a power of
    2; iterative radix 2), the twiddles from the table ``exp(-2 pi i k / M)``, ``k < M / 2``, of a
    power of 2 ``M >= n``."""
    # bit reversal
    j = 0
    for i in range(1, n):
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            t = x[i]
            x[i] = x[j]
            x[j] = t
    M = 2 * twr.size
    m = 2
    while m <= n:
        half = m >> 1
        stride = M // m
        for start in range(0, n, m):
            for k in range(half):
                wr = twr[k * stride]
                wi = twi[k * stride]
                b = x[start + k + half]
                br = b.real * wr - b.imag * wi
                bi = b.real * wi + b.imag * wr
                a = x[start + k]
                x[start + k] = complex(a.real + br, a.imag + bi)
                x[start + k + half] = complex(a.real - br, a.imag - bi)
        m <<= 1


@njit_compiled(cache=True)
def _n3_transform(w, v, m, noise, y_lo, L, N, u_max, twr, twi, X):
    """Fill ``X[c, j]`` (``c = 0 .. ceil(p / 2)``) with ``Z_out(y_j) + i Z g_0(y_j)``, ``Z g_1 + i Z
    g_2``, ... at ``y_j = y_lo + j L / N`` (``X[0]`` pairs ``Z`` with ``Z g_0``; the later rows pair
    ``Z g_{2c - 1}`` with ``Z g_{2c}``, the last one's imaginary part zero when ``p`` is even)."""
    p = w.size
    nrow = (p + 2) // 2
    du = 2.0 * math.pi / L
    for k in range(N // 2 + 1):
        u = k * du
        if u > u_max:
            # (below exp(-_F_LOGEPS) of the largest value)
            for c in range(nrow):
                X[c, k] = 0.0
                if 0 < k < N // 2:
                    X[c, N - k] = 0.0
            continue
        base = _psi(u, y_lo, w, v, m, noise) / L
        for c in range(nrow):
            # the transforms of Z g_i: base * 2 i u omega_i / (1 - 2 i u v_i)
            fa = complex(0.0, 0.0)
            fb = complex(0.0, 0.0)
            ia = 2 * c - 1
            ib = 2 * c
            if c == 0:
                fa = base
            else:
                q = 1.0 + 4.0 * u * u * v[ia] * v[ia]
                fa = base * complex(-4.0 * u * u * v[ia] * w[ia] / q, 2.0 * u * w[ia] / q)
            if ib < p:
                q = 1.0 + 4.0 * u * u * v[ib] * v[ib]
                fb = base * complex(-4.0 * u * u * v[ib] * w[ib] / q, 2.0 * u * w[ib] / q)
            X[c, k] = fa + 1j * fb
            if 0 < k < N // 2:
                # Hermitian: F(-u) = conj F(u) for both real functions
                X[c, N - k] = fa.conjugate() + 1j * fb.conjugate()
    for c in range(nrow):
        _fft(X[c], N, twr, twi)


@njit_compiled(cache=True)
def _n3_node(w, v, m, noise, refine, twr, twi, X, a_out):
    """``int Z log Z dy`` (returned) and ``a_out[i] = int Z g_i^2 dy`` at one ``omega`` (``w``, in
    the frame where ``V = diag(v)``). Returns NaN when the grid would exceed :data:`_F_NMAX`."""
    p = w.size
    y_lo, L, N, u_max = _n3_size(w, v, m, noise, refine)
    if N < 0 or N > 2 * twr.size or N > X.shape[1]:
        return math.nan
    _n3_transform(w, v, m, noise, y_lo, L, N, refine * u_max, twr, twi, X)
    h = L / N
    zmax = 0.0
    for j in range(N):
        zmax = max(zmax, X[0, j].real)
    cut = _F_ZCUT * zmax
    psi = 0.0
    for i in range(p):
        a_out[i] = 0.0
    for j in range(N):
        Z = X[0, j].real
        if not Z > cut:
            continue
        psi += Z * math.log(Z)
        for i in range(p):
            c = (i + 1) // 2
            zg = X[c, j].imag if i % 2 == 0 else X[c, j].real
            a_out[i] += zg * zg / Z
    for i in range(p):
        a_out[i] *= h
    return psi * h


@njit_compiled(cache=True)
def _n3_sizes(omegas, v, m, noise, refine):
    """The largest grid of the nodes ``omegas`` (``-1`` if one exceeds :data:`_F_NMAX`)."""
    nmax = _F_NMIN
    for k in range(omegas.shape[0]):
        _, _, N, _ = _n3_size(omegas[k], v, m, noise, refine)
        if N < 0:
            return -1
        nmax = max(nmax, N)
    return nmax


@njit_compiled(cache=True)
def _n3_se(omegas, wts, v, m, noise, refine, twr, twi, a):
    """Outer average of :func:`_n3_node`: fills ``a`` (the diagonal of ``A`` in the frame of ``V``)
    and returns ``Psi_out`` (NaN if a grid was refused)."""
    p = v.size
    nmax = 2 * twr.size
    X = np.empty(((p + 2) // 2, nmax), dtype=np.complex128)
    tmp = np.empty(p)
    for i in range(p):
        a[i] = 0.0
    psi = 0.0
    for k in range(omegas.shape[0]):
        r = _n3_node(omegas[k], v, m, noise, refine, twr, twi, X, tmp)
        if r != r:
            return math.nan
        psi += wts[k] * r
        for i in range(p):
            a[i] += wts[k] * tmp[i]
    return psi


@functools.lru_cache(maxsize=4)
def _twiddles(n):
    """``exp(-2 pi i k / n)``, ``k < n / 2`` (real and imaginary parts, read-only)."""
    k = np.arange(n // 2)
    out = (np.cos(2.0 * math.pi * k / n), -np.sin(2.0 * math.pi * k / n))
    for x in out:
        x.flags.writeable = False
    return out


# ----------------------------------------------------------------------------- the outer rule

#: the outer rule (:func:`_sphere_rule`): radius in ``xi`` (``P(chi_3 > 8.5)`` is 4e-15), first
#: radial panel in units of the features' width ``w``, the widest radial panel, Gauss-Legendre points
#: per radial panel (8 on panels 1.5 wide integrate the chi_3 density and its second moment to
#: 4e-13; 6 left 4e-9), angular points ``c0 + c1 min(r / w, rsat)``, the smallest ``w``
_S_R = 8.5
_S_H0 = 0.5
_S_WMAX = 1.5
_S_GL = 8
_S_C0 = 3
_S_C1 = 2
_S_RSAT = 3.0
_S_WMIN = 0.02
#: the angular rules (:func:`_panels`): a ridge narrower than ``_S_DGRADE`` (radians) is resolved by
#: Gauss-Legendre panels of ``_S_NG`` points graded from ``_S_FIRST`` times its width, doubling up to
#: ``_S_HANG``; a wider one by ``_S_KW / width`` points of a single rule; the ridge where ``omega_k``
#: crosses ``sqrt(v_k)`` is taken ``_S_RIDGE`` times ``sqrt(v_k / lam_k) / r`` wide
_S_NG = 6
_S_HANG = 0.5
_S_DGRADE = 0.25
_S_KW = 6.0
_S_FIRST = 1.0
_S_RIDGE = 3.0


def _panels(a, b, da, db, n, refine, midpoint=False, pole=False):
    """Nodes and weights on ``[a, b]`` for an integrand with ridges of widths ``da``, ``db`` at its
    ends (a Lorentzian-like peak, poles at that imaginary distance): Gauss-Legendre (or the midpoint
    rule of a periodic integrand) of ``max(n, 6 / width)`` points (error ``~exp(-4 n width)``) when
    both are wider than :data:`_S_DGRADE`, else Gauss-Legendre panels of :data:`_S_NG` points graded
    geometrically (ratio 2) toward the narrow end(s) from the width, up to :data:`_S_HANG`. With
    ``pole`` the end ``b`` is the pole of ``mu = cos(theta)``, where a ridge of width ``db`` in
    ``theta`` is ``db^2 / 2`` wide in ``mu``."""
    span = b - a
    dmin = min(da, db)
    if dmin >= _S_DGRADE:
        m = int(math.ceil(max(n, refine * _S_KW / dmin)))
        if midpoint:
            return a + span * (np.arange(m) + 0.5) / m, np.full(m, span / m)
        x, wx = legendre_rule(m)
        return a + span * x, span * wx
    if pole:
        db = 0.5 * db * db
    hmax = _S_HANG / refine
    left = [a]
    if da < _S_DGRADE:
        h = _S_FIRST * da
        while left[-1] + h < a + 0.5 * span:
            left.append(left[-1] + h)
            h = min(2.0 * h, hmax)
    right = [b]
    if (db < 0.5 * _S_DGRADE ** 2) if pole else (db < _S_DGRADE):
        h = _S_FIRST * db
        while right[-1] - h > a + 0.5 * span:
            right.append(right[-1] - h)
            h = min(2.0 * h, hmax)
    lo, hi = left[-1], right[-1]
    m = max(1, int(math.ceil((hi - lo) / hmax)))
    edges = np.concatenate([left[:-1], np.linspace(lo, hi, m + 1), right[-2::-1]])
    x, wx = legendre_rule(_S_NG)
    d = np.diff(edges)
    return (edges[:-1, None] + d[:, None] * x[None, :]).ravel(), (d[:, None] * wx[None, :]).ravel()


def _sphere_rule(lam, v, noise, refine=1, radial=False, mult=None):
    """Nodes ``omega`` (in the eigenframe of ``Q``, ``omega_i = sqrt(lam_i) xi_i``) and weights of the
    outer average over ``xi ~ N(0, I_p)`` at ``p = 3`` (``p`` any with ``radial``), folded onto the
    positive orthant (the integrand is even in each coordinate).

    Spherical about ``0``: radial Gauss-Legendre panels ``0.5 w, w, 2 w, ...`` up to 1.5 wide out
    to 8.5, ``w = max(0.02, min(1, min_i sqrt(v_i / lam_i)))`` (the features of the integrand, on
    the scale ``sqrt(V)`` about ``omega = 0``). With ``radial`` (an isotropic ``Q``, where the
    integrand depends on ``|xi|`` alone) one direction per radius. Otherwise, on the sphere of
    radius ``r`` the integrand has ridges along the planes ``xi_k = 0``: the Gaussian
    approximation of the Fisher information, ``4 omega omega^T / (4 omega^T V omega + c)``, ``c =
    2 tr V^2 + noise``, is peaked about them with angular width ``sqrt((min_{i != k} lam_i v_i + c
    / (4 r^2)) / (lam_k v_k))``, and the law of ``z_k^2`` changes shape where ``omega_k`` crosses
    ``sqrt(v_k)``, ``xi_k ~ sqrt(v_k / lam_k)`` (taken three times that wide; an isotropic ``V``
    does not see it, but the rule grades toward it whenever ``Q`` is not isotropic). The polar axis is the direction of largest ``lam_k v_k``; ``mu = cos
    theta`` (Gauss-Legendre) and the azimuth ``phi`` (the midpoint rule: the integrand is a smooth
    periodic function of it) take ``3 + 2 min(r / w, 3)`` points, more for ridges that are narrow,
    and graded panels toward the ends where a ridge is narrower than 0.25 (:func:`_panels`; in
    ``phi`` the widths over ``sin theta``). ``refine`` scales every width down and every count
    up.

    ``mult`` (three integers, default ones): coordinate ``k`` stands for an eigenspace of ``Q`` of
    dimension ``mult[k]`` on which ``Q`` and ``V`` are multiples of the identity, ``xi_k >= 0`` its
    radius: the weights take the ratio of the ``chi_{mult[k]}`` density to the folded normal one,
    ``xi_k^(mult[k] - 1) sqrt(2 pi) / (2^(mult[k] / 2) Gamma(mult[k] / 2))``, and ``tr V^2`` in ``c``
    counts each ``v_k`` ``mult[k]`` times."""
    p = lam.size
    if not np.any(lam > 0):
        return np.zeros((1, p)), np.ones(1)
    with np.errstate(divide="ignore"):
        w = float(np.min(np.where(lam > 0, np.sqrt(v / np.where(lam > 0, lam, 1.0)), np.inf)))
    w = max(_S_WMIN, min(1.0, w))
    r, wr = _graded_radii(_S_R, _S_H0 * w / refine, _S_WMAX / refine, _S_GL)
    # chi_p density times the orthant's share 2^p
    lognorm = -0.5 * p * math.log(2.0 * math.pi) + p * math.log(2.0)
    radw = wr * np.exp(lognorm + (p - 1) * np.log(r) - 0.5 * r * r)
    if radial:
        # an integrand that depends on |xi| alone: one direction, the orthant's area as its weight
        area = math.pi ** (0.5 * p) / math.gamma(0.5 * p) / 2.0 ** (p - 1)
        xi = r[:, None] * np.full((1, p), 1.0 / math.sqrt(p))
        return np.ascontiguousarray(xi * np.sqrt(lam)[None, :]), np.ascontiguousarray(radw * area)
    if p != 3:
        raise ValueError("the outer rule of the Fourier route is for p = 3")
    mult = np.ones(3) if mult is None else np.asarray(mult, dtype=float)
    lv = lam * v
    order = np.argsort(lv, kind="stable")  # (a, b, pole): xi_a = sin cos phi, xi_b = sin sin phi
    odd = np.asarray(mult, dtype=int) % 2 == 1
    if odd[order[0]] != odd[order[1]]:
        # the weights' factor xi_a^(m_a - 1) xi_b^(m_b - 1) is sin^(m_a + m_b - 2)(theta) times a function
        # of phi: a polynomial in mu = cos(theta) only when m_a + m_b is even (else a square root
        # singular at the pole), so the slot of the other parity is the pole
        lone = [k for k in range(3) if odd[k] != odd[order[2]]]
        lone = lone[0] if len(lone) == 1 else order[2]
        order = np.array([k for k in order if k != lone] + [lone])
    # the midpoint rule in phi takes the periodic extension: cos^(m_a - 1), sin^(m_b - 1) are smooth
    # there for odd multiplicities only (|cos phi| has kinks); otherwise Gauss-Legendre in phi
    periodic = bool(odd[order[0]] and odd[order[1]])
    c = (2.0 * float(np.sum(mult * v * v)) + noise) / 4.0
    nodes, weights = [], []
    half = 0.5 * math.pi
    for rk, wk in zip(r, radw):
        n = int(math.ceil(refine * (_S_C0 + _S_C1 * min(rk / w, _S_RSAT))))
        delta = np.empty(3)
        for k in range(3):
            others = np.delete(lv, k)
            delta[k] = math.sqrt((others.min() + c / rk ** 2) / lv[k]) if lv[k] > 0 else np.inf
            # and where omega_k crosses the scale sqrt(v_k) of the law of z_k^2 (xi_k ~ sqrt(v_k / lam_k))
            if lam[k] > 0:
                delta[k] = min(delta[k], _S_RIDGE * math.sqrt(v[k] / lam[k]) / rk)
            delta[k] /= refine
        da, db, dp = delta[order]
        # mu = cos(theta) from the equator (0) to the pole (1): a ridge at the equator of width dp, one
        # through the pole of width min(da, db) in theta, i.e. its square / 2 in mu
        dpole = min(da, db)
        mus, wmu = _panels(0.0, 1.0, dp, dpole, n, refine, pole=True)
        for ct, wt in zip(mus, wmu):
            st = math.sqrt(max(1.0 - ct * ct, 0.0))
            ph, wph = _panels(0.0, half, db / max(st, 1e-300), da / max(st, 1e-300), n, refine, midpoint=periodic)
            d = np.empty((ph.size, 3))
            d[:, order[0]] = st * np.cos(ph)
            d[:, order[1]] = st * np.sin(ph)
            d[:, order[2]] = ct
            nodes.append(rk * d)
            weights.append(wk * wt * wph)
    xi = np.concatenate(nodes)
    weights = np.concatenate(weights)
    for k in range(3):
        if mult[k] != 1.0:
            weights = weights * (xi[:, k] ** (mult[k] - 1.0) * math.sqrt(2.0 * math.pi)
                                 / (2.0 ** (0.5 * mult[k]) * math.gamma(0.5 * mult[k])))
    return np.ascontiguousarray(xi * np.sqrt(lam)[None, :]), np.ascontiguousarray(weights)


#: eigenvalues of ``Q`` (and of ``V``) closer than this are one eigenspace (``Q`` and ``V`` are of order
#: one; merging them moves ``A`` by about as much)
_CLUSTER_TOL = 1e-12


def _eigenspaces(lam, v):
    """Groups of indices of equal ``(lam_i, v_i)`` (within :data:`_CLUSTER_TOL`), in increasing ``lam``."""
    groups = []
    for i in np.argsort(lam, kind="stable"):
        if groups and abs(lam[i] - lam[groups[-1][0]]) <= _CLUSTER_TOL and abs(v[i] - v[groups[-1][0]]) <= _CLUSTER_TOL:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    return groups


def norm2_se_fourier(Q, V, noise, refine=1, outer_refine=1, isotropic=True):
    """``(A, Psi_out)`` of ``norm2`` at overlap ``Q`` (any ``p``), ``V = I - Q`` (positive
    definite). ``refine`` scales the density of the ``y`` grids, ``outer_refine`` that of the outer
    rule (refinement checks). With ``isotropic`` an isotropic ``Q`` and ``V`` (eigenvalues equal to
    ``1e-12`` relative) take a radial outer rule (the integrand then depends on ``|omega|`` alone).

    Otherwise the outer rule is three-dimensional (:func:`_sphere_rule`): at ``p = 3`` in the
    eigenframe of ``Q``; at ``p >= 4`` ``Q`` must have at most three distinct eigenvalues (within
    :data:`_CLUSTER_TOL`), and each eigenspace of dimension ``m`` is one coordinate, its radius, with
    the ``chi_m`` law (the integrand depends on ``omega`` restricted to it only through its length,
    as ``Q`` and ``V`` are multiples of the identity there; a pair of eigenspaces is made three
    coordinates by splitting the larger one into dimensions ``1`` and ``m - 1``). ``A`` on an
    eigenspace is ``E |g|^2 / m`` (``g`` restricted to it) times the identity. More distinct
    eigenvalues raise ``ValueError``."""
    Q = 0.5 * (np.asarray(Q, float) + np.asarray(Q, float).T)
    V = 0.5 * (np.asarray(V, float) + np.asarray(V, float).T)
    p = Q.shape[0]
    lam, U = np.linalg.eigh(Q)
    lam = np.clip(lam, 0.0, None)
    v = np.ascontiguousarray(np.diag(U.T @ V @ U))
    if not np.all(v > 0):
        raise ValueError(f"the state evolution of norm2 needs V = I - Q positive definite (Q < I), got eigenvalues "
                         f"{np.linalg.eigvalsh(V).tolist()} of V")
    radial = bool(isotropic and np.ptp(v) <= 1e-12 * v.max() and np.ptp(lam) <= 1e-12 * max(lam.max(), 1e-300))
    if not radial and p < 3:
        raise ValueError(f"the Fourier route of norm2 takes p >= 3 or an isotropic Q, got p = {p}")
    if radial or p == 3:
        slots, mult = [[i] for i in range(p)], np.ones(p)
        ls, vs = lam, v
    else:
        spaces = _eigenspaces(lam, v)
        slots = [list(g) for g in spaces]
        if len(slots) > 3:
            raise ValueError(f"the state evolution of norm2 at p = {p} needs an overlap Q with at most three distinct "
                             f"eigenvalues (its outer rule is three-dimensional), got {np.round(lam, 12).tolist()}")
        while len(slots) < 3:
            # split the largest eigenspace: dimensions 1 and m - 1
            k = max(range(len(slots)), key=lambda j: len(slots[j]))
            slots[k:k + 1] = [slots[k][:1], slots[k][1:]]
        mult = np.array([len(g) for g in slots], dtype=float)
        ls = np.array([lam[g].mean() for g in slots])
        vs = np.ascontiguousarray([v[g].mean() for g in slots])
    omegas, wts = _sphere_rule(ls, vs, float(noise), outer_refine, radial=radial, mult=None if radial else mult)
    nmax = _n3_sizes(omegas, vs, mult, float(noise), float(refine))
    if nmax < 0:
        raise ValueError(f"noise = {noise} is too small for the Fourier route of norm2 at p = {p} (a grid of more "
                         f"than {_F_NMAX} points in y)")
    twr, twi = _twiddles(nmax)
    a = np.empty(len(slots))
    psi = _n3_se(omegas, np.ascontiguousarray(wts), vs, mult, float(noise), float(refine), twr, twi, a)
    if psi != psi:
        raise ValueError("the Fourier route of norm2 refused a grid")
    if radial:
        a[:] = a.mean()
    # the diagonal of A in the eigenframe: each eigenspace's E |g|^2 shared among its dimensions
    diag = np.empty(p)
    for g in (slots if radial or p == 3 else spaces):
        diag[g] = sum(a[k] for k, sl in enumerate(slots) if sl[0] in g) / len(g)
    A = (U * diag[None, :]) @ U.T
    return 0.5 * (A + A.T), float(psi)


def norm2_point_fourier(y, omega, V, noise, refine=1):
    """``(Z_out(y), E[z | y])`` at one point (any ``p``, ``V`` positive definite), read off the grid
    of the state evolution's transform, shifted so that ``y`` is one of its points."""
    V = 0.5 * (np.asarray(V, float) + np.asarray(V, float).T)
    v, U = np.linalg.eigh(V)
    w = np.ascontiguousarray(U.T @ np.asarray(omega, float))
    v = np.ascontiguousarray(v)
    ones = np.ones(w.size)
    y_lo, L, N, u_max = _n3_size(w, v, ones, float(noise), float(refine))
    if N < 0:
        raise ValueError("grid too large")
    h = L / N
    j = int(round((y - y_lo) / h))
    if not 0 <= j < N:
        raise ValueError(f"y = {y} is outside the support of the label")
    y_lo = y - j * h
    p = w.size
    X = np.empty(((p + 2) // 2, N), dtype=np.complex128)
    twr, twi = _twiddles(N)
    _n3_transform(w, v, ones, float(noise), y_lo, L, N, refine * u_max, twr, twi, X)
    Z = X[0, j].real
    zg = np.array([X[(i + 1) // 2, j].imag if i % 2 == 0 else X[(i + 1) // 2, j].real for i in range(p)])
    Ez = w + v * zg / Z
    return Z, U @ Ez


# ----------------------------------------------------------------------------- the channel (GAMP)

#: a label whose ``Z_out`` is below this fraction of the scale of the terms summed for it (``sum
#: |psi(u_k)| / L``, about the largest density of the label) is refused: the sum's cancellation would
#: leave ``Z_out`` with fewer than about eight digits
_F_TAIL = 1e-8


@njit_compiled(cache=True)
def _channel_point(y, w, v, ones, noise, refine, b, c, zi, zij):
    """``Z_out(y)``, its gradient ``zi`` and Hessian ``zij`` in ``omega`` (in the frame where ``V =
    diag(v)``, ``w`` the mean there) by the inverse Fourier transform of the characteristic function
    taken at the one point ``y``: with ``r_i = 1 / (1 - 2 i u v_i)``, ``d psi / d w_i = psi b_i``,
    ``b_i = 2 i u w_i r_i``, and ``d^2 psi / d w_i d w_j = psi (b_i b_j + delta_ij 2 i u r_i)``, so
    that ``Z``, ``Z_i``, ``Z_ij`` are ``(psi_0 + 2 Re sum_k F(u_k) e^{-i u_k y}) / L`` of their
    transforms ``F`` on ``u_k = 2 pi k / L``, the trapezoidal rule in ``u``, which is exact up to
    the images ``y + m L`` (Poisson summation): ``L`` is the window of :func:`_n3_size` (the support
    of ``|z|^2`` and the noise's tails), widened to hold ``y``, so that every image falls outside
    the support. Returns ``(Z, scale)``, ``scale = sum_k |psi(u_k)| / L`` (the size of the terms
    whose cancellation gives ``Z``). ``ones`` (``p`` ones), ``b``, ``c`` (complex, ``p``): scratch."""
    p = w.size
    y_lo, L, N, u_max = _n3_size(w, v, ones, noise, refine)
    s = math.sqrt(noise)
    lo = min(y_lo, y - _F_NOISE * s)
    hi = max(y_lo + L, y + _F_NOISE * s)
    L = hi - lo
    du = 2.0 * math.pi / L
    K = int(math.ceil(refine * u_max / du))
    Z = 0.0
    scale = 0.0
    for i in range(p):
        zi[i] = 0.0
        for j in range(p):
            zij[i, j] = 0.0
    for k in range(K + 1):
        u = k * du
        for i in range(p):
            # 2 i u r_i, r_i = (1 + 2 i u v_i) / (1 + 4 u^2 v_i^2)
            q = 1.0 + 4.0 * u * u * v[i] * v[i]
            c[i] = complex(-4.0 * u * u * v[i] / q, 2.0 * u / q)
            b[i] = w[i] * c[i]
        f = 1.0 if k == 0 else 2.0
        base = f * _psi(u, y, w, v, ones, noise)
        scale += abs(base)
        Z += base.real
        for i in range(p):
            zi[i] += (base * b[i]).real
            for j in range(i, p):
                t = b[i] * b[j]
                if i == j:
                    t += c[i]
                zij[i, j] += (base * t).real
    for i in range(p):
        zi[i] /= L
        for j in range(i, p):
            zij[i, j] /= L
            zij[j, i] = zij[i, j]
    return Z / L, scale / L


@njit_compiled(cache=True, nogil=True)
def _channel_kernel(y, W, v, noise, refine, g, H, logz):
    """``g = grad log Z_out``, ``H = d g / d w`` and ``log Z_out`` for each sample, in the frame of
    its ``V`` (rows of ``W``, ``v``). Returns ``1 + mu`` for the first sample whose label it cannot
    resolve (:data:`_F_TAIL`), else 0."""
    n, p = W.shape
    zi = np.empty(p)
    zij = np.empty((p, p))
    # scratch of _channel_point, allocated once: it runs once per sample and GAMP iteration
    ones = np.ones(p)
    b = np.empty(p, dtype=np.complex128)
    c = np.empty(p, dtype=np.complex128)
    for m in range(n):
        Z, scale = _channel_point(y[m], W[m], v[m], ones, noise, refine, b, c, zi, zij)
        if not Z > _F_TAIL * scale:
            return m + 1
        logz[m] = math.log(Z)
        for i in range(p):
            g[m, i] = zi[i] / Z
        for i in range(p):
            for j in range(p):
                H[m, i, j] = zij[i, j] / Z - g[m, i] * g[m, j]
    return 0


def norm2_channel_fourier(y, omega, V, noise, refine=1):
    """``(g_out, d g_out / d omega, log Z_out)`` of ``norm2`` per sample at any ``p`` by the
    Fourier route (:func:`_channel_point`): ``y`` shape ``(n,)``, ``omega`` ``(n, p)``, ``V`` ``(n,
    p, p)`` positive definite. A label too far in the tail of ``Z_out`` for the sum to resolve
    raises ``ValueError`` naming the sample."""
    y = np.ascontiguousarray(np.asarray(y, dtype=float))
    omega = np.asarray(omega, dtype=float)
    V = np.asarray(V, dtype=float)
    V = 0.5 * (V + np.swapaxes(V, 1, 2))
    v, U = np.linalg.eigh(V)
    if not np.all(v > 0):
        raise ValueError("the norm2 channel needs V positive definite")
    W = np.ascontiguousarray(np.einsum("mba,mb->ma", U, omega))
    n, p = omega.shape
    gw = np.empty((n, p))
    Hw = np.empty((n, p, p))
    logz = np.empty(n)
    bad = _channel_kernel(y, W, np.ascontiguousarray(v), float(noise), float(refine), gw, Hw, logz)
    if bad:
        mu = bad - 1
        raise ValueError(f"the norm2 channel cannot resolve sample {mu} (y = {float(y[mu])!r}, omega = "
                         f"{omega[mu].tolist()}): its label is too far in the tail of Z_out for the Fourier sum "
                         f"(Z_out below {_F_TAIL:g} of the terms' scale)")
    g = np.einsum("mab,mb->ma", U, gw)
    dg = np.einsum("mai,mij,mbj->mab", U, Hw, U)
    return g, dg, logz
