"""Numba kernels of :mod:`equations.attention` (the channel of a two-token dot-product attention).

Kept apart from the model so that the registry imports stay light; every rule (nodes, weights)
is an argument, never a global, and nothing recurses.
"""

from __future__ import annotations

import math

import numpy as np
from fixedpoint._jit import njit_compiled
from fixedpoint.quadrature import sigmoid as _sig


@njit_compiled(cache=True)
def _loss_grad_hess(h1, h2, t1, t2, sigma2, out):
    """The per-sample loss ``sigma^2 [(S11 - t1)^2 + (S22 - t2)^2]`` of the student attention
    ``S = softmax_rows(h h^T)`` (``S11 = sig(h1 (h1 - h2))``, ``S22 = sig(h2 (h2 - h1))``), with its
    gradient ``out[0:2]`` and Hessian ``out[2:5]`` (``H11, H12, H22``) in ``h``; returns the loss."""
    u1 = h1 * (h1 - h2)
    u2 = h2 * (h2 - h1)
    s1 = _sig(u1)
    s2 = _sig(u2)
    r1 = s1 - t1
    r2 = s2 - t2
    d1 = s1 * (1.0 - s1)
    d2 = s2 * (1.0 - s2)
    # dl/du and d2l/du2 (the two u's enter separately)
    l1 = 2.0 * sigma2 * r1 * d1
    l2 = 2.0 * sigma2 * r2 * d2
    l11 = 2.0 * sigma2 * (d1 * d1 + r1 * d1 * (1.0 - 2.0 * s1))
    l22 = 2.0 * sigma2 * (d2 * d2 + r2 * d2 * (1.0 - 2.0 * s2))
    # grad u1 = (2 h1 - h2, -h1), grad u2 = (-h2, 2 h2 - h1); Hess u1 = [[2, -1], [-1, 0]],
    # Hess u2 = [[0, -1], [-1, 2]]
    a1 = 2.0 * h1 - h2
    b1 = -h1
    a2 = -h2
    b2 = 2.0 * h2 - h1
    out[0] = l1 * a1 + l2 * a2
    out[1] = l1 * b1 + l2 * b2
    out[2] = l11 * a1 * a1 + l22 * a2 * a2 + 2.0 * l1
    out[3] = l11 * a1 * b1 + l22 * a2 * b2 - l1 - l2
    out[4] = l11 * b1 * b1 + l22 * b2 * b2 + 2.0 * l2
    return sigma2 * (r1 * r1 + r2 * r2)


#: length of a Newton result ``res``: ``h1, h2, g, loss, H11, H12, H22`` (:func:`_newton`)
_RES = 7
#: columns of a tracked minimum (a slot): a Newton result, then the slot's ``h`` before the
#: current step (:func:`_step`)
_COLS = _RES + 2


