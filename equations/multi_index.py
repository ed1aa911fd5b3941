"""Bayes-optimal multi-index models and committee machines: state evolution with a matrix overlap.

Model. A teacher ``W* in R^{p x d}`` with i.i.d. entries from the prior (``gaussian`` N(0, 1) or
``rademacher`` +-1, so ``E W* W*^T / d = I``), inputs ``x_mu ~ N(0, I_d)``, ``mu = 1..n``,
``alpha = n / d``, labels ``y_mu = g(z_mu)`` (plus noise), ``z_mu = W* x_mu / sqrt(d) in R^p``, with
the targets of :mod:`equations.targets` (``committee``: ``sign(sum_k sign z_k)``, the committee
machine with ``K = p`` hidden units; ``committee_erf``, ``parity``, ``sign_z1z2``, ``z1z2``,
``norm2``, ``staircase``; the GLM channels ``sign``, ``abs``, ``linear``, ``relu`` for ``p = 1``;
or a user's target).

Replica-symmetric formula (Aubin, Maillard, Barbier, Krzakala, Macris, Zdeborova, "The committee
machine: computational to statistical gaps in learning a two-layers neural network", NeurIPS
2018, Theorem 3.1; Troiani, Dandi, Defilippis, Zdeborova, Loureiro, Krzakala, "Fundamental
computational limits of weak learnability in high-dimensional multi-index models", 2024,
eqs. (8)-(10)). With the ``p x p`` overlap ``Q = E[W* W_hat^T] / d`` of the posterior mean::

    phi = extr_{Q, Q_hat} [ -tr(Q Q_hat) / 2 + psi_P0(Q_hat) + alpha Psi_out(Q) ],
    psi_P0(Q_hat) = E log E_w exp(w^T Y - w^T Q_hat w / 2),  Y = Q_hat w* + Q_hat^{1/2} xi,
    Psi_out(Q)    = E_{omega ~ N(0, Q)} int dy Z_out(y; omega, I - Q) log Z_out,

whose stationarity conditions are the state evolution (the fixed-point map of this model)::

    Q_hat = alpha E_{omega, y}[ g_out g_out^T ],                  g_out = grad_omega log Z_out,
    Q     = E[ f f^T ],  f = E[w | Y]  at Q_hat                  (the prior's matrix denoiser):
            gaussian:   Q = Q_hat (I + Q_hat)^{-1},   psi = (tr Q_hat - log det(I + Q_hat)) / 2;
            rademacher: a sum over the 2^p sign vectors w and a composite Gauss-Legendre rule
                        in xi (:func:`prior_denoiser`: ``Q`` to about 1e-11 at p <= 2, 1e-6 to
                        1e-5 at p = 3, 4).

Mapping to Aubin et al.: their ``n`` is our ``d``, their ``m / n`` our ``alpha``, their ``K`` our
``p``, their ``(q, q_hat)`` our ``(Q, Q_hat)`` (``rho = I``), their ``f`` our ``free_entropy``.
Mutual information per variable: ``I(W*; Y | X) / d = -phi + alpha E_z int dy P(y|z) log P(y|z)``
(0 for the noiseless signs targets, ``-log(2 pi e noise) / 2`` for a continuous one; for a noisy
signs target minus the entropy of the independent noisy signs given ``z``, averaged over ``z``:
:meth:`equations.targets.Target.conditional_entropy`).

Weak learnability (Troiani et al. 2024). ``Q = 0`` is a fixed point exactly when ``E[z | y] = 0``
(no trivial direction); its stability is lost at ``alpha_c = 1 / ||F||``, ``F(M) = E_y[G(y) M
G(y)]``, ``G(y) = E[z z^T | y] - I`` (the Jacobian of the map at 0, as the prior's denoiser is the
identity to first order): ``fixedpoint.threshold(model, "alpha", bracket, kind="stability")``,
which also reports the unstable direction. :func:`subspaces` classifies a target's directions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from fixedpoint._jit import njit_compiled

from fixedpoint.matrices import pack, psd_violation, size_for, sym_names, unpack

from ._registry import parameter_table, register
from .glm_bayes import _real
from .targets import TARGETS, Target, make_target, sign_patterns

__all__ = ["MultiIndex", "subspaces", "prior_denoiser"]

_PRIORS = ("gaussian", "rademacher")
#: uninformed start: Q = _EPS_UNINFORMED 1 1^T / p + _EPS_NOISE I (non-specialised, with a small
#: overlap in every direction, as an algorithm started at random has, so that an unstable
#: non-specialised or trivial fixed point is left)
_EPS_UNINFORMED = 1e-6
_EPS_NOISE = 1e-8
#: informed start: Q = (1 - _EPS_INFORMED) I
_EPS_INFORMED = 1e-6
#: specialised start: Q = _Q_SPECIALISED I (each student direction half-aligned with its own
#: teacher direction: the permutation symmetry between hidden units is broken)
_Q_SPECIALISED = 0.5


# ----------------------------------------------------------------------------- matrix priors


#: most nodes per axis of the rademacher prior's rule (p = 1, 2, 3, 4; at p = 3, 4 the caps allow
#: 12 and 6 panels of 6 nodes)
_PRIOR_CAP = (1200, 240, 72, 36)
#: the rule's interval in each xi (exp(-8.5^2 / 2) = 2e-16) and the weight, relative to the
#: largest, below which a node is left out (the corners of the cube: a fifth of the nodes at p = 2,
#: half at p = 3, two thirds at p = 4)
_PRIOR_XI_MAX = 8.5
_PRIOR_PRUNE = 1e-16


@functools.lru_cache(maxsize=64)
def _prior_rule(p, panels, ngl):
    """Tensor product of a composite Gauss-Legendre rule (``ngl`` nodes on each of
    ``panels`` equal panels of ``[-8.5, 8.5]``) for ``N(0, I_p)``, without the nodes of weight
    below ``_PRIOR_PRUNE`` of the largest. The posterior mean of binary weights switches sign
    across the hyperplanes ``(w - w')^T Y = const`` within ``1 / sqrt(q_hat)`` in ``xi`` (its
    log-sum-exp is analytic within ``pi / 2`` of them in ``Y``): a Gauss-Hermite rule misses them
    once ``q_hat`` is large (1e-5 errors at ``q_hat ~ 10``), a composite rule with panels of that
    order resolves them."""
    x, w = np.polynomial.legendre.leggauss(ngl)
    edges = np.linspace(-_PRIOR_XI_MAX, _PRIOR_XI_MAX, panels + 1)
    h = edges[1] - edges[0]
    z = (edges[:-1, None] + 0.5 * h * (x[None, :] + 1.0)).ravel()
    wz = (0.5 * h * np.tile(w, panels) * np.exp(-0.5 * z * z)) / math.sqrt(2.0 * math.pi)
    grids = np.meshgrid(*([z] * p), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    weights = functools.reduce(np.multiply.outer, [wz] * p).ravel()
    keep = weights >= _PRIOR_PRUNE * weights.max()
    nodes = np.ascontiguousarray(nodes[keep])
    weights = weights[keep] / weights[keep].sum()
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


def _panels(p, qmax):
    """``(panels, ngl)`` of :func:`_prior_rule` at ``q_hat_max``: the cheaper of two rules, each
    within ``1e-11`` in ``Q`` of rules three times finer at ``p <= 2``. The Gaussian weight needs
    panels at most 1 wide in ``xi`` with 6 nodes, the kinks panels at most 0.5 wide in ``Y`` (``0.5
    / sqrt(q_hat)`` in ``xi``) with 6 nodes, or 1.5 wide with 8; below ``q_hat = 4 / 9`` the first
    costs fewer nodes, above it the second. Capped by ``_PRIOR_CAP`` (at ``p = 3, 4``: 6 nodes)."""
    qmax = max(qmax, 1e-300)
    ngl, width = (6, min(1.0, 0.5 / math.sqrt(qmax))) if qmax < 4.0 / 9.0 or p >= 3 else \
        (8, min(1.0, 1.5 / math.sqrt(qmax)))
    n = int(math.ceil(2.0 * _PRIOR_XI_MAX / width))
    # (17 to 40 panels at p = 2: few enough distinct rules for _prior_rule's cache)
    return min(n, _PRIOR_CAP[p - 1] // ngl), ngl


@njit_compiled(cache=True)
def _rademacher_kernel(Qhat, L, configs, xi, wxi, Qout):
    """``Q = E[f f^T]`` (into ``Qout``) and ``psi = E log E_w exp(w.Y - w.Qhat w / 2)`` for i.i.d.
    +-1 entries: ``Y = Qhat w* + L xi`` (``L L^T = Qhat``), ``w*`` over the ``2^p`` configurations.
    The teacher ``-w*`` with the node ``-xi`` gives ``-Y``, hence the same ``psi`` and ``f f^T``,
    and the rule is symmetric: only the half of the teacher's configurations with ``w*_p = +1``
    (the upper half of :func:`sign_patterns`) is summed, with twice the weight."""
    nconf, p = configs.shape
    quad = np.empty(nconf)
    for c in range(nconf):
        acc = 0.0
        for a in range(p):
            for b in range(p):
                acc += configs[c, a] * Qhat[a, b] * configs[c, b]
        quad[c] = 0.5 * acc
    Y = np.empty(p)
    loga = np.empty(nconf)
    f = np.empty(p)
    for a in range(p):
        for b in range(p):
            Qout[a, b] = 0.0
    psi = 0.0
    for cs in range(nconf // 2, nconf):
        for k in range(xi.shape[0]):
            for a in range(p):
                acc = 0.0
                for b in range(p):
                    acc += Qhat[a, b] * configs[cs, b] + L[a, b] * xi[k, b]
                Y[a] = acc
            top = -math.inf
            for c in range(nconf):
                acc = -quad[c]
                for a in range(p):
                    acc += configs[c, a] * Y[a]
                loga[c] = acc
                if acc > top:
                    top = acc
            tot = 0.0
            for a in range(p):
                f[a] = 0.0
            for c in range(nconf):
                e = math.exp(loga[c] - top)
                tot += e
                for a in range(p):
                    f[a] += e * configs[c, a]
            w = 2.0 * wxi[k] / nconf
            psi += w * (top + math.log(tot / nconf))
            for a in range(p):
                for b in range(p):
                    Qout[a, b] += w * f[a] * f[b] / (tot * tot)
    return psi


def prior_denoiser(prior: str, Q_hat) -> tuple[np.ndarray, float]:
    """``(Q, psi_P0)`` of the matrix prior channel ``Y = Q_hat w* + Q_hat^{1/2} xi`` at ``Q_hat``.

    ``gaussian``: ``Q = I - (I + Q_hat)^{-1}``, ``psi = (tr Q_hat - log det(I + Q_hat)) / 2``.
    ``rademacher``: i.i.d. +-1 entries, a sum over the ``2^p`` sign vectors and the composite
    rule of :func:`_prior_rule` in ``xi``. Against rules three times finer (2026-12-03, ``Q_hat``
    from ``0.05 I`` to ``40 I``): ``Q`` within ``1e-11`` at ``p <= 2``, ``1.5e-6`` at ``p = 3`` and
    ``6e-6`` at ``p = 4`` (whose caps, 72 and 36 nodes per axis, bound the cost: 0.2 s and 1 to 1.5
    s a call); ``psi`` as close. The rule is a function of ``p`` and the largest eigenvalue of
    ``Q_hat`` only.
    """
    Q_hat = np.asarray(Q_hat, dtype=float)
    Q_hat = 0.5 * (Q_hat + Q_hat.T)
    p = Q_hat.shape[0]
    if prior == "gaussian":
        M = np.eye(p) + Q_hat
        Q = np.eye(p) - np.linalg.inv(M)
        sign, logdet = np.linalg.slogdet(M)
        return 0.5 * (Q + Q.T), 0.5 * (float(np.trace(Q_hat)) - logdet)
    lam, U = np.linalg.eigh(Q_hat)
    L = np.ascontiguousarray(U * np.sqrt(np.clip(lam, 0.0, None)))
    configs = sign_patterns(p)
    xi, wxi = _prior_rule(p, *_panels(p, float(lam.max(initial=0.0))))
    Q = np.empty((p, p))
    psi = _rademacher_kernel(np.ascontiguousarray(Q_hat), L, configs, xi, wxi, Q)
    return 0.5 * (Q + Q.T), float(psi)


class _StateNames:
    """``state_names`` of a model whose state size depends on ``p``: the instance's names, or the
    names at the default ``p`` when read on the class (the registry lists them)."""

    def __get__(self, obj, cls):
        p = obj.p if obj is not None else cls.p
        return sym_names("Q", p)


# ----------------------------------------------------------------------------- the model


@register
@dataclass(frozen=True)
class MultiIndex:
    """Bayes-optimal multi-index model / committee machine (state: the ``p x p`` overlap ``Q``).

    Parameters
    ----------
    target : str or equations.targets.Target
        ``committee`` (``sign(sum_k sign z_k)``, ``p <= 4``), ``committee_erf``
        (``(1/p) sum_k erf(z_k / sqrt 2)``), ``parity`` (``sign(z_1 ... z_p)``, ``p <= 4``),
        ``sign_z1z2`` (``p = 2``), ``z1z2`` (``p = 2``), ``norm2`` (``|z|^2``), ``staircase``
        (``z_1 + z_1 z_2 + ...``), and for ``p = 1`` the GLM channels ``sign``, ``abs``, ``linear``,
        ``relu``; or a target made by :func:`equations.targets.custom` (a vectorised ``g(z)``) or
        :func:`equations.targets.custom_signs` (a function of the signs of ``z``).
    p : int
        Number of hidden directions (``K``, the number of hidden units, for a committee).
    prior : {"gaussian", "rademacher"}
        Law of the teacher's entries (unit variance).
    alpha : float
        Sample ratio ``n / d > 0``.
    noise : float
        Variance of the Gaussian noise: added to a continuous target's output (must be ``> 0``
        for them: the integrals are over the smoothed law), or to each hidden pre-activation
        ``z_k`` of a signs target (``>= 0``; ``sign(z_k + sqrt(noise) xi_k)``).

    Notes
    -----
    Observables: ``overlap`` (``tr Q / p``), ``mse`` (``tr(I - Q) / p``, per entry of ``W*``),
    ``Q_eig[k]`` (eigenvalues of ``Q``, decreasing), ``specialisation`` (mean diagonal minus mean
    off-diagonal entry of ``Q``: 0 on the non-specialised branch of a committee),
    ``gen_error`` (signs targets: the 0/1 error of the Bayes-optimal classifier on a fresh sample;
    continuous: the label MSE), ``label_mse`` (``E (y - E[y | x, data])^2``), ``free_entropy`` and
    ``mutual_information`` (per variable, nats). ``sol["Q"]`` is the matrix.

    Starts: ``"uninformed"`` (``Q = 1e-6 1 1^T / p + 1e-8 I``, non-specialised), ``"informed"``
    (``(1 - 1e-6) I``) and, for ``p >= 2``, ``"specialised"`` (``Q = I / 2``).

    Quadrature (:mod:`equations.targets`): signs targets use exact orthant probabilities (up to
    four coordinates) inside nested graded rules; continuous targets nested Gauss-Hermite rules
    whose accuracy depends on the noise, except ``linear`` (closed form) and ``z1z2``,
    ``staircase`` at ``p = 2`` (one-dimensional inner integrals, accurate down to noise 1e-4, and
    an outer rule polar about the critical point of ``g``) and the weak-learnability threshold of
    ``norm2`` (a one-dimensional radial integral, ``alpha_c -> p / 2`` at small noise; its state
    evolution is exact at any noise for ``p <= 2`` by the radial route and at ``p >= 3`` by the
    Fourier route, at ``p >= 4`` for overlaps with at most three distinct eigenvalues, which the
    Gaussian prior's state evolution keeps from every start (the rademacher prior is refused
    there); GAMP's channel is exact at
    any ``p``: radial at ``p <= 2``, Fourier beyond); accuracies and
    costs are documented there. A ``K = 4`` committee is solved on its
    non-specialised branch (tens of seconds); its specialised phase (a full-rank ``Q``) is out
    of reach of the nested rules.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("multi_index", target="committee", p=2, alpha=1.5)
    >>> sol = fixedpoint.solve(m)            # doctest: +SKIP
    >>> sol["Q"]                             # doctest: +SKIP
    """

    target: object = "committee"
    p: int = 2
    prior: str = "gaussian"
    alpha: float = 1.0
    noise: float = 0.0

    name: ClassVar[str] = "multi_index"
    state_names: ClassVar[tuple[str, ...]] = _StateNames()
    starts: ClassVar[tuple[str, ...]] = ("specialised",)
    labels: ClassVar[dict[str, str]] = {
        "alpha": r"$\alpha = n/d$", "noise": r"$\Delta$", "overlap": r"overlap $\mathrm{tr}\,Q/p$",
        "mse": "MSE", "gen_error": "generalisation error", "label_mse": "label MSE",
        "specialisation": "specialisation", "free_entropy": r"free entropy $\phi$",
        "mutual_information": r"$I(W^*;Y|X)/d$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"target": "committee", "p": 2, "alpha": 1.5},
        {"target": "committee", "p": 2, "prior": "rademacher", "alpha": 1.2},
        {"target": "sign_z1z2", "p": 2, "alpha": 4.0},
        {"target": "linear", "p": 1, "alpha": 0.8, "noise": 0.3},
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {
            "target": {"allowed": tuple(TARGETS), "doc": "output function g(z) (or a targets.Target)"},
            "p": {"allowed": tuple(range(1, 9)),
                  "doc": "number of hidden directions (K for a committee; committee, parity, sign: <= 4)"},
            "prior": {"allowed": _PRIORS, "doc": "law of the teacher's entries"},
            "alpha": {"range": (0.0, None), "open": (True, True), "doc": "sample ratio n/d"},
            "noise": {"range": (0.0, None), "open": (False, True),
                      "doc": "noise variance: on the output (continuous targets, > 0) or on each hidden unit (signs)"}})

    def __post_init__(self):
        if isinstance(self.p, (float, np.floating)) and float(self.p).is_integer():
            object.__setattr__(self, "p", int(self.p))  # (p=2.0 from a command line or a sweep)
        if isinstance(self.p, bool) or not isinstance(self.p, (int, np.integer)) or not 1 <= self.p <= 8:
            raise ValueError(f"p (the number of hidden directions) must be an integer between 1 and 8, got {self.p!r}")
        object.__setattr__(self, "p", int(self.p))
        if not isinstance(self.prior, str) or self.prior not in _PRIORS:
            raise ValueError(f"prior must be one of {', '.join(_PRIORS)}; got {self.prior!r}")
        if self.prior == "rademacher" and self.p > 4:
            raise ValueError(f"p must be at most 4 for the rademacher prior (2^p sign vectors per node), got {self.p}")
        target = make_target(self.target, self.p)
        if target.route == "norm2" and self.p >= 4 and self.prior != "gaussian":
            # (binary weights break it: the denoiser's own rule splits equal eigenvalues by 1e-9)
            raise ValueError(f"prior must be 'gaussian' for the norm2 target at p >= 4, got {self.prior!r}: its state "
                             f"evolution there needs overlaps with at most three distinct eigenvalues, which only a "
                             f"rotation-invariant prior keeps (the eigenspaces of Q)")
        alpha = _real("alpha", self.alpha)
        if not alpha > 0:
            raise ValueError(f"alpha (the sample ratio n/d) must be > 0, got {alpha}")
        noise = _real("noise", self.noise)
        if not noise >= 0:
            raise ValueError(f"noise (a variance) must be >= 0, got {noise}")
        if target.kind == "continuous" and not noise > 0:
            raise ValueError(f"noise must be > 0 for the continuous target {target.name!r} (its integrals are "
                             f"over the noise-smoothed output law), got {noise}")
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "noise", noise)
        object.__setattr__(self, "_target", target)

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: ``1e-6 1 1^T / p + 1e-8 I``; ``"informed"``: ``(1 - 1e-6) I``;
        ``"specialised"`` (``p >= 2``): ``I / 2``. A signs target with ``p = 4`` refuses the last
        two (a full-rank ``Q`` is out of reach of its nested rules)."""
        p = self.p
        if start in ("informed", "specialised") and p >= 4 and self._target.kind == "signs":
            # (a full-rank Q needs every level of the nested graded rules: ~10^9 nodes at p = 4)
            raise ValueError(f"start {start!r} needs a full-rank overlap, out of reach of the exact orthant "
                             f"integrals at p = {p}: solve from 'uninformed' (the non-specialised branch)")
        if start == "uninformed":
            Q = _EPS_UNINFORMED * np.ones((p, p)) / p + _EPS_NOISE * np.eye(p)
        elif start == "informed":
            Q = (1.0 - _EPS_INFORMED) * np.eye(p)
        elif start == "specialised":
            if p < 2:
                raise ValueError("start 'specialised' needs p >= 2 hidden directions")
            Q = _Q_SPECIALISED * np.eye(p)
        else:
            raise ValueError(f"start must be 'uninformed', 'informed' or 'specialised', got {start!r}")
        return pack(Q)

    def trivial_state(self):
        """``Q = 0`` when the target has no trivial direction (``E[z | y] = 0``), else ``None``."""
        # a signs target's A0 in closed form, without its operator's orthant probabilities (the
        # command line's catalogue asks this of every target: 1.4 s of `fixedpoint list`)
        A0 = self._target.trivial_A0(self.noise) if self._target.kind == "signs" else self._trivial()[0]
        return np.zeros(size_for(self.p)) if np.all(np.isfinite(A0)) and np.max(np.abs(A0)) < 1e-12 else None

    def bounds(self):
        p = self.p
        lo = pack(-np.ones((p, p)) + np.eye(p))
        return lo, pack(np.ones((p, p)))

    def domain_violation(self, x):
        """Why ``Q`` is outside ``0 <= Q <= I`` (PSD order), or ``None``."""
        return psd_violation(unpack(x, self.p), upper=1.0, name="Q")

    def project(self, x):
        """The nearest state in ``0 <= Q <= I`` (eigenvalues clipped; ``x`` itself inside): the
        engine's Newton polish of a converged point on the boundary of the cone (a rank-deficient
        ``Q``) lands there, and the map itself projects its argument first."""
        Q = self._Q(x)
        lam, U = np.linalg.eigh(0.5 * (Q + Q.T))
        if lam[0] >= 0.0 and lam[-1] <= 1.0:
            return x
        return pack((U * np.clip(lam, 0.0, 1.0)) @ U.T)

    def _Q(self, x):
        return unpack(np.asarray(x, dtype=float).ravel(), self.p)

    @functools.lru_cache(maxsize=4)
    def _trivial(self):
        return self._target.trivial_operator(self.noise)

    def _out(self, x):
        """``(Q, A, Psi_out, gen_error, label_mse)`` at the state ``x``."""
        Q = self._Q(x)
        A, psi, err, mse = self._target.se(Q, self.noise)
        return Q, A, psi, err, mse

    def _perfect(self, x) -> bool:
        """``Q = I`` to rounding with noiseless labels of a signs target: perfect recovery, where
        ``Q_hat`` is infinite (the map's value and the free entropy are then taken as limits)."""
        return (self._target.kind == "signs" and self.noise == 0
                and float(np.max(np.abs(self._Q(x) - np.eye(self.p)))) <= 1e-12)

    def update(self, x) -> np.ndarray:
        """``Q -> prior denoiser(alpha E[g_out g_out^T])`` (NaN for a non-finite state).

        A state outside ``0 <= Q <= I`` is first projected onto it (eigenvalues clipped): the
        non-specialised fixed point of a committee has a rank-deficient ``Q`` on the boundary of
        the PSD cone, where a finite-difference step in an off-diagonal entry leaves the cone in
        both directions; the solver itself never iterates outside (``domain_violation``)."""
        x = np.asarray(x, dtype=float).ravel()
        if not np.all(np.isfinite(x)):
            return np.full(x.size, math.nan)
        x = self.project(x)
        if self._perfect(x):
            return pack(np.eye(self.p))  # Q_hat = inf: every prior's denoiser returns the signal
        _, A, _, _, _ = self._out(x)
        Q_new, _ = prior_denoiser(self.prior, self.alpha * A)
        return pack(0.5 * (Q_new + Q_new.T))

    def jacobian(self, x) -> np.ndarray | None:
        """Jacobian of :meth:`update` in the packed entries at ``Q = 0``: the exact operator ``M ->
        alpha E_y[G(y) M G(y)]`` (the prior's denoiser is the identity there: ``E w w^T = I``),
        which the weak-learnability threshold uses. ``None`` elsewhere: the model has nothing
        better than finite differences there, which the engine takes itself and knows to be
        approximate (an instability they show is confirmed by central differences, and the
        side of a saddle is decided against their error, not against an exact Jacobian's)."""
        x = np.asarray(x, dtype=float).ravel()
        if np.all(x == 0.0):
            return self.alpha * self._packed_operator()
        if self._target.route == "norm2" and self.p >= 4 and self.prior == "gaussian" and np.all(np.isfinite(x)):
            # finite differences in single entries of Q would leave the overlaps its state evolution
            # takes at p >= 4 (at most three distinct eigenvalues): the map's covariance under rotations
            # gives the Jacobian from differences in the eigenvalues alone
            return self._spectral_jacobian(x)
        return None

    def _spectral_jacobian(self, x) -> np.ndarray:
        """Jacobian of :meth:`update` in the packed entries for a map that commutes with rotations,
        ``F(R Q R^T) = R F(Q) R^T`` (``norm2`` with the Gaussian prior), so that ``F(Q) = U
        diag(f(lam)) U^T`` for ``Q = U diag(lam) U^T`` with a symmetric spectral function ``f``. Its
        derivative (Daleckii-Krein; Lewis, "Derivatives of spectral functions", Math. Oper. Res.
        1996) in the direction ``M``, ``M~ = U^T M U``, is ``U (diag(J_f diag(M~)) + Gamma o M~_off)
        U^T`` with ``Gamma_ij = (f_i - f_j) / (lam_i - lam_j)``, and ``J_f[i, i] - J_f[i, j]`` for
        ``lam_i = lam_j`` (eigenvalues within
        :data:`equations._norm2_fourier._CLUSTER_TOL` are one eigenspace, as in the state evolution).
        ``J_f`` is taken by central differences of ``f`` in one eigenvalue of each eigenspace (step
        ``1e-5`` of ``min(lam, 1 - lam)``, at least ``1e-7``; one-sided at ``lam = 0``), the other
        members' columns by permutation. Each difference splits one direction off an eigenspace, so
        ``Q`` may have two distinct eigenvalues at most, or three with the differenced one alone in its
        eigenspace; otherwise the state evolution raises ``ValueError``."""
        from ._norm2_fourier import _eigenspaces

        p = self.p
        Q = self._Q(self.project(np.asarray(x, dtype=float).ravel()))
        lam, U = np.linalg.eigh(0.5 * (Q + Q.T))
        lam = np.clip(lam, 0.0, 1.0)

        def f(ev):
            return np.diag(unpack(self.update(pack(np.diag(ev))), p)).copy()

        f0 = f(lam)
        spaces = _eigenspaces(lam, 1.0 - lam)
        Jf = np.empty((p, p))
        for g in spaces:
            b = g[0]
            h = max(1e-5 * min(lam[b], 1.0 - lam[b]), 1e-7)
            e = np.zeros(p)
            e[b] = h
            if lam[b] >= 2.0 * h:
                col = (f(lam + e) - f(lam - e)) / (2.0 * h)
            else:
                col = (4.0 * f(lam + e) - f(lam + 2.0 * e) - 3.0 * f0) / (2.0 * h)
            for b2 in g:
                perm = np.arange(p)
                perm[[b, b2]] = perm[[b2, b]]
                Jf[:, b2] = col[perm]
        label = np.empty(p, dtype=int)
        for k, g in enumerate(spaces):
            label[g] = k
        Gam = np.empty((p, p))
        for i in range(p):
            for j in range(p):
                if label[i] == label[j]:
                    Gam[i, j] = Jf[i, i] - Jf[i, j] if i != j else 0.0
                else:
                    Gam[i, j] = (f0[i] - f0[j]) / (lam[i] - lam[j])
        iu, ju = np.triu_indices(p)
        J = np.empty((iu.size, iu.size))
        for col, (i, j) in enumerate(zip(iu, ju)):
            M = np.zeros((p, p))
            M[i, j] = M[j, i] = 1.0
            Mt = U.T @ M @ U
            D = Gam * Mt
            D[np.diag_indices(p)] = Jf @ np.diag(Mt)
            dF = U @ D @ U.T
            J[:, col] = dF[iu, ju]
        return J

    def _packed_operator(self):
        """``F`` of the trivial point as a matrix on the packed entries: column ``(i, j)`` is
        ``F(E_ij + E_ji)`` (``F(E_ii)`` on the diagonal), row ``(a, b)`` its entry ``(a, b)``."""
        _, T = self._trivial()
        p = self.p
        iu, ju = np.triu_indices(p)
        n = iu.size
        J = np.empty((n, n))
        for col in range(n):
            i, j = iu[col], ju[col]
            M = T[:, :, i, j] + (T[:, :, j, i] if i != j else 0.0)
            J[:, col] = M[iu, ju]
        return J

    def observable_names(self) -> tuple[str, ...]:
        """The keys of :meth:`observables`, in order (protocol member): ``Q_eig[k]`` are the
        eigenvalues of ``Q`` in decreasing order."""
        return ("overlap", "mse", *(f"Q_eig[{k}]" for k in range(self.p)), "specialisation", "gen_error",
                "label_mse", "free_entropy", "mutual_information")

    def observables(self, x) -> dict[str, float]:
        x = np.asarray(x, dtype=float).ravel()
        Q, A, psi_out, err, lmse = self._out(x)
        if self._perfect(x):
            err, lmse = 0.0, 0.0  # (the labels are a function of the recovered pre-activations)
        p = self.p
        ev = np.sort(np.linalg.eigvalsh(Q))[::-1]
        out = {"overlap": float(np.trace(Q)) / p, "mse": float(np.trace(np.eye(p) - Q)) / p}
        for k, v in enumerate(ev):
            out[f"Q_eig[{k}]"] = float(v)
        off = (Q.sum() - np.trace(Q)) / (p * (p - 1)) if p > 1 else 0.0
        out["specialisation"] = float(np.trace(Q) / p - off)
        out["gen_error"] = float(err) if self._target.kind == "signs" else float(lmse)
        out["label_mse"] = float(lmse)
        phi = self._free_entropy(Q, A, psi_out)
        out["free_entropy"] = phi
        out["mutual_information"] = -phi + self.alpha * self._label_entropy_term()
        return out

    @functools.lru_cache(maxsize=2)
    def _label_entropy_term(self):
        """``E_z int dy P(y|z) log P(y|z) = -H(Y | z)``: ``-log(2 pi e noise) / 2`` for a
        continuous target; for a signs target 0 without noise, else the average over ``z ~ N(0,
        I_p)`` of the entropy of the independent noisy signs given ``z``
        (:meth:`equations.targets.Target.conditional_entropy`, a tensor product of
        one-dimensional rules: ``V = noise I`` is diagonal; any ``p <= 4``)."""
        return -self._target.conditional_entropy(self.noise)

    def _free_entropy(self, Q, A, psi_out):
        if self._perfect(pack(Q)):
            # the limit Q_hat -> inf: Psi_out(I) = 0 for noiseless labels, and -tr(Q Q_hat)/2 +
            # psi_P0(Q_hat) -> minus the entropy of the prior (p log 2 for binary weights), -inf
            # for a continuous prior (as in glm_bayes)
            return -self.p * math.log(2.0) if self.prior == "rademacher" else -math.inf
        Q_hat = self.alpha * A
        _, psi_prior = prior_denoiser(self.prior, Q_hat)
        return float(-0.5 * np.sum(Q * Q_hat) + psi_prior + self.alpha * psi_out)

    def free_entropy(self, x) -> float:
        """``phi`` at the fixed point ``x`` (``Q_hat`` from the state evolution at ``Q``)."""
        Q, A, psi, _, _ = self._out(x)
        return self._free_entropy(Q, A, psi)

    def free_entropy_at(self, Q, Q_hat) -> float:
        """The replica-symmetric potential ``-tr(Q Q_hat)/2 + psi_P0(Q_hat) + alpha Psi_out(Q)`` at
        any ``(Q, Q_hat)`` (its stationary points are the fixed points)."""
        Q = np.asarray(Q, dtype=float)
        _, psi_out, _, _ = self._target.se(Q, self.noise)
        _, psi_prior = prior_denoiser(self.prior, Q_hat)
        return float(-0.5 * np.sum(Q * Q_hat) + psi_prior + self.alpha * psi_out)

    def simulate(self, d: int, seed: int) -> dict[str, float]:
        """GAMP on one instance of size ``d`` (:mod:`equations._simulate.gamp_multi`)."""
        from ._simulate.gamp_multi import simulate_multi_index
        return simulate_multi_index(self, d, seed)


