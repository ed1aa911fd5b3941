"""Bayes-optimal GAMP for two tied attention layers (``deep_attention``) and its learning curves.

Troiani, Cui, Dandi, Krzakala, Zdeborova, "Fundamental limits of learning in sequence
multi-index models and deep attention networks: high-dimensional asymptotics and sharp
thresholds", ICML 2025 (arXiv 2502.00901), Sec. 4. The model and its conventions are those of
:mod:`equations.sequence` (section ``deep_attention``): tokens ``X_mu in R^{d x 2}`` and teacher
``W* in R^{2 x d}`` with i.i.d. ``N(0, 1)`` entries, ``Z = W* X / sqrt(d)`` (row ``k``: the
pre-activations of layer ``k`` at the two tokens), ``A(z) = softmax_rows(z z^T) + c I``, ``h =
A(z_1) z_2`` and ``y = softmax_rows(h h^T)``, which reveals ``h`` up to its sign
(:func:`equations._simulate.gamp_sequence.invert_outputs`). ``n = round(alpha d)`` samples.

GAMP. Each of the ``2 n`` rows ``x_{mu l} / sqrt(d)`` (token ``l`` of sample ``mu``) of the design
``A`` is a row of a multi-index GAMP with ``p = 2`` (the two layers), as in
:mod:`equations._simulate.gamp_multi`, except that the output denoiser of sample ``mu`` takes the
pre-activation estimates of its two tokens jointly (the output couples them)::

    V          = C                                    (2 x 2, uniform: shared by all samples and tokens),
    omega_mu,l = sum_i A_{mu l, i} w_hat_i - V g_mu,l  (Onsager),
    g_mu,l     = V^{-1} (E[Z_{:, l} | h_mu, omega_mu, V] - omega_mu,l),
    Lambda     = (1/d) sum_{mu, l} V^{-1} (V - Cov(Z_{:, l} | h_mu, omega_mu, V)) V^{-1}
                 (= -(1/d) sum d g_mu,l / d omega_mu,l, projected onto the PSD cone),
    B_i        = sum_{mu, l} A_{mu l, i} g_mu,l + Lambda w_hat_i,
    w_hat_i    = (I + Lambda)^{-1} B_i,   C = (I + Lambda)^{-1}     (Gaussian prior).

``w_hat_i in R^2`` is the column ``i`` of the estimate of ``W*``. The variances are uniform (the
averages of ``sum_i A_{r i}^2 C_i`` and ``sum_r A_{r i}^2 (.)_r``, on which they concentrate for
i.i.d. Gaussian inputs; :mod:`equations._simulate.gamp_multi` measured the two forms to give the
same fixed points there).

The input precision. Unlike :mod:`equations._simulate.gamp_multi` (whose default is the Nishimori
form ``Lambda = (1/d) sum g g^T``, ``precision="square"``, kept here as an option), the default
is the Jacobian form above (``precision="jacobian"``): on the Nishimori line both have the same
average, but here the square form collapses. Its ``Lambda`` grows like ``|E[Z | h] - omega|^2 /
V^2``, so once ``V_22`` is small a few samples whose ``omega`` is far from their posterior mean
make ``V_22`` shrink faster than geometrically (``V' ~ V^2``), and ``C`` reaches 0 in a few
iterations, freezing a wrong estimate. Measured at ``c = 1``, ``alpha = 0.5``, ``d = 400``, seed
0: with the square form ``C_22`` fell from 0.84 to 1e-4 between iterations 4 and 17 and the run
stopped at ``|Q_22| = 0.21`` with ``W_hat W_hat^T / d`` at 0.81 (Nishimori badly broken; 1 of 3
seeds, and the mean ``Q_22`` of 3 seeds was 0.60 +- 0.20 where the state evolution has 0.80); with
the Jacobian form the same instance reaches ``Q_22 = 0.796``, ``q_22 = 0.787``, ``C_22 = 0.23``.
The Jacobian form is bounded, ``Lambda <= (2 n / d) V^{-1}`` (a posterior covariance is PSD), so
``V`` shrinks at most geometrically. The random start does not trouble it here (the reason
:mod:`equations._simulate.gamp_multi` prefers the square form): at ``Q = 0`` the posterior of each
layer is symmetric and its covariance is on average below the prior's. Damping is off by default:
``damping = 0.3`` at the same point kept ``Q_22`` at its noise level for 100 iterations (it damps
the growth out of the start, ``Q_22`` grows by ``alpha / alpha_2 ~ 2.7`` per iteration) and ended
at the same ``Q_22``.

Output denoiser. Given ``omega in R^{2 x 2}`` (layer x token), ``V`` and the representative
``h``, the posterior of ``Z`` is ``prod_l N(Z_{:, l}; omega_{:, l}, V)`` restricted to ``A(z_1) z_2
= s h``, ``s = +-1``. Parametrised by ``z_1`` (``z_2 = s A(z_1)^{-1} h``, Jacobian ``1 / |det
A(z_1)|``), and with the conditional law of ``z_2l`` given ``z_1l``, ``N(omega_2l + (V_12 / V_11)
(z_1l - omega_1l), V_c)``, ``V_c = V_22 - V_12^2 / V_11``::

    Z_out(h) = sum_s int dz_1 N(z_1; omega_1, V_11 I) N(s A(z_1)^{-1} h; mu_2(z_1), V_c I) / |det A(z_1)|,

the density of the representative ``h`` given ``omega``. The 2-dimensional integral over
``z_1`` is done in the standardised coordinates ``t = (z_1 - omega_1) / sqrt(V_11)`` (the prior
factor is ``N(t; 0, I)``), adaptively (:func:`_deep_output_kernel`): the log-integrand on a coarse
uniform grid (spacing :data:`SPACING` = 0.5 over ``[-8, 8]^2``), then the midpoint rule on an ``m x
m`` subgrid of every cell within ``exp(-30)`` of the largest, ``m`` set by the curvature of the
log-integrand so that the spacing is at most the width of the posterior's peaks (at most
:data:`M_MAX` = 16). The refinement is what a small ``V_c`` needs: the likelihood then confines
``z_1`` to where ``A(z_1)^{-1} h`` is within ``sqrt(V_c)`` of ``mu_2``, a peak (or ridge) whose
width in ``z_1`` is ``sqrt(V_c)`` over the slope of ``A^{-1} h``, narrower than the spacing of a
tensor Gauss-Hermite rule (a Gauss-Hermite rule centred on ``omega_1`` was tried first: 64 nodes
per axis were still 2e-3 to 4e-2 off in ``E[Z | h]`` at ``V_c = 0.01``). The sums carry a running
maximum of the log-weights, so that nothing underflows. ``det A = (1 + c)(c + 1 - s_1 - s_2)``
in the cancellation-free form of :func:`equations.sequence._softmax_weights_gap`.

Accuracy of the rule, measured at ``c = 1`` against the trapezoidal rule on a dense uniform grid
(``1600^2`` and ``3200^2`` points over ``+-8`` and ``+-9`` standard deviations, agreeing to 1e-15)
at eight ``(omega, V, h)``, diagonal and non-diagonal ``V``, ``V_c`` from 0.7 down to 0.002:
largest error of ``E[Z | h]`` with the defaults (0.5, 16) 1.3e-7 (``log Z_out``: 8e-8); coarse
spacing 1.0: 4e-6; 0.25 with ``m <= 32``: 5e-10; without refinement (``m_max = 1``): 7e-2 and
0.17 at ``V_c = 0.01`` and 0.002. The test file checks five of the cases to 1e-6. Cost: about a
thousand evaluations of the integrand per sample when ``V_c`` is of order one (``m = 1``),
typically a few thousand when it is small.

Symmetries. The output is invariant under ``w_1* -> -w_1*`` and under ``w_2* -> -w_2*``
separately (``A`` is even in ``z_1``, ``y`` even in ``h``), so each estimated row is known up to
its sign: the overlaps are reported after flipping each row of ``W_hat`` so that ``Q_kk >= 0``.
``Q = W_hat W*^T / d`` is normalised by ``d``, not by the teacher's ``|w*_k|^2 / d = 1 +- sqrt(2 /
d)``, so at perfect recovery ``Q_kk`` is that norm, not 1.

Learning curves at ``c = 1`` (``notebooks/_deep_attention_gamp.py``, ``d = 400``, three seeds,
at most 120 iterations; the state evolution's sub-branch ``Q_11 = Q_12 = 0`` from
:func:`equations.sequence.deep_subbranch`). ``Q_22`` follows the sub-branch: 0.486 +- 0.046
against 0.486 at ``alpha = 0.4``, 0.807 +- 0.032 against 0.771 at 0.5, 0.964 +- 0.032 against
0.923 at 0.6 (the sub-branch on the teacher route with 8 ``eta`` nodes per axis; the former route
``h`` was up to 1.4% off in ``alpha_q``, :func:`equations.sequence.deep_subbranch`); at ``alpha =
0.40204`` (route ``h``'s ``alpha_q(0.5)``, 0.7% below the converged 0.40469) with ``d = 600`` (four
seeds, 150 iterations) 0.477 +- 0.009 against 0.492 (the test allows 0.02 of finite-size bias). Close to ``alpha_2 = 0.185478``
runs spread: the growth rate out of the random start is close to one and a run may wander at its
noise level for 50 iterations before ``Q_22`` grows. ``Q_11`` stays at 0 (to 1e-4: the estimate
of the first layer decays to zero, the Bayes-optimal answer when nothing is known about it) up to
``alpha = 0.7``, below the staircase threshold ``alpha_1 = 0.71965``
(:func:`equations.sequence.deep_staircase`). Past it GAMP learns the first layer, slowly where
the growth rate of ``Q_11`` is close to one: at ``alpha = 0.8`` it crawls (0.089 +- 0.060, one
seed took off), at 0.9 it leaves zero after about 30 iterations and settles near 0.47 +- 0.03
within 50, at 1.1 both layers are recovered. No run past ``alpha_1`` meets the stopping rule
(``tol = 1e-3``) in 120 iterations: the estimate keeps fluctuating by about 0.01 in ``Q_11``.
Near perfect recovery the iteration is not stable at this size: at ``alpha = 1.0`` one run
diverged after reaching ``Q_22 = 1.03`` (``C`` collapsed to 0, ``W_hat W_hat^T / d`` grew past
1.6) and another lost a learned first layer (``Q_11`` from 0.98 to 0.05, near iteration 80);
neither flooring ``V`` at 1e-4 nor a four times finer denoiser (``m_max = 64``) cured it (the
same two runs fail the same way), so it is the iteration, not the denoiser's accuracy. Not
resolved here (per-sample variances ``V_mu = C |x_mu,l|^2 / d``, whose spread ``sqrt(2 / d)``
the uniform form neglects, are the first thing to try).

Start. Uninformed: ``W_hat`` with i.i.d. ``N(0, 1/d)`` entries (overlaps ``O(1/sqrt(d))``, as an
algorithm started at random has), ``C = I``.
"""