@njit_compiled(cache=True)
def _newton(h1, h2, w1, w2, V, t1, t2, sigma2, buf, res):
    """Local minimum of ``g(h) = |h - w|^2 / (2V) + loss(h)`` by Newton's method with a
    Levenberg shift (the Hessian made positive definite) and backtracking from ``(h1, h2)``.
    Writes ``res[:_RES] = (h1, h2, g, loss, H11, H12, H22)``, ``H`` the loss's Hessian at ``h`` (at
    the start of a last step shorter than ~1e-8, which is taken without an evaluation)."""
    # lc, k11, k12, k22: the loss and its Hessian at the current h, kept so that they are not
    # recomputed
    lc = _loss_grad_hess(h1, h2, t1, t2, sigma2, buf)
    k11 = buf[2]
    k12 = buf[3]
    k22 = buf[4]
    g = ((h1 - w1) ** 2 + (h2 - w2) ** 2) / (2.0 * V) + lc
    # length of the last step when it was a full, unshifted Newton step (else 0)
    pprev = 0.0
    for _ in range(100):
        g1 = (h1 - w1) / V + buf[0]
        g2 = (h2 - w2) / V + buf[1]
        if abs(g1) + abs(g2) < 1e-15 * (1.0 + (abs(h1) + abs(h2) + abs(w1) + abs(w2)) / V):
            break
        a = buf[2] + 1.0 / V
        b = buf[3]
        c = buf[4] + 1.0 / V
        # smallest eigenvalue of [[a, b], [b, c]]; shift it up to a positive floor
        lmin = 0.5 * (a + c) - math.sqrt(0.25 * (a - c) ** 2 + b * b)
        # pure Newton where the Hessian is positive definite (quadratic convergence at a strict
        # minimum); a Levenberg shift to 0.1/V above zero where it is not
        shift = 0.0
        if lmin <= 0.0:
            shift = 0.1 / V - lmin
        a += shift
        c += shift
        det = a * c - b * b
        p1 = -(c * g1 - b * g2) / det
        p2 = -(a * g2 - b * g1) / det
        slope = g1 * p1 + g2 * p2
        step = 1.0
        accepted = False
        pn = abs(p1) + abs(p2)
        if shift == 0.0 and pn < 1e-6 * (1.0 + abs(h1) + abs(h2)):
            # the last Newton steps at a strict minimum: g changes there below its own rounding,
            # so an Armijo test would stop the descent ~1e-9 short; take the full step
            if pprev > 0.0 and pn * pn * pn < 1e-15 * (1.0 + abs(h1) + abs(h2)) * pprev * pprev:
                # the error this step leaves, C pn^2 with C ~ pn / pprev^2 measured on the last
                # two (quadratic convergence), is below rounding: the step is the last one, and
                # the loss at its end is its second-order Taylor value (exact to O(pn^3), ~1e-30)
                lc += buf[0] * p1 + buf[1] * p2 + 0.5 * (buf[2] * p1 * p1 + 2.0 * buf[3] * p1 * p2 + buf[4] * p2 * p2)
                h1 += p1
                h2 += p2
                g = ((h1 - w1) ** 2 + (h2 - w2) ** 2) / (2.0 * V) + lc
                break
            h1 += p1
            h2 += p2
            lc = _loss_grad_hess(h1, h2, t1, t2, sigma2, buf)
            k11 = buf[2]
            k12 = buf[3]
            k22 = buf[4]
            g = ((h1 - w1) ** 2 + (h2 - w2) ** 2) / (2.0 * V) + lc
            if pn < 1e-15 * (1.0 + abs(h1) + abs(h2)):
                break
            pprev = pn
            continue
        for _k in range(40):
            n1 = h1 + step * p1
            n2 = h2 + step * p2
            ln = _loss_grad_hess(n1, n2, t1, t2, sigma2, buf)
            gn = ((n1 - w1) ** 2 + (n2 - w2) ** 2) / (2.0 * V) + ln
            if gn <= g + 1e-4 * step * slope:
                accepted = True
                break
            step *= 0.5
        if not accepted:
            break
        dh = abs(n1 - h1) + abs(n2 - h2)
        h1 = n1
        h2 = n2
        g = gn
        lc = ln
        k11 = buf[2]
        k12 = buf[3]
        k22 = buf[4]
        pprev = pn if step == 1.0 and shift == 0.0 else 0.0
        if dh < 1e-14 * (1.0 + abs(h1) + abs(h2)):
            break
    res[0] = h1
    res[1] = h2
    res[2] = g
    res[3] = lc
    res[4] = k11
    res[5] = k12
    res[6] = k22


@njit_compiled(cache=True)
def _loss_zero(t1, t2, out):
    """A zero of the loss (``S11 = t1, S22 = t2``) into ``out[0:2]``; False when there is none.

    ``u1 = h1 (h1 - h2)`` and ``u2 = h2 (h2 - h1)`` give ``u1 + u2 = (h1 - h2)^2`` and ``u1 - u2 =
    (h1 + h2)(h1 - h2)``: with ``u_l = logit(t_l)`` the zeros are the mirror pair ``+-h`` with
    ``h1 - h2 = sqrt(u1 + u2)``, when ``u1 + u2 > 0`` (``t1 + t2 > 1``)."""
    if not (0.0 < t1 < 1.0 and 0.0 < t2 < 1.0):
        return False
    u1 = math.log(t1 / (1.0 - t1))
    u2 = math.log(t2 / (1.0 - t2))
    if u1 + u2 <= 0.0:
        return False
    dl = math.sqrt(u1 + u2)
    sm = (u1 - u2) / dl
    out[0] = 0.5 * (sm + dl)
    out[1] = 0.5 * (sm - dl)
    return True


