"""A solvable dot-product attention: positional versus semantic learning (ERM, zero temperature).

Model (Cui, Behrens, Krzakala, Zdeborova, "A phase transition between positional and semantic
learning in a solvable model of dot-product attention", NeurIPS 2024, arXiv 2402.03902, section 3
with ``L = 2`` tokens and rank ``r = t = 1``). A sequence has two tokens ``x_1, x_2 ~ N(0,
sigma^2 I_d)``, independent; the positional encodings are ``p_1 = -p_2 = 1_d / sqrt(d)`` (unit
norm), the student's input is ``x_l + p_l``. Teacher (the target), with ``Q* ~ N(0, I_d)``::

    T(X) = [ (1 - omega) softmax_rows(s s^T) + omega A ] X,        s_l = x_l.Q* / sqrt(d),

with the row-stochastic ``2 x 2`` positional matrix ``A`` (default ``[[0.6, 0.4], [0.4,
0.6]]``). Student: a tied rank-one dot-product attention ``softmax_rows(h h^T) (X + P)``, ``h_l =
(x_l + p_l).Q / sqrt(d)``, trained by minimising::

    sum_mu |student(X_mu) - T(X_mu)|_F^2 / (2 d) + reg/2 |Q|^2,        n = alpha d sequences.

For two tokens a row of a softmax is a logistic function of one difference:
``S11 = sig(h1 (h1 - h2))``, ``S22 = sig(h2 (h2 - h1))``, and since rows sum to one the per-sample
loss is, to leading order in ``d`` (``X X^T / d -> sigma^2 I``)::

    loss(h; s) = sigma^2 [ (S11(h) - T11(s))^2 + (S22(h) - T22(s))^2 ].

Order parameters (the state, in this order): ``q = sigma^2 |Q|^2 / d`` (variance of the student's
semantic field), ``m = 1_d.Q / d`` (positional overlap: ``h_1 = sqrt(q) xi_1 + m``, ``h_2 =
sqrt(q) xi_2 - m``), ``theta = sigma^2 Q.Q* / d`` (semantic overlap, the covariance of ``h_l`` and
``s_l``; ``rho = sigma^2`` is the teacher's variance) and the susceptibility ``V``. With
``w_l = sqrt(q) xi_l +- m``, ``s_l = theta/sqrt(q) xi_l + sqrt(rho - theta^2/q) y_l`` (``xi, y ~
N(0, I_2)``) and the proximal map ``h* = argmin_h |h - w|^2 / (2V) + loss(h; s)``, ``f = (h* -
w)/V``, the zero-temperature replica equations are::

    m_hat     = alpha E[f1 - f2],          q_hat = alpha E[f1^2 + f2^2],
    theta_hat = alpha E[f1 y1 + f2 y2] / sqrt(rho - theta^2/q),
    V_hat     = -alpha E[f1 xi1 + f2 xi2] / sqrt(q) + theta theta_hat / q,
    V = sigma^2 / (reg + sigma^2 V_hat),   m = m_hat / (reg + sigma^2 V_hat),
    theta = rho sigma^2 theta_hat / (reg + sigma^2 V_hat),
    q = sigma^2 (sigma^2 q_hat + m_hat^2 + rho sigma^2 theta_hat^2) / (reg + sigma^2 V_hat)^2,

the stationarity conditions of the free entropy (minus the minimal training objective per ``d``)::

    phi = (V_hat q - q_hat V)/2 - m m_hat - theta theta_hat
          + (sigma^2 q_hat + m_hat^2 + rho sigma^2 theta_hat^2) / (2 (reg + sigma^2 V_hat))
          - alpha E[ min_h |h - w|^2/(2V) + loss(h; s) ].

At a fixed point ``-phi`` equals ``alpha E[loss(h*)] + reg q / (2 sigma^2)``, the training loss plus
the penalty per ``d`` (checked in the tests). Mapping onto the paper and the authors' notebook
(GitHub ``SPOC-group/positional-and-semantic-attention``, ``theory/theory.ipynb``): our ``(q, m,
theta, V)`` are their ``(q, m, theta, V)``, ``reg`` is their ``lambda``, ``sigma`` their ``sigma``
(token standard deviation, ``Sigma_1 = Sigma_2 = sigma^2 I``), ``free_entropy`` their ``Phi``,
``test_error`` half their ``mse`` (the test loss ``|student - T|_F^2 / (2 d)`` per sequence).

Branches. The loss is even in ``h``, and with ``A11 = A22`` the teacher is symmetric in the two
tokens: ``theta = 0`` (the *positional* solution: the student attends by position only) and
``m = 0`` (the *semantic* solution) are invariant. ``start="positional"`` (``"uninformed"``) and
``start="semantic"`` (``"informed"``) reach them; ``fixedpoint.threshold(model, "alpha", bracket,
kind="first_order")`` compares their free entropies (the global minimiser of the empirical loss
is the branch of lower training objective, ``free_entropy = -energy``) and returns
``alpha_c(omega)``, where the global minimum moves from the positional to the semantic branch.

Positional baseline. A purely positional (linear) attention ``y = B X`` with a learnt ``2 x 2``
matrix has four parameters, so at any ``alpha > 0`` it reaches ``B = E[T]`` as ``d -> inf``; its
test error is ``sigma^2 sum_l Var(T_ll) = 2 sigma^2 (1 - omega)^2 Var[sig(s1 (s1 - s2))]`` (the
observable ``baseline_error``, independent of ``A``; the authors' ``mse_lin``).

Numerics. The channel averages are four-dimensional Gaussian integrals of the proximal map, a
two-dimensional non-convex minimisation solved by Newton descents (Levenberg-shifted, with
backtracking) from several starts, warm-started from node to node. The loss depends on ``h h^T``,
so its minima come in mirror pairs ``+-h``; with the penalty the global minimiser switches
between basins (the mirror pair around the zeros of the loss, and for large ``V`` the basin
around ``h = 0``) on curves of the ``w`` plane, where ``f`` jumps. The rule locates the jumps
(the *lines rule*):

* The teacher's fields ``s ~ N(0, rho I)`` outside (Gauss-Hermite,
  ``nodes`` per axis); given ``s`` the student's ``w`` is isotropic Gaussian (mean ``(m, -m) +
  theta s / rho``, variance ``q - theta^2 / rho``), integrated along lines parallel to the prox at
  ``w = 0`` (across which the mirror basins exchange): 8 Gauss-Hermite lines, each by
  Gauss-Legendre panels (6 x 10 nodes over 6.5 standard deviations, beyond which the Gaussian
  holds 8e-11 of its mass) cut where the global minimiser jumps. The jump set of the ``w`` plane is a curve through ``w = 0`` ending at two
  cusps (where the two basins merge); the region where both basins exist is a sliver around it,
  thinner than the spacing of the nodes over much of its length (its width vanishes like the
  3/2 power of the distance to a cusp, the jump like the square root). So a jump is looked for
  between every two nodes: the local minima are tracked from node to node (with a descent from
  the mirror ``-h`` of the global one, which finds the competing basin), and an interval is
  flagged when the global minimiser changes basin or when its values at the two nodes are not
  related by their tangents (``dh = (I/V + Hess loss)^{-1} dw / V``: a jump is of order one, the
  error of the prediction in a basin of order ``dz^2``); the jump is located by bisection (the
  lower basin where both exist, the nearer tangent prediction where one does). The pieces
  between cuts are followed by continuation from the basin on their side of the cut, on
  sub-panels graded geometrically toward the cut (a basin's end, a square-root singularity, lies
  just beyond the cut near a cusp). What keeps it cheap (measured at 150 states of the diagram
  below, the sums unchanged to ``3e-10`` relative, 1.7 times faster than the first version of
  the rule): minima tracked in slots that have merged (most nodes, where fewer than three basins
  exist) share one descent; each descent starts at the first-order continuation of its minimum
  from the last node (where that moves it by at most twice ``|dw|``: a basin away from its end);
  Newton's method keeps the loss and its Hessian at its point rather than recomputing them, and
  takes a last step too short to matter (``|p|^3 / |p_prev|^2``, the error it leaves under
  quadratic convergence, below ``1e-15``) without evaluating the loss at its end. (Reseeding the
  merged slots every fourth node instead of every second would save 12% more, but moved one
  sum by ``6e-8``: a basin found later; not done.) Accuracy: along a line ``1e-12`` against scipy ``quad``
  with the jump bracketed by bisection at 6 x 16 nodes over 8.5 standard deviations (tested at
  ``1e-8``, including a line whose bistable sliver falls between two nodes: the rule's first
  version, which tracked the minima only, was ``4e-4`` off there and its ``E[M]`` moved by
  ``5e-4`` between 8 and 12 nodes); the default 8 lines of 6 x 10 nodes against 10 lines of 6 x
  16, at three states near ``alpha_c(0.3)`` (positional, semantic, mixed; 12 teacher nodes): the
  map to ``5e-6`` relative, the free entropy to ``2e-7`` (``1e-6`` in ``alpha_c``), at half the
  cost (4 x 10 nodes were ``1e-5`` off in ``m_hat`` and ``theta_hat``); 10 lines against 32 at the positional fixed point near ``alpha_c``: the envelope to
  ``3e-8``, the Stein forms to ``5e-6`` relative (the jump's length, a non-analytic function of
  the offset at the cusps, limits this rule; tested at ``1e-7`` and ``2e-5``); the teacher's
  rule, the limit:
  smooth but for faint kinks (the cusps' passage), it converges algebraically, the envelope
  ``E[M]`` by ``~5e-5`` relative from 16 to 40 nodes (table under alpha_c). The conjugates
  equal the finite differences of the envelope to ``1e-6``-``1e-5`` (tested at 8 nodes: ``<
  1e-4``; the tensor rule: 1.5 %), so the map is the gradient of the free entropy it reports.
* Why not a tensor rule. A tensor Gauss-Hermite rule in ``(xi_1, xi_2, y_1, y_2)``, each node's
  prox the better descent from ``w`` and ``-w`` (this module's first rule), is ten times faster
  but, the integrand jumping inside its cells, converges only algebraically and can be far off:
  its conjugates differed from the finite differences of its own envelope by 1.5 % at 8 nodes;
  at its 8-node fixed points at the paper's ``sigma = 0.5, reg = 0.01``, ``omega = 0.1``, the
  lines rule moves ``m`` by 7 % (``alpha = 0.5``) and 17 % (``alpha = 1.25``) in one application
  of the replica map; at ``(omega, sigma, reg, alpha) = (0.1, 0.7, 0.05, 0.8)`` its ``E[f1 -
  f2]`` was ``1.27e-3`` where Monte Carlo (3e5 samples) gives ``(7.1 +- 0.8)e-4`` and this rule
  ``6.78e-4``. Its ``alpha_c(0.3)`` was 1.2509 at 8 nodes and 1.2565 at 12. It was removed: a
  fast rule that is silently wrong by per cents is not offered.

The teacher's points are folded by the symmetry ``s -> (-s2, -s1)`` of a symmetric ``A``
(``A11 = A22``: half the points, see ``_teacher_points``) and split over two threads (run one
after the other in a worker of a phase diagram, where the workers share the cores:
``fixedpoint.protocol.thread_budget``).
CPU per evaluation (``nodes`` teacher points per axis), measured on an idle machine at the
diagram's states: 0.021 s at 8 nodes (0.03 s before the economies above), 0.045 s at 12, 0.077 s
at 16, about in proportion to the teacher's points, ``nodes (nodes + 1) / 2``; the two threads
nearly halve the wall time on two free cores. The channel sums of the last 16 states are cached:
the observables of a solved point reuse its last evaluation, and cold solves along a row in
``alpha`` share their first (the sums do not depend on ``alpha``).

Range. ``sigma <= 0.75`` (the paper's figures use ``sigma = 0.5``) and ``reg >= 0.003`` (the
paper: 0.01): the range in which the solver has been exercised (the registry's fuzz test draws in
it). For larger tokens the teacher's attention is nearly hard, and at ``reg = 0.001`` and small
``sigma`` the tensor rule's solves stalled; neither has been measured with this rule, so both
are refused. Inside the range a start whose branch does not exist can run to the iteration
budget: at ``sigma = 0.05, omega = 0.5, reg = 0.005, alpha = 10`` the semantic start drifts toward
``Q = 0`` without converging (reported as not converged, after tens of seconds).

Speed (16 nodes): a solve from either start takes 14-17 Anderson iterations, 19-22 evaluations,
about 5 s; ``threshold(kind="first_order")`` 28-30 solves from the starts: 197-533 s on two
cores shared with other jobs (``notebooks/attention_alpha_c.csv``), 8 nodes about a quarter of
that. The ``(omega, alpha)`` diagram on a 30 x 30 grid from both starts
(``notebooks/_attention_diagram.py``, 8 nodes, two worker processes, idle machine) takes about
ten minutes (``bench_escape.py``, ``benchmarks/README.md``: 608 s and 39 449 evaluations for
1800 solves, all converged, on the machine of 2026-12-02, where the code before warm starts began
with chord Newton steps took 790 s and 49 892, and before warm starts were skipped where the
branch is predicted to have lost stability 622 s and 41 738; the notebook's script, both starts'
``phase_diagram`` on one pool, 594 s; 575 s on a faster machine before that), 17 minutes
before the economies of the lines rule above. A solve along a branch, warm-started by the sweep,
takes 7 to 9 evaluations (two or three chord steps with the Jacobian extrapolated along the
branch, the converged point, four for the Jacobian of its stability check); the rest goes to
the solves whose start's branch does not exist or is unstable there (the semantic start below
the semantic branch's end, the positional start at small ``omega``): those escape an unstable
point by plain iteration from the start, hundreds to thousands of evaluations each. Two things
that made it slower before: solves that ended on the two mirror images of one solution (Anderson
steps may cross the invariant plane ``theta = 0`` that plain iteration cannot cross) were taken
for two solutions, and a sweep re-solved whole rows cold (the model now declares its symmetries,
see ``symmetries()``); and forward differences, whose step divided the
rule's internal tolerances by ``1.5e-10``, made up instabilities (a radius of 3.97 where it is
0.93) that set off escapes. At three points of an earlier, 12 x 16 diagram (``(omega, alpha) =
(0.1, 1.8), (0.1, 3.2), (0.2, 2.4)``) the positional solves converged to a third, stable fixed
point, ``m = theta = 0``, where plain iteration from the same start reaches the semantic branch:
a secant step had cancelled the seed ``theta = 1e-6`` that plain iteration amplifies. The
engine no longer takes such steps (DESIGN.md); at ``(0.1, 1.8)`` the solve reaches the semantic
branch in 138 evaluations (plain iteration: 357). Warm starts along the positional branch
carry the seed ``theta`` down to ~1e-9, and where the branch has lost stability plain iteration
can meet the tolerance at the unstable positional point before the seed grows (``omega = 0``,
from ``alpha = 0.6`` to ``0.8``: growth 1.008 per step, ``theta = -9e-9``). The engine then reads
the side the last plain step leaves by and goes on from there (DESIGN.md): that solve reaches
the semantic branch (``theta = -0.098``) instead of stopping at the saddle.

alpha_c. At ``omega = 0.3`` (``sigma = 0.5``, ``reg = 0.01``), the lines rule's free entropies
(their difference ``Phi_sem - Phi_pos`` interpolated linearly between the fixed points at two
``alpha``; ``nodes`` is the teacher's rule)::

    nodes   at the (former) tensor rule's 12-node         at the lines rule's own fixed points
            fixed points
            (alpha = 1.25 and 1.27)                        (alpha = 1.25 and 1.255)
      8     1.24862
     12     1.25203                                        1.25204
     16     1.25142                                        1.25141
     20     1.25152
     24     1.25158                                        1.25158
     32     1.25151
     40     1.25154

(the states' error enters the free entropies at second order: both columns agree to ``1e-5``).
So ``alpha_c(0.3) = 1.2515 +- 1e-4`` (from 16 nodes on). The semantic fixed point at ``alpha =
1.25`` with the lines rule, ``(q, theta, V, Phi)``: ``(0.0816254, 0.1179815, 18.3119,
-0.00272131)`` at 12 nodes, ``(0.0816082, 0.1179045, 18.3273, -0.00272103)`` at 16,
``(0.0816268, 0.1179345, 18.3194, -0.00272108)`` at 24. The envelope ``E[M]`` at the two fixed
points agrees with a Monte Carlo average of the global minimum (2e6 samples, 13 Newton starts
each): ``0.0022566 +- 0.0000025`` against ``0.0022590`` (positional), ``0.0014379 +- 0.0000012``
against ``0.0014376`` (semantic). ``threshold(kind="first_order")`` with the defaults gives
``alpha_c(0.3) = 1.2514158`` (16 nodes; the bracket ``(1.0, 1.5)``).

The authors' value is higher: their theory CSVs (GitHub
``SPOC-group/positional-and-semantic-attention`` at commit ``0b867fa``,
``theory/repl_softmax_Mixed_sig0.5_lamb0.01_omega0.3[_para].csv``) cross at 1.2631 (cubic
interpolation of the difference of their ``Phi`` through ``alpha = 1.24, 1.25, 1.357, 1.464``).
At their printed states the difference is theirs, and mostly in the positional branch. (i)
Their states are not fixed points of the map: ours moves their ``alpha = 1.25`` states by 2 %
in ``q`` and 2-4 % in ``V`` (positional ``q = 0.04636 -> 0.04739``, ``V = 14.45 -> 14.78``;
semantic ``q = 0.08188 -> 0.08340``, ``V = 17.27 -> 18.00``): their notebook
(``theory/theory.ipynb``) stops the damped iteration when ``q, m, theta`` move by less than
``1e-4`` and integrates the conjugates with a degree-7 cubature of the jumping integrand. (ii)
Their envelope is too low: inverting the overlap equations at their states gives the conjugates
their ``Phi`` used, hence their ``E[M]`` (``(trace and entropic terms - Phi) / alpha``):
``0.0022649`` against ours ``0.0022731`` (lines rule, 16 nodes) at the positional state,
``0.0013902`` against ``0.0013930`` at the semantic one; ``alpha`` times the differences,
``1.02e-5`` and ``3.5e-6``, raise their positional ``Phi`` more than their semantic one by
``6.7e-6``, which is ``0.008`` in ``alpha`` at the slope ``d(Phi_sem - Phi_pos)/d alpha =
8.3e-4``: most of the shift. Monte Carlo at their positional state (6e6 samples) gives
``0.0022740 +- 0.0000014`` (ours within one standard error, theirs six away). Their prox is a
local descent from ``h = 0`` (``scipy.optimize.minimize``), not the global minimiser; at their
states that changes ``alpha E[M]`` by only ``5e-8`` (positional) and ``1e-10`` (semantic), so
the difference is their degree-11 cubature of the envelope, whose kinks it does not resolve.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fixedpoint.quadrature import gauss_hermite
from fixedpoint.protocol import thread_budget

from . import _attention_kernels as _k
from ._registry import parameter_table, register
from .glm_bayes import _real

__all__ = ["DotProductAttention", "positional_baseline_error"]

_DEFAULT_A = ((0.6, 0.4), (0.4, 0.6))
#: weight of the replica map in ``update`` (the rest is the old iterate): see ``update``
UPDATE_WEIGHT = 0.15
#: Gauss-Hermite nodes per axis of the teacher's rule (each point integrates lines of the student's field)
_NODES_RANGE = (4, 40)
#: largest token standard deviation (module docstring, "Range"): beyond it the teacher's attention
#: is nearly hard, and the solver has not been exercised there
_SIGMA_MAX = 0.75
#: smallest ridge penalty (module docstring, "Range")
_REG_MIN = 0.003
#: along a line of the student's field: Gauss-Legendre nodes per panel, panels, half-width (in
#: standard deviations) of the window
_LINE_NODES = 10
_PANELS = 6
_HALF_WIDTH = 6.5
#: Gauss-Hermite lines across the jump (the lines rule's student direction perpendicular to the
#: lines): module docstring, "Numerics" (these four rules: the map to 5e-6 of the 10 x (6 x 16)
#: over 8.5 standard deviations that the alpha_c table used)
_LINES_ACROSS = 8
#: threads over which the lines rule splits its teacher points (fixed chunks: the sums do not
#: depend on how many actually run at once)
_THREADS = 2
#: nodes per axis of the smooth two-dimensional integrals (test error of the baseline)
_NODES_SMOOTH = 60
#: starts: positional (theta = 0) and semantic (m = 0) with these magnitudes
_START_POSITIONAL = {"q": 0.02, "m": 0.2, "theta": 0.0}
_START_SEMANTIC = {"q_over_rho": 0.4, "overlap": 0.95}
#: displacement of each start out of its invariant plane (theta = 0, m = 0)
_EPS_START = 1e-6


@functools.lru_cache(maxsize=8)
def _legendre(n):
    """Gauss-Legendre nodes and weights on ``[-1, 1]`` (read-only, cached)."""
    x, w = np.polynomial.legendre.leggauss(int(n))
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


def _matrix_A(A):
    """``A`` as a validated tuple of tuples (row-stochastic 2x2, non-negative entries)."""
    try:
        arr = np.asarray(A, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"A (the positional matrix) must be a 2x2 matrix of numbers, got {A!r}") from None
    if arr.shape == (4,):
        arr = arr.reshape(2, 2)
    if arr.shape != (2, 2) or not np.all(np.isfinite(arr)):
        raise ValueError(f"A (the positional matrix) must be a finite 2x2 matrix (or 4 numbers row by row), got {A!r}")
    if np.any(arr < 0) or np.max(np.abs(arr.sum(axis=1) - 1.0)) > 1e-12:
        raise ValueError(f"A (the positional matrix) must be row-stochastic (entries >= 0, rows summing to 1), got {A!r}")
    return tuple(tuple(float(v) for v in row) for row in arr)


@functools.lru_cache(maxsize=16)
def _teacher_points(nodes, rho, symmetric):
    """The teacher's rule of the lines rule: tensor Gauss-Hermite points ``(s1, s2)`` of ``N(0, rho
    I_2)`` with their weights, split into ``_THREADS`` contiguous chunks (read-only arrays).

    With a symmetric teacher (``A11 = A22``) every channel sum is invariant under ``s -> (-s2,
    -s1)`` (with ``w -> -(w2, w1)`` and ``h -> -(h2, h1)``: the loss and the Gaussian law of ``w``
    given ``s`` are mapped onto themselves, and each of ``f1 - f2``, ``|f|^2``, ``f.s``, ``f.(w -
    (m, -m))``, ``M`` and the loss is unchanged), so the rule keeps the points with ``i + j <=
    nodes - 1`` and doubles the weight of those off the axis ``i + j = nodes - 1``: half the work,
    the same sum in exact arithmetic."""
    x, w = gauss_hermite(int(nodes))
    sr = math.sqrt(rho)
    i, j = np.meshgrid(np.arange(nodes), np.arange(nodes), indexing="ij")
    i, j = i.ravel(), j.ravel()
    wt = w[i] * w[j]
    if symmetric:
        keep = i + j <= nodes - 1
        wt = np.where(i + j < nodes - 1, 2.0 * wt, wt)
        i, j, wt = i[keep], j[keep], wt[keep]
    chunks = []
    for part in np.array_split(np.arange(i.size), _THREADS):
        arrs = (np.ascontiguousarray(sr * x[i[part]]), np.ascontiguousarray(sr * x[j[part]]),
                np.ascontiguousarray(wt[part]))
        for a in arrs:
            a.flags.writeable = False
        chunks.append(arrs)
    return tuple(chunks)


@functools.lru_cache(maxsize=1)
def _pool():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="attention-lines")


# A forked process (the worker processes of a phase diagram) inherits the pool object but not its
# threads: the pool would count the parent's threads as its own, start none, and every map would
# wait forever. The child makes its own pool at its first use.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.cache_clear)


@functools.lru_cache(maxsize=16)
def _lines_sums(q, m, theta, V, rho, omega, A11, A22, nodes):
    """The lines rule's raw channel sums (:func:`equations._attention_kernels.channel_lines`), the
    teacher's points split over ``_THREADS`` threads (the kernel releases the GIL). The chunks are
    fixed and summed in order, so the result does not depend on the threads' scheduling.

    Cached (read-only result): the observables of a solved point need the sums at the fixed point,
    which the solver's last evaluations computed, and they do not depend on ``alpha``, so every
    cold solve along a row of a sweep in ``alpha`` shares its first evaluation."""
    xl, wl = _legendre(_LINE_NODES)
    xv, wv = gauss_hermite(_LINES_ACROSS)
    chunks = _teacher_points(int(nodes), float(rho), A11 == A22)

    def run(chunk):
        acc = np.empty(6)
        _k.channel_lines(q, m, theta, V, rho, rho, omega, A11, A22, *chunk, xv, wv, xl, wl, _HALF_WIDTH,
                         _PANELS, acc)
        return acc

    if thread_budget(_THREADS) == 1:
        parts = [run(c) for c in chunks]  # (the same chunks, summed in the same order)
    else:
        parts = list(_pool().map(run, chunks))
    total = np.sum(parts, axis=0)
    total.flags.writeable = False
    return total


def _flip_m_theta(x):
    return np.array([x[0], -x[1], -x[2], x[3]])


def _flip_m(x):
    return np.array([x[0], -x[1], x[2], x[3]])


def _flip_theta(x):
    return np.array([x[0], x[1], -x[2], x[3]])


def positional_baseline_error(omega: float, sigma: float, nodes: int = _NODES_SMOOTH) -> float:
    """Test error of the purely positional (linear) attention ``y = B X`` at ``d -> inf``.

    ``2 sigma^2 (1 - omega)^2 Var[sig(s1 (s1 - s2))]`` with ``s1, s2 ~ N(0, sigma^2)``
    independent: ``B = E[T]`` is learnt exactly (four parameters from ``alpha d`` samples), the
    error is the variance of the semantic part of the target. A smooth two-dimensional integral:
    Gauss-Hermite with ``nodes`` points per axis (1e-12 at the default, checked against ``dblquad``).
    """
    omega = _real("omega", omega)
    sigma = _real("sigma", sigma)
    x, w = gauss_hermite(int(nodes))
    return float(2.0 * sigma * sigma * (1.0 - omega) ** 2 * _k.target_variance(sigma * sigma, x, w))


@register
@dataclass(frozen=True)
class DotProductAttention:
    """Tied rank-one dot-product attention with positional encodings, trained by ridge-regularised
    square loss on a mixed positional/semantic teacher (two tokens).

    Parameters
    ----------
    omega : float
        Weight of the positional part ``A`` of the teacher, in ``[0, 1]``.
    sigma : float
        Token standard deviation (``x_l ~ N(0, sigma^2 I)``), in ``(0, 0.75]`` (module docstring,
        "Range").
    reg : float
        Ridge penalty ``reg/2 |Q|^2`` (the paper's ``lambda``), ``>= 0.003``.
    alpha : float
        ``n/d``, ``> 0``.
    A : tuple
        Row-stochastic ``2 x 2`` positional matrix (tuple of tuples or four numbers row by row).
    nodes : int
        Gauss-Hermite nodes per axis of the teacher's rule (the lines rule of the module
        docstring): ``alpha_c`` to ``1e-4`` from the default 16 on (12: ``5e-4``, 8: ``3e-3``).

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("dot_product_attention", omega=0.3, alpha=1.5)
    >>> sem = fixedpoint.solve(m, start="semantic")        # doctest: +SKIP
    >>> pos = fixedpoint.solve(m, start="positional")      # doctest: +SKIP
    >>> fixedpoint.threshold(m, "alpha", (0.8, 1.8), kind="first_order").value   # doctest: +SKIP
    """

    omega: float = 0.3
    sigma: float = 0.5
    reg: float = 0.01
    alpha: float = 1.0
    A: tuple = _DEFAULT_A
    nodes: int = 16

    name: ClassVar[str] = "dot_product_attention"
    state_names: ClassVar[tuple[str, ...]] = ("q", "m", "theta", "V")
    starts: ClassVar[tuple[str, ...]] = ("positional", "semantic")
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "omega": r"$\omega$", "sigma": r"$\sigma$", "reg": r"$\lambda$",
        "q": "$q$", "m": "$m$ (positional)", "theta": r"$\theta$ (semantic)", "V": "$V$",
        "test_error": "test error", "train_loss": "training loss", "energy": "training objective / d",
        "baseline_error": "positional baseline error", "free_entropy": r"$\Phi$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"omega": 0.3, "alpha": 1.5, "nodes": 4},
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {
            "omega": {"range": (0.0, 1.0), "open": (False, False), "doc": "weight of the positional teacher A"},
            "sigma": {"range": (0.0, _SIGMA_MAX), "open": (True, False), "doc": "token standard deviation"},
            "reg": {"range": (_REG_MIN, None), "open": (False, True), "doc": "ridge penalty reg/2 |Q|^2 (lambda)"},
            "alpha": {"range": (0.0, None), "open": (True, True), "doc": "n/d"},
            "A": {"doc": "row-stochastic 2x2 positional matrix (tuple of tuples or 4 numbers row by row)"},
            "nodes": {"allowed": tuple(range(_NODES_RANGE[0], _NODES_RANGE[1] + 1)),
                      "doc": "Gauss-Hermite nodes per axis of the teacher's rule (the channel's outer average)"}})

    def __post_init__(self):
        omega = _real("omega", self.omega)
        if not 0.0 <= omega <= 1.0:
            raise ValueError(f"omega must be in [0, 1], got {omega}")
        for nm in ("sigma", "reg", "alpha"):
            v = _real(nm, getattr(self, nm))
            if not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{nm} must be a finite number > 0, got {v}")
            object.__setattr__(self, nm, v)
        nodes = self.nodes
        if isinstance(nodes, (float, np.floating)) and float(nodes).is_integer():
            nodes = int(nodes)
        if isinstance(nodes, bool) or not isinstance(nodes, (int, np.integer)) \
                or not _NODES_RANGE[0] <= nodes <= _NODES_RANGE[1]:
            raise ValueError(f"nodes must be an integer in [{_NODES_RANGE[0]}, {_NODES_RANGE[1]}], got {self.nodes!r}")
        if self.reg < _REG_MIN:
            raise ValueError(f"reg must be >= {_REG_MIN} (see the module docstring), got {self.reg}")
        if self.sigma > _SIGMA_MAX:
            raise ValueError(f"sigma must be <= {_SIGMA_MAX} (see the module docstring), got {self.sigma}")
        object.__setattr__(self, "omega", omega)
        object.__setattr__(self, "nodes", int(nodes))
        object.__setattr__(self, "A", _matrix_A(self.A))

    # ------------------------------------------------------------------ helpers
    @property
    def rho(self) -> float:
        """Variance of the teacher's field ``s_l`` (``sigma^2``)."""
        return self.sigma * self.sigma

    def _channel(self, x):
        """The channel averages ``(E[f1 - f2], E[f1^2 + f2^2], E[f1 y1 + f2 y2], E[f1 xi1 + f2
        xi2], E[M], E[loss(h*)])`` in the model's variables (module docstring)."""
        q, m, theta, V = (float(v) for v in x)
        acc = _lines_sums(q, m, theta, V, self.rho, self.omega, self.A[0][0], self.A[1][1], self.nodes)
        # back to the model's variables: xi_l = (w_l -+ m) / sqrt(q), y_l = (s_l - theta xi_l /
        # sqrt(q)) / b
        sq = math.sqrt(q)
        b = math.sqrt(max(self.rho - theta * theta / q, 1e-300))
        out = acc.copy()
        out[3] = acc[3] / sq
        out[2] = (acc[2] - theta / sq * out[3]) / b
        return out

    def _hats(self, x, out=None):
        q, m, theta, V = (float(v) for v in x)
        if self.domain_violation(x) is not None:
            # outside the domain (a probe of the engine's root finders): NaN, never an exception
            return (math.nan,) * 4
        out = self._channel(x) if out is None else out
        a = self.alpha
        b = math.sqrt(max(self.rho - theta * theta / q, 1e-300))
        m_hat = a * out[0]
        q_hat = a * out[1]
        theta_hat = a * out[2] / b
        V_hat = -a * out[3] / math.sqrt(q) + theta * theta_hat / q
        return q_hat, m_hat, theta_hat, V_hat

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"positional"`` (= ``"uninformed"``): ``q = 0.02, m = 0.2, theta = 1e-6 sqrt(rho q)``;
        ``"semantic"`` (= ``"informed"``): ``q = 0.4 rho, m = 1e-6, theta = 0.95 sqrt(rho q)``;
        both with ``V = sigma^2 / (2 reg)``, half its value at ``alpha = 0``. The small
        displacements out of the invariant planes ``theta = 0`` and ``m = 0`` let a branch that
        is unstable across its plane (as training from that start would leave it) flow to the
        other instead of stalling on a saddle."""
        V = self.sigma ** 2 / (2.0 * self.reg)
        if start in ("uninformed", "positional"):
            s = _START_POSITIONAL
            return np.array([s["q"], s["m"], _EPS_START * math.sqrt(self.rho * s["q"]), V])
        if start in ("informed", "semantic"):
            q = _START_SEMANTIC["q_over_rho"] * self.rho
            return np.array([q, _EPS_START, _START_SEMANTIC["overlap"] * math.sqrt(self.rho * q), V])
        raise ValueError(f"start must be 'uninformed', 'informed', 'positional' or 'semantic', got {start!r}")

    def trivial_state(self):
        """None: ``Q = 0`` is not a fixed point (the positional teacher pulls ``m`` away)."""
        return None

    def bounds(self):
        return np.array([0.0, -np.inf, -np.inf, 0.0]), np.array([np.inf, np.inf, np.inf, np.inf])

    def domain_violation(self, x):
        """Why ``(q, theta)`` is not a valid covariance (``theta^2 < rho q``, ``q, V > 0``), or None."""
        q, _, theta, V = (float(v) for v in x)
        if not (q > 0 and V > 0):
            return f"q and V must be > 0, got q = {q:g}, V = {V:g}"
        if not theta * theta < self.rho * q:
            return f"theta^2 must be < rho q (a covariance), got theta = {theta:g}, rho q = {self.rho * q:g}"
        return None

    def symmetries(self) -> dict:
        """The maps of the state that map fixed points to fixed points (protocol member).

        ``Q -> -Q`` flips ``h`` and leaves ``h h^T``, hence the student and the objective,
        unchanged: ``(m, theta) -> (-m, -theta)``, for every ``A``. With ``A11 = A22`` the
        teacher commutes with swapping the two tokens, which for the student is ``p -> -p``:
        ``m -> -m``, and with the first, ``theta -> -theta``. Solves that end on two images of
        one solution (Anderson steps may cross the invariant plane ``theta = 0``) are the same
        solution to the engine's comparisons."""
        out = {"Q -> -Q: (m, theta) -> (-m, -theta)": _flip_m_theta}
        if self.A[0][0] == self.A[1][1]:
            out["tokens swapped: m -> -m"] = _flip_m
            out["Q -> -Q with the tokens swapped: theta -> -theta"] = _flip_theta
        return out

    def replica_map(self, x) -> np.ndarray:
        """The undamped replica map ``(q, m, theta, V) -> (q, m, theta, V)`` (module docstring)."""
        q_hat, m_hat, theta_hat, V_hat = self._hats(x)
        s2 = self.sigma ** 2
        den = self.reg + s2 * V_hat
        G = s2 * q_hat + m_hat ** 2 + self.rho * s2 * theta_hat ** 2
        return np.array([s2 * G / den ** 2, m_hat / den, self.rho * s2 * theta_hat / den, s2 / den])

    def update(self, x) -> np.ndarray:
        """The fixed-point map: ``(1 - UPDATE_WEIGHT) x + UPDATE_WEIGHT replica_map(x)``.

        The same fixed points as :meth:`replica_map`, whose Jacobian has eigenvalues well below
        ``-1`` at the positional fixed points (the plain iteration oscillates away from them, as
        the authors' damping 0.8 suggests); the weight ``UPDATE_WEIGHT = 0.15`` brings them inside
        the unit disc, and Anderson acceleration converges in about 20 iterations there (0.3
        did too at ``sigma = 0.5``, but at small ``sigma`` and ``reg`` the undamped Anderson run
        stalled until the default solver's damped retry: 0.15 converges there in ~40)."""
        x = np.asarray(x, dtype=float)
        return (1.0 - UPDATE_WEIGHT) * x + UPDATE_WEIGHT * self.replica_map(x)

    def _phi(self, x, out):
        q, m, theta, V = (float(v) for v in x)
        q_hat, m_hat, theta_hat, V_hat = self._hats(x, out)
        s2 = self.sigma ** 2
        G = s2 * q_hat + m_hat ** 2 + self.rho * s2 * theta_hat ** 2
        return (0.5 * (V_hat * q - q_hat * V) - m * m_hat - theta * theta_hat
                + 0.5 * G / (self.reg + s2 * V_hat) - self.alpha * out[4])

    def free_entropy(self, x) -> float:
        """``Phi``, minus the minimal training objective per ``d`` (module docstring); NaN outside
        the domain."""
        if self.domain_violation(x) is not None:
            return math.nan
        return float(self._phi(x, self._channel(x)))

    def observable_names(self) -> tuple[str, ...]:
        """The keys of :meth:`observables`, in order (protocol member)."""
        return ("q", "m", "theta", "V", "test_error", "train_loss", "energy", "free_entropy", "baseline_error")

    def observables(self, x) -> dict[str, float]:
        """State, ``test_error`` (``|student - T|_F^2 / (2d)`` per fresh sequence), ``train_loss``
        (mean loss per training sequence), ``energy`` (training objective per ``d``, ``= -Phi``),
        ``free_entropy``, and ``baseline_error`` (the purely positional linear attention)."""
        q, m, theta, V = (float(v) for v in x)
        out = self._channel(x)
        nodes, weights = gauss_hermite(max(self.nodes, 12))
        te = _k.test_error(q, m, theta, self.rho, self.sigma ** 2, self.omega, self.A[0][0], self.A[1][1],
                           nodes, weights)
        phi = self._phi(x, out)
        return {"q": q, "m": m, "theta": theta, "V": V, "test_error": float(te), "train_loss": float(out[5]),
                "energy": float(-phi), "free_entropy": float(phi),
                "baseline_error": positional_baseline_error(self.omega, self.sigma)}

    def simulate(self, d: int, seed: int, start: str = "positional") -> dict[str, float]:
        """Full-batch L-BFGS on one instance of ``n = round(alpha d)`` sequences, from the
        positional or semantic start; see :mod:`equations._simulate.attention`."""
        from ._simulate.attention import simulate_attention

        return simulate_attention(self, d, seed, start=start)