from __future__ import annotations

import math

import numpy as np
from fixedpoint._jit import njit_compiled

from ..glm_bayes import _real
from ..sequence import _check_skip, _softmax_weights_gap
from .gamp_multi import _V_FLOOR, _damped_step, _sym_floor
from .gamp_sequence import invert_outputs, sample_outputs

__all__ = ["simulate_deep_attention", "gamp_deep_attention", "deep_output_denoiser", "SPACING", "M_MAX"]

#: default Gauss-Hermite nodes per axis of the output denoiser's rule in z_1 (accuracy: module docstring)
SPACING = 0.5
M_MAX = 16
#: half-width of the coarse grid (standardised z_1)
_SPAN = 8.0
#: cells whose coarse log-integrand is within K_CELL of the largest are integrated; the
#: refinement is set by the curvature of those within K_CURV (the ones that carry the mass)
_K_CELL = 30.0
_K_CURV = 12.0
_PRECISIONS = ("jacobian", "square")


@njit_compiled(cache=True, inline="always")
def _log_weight(c, z11, z12, h1, h2, m1, m2, vc):
    """``(b_1, b_2, l_+, l_-)``: ``b = A(z_1)^{-1} h`` and the log-weights ``-log det A - |s b -
    mu_2|^2 / (2 V_c)`` of the two signs ``s``, ``mu_2 = (m1, m2)``; ``det A`` in the
    cancellation-free form of :func:`equations.sequence._softmax_weights_gap`."""
    s1, s2, gap = _softmax_weights_gap(z11, z12)
    det = (1.0 + c) * (c + gap)
    b1 = ((1.0 - s2 + c) * h1 - s1 * h2) / det
    b2 = (-s2 * h1 + (1.0 - s1 + c) * h2) / det
    ld = math.log(det)
    lp = -ld - 0.5 * ((b1 - m1) ** 2 + (b2 - m2) ** 2) / vc
    lm = -ld - 0.5 * ((b1 + m1) ** 2 + (b2 + m2) ** 2) / vc
    return b1, b2, lp, lm