#: two local minima closer than this (relative) are the same one
_DISTINCT = 1e-6
#: local minima tracked along a line: the mirror pair of basins around the zeros ``+-z`` of the
#: loss and the one around ``h = 0`` (a local minimum of ``g`` when ``V`` is large)
_SLOTS = 3


@njit_compiled(cache=True)
def _same(a1, a2, b1, b2):
    return abs(a1 - b1) + abs(a2 - b2) <= _DISTINCT * (1.0 + abs(a1) + abs(a2))


@njit_compiled(cache=True)
def _seed(k, w1, w2, z1, z2, has_zero):
    """Cold start of slot ``k``: ``z, -z, 0`` (``z`` the zero of the loss), or ``w, -w, 0`` when
    the loss has no zero."""
    if k == 2:
        return 0.0, 0.0
    if has_zero:
        return (z1, z2) if k == 0 else (-z1, -z2)
    return (w1, w2) if k == 0 else (-w1, -w2)


@njit_compiled(cache=True)
def _best(slots):
    b = 0
    for k in range(1, _SLOTS):
        if slots[k, 2] < slots[b, 2]:
            b = k
    return b


@njit_compiled(cache=True)
def _keep(slots, k, res):
    """Slot ``k`` takes the Newton result ``res``."""
    for c in range(_RES):
        slots[k, c] = res[c]


@njit_compiled(cache=True)
def _step(slots, reseed, w1, w2, d1, d2, V, t1, t2, sigma2, z1, z2, has_zero, buf, res, tg):
    """Moves the tracked local minima ``slots`` (rows: :data:`_COLS`) to the new ``w`` (moved by
    ``d`` since the last node): a Newton descent from each, started at its first-order
    continuation (:func:`_tangent_at`) where that moves it no more than twice ``|d|`` (a basin
    away from its end); when ``reseed``, a slot that has merged with another starts again from its
    cold start (a basin that has appeared since is found). Returns the slot of the global minimum.

    A slot that holds the same minimum as an earlier one (merged with it: most nodes, where fewer
    than three basins exist) takes that slot's new minimum instead of repeating its descent."""
    for k in range(_SLOTS):
        twin = -1
        for j in range(k):
            if twin < 0 and _same(slots[j, _RES], slots[j, _RES + 1], slots[k, 0], slots[k, 1]):
                twin = j
        # the last two columns keep each slot's minimum before this step, for the test above
        slots[k, _RES] = slots[k, 0]
        slots[k, _RES + 1] = slots[k, 1]
        if twin >= 0:
            for c in range(_RES):
                slots[k, c] = slots[twin, c]
            continue
        a1 = slots[k, 0]
        a2 = slots[k, 1]
        _tangent_at(slots[k, 4], slots[k, 5], slots[k, 6], V, d1, d2, tg)
        if abs(tg[0]) + abs(tg[1]) <= 2.0 * (abs(d1) + abs(d2)):
            a1 += tg[0]
            a2 += tg[1]
        _newton(a1, a2, w1, w2, V, t1, t2, sigma2, buf, res)
        _keep(slots, k, res)
    if reseed:
        for k in range(1, _SLOTS):
            for j in range(k):
                if _same(slots[j, 0], slots[j, 1], slots[k, 0], slots[k, 1]):
                    a1, a2 = _seed(k, w1, w2, z1, z2, has_zero)
                    _newton(a1, a2, w1, w2, V, t1, t2, sigma2, buf, res)
                    _keep(slots, k, res)
                    break
    return _best(slots)