# ----------------------------------------------------------------------------- subspaces


def subspaces(target, p: int | None = None, *, noise: float = 0.0, prior: str = "gaussian",
              alpha_max: float = 20.0, tol: float = 1e-6) -> dict:
    """Classify the directions of ``R^p`` for a target into trivial / easy / hard.

    Following Troiani et al. (2024), "grand staircase":

    * ``trivial``: the range of ``E_y[E[z|y] E[z|y]^T]`` (``E[z | y] != 0``): learned at any
      ``alpha > 0``;
    * ``easy``: directions learned at a finite ``alpha <= alpha_max`` by the state evolution
      started uninformed (either by the instability of ``Q = 0``, at ``alpha_c``, or by their
      coupling to directions already learned, the staircase);
    * ``hard``: the rest (not learned up to ``alpha_max``).

    Returns
    -------
    dict
        ``{"trivial": (k, p) array, "easy": (k, p) array, "hard": (k, p) array}`` of orthonormal
        rows, and ``"alpha"``: for each easy direction, the ``alpha`` at which its eigenvalue of
        ``Q`` first exceeds ``tol`` along the sweep (``alpha_c`` of the stability threshold when
        ``Q = 0`` is a fixed point).
    """
    import fixedpoint

    if isinstance(target, Target):
        p = target.p
    model = MultiIndex(target=target, p=p, prior=prior, alpha=1.0, noise=noise)
    p = model.p
    A0, _ = model._trivial()
    lam, U = np.linalg.eigh(A0)
    big = lam > tol * max(1.0, float(lam.max(initial=0.0)))
    trivial = U[:, big].T
    # sweep alpha from small to alpha_max from the uninformed start, following the branch
    alphas = np.geomspace(1e-2, alpha_max, 40)
    learned = trivial.copy()
    easy, alpha_of = [], []
    sw = fixedpoint.sweep(model, "alpha", alphas, start="uninformed")
    for a, x, ok in zip(alphas, sw.x, sw.converged):
        if not ok:
            continue
        Q = unpack(np.asarray(x), p)
        # directions of Q outside the span of those already learned
        P = np.eye(p) - (learned.T @ learned if learned.size else 0.0)
        ev, vec = np.linalg.eigh(P @ Q @ P)
        for k in np.argsort(-ev):
            if ev[k] > tol:
                v = vec[:, k]
                easy.append(v)
                alpha_of.append(float(a))
                learned = np.vstack([learned, v[None, :]]) if learned.size else v[None, :]
                P = np.eye(p) - learned.T @ learned
    ranges = np.vstack([trivial] + [np.array(easy).reshape(-1, p)]) if (trivial.size or easy) else np.zeros((0, p))
    if ranges.size:
        Qr, _ = np.linalg.qr(ranges.T, mode="complete")
        hard = Qr[:, ranges.shape[0]:].T
    else:
        hard = np.eye(p)
    return {"trivial": trivial.reshape(-1, p), "easy": np.array(easy).reshape(-1, p),
            "hard": hard.reshape(-1, p), "alpha": alpha_of}