@njit_compiled(cache=True)
def _deep_output_kernel(c, omega, V, h, t, m_max, k_cell, k_curv, mean, cov, logz):
    """Posterior moments of ``Z`` for each sample ``mu`` (module docstring): ``omega`` (n, 2, 2)
    (layer x token), ``V`` (n, 2, 2), ``h`` (n, 2); ``t`` the uniform coarse nodes (standardised
    ``z_1l = omega_1l + sqrt(V_11) t``), ``m_max`` the largest refinement, ``k_cell`` and
    ``k_curv`` the thresholds below. Writes ``mean`` (n, 2,
    2) ``= E[Z | h]``, ``cov`` (n, 2, 3) the per-token covariance of ``(z_1l, z_2l)`` as ``(11, 12,
    22)``, ``logz`` (n) ``= log Z_out(h)``.

    Pass 1: the log-integrand ``lf`` on the coarse tensor grid ``t x t`` (spacing ``H``). Pass 2:
    the cells (centred on the coarse nodes) whose ``lf`` (or a neighbour's) is within ``k_cell`` of the largest are
    integrated by the midpoint rule on an ``m x m`` subgrid, one ``m`` for all, ``m = ceil(
    sqrt(max |second difference of lf|))`` over the cells within ``k_curv`` of the largest: the
    spacing ``H / m`` is then at most the width of the posterior's peaks (for a Gaussian peak of
    width ``sigma`` the second difference is ``H^2 / sigma^2``), where the midpoint (trapezoidal)
    rule of a decaying integrand is spectrally accurate."""
    n = omega.shape[0]
    k = t.size
    H = t[1] - t[0]
    LF = np.empty((k, k))
    for mu in range(n):
        v11 = V[mu, 0, 0]
        v12 = V[mu, 0, 1]
        v22 = V[mu, 1, 1]
        r = v12 / v11
        vc = v22 - v12 * r
        sd1 = math.sqrt(v11)
        o11 = omega[mu, 0, 0]
        o12 = omega[mu, 0, 1]
        o21 = omega[mu, 1, 0]
        o22 = omega[mu, 1, 1]
        h1 = h[mu, 0]
        h2 = h[mu, 1]
        # pass 1: coarse log-integrand (the prior N(t; 0, I) in standardised coordinates)
        top = -math.inf
        for a in range(k):
            for b in range(k):
                z11 = o11 + sd1 * t[a]
                z12 = o12 + sd1 * t[b]
                m1 = o21 + r * (z11 - o11)
                m2 = o22 + r * (z12 - o12)
                _, _, lp, lm = _log_weight(c, z11, z12, h1, h2, m1, m2, vc)
                hi = max(lp, lm)
                v = -0.5 * (t[a] * t[a] + t[b] * t[b]) + hi + math.log1p(math.exp(min(lp, lm) - hi))
                LF[a, b] = v
                if v > top:
                    top = v
        # the refinement from the curvature of the cells that carry the mass
        curv = 1.0
        for a in range(1, k - 1):
            for b in range(1, k - 1):
                if LF[a, b] > top - k_curv:
                    d2a = abs(LF[a + 1, b] - 2.0 * LF[a, b] + LF[a - 1, b])
                    d2b = abs(LF[a, b + 1] - 2.0 * LF[a, b] + LF[a, b - 1])
                    curv = max(curv, d2a, d2b)
        m = min(m_max, int(math.ceil(math.sqrt(curv))))
        hs = H / m
        # pass 2: midpoint rule on the m x m subgrids of the significant cells (running log-sum-exp)
        best = -math.inf
        S0 = 0.0
        S11 = 0.0
        S12 = 0.0
        S21 = 0.0
        S22 = 0.0
        T11 = 0.0   # z_11^2
        T1x = 0.0   # z_11 z_21
        T21 = 0.0   # z_21^2
        T12 = 0.0   # z_12^2
        T2x = 0.0   # z_12 z_22
        T22 = 0.0   # z_22^2
        for a in range(k):
            for b in range(k):
                # a cell is kept if it or a neighbour is significant (a peak between two nodes)
                keep = False
                for da in range(-1, 2):
                    for db in range(-1, 2):
                        aa = a + da
                        bb = b + db
                        if 0 <= aa < k and 0 <= bb < k and LF[aa, bb] > top - k_cell:
                            keep = True
                if not keep:
                    continue
                for i in range(m):
                    ta = t[a] + (i + 0.5) * hs - 0.5 * H
                    z11 = o11 + sd1 * ta
                    m1 = o21 + r * (z11 - o11)
                    for j in range(m):
                        tb = t[b] + (j + 0.5) * hs - 0.5 * H
                        z12 = o12 + sd1 * tb
                        m2 = o22 + r * (z12 - o12)
                        b1, b2, lp, lm = _log_weight(c, z11, z12, h1, h2, m1, m2, vc)
                        prior = -0.5 * (ta * ta + tb * tb)
                        for sg in (1.0, -1.0):
                            lf = prior + (lp if sg > 0.0 else lm)
                            z21 = sg * b1
                            z22 = sg * b2
                            if lf > best:
                                sc = math.exp(best - lf) if best > -math.inf else 0.0
                                S0 *= sc
                                S11 *= sc
                                S12 *= sc
                                S21 *= sc
                                S22 *= sc
                                T11 *= sc
                                T1x *= sc
                                T21 *= sc
                                T12 *= sc
                                T2x *= sc
                                T22 *= sc
                                best = lf
                                f = 1.0
                            else:
                                f = math.exp(lf - best)
                            S0 += f
                            S11 += f * z11
                            S12 += f * z12
                            S21 += f * z21
                            S22 += f * z22
                            T11 += f * z11 * z11
                            T1x += f * z11 * z21
                            T21 += f * z21 * z21
                            T12 += f * z12 * z12
                            T2x += f * z12 * z22
                            T22 += f * z22 * z22
        # int dz_1 N(z_1; omega_1, V_11 I) (.) = sum hs^2 exp(lf) / (2 pi); N(z_2; mu_2, V_c I) has 1 / (2 pi V_c)
        logz[mu] = best + math.log(S0 * hs * hs / (2.0 * math.pi)) - math.log(2.0 * math.pi * vc)
        e11 = S11 / S0
        e12 = S12 / S0
        e21 = S21 / S0
        e22 = S22 / S0
        mean[mu, 0, 0] = e11
        mean[mu, 0, 1] = e12
        mean[mu, 1, 0] = e21
        mean[mu, 1, 1] = e22
        cov[mu, 0, 0] = T11 / S0 - e11 * e11
        cov[mu, 0, 1] = T1x / S0 - e11 * e21
        cov[mu, 0, 2] = T21 / S0 - e21 * e21
        cov[mu, 1, 0] = T12 / S0 - e12 * e12
        cov[mu, 1, 1] = T2x / S0 - e12 * e22
        cov[mu, 1, 2] = T22 / S0 - e22 * e22