@njit_compiled(cache=True)
def _cold(slots, w1, w2, V, t1, t2, sigma2, z1, z2, has_zero, buf, res):
    """Fills ``slots`` with Newton descents from the cold starts; returns the global one's slot."""
    for k in range(_SLOTS):
        a1, a2 = _seed(k, w1, w2, z1, z2, has_zero)
        _newton(a1, a2, w1, w2, V, t1, t2, sigma2, buf, res)
        _keep(slots, k, res)
    # the descents from the cold starts of the other slots as well (ties: the basins w and -w)
    a1, a2 = w1, w2
    for r in range(2):
        _newton(a1, a2, w1, w2, V, t1, t2, sigma2, buf, res)
        b = _best(slots)
        if res[2] < slots[b, 2] - 1e-15 * abs(slots[b, 2]):
            # a better basin than the seeds': it replaces the worst slot
            wk = 0
            for k in range(1, _SLOTS):
                if slots[k, 2] > slots[wk, 2]:
                    wk = k
            _keep(slots, wk, res)
        a1, a2 = -w1, -w2
    return _best(slots)


@njit_compiled(cache=True)
def _mirror(slots, w1, w2, V, t1, t2, sigma2, buf, res):
    """A Newton descent from the mirror ``-h`` of the global minimum ``h`` of ``slots``: the basin
    competing with it near a jump (the continuation of its mirror image, exact at ``w = 0``),
    which the slots' cold starts may miss; a new basin takes the place of a slot that has merged
    with another (or of the worst one, when lower). Returns the slot of the global minimum."""
    b = _best(slots)
    _newton(-slots[b, 0], -slots[b, 1], w1, w2, V, t1, t2, sigma2, buf, res)
    for k in range(_SLOTS):
        if _same(res[0], res[1], slots[k, 0], slots[k, 1]):
            return b
    wk = -1
    for k in range(1, _SLOTS):
        for j in range(k):
            if wk < 0 and _same(slots[j, 0], slots[j, 1], slots[k, 0], slots[k, 1]):
                wk = k
    if wk < 0:
        wk = 0
        for k in range(1, _SLOTS):
            if slots[k, 2] > slots[wk, 2]:
                wk = k
        if res[2] >= slots[wk, 2]:
            return b
    _keep(slots, wk, res)
    return _best(slots)


@njit_compiled(cache=True)
def _accumulate(acc, wt, h1, h2, g, loss, w1, w2, m, s1, s2, V):
    """Add one node (weight ``wt``, global minimiser ``h`` of value ``g``, where the loss is
    ``loss``) to the sums ``acc``: ``f1 - f2, |f|^2, f.s, f.(w - (m, -m)), M, loss``."""
    f1 = (h1 - w1) / V
    f2 = (h2 - w2) / V
    acc[0] += wt * (f1 - f2)
    acc[1] += wt * (f1 * f1 + f2 * f2)
    acc[2] += wt * (f1 * s1 + f2 * s2)
    acc[3] += wt * (f1 * (w1 - m) + f2 * (w2 + m))
    acc[4] += wt * g
    acc[5] += wt * loss


@njit_compiled(cache=True)
def _tangent(h1, h2, V, t1, t2, sigma2, d1, d2, buf, out):
    """The first-order move ``out`` of a local minimum ``h`` of ``g`` when ``w`` moves by ``d``:
    ``dh = (I / V + Hess loss(h))^{-1} d / V`` (the implicit function theorem on ``grad g = 0``)."""
    _loss_grad_hess(h1, h2, t1, t2, sigma2, buf)
    _tangent_at(buf[2], buf[3], buf[4], V, d1, d2, out)


@njit_compiled(cache=True)
def _tangent_at(H11, H12, H22, V, d1, d2, out):
    """:func:`_tangent` with the loss's Hessian ``H`` at the minimum given."""
    a = H11 + 1.0 / V
    b = H12
    c = H22 + 1.0 / V
    det = a * c - b * b
    if det <= 0.0:
        # not a strict minimum (a basin about to merge): no prediction
        out[0] = 0.0
        out[1] = 0.0
        return
    out[0] = (c * d1 - b * d2) / (det * V)
    out[1] = (a * d2 - b * d1) / (det * V)


@njit_compiled(cache=True)
def _suspect(za, ra, zb, rb, e1, e2, tau, V, tg):
    """Whether the global minimiser may jump between ``za`` and ``zb`` of the line: its values
    ``a`` and ``b`` there are not related by their tangents (:func:`_tangent`; a jump is of order
    one, the error of a first-order prediction in a basin of order ``(zb - za)^2``). Each side's
    prediction is tested: near a basin's end (where it merges) its tangent is large and its
    prediction poor, which flags the interval too, as it should (a jump is near). A jump whose
    bistable region lies entirely between the two nodes is invisible to a continuation from
    either node; it is not to this test. ``ra`` and ``rb`` are the two minima as Newton results
    (with the loss's Hessian, :data:`_RES`)."""
    a1 = ra[0]
    a2 = ra[1]
    b1 = rb[0]
    b2 = rb[1]
    d1 = tau * (zb - za) * e1
    d2 = tau * (zb - za) * e2
    tiny = 1e-12 * (1.0 + abs(a1) + abs(a2))
    _tangent_at(ra[4], ra[5], ra[6], V, d1, d2, tg)
    if abs(b1 - a1 - tg[0]) + abs(b2 - a2 - tg[1]) > 0.3 * (abs(tg[0]) + abs(tg[1])) + tiny:
        return True
    _tangent_at(rb[4], rb[5], rb[6], V, d1, d2, tg)
    return abs(a1 - b1 + tg[0]) + abs(a2 - b2 + tg[1]) > 0.3 * (abs(tg[0]) + abs(tg[1])) + tiny


@njit_compiled(cache=True)
def _locate(za, a1, a2, zb, b1, b2, c1, c2, e1, e2, tau, V, t1, t2, sigma2, buf, res, tg, ends):
    """The point of ``(za, zb)`` where the global minimiser jumps from the basin of ``a`` (the
    global minimum at ``za``) to that of ``b`` (at ``zb``), by bisection. At a midpoint both are
    continued by Newton's method; where both basins exist the lower one decides the side (the
    sign of the difference of their values); where only one does (outside their bistable
    region), the side whose first-order prediction (:func:`_tangent`) is the nearer. ``ends`` gets
    the two minima at the ends of the final bracket (the basins left and right of the jump)."""
    lo = za
    hi = zb
    for _ in range(200):
        if hi - lo <= 1e-13 * (1.0 + abs(lo) + abs(hi)):
            break
        z = 0.5 * (lo + hi)
        w1 = c1 + tau * z * e1
        w2 = c2 + tau * z * e2
        _newton(a1, a2, w1, w2, V, t1, t2, sigma2, buf, res)
        n1 = res[0]
        n2 = res[1]
        gn = res[2]
        _newton(b1, b2, w1, w2, V, t1, t2, sigma2, buf, res)
        if not _same(n1, n2, res[0], res[1]):
            if gn <= res[2]:
                lo = z
                a1 = n1
                a2 = n2
            else:
                hi = z
                b1 = res[0]
                b2 = res[1]
            continue
        _tangent(a1, a2, V, t1, t2, sigma2, tau * (z - lo) * e1, tau * (z - lo) * e2, buf, tg)
        da = abs(n1 - a1 - tg[0]) + abs(n2 - a2 - tg[1])
        _tangent(b1, b2, V, t1, t2, sigma2, tau * (z - hi) * e1, tau * (z - hi) * e2, buf, tg)
        db = abs(n1 - b1 - tg[0]) + abs(n2 - b2 - tg[1])
        if da <= db:
            lo = z
            a1 = n1
            a2 = n2
        else:
            hi = z
            b1 = n1
            b2 = n2
    ends[0] = a1
    ends[1] = a2
    ends[2] = b1
    ends[3] = b2
    return 0.5 * (lo + hi)


#: sub-pieces of a piece of a line toward each cut that ends it, and the ratio of their lengths
_GRADE = 4
_GRADE_RATIO = 0.2


@njit_compiled(cache=True)
def _graded(lo, hi, left, right, br):
    """Breakpoints (ascending, into ``br``; returns their number) of ``[lo, hi]`` split
    geometrically toward the ends that are cuts (``left``, ``right``): at distances
    ``L/2 r^j`` (``j < _GRADE``, ``r = _GRADE_RATIO``) from such an end."""
    half = 0.5 * (hi - lo)
    n = 0
    br[n] = lo
    n += 1
    if left:
        for j in range(_GRADE - 1, -1, -1):
            br[n] = lo + half * _GRADE_RATIO ** j
            n += 1
    if right:
        for j in range(_GRADE):
            v = hi - half * _GRADE_RATIO ** j
            if v > br[n - 1]:
                br[n] = v
                n += 1
    br[n] = hi
    n += 1
    return n