def _coarse_nodes(spacing):
    """The coarse nodes ``t`` (standardised ``z_1``): spacing ``spacing``, symmetric, over
    ``[-_SPAN, _SPAN]`` (prior weight ``exp(-_SPAN^2 / 2)`` at the edge)."""
    k = int(math.floor(_SPAN / spacing))
    return spacing * np.arange(-k, k + 1, dtype=float)


def _check_rule(spacing, m_max):
    spacing = _real("spacing", spacing)
    if not 0.05 <= spacing <= 1.0:
        raise ValueError(f"spacing (of the coarse grid in z_1, in units of sqrt(V_11)) must be in [0.05, 1], "
                         f"got {spacing}")
    if isinstance(m_max, bool) or not isinstance(m_max, (int, np.integer)) or not 1 <= m_max <= 256:
        raise ValueError(f"m_max (the largest refinement of a coarse cell) must be an integer in [1, 256], "
                         f"got {m_max!r}")
    return _coarse_nodes(spacing), int(m_max)


def deep_output_denoiser(skip, omega, V, h, *, spacing: float = SPACING, m_max: int = M_MAX) -> dict:
    """The output denoiser of ``deep_attention`` for each sample (module docstring).

    Parameters
    ----------
    skip : float
        Skip-connection strength ``c``.
    omega : array_like (n, 2, 2) or (2, 2)
        Pre-activation estimates, layer x token.
    V : array_like (2, 2) or (n, 2, 2)
        Their variance (shared by the two tokens), symmetric positive definite.
    h : array_like (n, 2) or (2,)
        The observed ``h`` (either sign).
    spacing, m_max : float, int
        The rule in ``z_1`` (:func:`_deep_output_kernel`): coarse spacing in units of
        ``sqrt(V_11)`` and the largest refinement of a coarse cell.

    Returns
    -------
    dict with ``mean`` (``E[Z | h]``, n x 2 x 2), ``cov`` (n x 2 tokens x 2 x 2, the covariance of
    ``(z_1l, z_2l)``), ``g`` (``V^{-1} (E[Z | h] - omega)`` per token, n x 2 x 2, layer x token) and
    ``logz`` (``log Z_out``, the log-density of the representative ``h``).
    """
    c = _check_skip(skip)
    t, m_max = _check_rule(spacing, m_max)
    om = np.asarray(omega, dtype=float)
    single = om.ndim == 2
    om = np.ascontiguousarray(om.reshape(-1, 2, 2)) if om.size % 4 == 0 and om.ndim in (2, 3) else None
    if om is None or om.shape[1:] != (2, 2):
        raise ValueError(f"omega must have shape (n, 2, 2) or (2, 2), got {np.shape(omega)}")
    n = om.shape[0]
    hh = np.asarray(h, dtype=float).reshape(-1, 2) if np.size(h) == 2 * n else None
    if hh is None:
        raise ValueError(f"h must have shape ({n}, 2) to match omega, got {np.shape(h)}")
    Vs = np.asarray(V, dtype=float)
    if Vs.shape == (2, 2):
        Vs = np.broadcast_to(Vs, (n, 2, 2))
    if Vs.shape != (n, 2, 2) or not np.all(np.isfinite(Vs)) or not np.allclose(Vs, np.swapaxes(Vs, 1, 2)):
        raise ValueError(f"V must be a symmetric (2, 2) or ({n}, 2, 2) array, got shape {np.shape(V)}")
    if np.any(np.linalg.eigvalsh(Vs)[:, 0] <= 0):
        raise ValueError("V must be positive definite")
    if not (np.all(np.isfinite(om)) and np.all(np.isfinite(hh))):
        raise ValueError("omega and h must be finite")
    out = _denoise(c, om, np.ascontiguousarray(Vs), np.ascontiguousarray(hh), t, m_max)
    if single:
        out = {k: v[0] for k, v in out.items()}
    return out