@njit_compiled(cache=True)
def inner(s1, s2, q, m, theta, V, rho, sigma2, omega, A11, A22, xv, wv, xl, wl, half_width, npanel, acc):
    """Adds to ``acc`` the average over the student's field ``w`` given the teacher's ``s`` (see
    :func:`channel_lines`): ``f1 - f2, |f|^2, f.s, f.(w - (m, -m)), M, loss``."""
    nv = xv.shape[0]
    ng = xl.shape[0]
    nnode = npanel * ng
    tau = math.sqrt(max(q - theta * theta / rho, 0.0))
    buf = np.empty(5)
    res = np.empty(_RES)
    slots = np.empty((_SLOTS, _COLS))
    zr = np.empty(2)
    tg = np.empty(2)
    # pass-one record of a line: node positions, tracked minima, per-panel sums
    zs = np.empty(nnode)
    rec = np.empty((nnode, _SLOTS, _RES))
    psum = np.empty((npanel, 6))
    cuts = np.empty(nnode)
    # the minima left and right of each cut (the seeds of the pieces of pass two)
    sides = np.empty((nnode, 4))
    br = np.empty(2 * _GRADE + 2)
    pw = 2.0 * half_width / npanel
    t1 = (1.0 - omega) * _sig(s1 * (s1 - s2)) + omega * A11
    t2 = (1.0 - omega) * _sig(s2 * (s2 - s1)) + omega * A22
    mu1 = m + theta * s1 / rho
    mu2 = -m + theta * s2 / rho
    # lines along the prox at w = 0, or the zero of the loss (0 itself is a critical point of g)
    e1 = 1.0 / math.sqrt(2.0)
    e2 = -e1
    has_zero = _loss_zero(t1, t2, zr)
    if has_zero:
        _newton(zr[0], zr[1], 0.0, 0.0, V, t1, t2, sigma2, buf, res)
        g0 = _loss_grad_hess(0.0, 0.0, t1, t2, sigma2, buf)
        nrm = math.sqrt(res[0] ** 2 + res[1] ** 2)
        if res[2] < g0 and nrm > 1e-12:
            e1 = res[0] / nrm
            e2 = res[1] / nrm
        else:
            nrm = math.sqrt(zr[0] ** 2 + zr[1] ** 2)
            e1 = zr[0] / nrm
            e2 = zr[1] / nrm
    else:
        zr[0] = 0.0
        zr[1] = 0.0
    for k in range(nv):
        c1 = mu1 - tau * xv[k] * e2
        c2 = mu2 + tau * xv[k] * e1
        # pass one: uniform panels, the local minima tracked from node to node
        ncut = 0
        bprev = 0
        for p in range(npanel):
            for c in range(6):
                psum[p, c] = 0.0
            za = -half_width + p * pw
            for g in range(ng):
                idx = p * ng + g
                z = za + 0.5 * pw * (xl[g] + 1.0)
                w1 = c1 + tau * z * e1
                w2 = c2 + tau * z * e2
                if idx == 0:
                    b = _cold(slots, w1, w2, V, t1, t2, sigma2, zr[0], zr[1], has_zero, buf, res)
                else:
                    dz = tau * (z - zs[idx - 1])
                    b = _step(slots, idx % 2 == 0, w1, w2, dz * e1, dz * e2, V, t1, t2, sigma2, zr[0], zr[1],
                              has_zero, buf, res, tg)
                b = _mirror(slots, w1, w2, V, t1, t2, sigma2, buf, res)
                zs[idx] = z
                for c in range(_SLOTS):
                    for cc in range(_RES):
                        rec[idx, c, cc] = slots[c, cc]
                wt = 0.5 * pw * wl[g] * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
                _accumulate(psum[p], wt, slots[b, 0], slots[b, 1], slots[b, 2], slots[b, 3], w1, w2, m, s1, s2, V)
                if idx > 0:
                    # the global minimiser at the last node and at this one: a jump between them
                    # (suspected by the tangents' test, or seen as a change of tracked basin)
                    # is located by bisection
                    zp = zs[idx - 1]
                    a1, a2 = rec[idx - 1, bprev, 0], rec[idx - 1, bprev, 1]
                    flagged = not _same(slots[b, 0], slots[b, 1], slots[bprev, 0], slots[bprev, 1]) or \
                        _suspect(zp, rec[idx - 1, bprev], z, slots[b], e1, e2, tau, V, tg)
                    if flagged and not _same(a1, a2, slots[b, 0], slots[b, 1]):
                        cuts[ncut] = _locate(zp, a1, a2, z, slots[b, 0], slots[b, 1], c1, c2, e1, e2, tau, V,
                                             t1, t2, sigma2, buf, res, tg, sides[ncut])
                        ncut += 1
                bprev = b
        # pass two: the panels that hold a jump, integrated piece by piece
        k0 = 0
        for p in range(npanel):
            za = -half_width + p * pw
            zb = za + pw
            k1 = k0
            while k1 < ncut and cuts[k1] < zb:
                k1 += 1
            if k1 > k0:
                for c in range(6):
                    psum[p, c] = 0.0
                # between two cuts the global minimiser stays in one basin: each piece follows
                # it by continuation from a cut (from the basin left of the first cut, marching
                # back to the panel's start, then from the basin right of each cut, forward)
                lo = za
                for piece in range(k1 - k0 + 1):
                    hi = cuts[k0 + piece] if piece < k1 - k0 else zb
                    if piece == 0:
                        h1, h2 = sides[k0, 0], sides[k0, 1]
                    else:
                        h1, h2 = sides[k0 + piece - 1, 2], sides[k0 + piece - 1, 3]
                    # sub-pieces graded geometrically toward the cuts: a basin's end (where it
                    # merges, a square-root singularity) lies beyond the cut, the closer the
                    # smaller the jump (near a cusp), and limits Gauss-Legendre's convergence
                    nb = _graded(lo, hi, piece > 0, piece < k1 - k0, br)
                    # zc: where h is the minimum (the cut, then the last node), for the
                    # first-order continuation once its Hessian is known (res, after a descent)
                    zc = hi if piece == 0 else lo
                    known = False
                    for jj in range(nb - 1):
                        j = nb - 2 - jj if piece == 0 else jj
                        hw = 0.5 * (br[j + 1] - br[j])
                        for gg in range(ng):
                            g = ng - 1 - gg if piece == 0 else gg
                            z = br[j] + hw * (xl[g] + 1.0)
                            w1 = c1 + tau * z * e1
                            w2 = c2 + tau * z * e2
                            a1 = h1
                            a2 = h2
                            if known:
                                dz = tau * (z - zc)
                                _tangent_at(res[4], res[5], res[6], V, dz * e1, dz * e2, tg)
                                if abs(tg[0]) + abs(tg[1]) <= 2.0 * abs(dz) * (abs(e1) + abs(e2)):
                                    a1 += tg[0]
                                    a2 += tg[1]
                            _newton(a1, a2, w1, w2, V, t1, t2, sigma2, buf, res)
                            known = True
                            zc = z
                            h1 = res[0]
                            h2 = res[1]
                            wt = hw * wl[g] * math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
                            _accumulate(psum[p], wt, h1, h2, res[2], res[3], w1, w2, m, s1, s2, V)
                    lo = hi
            k0 = k1
        for p in range(npanel):
            for c in range(6):
                acc[c] += wv[k] * psum[p, c]