def _denoise(c, omega, V, h, t, m_max):
    """:func:`_deep_output_kernel` and ``g`` (no validation)."""
    n = omega.shape[0]
    mean = np.empty((n, 2, 2))
    cv = np.empty((n, 2, 3))
    logz = np.empty(n)
    _deep_output_kernel(c, omega, V, h, t, m_max, _K_CELL, _K_CURV, mean, cv, logz)
    cov = np.empty((n, 2, 2, 2))
    cov[:, :, 0, 0] = cv[:, :, 0]
    cov[:, :, 0, 1] = cov[:, :, 1, 0] = cv[:, :, 1]
    cov[:, :, 1, 1] = cv[:, :, 2]
    g = np.einsum("mab,mbl->mal", np.linalg.inv(V), mean - omega)
    return {"mean": mean, "cov": cov, "g": g, "logz": logz}


def gamp_deep_attention(X, h, skip, *, W0, max_iter: int = 500, tol: float = 1e-5, damping: float = 0.0,
                        spacing: float = SPACING, m_max: int = M_MAX, precision: str = "jacobian",
                        callback=None) -> dict:
    """Run GAMP (module docstring) on the observations ``{h_mu, -h_mu}``.

    Parameters
    ----------
    X : ndarray (n, 2, d)
        Inputs: ``X[mu, l]`` is token ``l`` of sample ``mu`` (i.i.d. ``N(0, 1)`` entries).
    h : ndarray (n, 2)
        Representatives of the observed ``h_mu = A(z_1) z_2``, up to one sign per sample.
    skip : float
        Skip-connection strength ``c``.
    W0 : ndarray (2, d)
        Initial estimate of ``W*``; the variance starts at the prior's, ``I``.
    max_iter, tol : int, float
        Stop when the root-mean-square change of ``W_hat`` in one iteration is below ``tol`` (the
        prior's scale is 1), or after ``max_iter`` iterations.
    damping : float in [0, 1)
        Weight of the old iterate, on ``g`` after the denoiser and on ``(W_hat, C)`` after the prior
        (both sides, as :func:`equations._simulate.gamp_multi.gamp_multi`). Default 0: the tested
        runs converge undamped.
    spacing, m_max : float, int
        The output denoiser's rule in ``z_1`` (defaults :data:`SPACING`, :data:`M_MAX`).
    precision : {"jacobian", "square"}
        The input precision ``Lambda``: ``-(1/d) sum d g / d omega`` (from the posterior
        covariances, projected onto the PSD cone; default) or the Nishimori form ``(1/d) sum g
        g^T``, which collapses here (module docstring).
    callback : callable, optional
        ``callback(iteration, W_hat, C, change)`` after each iteration.

    Returns
    -------
    dict with ``W`` (2 x d estimate), ``C`` (2 x 2 posterior covariance), ``iterations``, ``converged``.
    """
    c = _check_skip(skip)
    t, m_max = _check_rule(spacing, m_max)
    X = np.asarray(X, dtype=float)
    if X.ndim != 3 or X.shape[1] != 2:
        raise ValueError(f"X must be an (n, 2, d) array (two tokens per sample), got shape {X.shape}")
    n, _, d = X.shape
    h = np.ascontiguousarray(np.asarray(h, dtype=float))
    if h.shape != (n, 2) or not np.all(np.isfinite(h)):
        raise ValueError(f"h must be a finite ({n}, 2) array to match X, got shape {h.shape}")
    W = np.array(W0, dtype=float)
    if W.shape != (2, d):
        raise ValueError(f"W0 must have shape (2, {d}), got {W.shape}")
    if isinstance(damping, bool) or not isinstance(damping, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(damping) < 1.0:
        raise ValueError(f"damping (the weight of the old iterate) must be in [0, 1), got {damping!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    tol = _real("tol", tol)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(_PRECISIONS)}, got {precision!r}")
    damping = float(damping)
    A = X.reshape(2 * n, d) / math.sqrt(d)         # row 2 mu + l: token l of sample mu
    jac = precision == "jacobian"
    C = np.eye(2)
    g_rows = np.zeros((2 * n, 2))                  # g_mu,l as rows (token-major), layers in columns
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        V = _sym_floor(C, _V_FLOOR)
        omega_rows = A @ W.T - g_rows @ V          # (2n, 2): Onsager with the previous g
        omega = np.ascontiguousarray(omega_rows.reshape(n, 2, 2).transpose(0, 2, 1))   # layer x token
        den = _denoise(c, omega, np.ascontiguousarray(np.broadcast_to(V, (n, 2, 2))), h, t, m_max)
        g_new = den["g"].transpose(0, 2, 1).reshape(2 * n, 2)
        if jac:
            # -d g_l / d omega_l = V^{-1} (V - Cov_l) V^{-1}, summed over the rows (tokens)
            Vi = np.linalg.inv(V)
            curv_new = Vi @ (2 * n * V - den["cov"].sum(axis=(0, 1))) @ Vi / d
        else:
            curv_new = g_new.T @ g_new / d
        if it == 1 or damping == 0.0:
            g_rows, curv = g_new, curv_new
        else:
            g_rows = damping * g_rows + (1.0 - damping) * g_new
            curv = damping * curv + (1.0 - damping) * curv_new
        Lam = _sym_floor(curv, 0.0)
        B = A.T @ g_rows + W.T @ Lam               # (d, 2)
        C_new = np.linalg.inv(np.eye(2) + Lam)
        C_new = 0.5 * (C_new + C_new.T)
        step = _damped_step(W, C, (B @ C_new).T, C_new, damping)
        if step is None:
            break
        W, C, change = step
        if callback is not None:
            callback(it, W, C, change)
        if change < tol:
            converged = True
            break
    return {"W": W, "C": C, "iterations": it, "converged": converged}


def _overlaps(W, W_star):
    """Overlaps of the estimate with each row flipped so that ``Q_kk >= 0`` (module docstring)."""
    d = W.shape[1]
    flip = np.where(np.einsum("ki,ki->k", W, W_star) < 0, -1.0, 1.0)
    W = W * flip[:, None]
    Q = W @ W_star.T / d
    q = W @ W.T / d
    return {"Q_11": float(Q[0, 0]), "Q_22": float(Q[1, 1]), "Q_12": float(0.5 * (Q[0, 1] + Q[1, 0])),
            "q_11": float(q[0, 0]), "q_22": float(q[1, 1]), "q_12": float(q[0, 1]),
            "mse_1": float(np.mean((W[0] - W_star[0]) ** 2)), "mse_2": float(np.mean((W[1] - W_star[1]) ** 2)),
            "rho_1": float(W_star[0] @ W_star[0]) / d, "rho_2": float(W_star[1] @ W_star[1]) / d}


def simulate_deep_attention(skip: float, alpha: float, d: int, seed: int, *, max_iter: int = 500,
                            tol: float = 1e-5, damping: float = 0.0, spacing: float = SPACING, m_max: int = M_MAX,
                            precision: str = "jacobian", trace: bool = False) -> dict:
    """GAMP on one instance of ``deep_attention`` of size ``d`` (``n = round(alpha d)``), started
    uninformed (module docstring).

    Parameters
    ----------
    skip : float
        Skip-connection strength ``c`` in ``[1e-4, 10]``.
    alpha : float
        Sample ratio ``n / d`` (> 0).
    d : int
        Dimension (>= 2).
    seed : int
        Seed of the instance and of the start.
    max_iter, tol, damping, spacing, m_max, precision
        Passed to :func:`gamp_deep_attention`.
    trace : bool
        Also return ``trace_Q_11``, ``trace_Q_22`` (lists, after each iteration, rows flipped as
        below).

    Returns
    -------
    dict with the overlaps after flipping each estimated row so that ``Q_kk >= 0``: ``Q_11``,
    ``Q_22``, ``Q_12`` (the symmetric part of ``Q = W_hat W*^T / d``), ``q_11``, ``q_22``, ``q_12``
    (``W_hat W_hat^T / d``: equal to ``Q`` on average at a Bayes-optimal fixed point, Nishimori),
    ``mse_1``, ``mse_2`` (``|w_hat_k - w*_k|^2 / d``), ``rho_1``, ``rho_2`` (the teacher's ``|w*_k|^2 /
    d``: 1 in the limit, ``1 +- sqrt(2 / d)`` at finite ``d``, the value ``Q_kk`` takes at perfect
    recovery), ``C_11``, ``C_22`` (GAMP's posterior
    variances, ``1 - q_kk`` at a Bayes-optimal fixed point), ``iterations``, ``converged`` (1.0 or
    0.0), and the traces if asked.

    Example
    -------
    >>> simulate_deep_attention(1.0, 0.4, 1000, 0)["Q_22"]   # doctest: +SKIP
    """
    c = _check_skip(skip)
    alpha = _real("alpha", alpha)
    if not 0.0 < alpha <= 100.0:
        raise ValueError(f"alpha (the sample ratio n/d) must be in (0, 100], got {alpha}")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    d = int(d)
    rng = np.random.default_rng(seed)
    n = max(1, int(round(alpha * d)))
    W_star = rng.standard_normal((2, d))
    X = rng.standard_normal((n, 2, d))
    Z = np.einsum("ki,mli->mkl", W_star, X) / math.sqrt(d)         # (n, layer, token)
    # h = A(z_1) z_2 per sample, A = softmax_rows(z_1 z_1^T) + c I
    S = sample_outputs("attention", Z[:, 0, :])
    H = np.einsum("mlj,mj->ml", S + c * np.eye(2), Z[:, 1, :])
    # the observation y = softmax(h h^T), inverted to a representative of {h, -h}
    with np.errstate(divide="ignore", invalid="ignore"):
        h = invert_outputs("attention", sample_outputs("attention", H))
    bad = ~np.all(np.isfinite(h), axis=1)
    if np.any(bad):
        # y underflows (a softmax weight below 1e-308) only for |h| of order 25: y still determines
        # {h, -h}, which is then given directly
        h[bad] = H[bad]
    W0 = rng.standard_normal((2, d)) / math.sqrt(d)
    tr11, tr22 = [], []

    def cb(it, W, C, change):
        o = _overlaps(W, W_star)
        tr11.append(o["Q_11"])
        tr22.append(o["Q_22"])

    out = gamp_deep_attention(X, h, c, W0=W0, max_iter=max_iter, tol=tol, damping=damping, spacing=spacing,
                              m_max=m_max, precision=precision,
                              callback=cb if trace else None)
    res = _overlaps(out["W"], W_star)
    res.update({"C_11": float(out["C"][0, 0]), "C_22": float(out["C"][1, 1]), "iterations": float(out["iterations"]),
                "converged": 1.0 if out["converged"] else 0.0})
    if trace:
        res["trace_Q_11"] = tr11
        res["trace_Q_22"] = tr22
    return res