@njit_compiled(cache=True, nogil=True)
def channel_lines(q, m, theta, V, rho, sigma2, omega, A11, A22, s1s, s2s, ws, xv, wv, xl, wl, half_width, npanel,
                  acc):
    """Channel sums of the prox of a two-token sample over the teacher points ``(s1s, s2s)`` with
    weights ``ws``, each integrated over the student's field with its jumps located (:func:`inner`).

    Order of integration: the teacher's fields ``s ~ N(0, rho I_2)`` outside (the caller's rule:
    the target ``t(s)`` is smooth); given ``s`` the student's ``w`` is isotropic Gaussian, ``w = mu
    + tau z`` with ``mu_l = +-m + theta s_l / rho``, ``tau^2 = q - theta^2 / rho``, ``z ~ N(0,
    I_2)``. ``z`` is rotated so that its first axis ``e`` is the direction of the prox at ``w = 0``
    (the penalty's two mirror basins exchange the global minimum on a curve through ``w = 0``
    perpendicular to it): Gauss-Hermite ``xv, wv`` across (``e_perp``), and along each line ``w =
    c + tau z e`` Gauss-Legendre panels (``xl, wl`` on ``[-1, 1]``, ``npanel`` panels over ``|z| <
    half_width``) split where the global minimiser jumps from one basin to the other: a first pass
    tracks the local minima from node to node and flags the intervals where the global one changes
    basin or moves unlike its tangents (:func:`_suspect`), the jump is located by bisection
    (:func:`_locate`), and the panels holding a jump are integrated again piece by piece, by
    continuation from the cuts on sub-panels graded toward them (:func:`inner`). ``f = (h* - w) /
    V``; ``acc`` gets the weighted sums of ``(f1 - f2, |f|^2, f.s, f.(w - (m, -m)), M, loss(h*))``
    with ``M`` the Moreau envelope (the minimum); the caller turns them into the model's
    variables. Releases the GIL: the caller may split the teacher points over threads.
    """
    part = np.empty(6)
    for c in range(6):
        acc[c] = 0.0
    for i in range(s1s.shape[0]):
        for c in range(6):
            part[c] = 0.0
        inner(s1s[i], s2s[i], q, m, theta, V, rho, sigma2, omega, A11, A22, xv, wv, xl, wl, half_width, npanel,
              part)
        for c in range(6):
            acc[c] += ws[i] * part[c]


@njit_compiled(cache=True)
def test_error(q, m, theta, rho, sigma2, omega, A11, A22, x, wx):
    """``sigma^2 E[(S11(w) - T11(s))^2 + (S22(w) - T22(s))^2]`` (half the squared Frobenius
    distance of the attention matrices, times ``sigma^2``) over the tensor Gauss-Hermite rule
    ``x, wx`` on each of the four axes ``(xi_1, xi_2, y_1, y_2)``, with ``w_l = sqrt(q) xi_l +-
    m`` and ``s_l = theta / sqrt(q) xi_l + sqrt(rho - theta^2 / q) y_l``: no prox enters, the
    integrand is smooth."""
    n = x.shape[0]
    sq = math.sqrt(q)
    a = theta / sq if sq > 0.0 else 0.0
    b = math.sqrt(max(rho - (theta * theta / q if q > 0.0 else 0.0), 0.0))
    tot = 0.0
    for i in range(n):
        w1 = sq * x[i] + m
        for j in range(n):
            w2 = sq * x[j] - m
            S1 = _sig(w1 * (w1 - w2))
            S2 = _sig(w2 * (w2 - w1))
            for k in range(n):
                s1 = a * x[i] + b * x[k]
                for l in range(n):
                    s2 = a * x[j] + b * x[l]
                    t1 = (1.0 - omega) * _sig(s1 * (s1 - s2)) + omega * A11
                    t2 = (1.0 - omega) * _sig(s2 * (s2 - s1)) + omega * A22
                    tot += wx[i] * wx[j] * wx[k] * wx[l] * ((S1 - t1) ** 2 + (S2 - t2) ** 2)
    return sigma2 * tot


@njit_compiled(cache=True)
def target_variance(rho, x, wx):
    """``Var[sig(s1 (s1 - s2))]`` for ``s1, s2 ~ N(0, rho)`` independent (2-d rule)."""
    n = x.shape[0]
    sr = math.sqrt(rho)
    e1 = 0.0
    e2 = 0.0
    for i in range(n):
        s1 = sr * x[i]
        for j in range(n):
            s2 = sr * x[j]
            v = _sig(s1 * (s1 - s2))
            e1 += wx[i] * wx[j] * v
            e2 += wx[i] * wx[j] * v * v
    return e2 - e1 * e1
