r"""Your own output channel (``glm_bayes``) or training loss (``glm_erm``), without editing the package.

The user writes a few scalar functions, compiled by Numba as C callbacks with a FIXED signature;
the toolkit supplies the Gaussian integrals, the state evolution, the free entropy, the replica
hats of ERM and the simulators. Example (a probit channel with label flips, the tutorial
``notebooks/custom_channel.ipynb``)::

    # my_channels.py  (a module of yours: its cfuncs are cached on disk and pickle by reference)
    import math
    from equations import custom

    @custom.likelihood
    def flip_probit(y, z, noise, theta):           # P_out(y | z), y = +-1
        return theta + (1 - 2 * theta) * 0.5 * math.erfc(-y * z / math.sqrt(2 * noise))

    # anywhere
    ch = custom.CustomChannel(likelihood=flip_probit, labels="binary", theta=0.1, width=math.sqrt(0.2))
    model = equations.get("glm_bayes", channel=ch, noise=0.2, alpha=3.0)
    fixedpoint.solve(model); model.simulate(d=2000, seed=0)

Why C callbacks (the Numba rules of DESIGN.md). A toolkit kernel ``@njit(cache=True)`` that
took the user's function as a Numba *dispatcher* argument would be specialised on that function:
compiled again for every user function, and (the dispatcher type not being cacheable across
processes) again in every process, i.e. in every worker of a parallel phase diagram. Instead the
kernels here take a *first-class function* argument, typed by its signature only
(``FunctionType[float64(float64, float64, float64, float64)]``): Numba compiles each toolkit
kernel once per signature, caches it on disk like every other kernel, and calls the user's
function through its address. The user's ``numba.cfunc(signature, cache=True)`` is cached on
disk too. Measured (``benchmarks/bench_custom.py``): the first solve in a fresh process with an
empty cache compiles the kernels once; a second process loads everything from the cache. So the
decorators below are ``cfunc`` with the signature fixed and ``cache=True``, and the wrappers
refuse plain Python functions and ``njit`` dispatchers (``ValueError`` naming the argument).

Signatures (all ``float64``)::

    likelihood / log_likelihood   (y, z, noise, theta)      -> P_out(y | z)  or  log P_out(y | z)
    loss, dloss, d2loss           (y, z, theta)             -> loss, d loss / dz, d^2 loss / dz^2
    prox (optional)               (y, omega, V, theta)      -> argmin_z loss(y, z) + (z - omega)^2 / (2V)

``noise`` is the ``noise`` parameter of the model (so that sweeps and phase diagrams over it work
as for the built-in channels: the channel object is a template whose noise the model sets),
``theta`` one free parameter of the channel or loss (e.g. a flip probability, a margin, a Huber
threshold). A cfunc must return a finite value wherever it is evaluated: an exception inside a
cfunc (e.g. a division by zero) is printed and the call returns 0. The likelihood's
normalisation is checked at its first use (``sum_y P_out(y | z) = 1`` at ``z`` in ``[-3, 3]``).

Channel numerics (:class:`CustomChannel`). ``Z_out(y; omega, V) = E_{z ~ N(omega, V)} P_out(y | z)``
and the posterior moments of ``z`` (hence ``g_out = (E[z|y] - omega) / V`` and ``d g_out / d
omega = (Var[z|y] / V - 1) / V``) are Gauss-Hermite sums over ``n_nodes`` nodes ``z = omega +
sqrt(V) x_i``, in log space (log-sum-exp). The state-evolution integrals of
:mod:`equations.channels`, at ``omega ~ N(0, q)``::

    hat = E_omega sum_y Z_out g_out^2,     psi = E_omega sum_y Z_out log Z_out

use a second Gauss-Hermite rule (``n_nodes``) in ``omega``; the label sum is exact for binary
labels (``y = +-1``) and a composite 16-node Gauss-Legendre rule on ``y_range`` (``y_panels``
panels) for real labels. Accuracy regime: the rules converge exponentially for likelihoods that
are smooth on the scale of ``sqrt(V)`` and ``sqrt(q)``, e.g. a probit of width ``sqrt(noise)``:
with 64 nodes the probit re-implementation of the built-in ``sign`` channel agrees with its
exact reduction to ~1e-12 at ``noise = 0.5`` but only to 1e-5 - 1e-2 at ``noise <= 0.1``
near ``q = rho``: a Gauss-Hermite rule cannot resolve a likelihood narrower than its node
spacing. Give then the likelihood's scale ``width`` (e.g. ``sqrt(noise)``): the rules become
composite Gauss-Legendre panels on that scale, and the probit agrees with the built-in ``sign``
to ~1e-14 for ``noise`` from 0.01 to 0.5 (2-30 ms per evaluation, vs 15 us for the built-in
reduction). A step (``noise = 0``) converges only algebraically: use a built-in channel there. At ``V = 0`` (``q = rho``) ``psi`` is ``E_z sum_y P log P`` and ``hat`` is
evaluated at ``V = 1e-12 q`` (the Fisher information of the channel, continuous in ``V``).
On the Bayes-optimal line ``V = rho - q`` (:meth:`equations.glm_bayes.GLMBayes.update`) the two
integrals are read, as for the built-in noisy channels, from a lazily built piecewise-Chebyshev
table in ``s = sqrt(V)`` (:func:`equations.channels._se_table`, one per channel object, noise
and ``rho``, breakpoints at ``width (1/8, 1, 8)`` and on the noise's scale): a first solve builds
the one or two pieces it visits (33-65 evaluations of the integrals, ~0.5-1 s for a probit of
``width = sqrt(0.1)``), later solves and sweeps of ``alpha`` read it in microseconds; its
derivative gives the Jacobian. ``glm_bayes(..., integrals="direct")`` evaluates the integrals
instead (for a likelihood outside the accuracy regime above, e.g. a step, whose rounding-level
smoothness the table cannot find: it would bisect its pieces many times before calling the
integrals directly). The Bayes classifier is ``argmax_y Z_out(y; omega, V)``; its error is integrated on
composite Gauss-Legendre panels cut at its decision boundaries (roots found by regula falsi with
the Illinois modification, all at once), since ``min_y Z_out`` has kinks there.

Loss numerics (:class:`CustomLoss`), the replica hats of :mod:`equations.glm_erm`::

    m_hat = alpha E[ d/dz* E_{y|z*} f_out(y, omega) ],  q_hat = alpha E f_out^2,  V_hat = -alpha E d f_out / d omega

with ``z = prox(y, omega, V)`` (the user's, or a bracketed Newton iteration on ``z - omega + V
loss'(y, z) = 0``: its derivative ``1 + V loss'' >= 1`` for a convex loss, and the root lies
between ``omega`` and ``omega - V loss'(y, omega)``), ``f_out = -loss'(y, z)`` (full precision at
large ``V``) and ``d f_out / d omega = -loss''(z) / (1 + V loss''(z))`` (implicit function
theorem: so the loss must be twice differentiable; hinge-like kinks are not supported, use the
built-in ones). Sign teacher: the labels are summed exactly with ``P(y | xi) = H(-y c xi)``
(notation of :mod:`equations.glm_erm`, no symmetry of the loss assumed), the Stein derivative in
``m_hat`` is ``sum_y y f_out(y, omega) N(omega*; 0, V* + noise)``, and ``xi`` is integrated on
composite 16-node Gauss-Legendre panels of width 0.5 over ``[-10, 10]`` cut at ``0`` and ``+-k /
c`` (``k = 1, 2, 4, 8``) where the teacher's step is sharp. Linear teacher: a tensor
Gauss-Hermite rule (``n_nodes^2``) in ``(xi, eta)``, ``y = omega* + sqrt(V* + noise) eta``, Stein
``m_hat = alpha E[eta f_out] / sqrt(V* + noise)``. The energy uses the Moreau envelope
``loss(y, z) + V f_out^2 / 2``. ``simulate`` fits the l2-penalised ERM with L-BFGS on the
cfunc-evaluated loss and gradient, then one Newton step whose Cholesky factor gives ``V =
tr(H^-1) / d``.

Pickling (process pools pickle the model): a :class:`CustomChannel` / :class:`CustomLoss`
pickles its cfuncs BY REFERENCE (module and qualified name, re-imported on unpickling), so the
cfuncs must live at the top level of an importable module for parallel diagrams (a worker
started by "fork" also sees ``__main__``).
"""

from __future__ import annotations

import functools
import importlib
import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np
from numba import cfunc, njit, types
from numba.core.ccallback import CFunc

from fixedpoint.quadrature import H, gauss_hermite, phi

from .channels import Channel

__all__ = [
    "LIKELIHOOD_SIGNATURE", "LOSS_SIGNATURE", "PROX_SIGNATURE",
    "likelihood", "log_likelihood", "loss", "prox",
    "CustomChannel", "CustomLoss",
]

#: ``(y, z, noise, theta) -> P_out(y | z)`` (or its log)
LIKELIHOOD_SIGNATURE = types.float64(types.float64, types.float64, types.float64, types.float64)
#: ``(y, z, theta) -> loss(y, z)`` (also its first and second derivatives in ``z``)
LOSS_SIGNATURE = types.float64(types.float64, types.float64, types.float64)
#: ``(y, omega, V, theta) -> argmin_z loss(y, z) + (z - omega)^2 / (2 V)``
PROX_SIGNATURE = types.float64(types.float64, types.float64, types.float64, types.float64)

_LABELS = ("binary", "real")
#: panel width of the composite rules in units of the scale of the integrand (10 nodes per panel):
#: the probit re-implementation of the sign channel agrees with its exact reduction to ~1e-14 for
#: noise in {0.01, 0.05, 0.1, 0.5}, q in {0, 0.3, 0.9, 0.999, 1 - 1e-5} (also with 1.0)
_PANEL = 1.5
_N_GL = 16


def likelihood(fn):
    """Decorator: ``P_out(y | z)`` as ``numba.cfunc(LIKELIHOOD_SIGNATURE, cache=True)``;
    arguments ``(y, z, noise, theta)``."""
    return cfunc(LIKELIHOOD_SIGNATURE, cache=True)(fn)


def log_likelihood(fn):
    """Decorator: ``log P_out(y | z)`` (same signature as :func:`likelihood`); pass it with
    ``CustomChannel(..., log=True)``. Prefer it where ``P_out`` underflows."""
    return cfunc(LIKELIHOOD_SIGNATURE, cache=True)(fn)


def loss(fn):
    """Decorator for ``loss(y, z, theta)`` and its ``z``-derivatives ``dloss``, ``d2loss``:
    ``numba.cfunc(LOSS_SIGNATURE, cache=True)``."""
    return cfunc(LOSS_SIGNATURE, cache=True)(fn)


def prox(fn):
    """Decorator for ``prox(y, omega, V, theta)``: ``numba.cfunc(PROX_SIGNATURE, cache=True)``."""
    return cfunc(PROX_SIGNATURE, cache=True)(fn)


def _check_cfunc(name, f, sig, decorator):
    """``f`` must be a Numba cfunc with signature ``sig``: else a ValueError that says what to do."""
    how = (f"decorate it with @equations.custom.{decorator} (numba.cfunc with the signature {sig} and "
           f"cache=True)")
    if isinstance(f, CFunc):
        if f._sig != sig:
            raise ValueError(f"{name} has the signature {f._sig}, expected {sig}: {how}")
        return f
    if hasattr(f, "py_func") and hasattr(f, "signatures"):
        raise ValueError(f"{name} is a numba.njit dispatcher: {how}. A dispatcher argument would make Numba "
                         f"compile the toolkit's kernels again for every function and in every process")
    raise ValueError(f"{name} must be a Numba cfunc, got {f!r}: {how}")


def _real(name, value, low=None, *, strict=False):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value <= low if strict else value < low):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {low}, got {value!r}")
    return value


def _count(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def _ref(f):
    """``(module, qualname)`` of a cfunc: how it pickles."""
    return (f._pyfunc.__module__, f._pyfunc.__qualname__)


def _deref(ref):
    if ref is None:
        return None
    module, qualname = ref
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _fname(f):
    return "None" if f is None else ".".join(_ref(f)) if isinstance(f, CFunc) else repr(f)


def _gl_panels(edges):
    """Composite 16-node Gauss-Legendre nodes and weights on the panels between sorted ``edges``."""
    x, w = np.polynomial.legendre.leggauss(_N_GL)
    a = np.asarray(edges[:-1], float)[:, None]
    b = np.asarray(edges[1:], float)[:, None]
    return (np.ascontiguousarray((0.5 * (a + b) + 0.5 * (b - a) * x).ravel()),
            np.ascontiguousarray((0.5 * (b - a) * w).ravel()))


@functools.lru_cache(maxsize=256)
def _gauss_panels(n_panels):
    """``N(0, 1)`` rule: 10-node Gauss-Legendre on ``n_panels`` equal panels over ``[-9, 9]``
    (the mass beyond is ``2e-19``), weights times the density."""
    x, w = np.polynomial.legendre.leggauss(10)
    e = np.linspace(-9.0, 9.0, n_panels + 1)
    a = e[:-1, None]
    b = e[1:, None]
    xs = (0.5 * (a + b) + 0.5 * (b - a) * x).ravel()
    ws = (0.5 * (b - a) * w).ravel() * np.exp(-0.5 * xs * xs) / math.sqrt(2.0 * math.pi)
    xs = np.ascontiguousarray(xs)
    ws = np.ascontiguousarray(ws)
    xs.flags.writeable = False
    ws.flags.writeable = False
    return xs, ws


# ============================================================================ channel kernels


@njit(cache=True)
def _logp(P, is_log, y, z, noise, theta):
    v = P(y, z, noise, theta)
    if is_log:
        return v
    return math.log(v) if v > 0.0 else -math.inf


@njit(cache=True)
def _zmoments(P, is_log, y, omega, V, noise, theta, xz, wz, buf):
    """``(log Z_out, g_out, d g_out / d omega)`` at ``(y, omega, V)`` by Gauss-Hermite in ``z``
    (log-sum-exp over the nodes); at ``V = 0``: ``(log P_out(y | omega), nan, nan)``."""
    if V == 0.0:
        return _logp(P, is_log, y, omega, noise, theta), math.nan, math.nan
    sV = math.sqrt(V)
    mx = -math.inf
    for i in range(xz.shape[0]):
        lv = _logp(P, is_log, y, omega + sV * xz[i], noise, theta)
        buf[i] = lv
        if lv > mx:
            mx = lv
    if mx == -math.inf:
        return -math.inf, 0.0, 0.0
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    for i in range(xz.shape[0]):
        e = wz[i] * math.exp(buf[i] - mx)
        s0 += e
        s1 += e * xz[i]
        s2 += e * xz[i] * xz[i]
    m1 = s1 / s0
    var = s2 / s0 - m1 * m1
    return mx + math.log(s0), m1 / sV, (var - 1.0) / V


@njit(cache=True)
def _zout_vec(P, is_log, y, omega, V, noise, theta, xz, wz, lz, g, dg):
    buf = np.empty(xz.shape[0])
    for k in range(y.shape[0]):
        lz[k], g[k], dg[k] = _zmoments(P, is_log, y[k], omega[k], V[k], noise, theta, xz, wz, buf)


@njit(cache=True)
def _eval_vec(P, is_log, y, z, noise, theta, out):
    """``P_out(y_k | z_k)`` (not its log) at arrays."""
    for k in range(y.shape[0]):
        out[k] = math.exp(_logp(P, is_log, y[k], z[k], noise, theta))


@njit(cache=True)
def _se_kernel(P, is_log, q, V, noise, theta, xo, wo, xz, wz, ys, yw):
    """``(E g^2, E int dy Z log Z, E Var(y | omega))`` at ``omega ~ N(0, q)`` (``xo, wo``), labels on
    the rule ``(ys, yw)`` (``y = +-1`` with unit weights for binary labels)."""
    buf = np.empty(xz.shape[0])
    sq = math.sqrt(q)
    hat = 0.0
    psi = 0.0
    gen = 0.0
    for j in range(xo.shape[0]):
        om = sq * xo[j]
        t0 = 0.0
        t1 = 0.0
        t2 = 0.0
        for k in range(ys.shape[0]):
            lz, g, _ = _zmoments(P, is_log, ys[k], om, V, noise, theta, xz, wz, buf)
            if lz == -math.inf:
                continue
            Z = yw[k] * math.exp(lz)
            if V > 0.0:
                hat += wo[j] * Z * g * g
            psi += wo[j] * Z * lz
            t0 += Z
            t1 += Z * ys[k]
            t2 += Z * ys[k] * ys[k]
        if t0 > 0.0:
            gen += wo[j] * (t2 / t0 - (t1 / t0) ** 2)
    return hat, psi, gen


@njit(cache=True)
def _mean_vec(P, is_log, omega, V, noise, theta, xz, wz, ys, yw, out):
    """``E[y | omega, V] = int y Z_out dy / int Z_out dy`` on the label rule."""
    buf = np.empty(xz.shape[0])
    for j in range(omega.shape[0]):
        t0 = 0.0
        t1 = 0.0
        for k in range(ys.shape[0]):
            lz, _, _ = _zmoments(P, is_log, ys[k], omega[j], V, noise, theta, xz, wz, buf)
            Z = yw[k] * math.exp(lz)
            t0 += Z
            t1 += Z * ys[k]
        out[j] = t1 / t0 if t0 > 0.0 else math.nan


# ============================================================================ CustomChannel


@dataclass(frozen=True, repr=False, kw_only=True)
class CustomChannel(Channel):
    """A channel ``P_out(y | z)`` given as a Numba cfunc (module docstring).

    Parameters
    ----------
    likelihood : numba cfunc
        ``(y, z, noise, theta) -> P_out(y | z)`` (``log=False``) or ``log P_out(y | z)``
        (``log=True``), made with :func:`likelihood` / :func:`log_likelihood`. A probability for
        binary labels (``P(+1 | z) + P(-1 | z) = 1``), a density in ``y`` for real labels.
    labels : {"binary", "real"}
        ``y = +-1`` (classification) or real ``y`` (regression).
    theta : float
        Free parameter passed to the cfuncs.
    log : bool
        Whether ``likelihood`` returns ``log P_out``.
    sampler : callable, optional
        ``sampler(z, rng, noise, theta) -> y`` (numpy arrays) for :meth:`sample` (the simulator).
        Not needed for binary labels (drawn from ``P_out(+1 | z)``); required for real ones.
    n_nodes : int
        Gauss-Hermite order of the ``z`` and the ``omega`` rules (8 to 400), when ``width`` is None.
    width : float, optional
        The scale in ``z`` on which ``P_out(y | z)`` varies (``sqrt(noise)`` for a probit). Given,
        the ``z`` and ``omega`` rules are composite 10-node Gauss-Legendre panels over ``+-9``
        standard deviations whose width is at most ``1.5 width`` (``z``) and ``1.5 sqrt(V +
        width^2)`` (``omega``: the scale of ``Z_out``), and 1 standard deviation:
        needed when ``width`` is small against ``sqrt(V)`` or ``sqrt(q)``, where a Gauss-Hermite
        rule cannot resolve the likelihood (errors 1e-5 to 1e-2 for a probit with ``noise <=
        0.1`` near ``q = rho``).
    y_range : (float, float)
        Real labels: the interval outside which ``P_out(y | z)`` is negligible for ``|z| <=
        6 sqrt(rho)`` (checked: ``int P_out dy = 1`` to 1e-6 at ``z`` in ``[-3, 3]``).
    y_panels : int
        Real labels: Gauss-Legendre panels (16 nodes each) on ``y_range``.
    noise : float
        Set by the model (``glm_bayes``'s ``noise``), passed to the cfunc.
    """

    likelihood: object = None
    labels: str = "binary"
    theta: float = 0.0
    log: bool = False
    sampler: object = None
    n_nodes: int = 64
    width: float | None = None
    y_range: tuple | None = None
    y_panels: int = 32

    name: ClassVar[str] = "custom"
    #: the integrals cost milliseconds (~10^5-10^6 calls of the cfunc): :meth:`se_bayes` reads
    #: them from a lazily built table, as for the built-in noisy channels
    expensive: ClassVar[bool] = True

    def __post_init__(self):
        if isinstance(self.noise, CFunc):
            raise ValueError("likelihood must be given by keyword, CustomChannel(likelihood=f, ...) (the first "
                             "positional field of a channel is its noise)")
        super().__post_init__()
        _check_cfunc("likelihood", self.likelihood, LIKELIHOOD_SIGNATURE,
                     "log_likelihood" if self.log else "likelihood")
        if self.labels not in _LABELS:
            raise ValueError(f"labels must be one of {', '.join(_LABELS)}; got {self.labels!r}")
        if not isinstance(self.log, (bool, np.bool_)):
            raise ValueError(f"log must be True or False, got {self.log!r}")
        object.__setattr__(self, "theta", _real("theta", self.theta))
        _count("n_nodes", self.n_nodes, 8, 400)
        if self.width is not None:
            object.__setattr__(self, "width", _real("width", self.width, 0.0, strict=True))
        _count("y_panels", self.y_panels, 1, 10_000)
        if self.sampler is not None and not callable(self.sampler):
            raise ValueError(f"sampler must be a callable sampler(z, rng, noise, theta), got {self.sampler!r}")
        binary = self.labels == "binary"
        object.__setattr__(self, "classification", binary)
        if binary:
            ys, yw = np.array([1.0, -1.0]), np.ones(2)
        else:
            if self.y_range is None:
                raise ValueError("y_range must be given for real labels: the interval (lo, hi) outside which "
                                 "P_out(y | z) is negligible")
            try:
                lo, hi = (float(v) for v in self.y_range)
            except (TypeError, ValueError):
                raise ValueError(f"y_range must be a pair of numbers (lo, hi), got {self.y_range!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"y_range must be finite with lo < hi, got {self.y_range!r}")
            object.__setattr__(self, "y_range", (lo, hi))
            ys, yw = _gl_panels(np.linspace(lo, hi, self.y_panels + 1))
        object.__setattr__(self, "_yrule", (ys, yw))
        object.__setattr__(self, "_checked", False)

    # ------------------------------------------------------------------ internals
    def _check(self):
        """A likelihood must be normalised (catches a wrong formula, a too short ``y_range``, a log
        likelihood passed without ``log=True``): checked at the first use, at the model's noise
        (the channel object itself may be a template with ``noise = 0``, where e.g. a probit is
        singular)."""
        if self._checked:
            return
        ys, yw = self._yrule
        binary = self.labels == "binary"
        zs = np.linspace(-3.0, 3.0, 7)
        tot = np.array([float(np.sum(yw * self._p(ys, np.full(ys.shape, z)))) for z in zs])
        tol = 1e-10 if binary else 1e-6
        if not np.all(np.abs(tot - 1.0) <= tol):
            raise ValueError(f"likelihood is not normalised at noise={self.noise}, theta={self.theta}: sum_y P_out(y|z) "
                             f"= {tot} at z = {zs} (check the formula, log={self.log}"
                             + ("" if binary else ", and that y_range covers the labels") + ")")
        object.__setattr__(self, "_checked", True)

    def _p(self, y, z):
        y, z = np.broadcast_arrays(np.asarray(y, float), np.asarray(z, float))
        out = np.empty(y.size)
        _eval_vec(self.likelihood, bool(self.log), np.ascontiguousarray(y.ravel()), np.ascontiguousarray(z.ravel()),
                  float(self.noise), self.theta, out)
        return out.reshape(y.shape)

    def _rule(self, sd, scale):
        """``N(0, 1)`` rule for a Gaussian average of standard deviation ``sd`` of a function that
        varies on the scale ``scale`` (module docstring): panels at most ``1.5 scale / sd`` wide."""
        if self.width is None:
            return gauss_hermite(self.n_nodes)
        h = min(1.0, _PANEL * scale / sd) if sd > 0 else 1.0
        return _gauss_panels(math.ceil(18.0 / h))

    def _rules(self, q, V):
        # the z-average smooths the likelihood: in omega, Z_out varies on the scale sqrt(V + width^2)
        w2 = self.width**2 if self.width is not None else 0.0
        return (*self._rule(math.sqrt(q), math.sqrt(V + w2)), *self._rule(math.sqrt(V), self.width))

    def _se3(self, q, V, rules=None):
        self._check()
        return _se_kernel(self.likelihood, bool(self.log), float(q), float(V), float(self.noise), self.theta,
                          *(rules or self._rules(q, V)), *self._yrule)

    def _tabulates(self, tabulated):
        # on the Bayes-optimal line the integrals are smooth functions of s = sqrt(rho - q) for a
        # likelihood the rules resolve (the accuracy regime above), with or without noise
        return tabulated

    def _table_breakpoints(self, rho):
        # the integrals change regime where sqrt(V) crosses the likelihood's scale width
        return {c * self.width for c in (0.125, 1.0, 8.0)} if self.width is not None else set()

    def se_bayes_derivative(self, q, rho, tabulated=True):
        """``d hat / d q`` along ``V = rho - q``: with ``tabulated`` (the default) the table's
        Chebyshev derivative (:meth:`equations.channels.Channel.se_bayes_derivative`); otherwise
        by finite differences with the quadrature rules of
        the centre point held fixed (the panel counts depend on ``q`` and ``V``: a switch inside
        the stencil would add its jump divided by the step). The integrals are sums of up to 10^6
        terms, with a rounding noise of ~1e-14 relative: the built-in step ``1e-5 V`` would turn
        it into 1e-5 errors, so a fourth-order central difference with step ``1e-3 min(rho, V)``
        is used (truncation ~1e-12 relative), second-order one-sided with step ``1e-4 min(rho,
        V)`` next to ``q = 0``."""
        q = float(q)
        rho = float(rho)
        V = rho - q
        if not V > 0.0:
            raise ValueError(f"q must be below rho (the derivative diverges at V = 0), got q={q}, rho={rho}")
        if self._tabulates(tabulated):
            return Channel.se_bayes_derivative(self, q, rho, tabulated)
        rules = self._rules(q, V)

        def hat(t):
            return self._se3(t, rho - t, rules)[0]

        h = 1e-3 * min(rho, V)
        if q - 2.0 * h >= 0.0:
            return (8.0 * (hat(q + h) - hat(q - h)) - (hat(q + 2.0 * h) - hat(q - 2.0 * h))) / (12.0 * h)
        h = 1e-4 * min(rho, V)
        return (-3.0 * hat(q) + 4.0 * hat(q + h) - hat(q + 2.0 * h)) / (2.0 * h)

    # ------------------------------------------------------------------ Channel API
    def z_out(self, y, omega, V):
        y, omega, V = np.broadcast_arrays(np.asarray(y, float), np.asarray(omega, float), np.asarray(V, float))
        shape = y.shape
        n = y.size
        self._check()
        lz, g, dg = np.empty(n), np.empty(n), np.empty(n)
        x, w = self._rule(math.sqrt(float(V.max())) if n else 1.0, self.width)
        _zout_vec(self.likelihood, bool(self.log), np.ascontiguousarray(y.ravel()),
                  np.ascontiguousarray(omega.ravel()), np.ascontiguousarray(V.ravel()), float(self.noise),
                  self.theta, x, w, lz, g, dg)
        return lz.reshape(shape), g.reshape(shape), dg.reshape(shape)

    def _se(self, q, V):
        hat, psi, _ = self._se3(q, V)
        return hat, psi

    def _se_perfect(self, q):
        # V = 0: Z_out = P_out; hat -> the Fisher information, continuous in V: take V = 1e-12 q
        # (cached: the mutual information needs it at every evaluation of the observables)
        return _custom_perfect(self, float(q))

    def bayes_gen_error(self, q, V):
        q = float(q)
        V = float(V)
        if self.labels == "real":
            return float(self._se3(q, V)[2])
        # P(y != argmax_y Z_out(y; omega, V)) = E_omega min(Z_out(+1), Z_out(-1)), omega = sqrt(q) u
        sq = math.sqrt(q)

        def logs(u):
            # log Z_out(+1) and log Z_out(-1) at omega = sqrt(q) u, in one call of the kernel
            u = np.atleast_1d(np.asarray(u, float))
            n = u.size
            lz, _, _ = self.z_out(np.concatenate([np.ones(n), -np.ones(n)]), np.concatenate([sq * u, sq * u]), V)
            return lz[:n], lz[n:]

        def diff(u):
            lp, lm = logs(u)
            return lp - lm

        grid = np.linspace(-10.0, 10.0, 401)
        d = diff(grid)
        idx = np.flatnonzero(np.sign(d[:-1]) != np.sign(d[1:]))
        edges = [-10.0, 10.0]
        if idx.size:
            # the kinks of min_y Z_out, all brackets at once: regula falsi with the Illinois
            # modification (superlinear; the bracket always holds the root), to rounding
            a, b = grid[idx].copy(), grid[idx + 1].copy()
            fa, fb = d[idx].copy(), d[idx + 1].copy()
            side = np.zeros(idx.size)
            done = np.zeros(idx.size, dtype=bool)
            for _ in range(100):
                with np.errstate(invalid="ignore", divide="ignore"):  # (brackets already closed)
                    c = (a * fb - b * fa) / (fb - fa)
                c = np.where((c > a) & (c < b), c, 0.5 * (a + b))
                fc = diff(c)
                zero = fc == 0.0
                same_b = (np.sign(fc) == np.sign(fb)) & ~zero & ~done  # c replaces b
                same_a = ~same_b & ~zero & ~done  # c replaces a
                fa = np.where(same_b & (side == -1.0), 0.5 * fa, fa)  # Illinois: a retained twice
                fb = np.where(same_a & (side == 1.0), 0.5 * fb, fb)
                b, fb = np.where(same_b, c, b), np.where(same_b, fc, fb)
                a, fa = np.where(same_a, c, a), np.where(same_a, fc, fa)
                side = np.where(same_b, -1.0, np.where(same_a, 1.0, side))
                a, b = np.where(zero & ~done, c, a), np.where(zero & ~done, c, b)
                done |= zero | (b - a <= 4e-16 * np.maximum(1.0, np.abs(b)))
                if done.all():
                    break
            edges.extend(0.5 * (a + b))
        edges = np.unique(np.concatenate([edges, np.linspace(-10.0, 10.0, 81)]))
        u, w = _gl_panels(edges)
        lp, lm = logs(u)
        return float(np.sum(w * np.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi) * np.exp(np.minimum(lp, lm))))

    def predict(self, omega, V):
        omega = np.asarray(omega, float)
        if self.labels == "binary":
            lp, _, _ = self.z_out(1.0, omega, V)
            lm, _, _ = self.z_out(-1.0, omega, V)
            return np.where(lp >= lm, 1.0, -1.0)
        out = np.empty(omega.size)
        x, w = self._rule(math.sqrt(float(V)), self.width)
        _mean_vec(self.likelihood, bool(self.log), np.ascontiguousarray(omega.ravel()), float(V), float(self.noise),
                  self.theta, x, w, *self._yrule, out)
        return out.reshape(omega.shape)

    def sample(self, z, rng):
        z = np.asarray(z, float)
        if self.sampler is not None:
            return np.asarray(self.sampler(z, rng, float(self.noise), self.theta), float)
        if self.labels == "real":
            raise ValueError("sampler: real labels need sampler(z, rng, noise, theta) to be simulated")
        self._check()
        p_plus = self._p(np.ones(z.shape), z)
        return np.where(rng.random(z.shape) < p_plus, 1.0, -1.0)

    # ------------------------------------------------------------------ repr, pickle
    def __repr__(self):
        out = [f"likelihood={_fname(self.likelihood)}", f"labels={self.labels!r}", f"noise={self.noise!r}",
               f"theta={self.theta!r}"]
        if self.log:
            out.append("log=True")
        if self.sampler is not None:
            out.append(f"sampler={getattr(self.sampler, '__qualname__', self.sampler)}")
        out.append(f"n_nodes={self.n_nodes}" if self.width is None else f"width={self.width!r}")
        if self.labels == "real":
            out.append(f"y_range={self.y_range!r}, y_panels={self.y_panels}")
        return f"CustomChannel({', '.join(out)})"

    def __reduce__(self):
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        kw["likelihood"] = _ref(self.likelihood)
        return _rebuild, (CustomChannel, kw, ("likelihood",))


@functools.lru_cache(maxsize=256)
def _custom_perfect(channel, q):
    _, psi, _ = channel._se3(q, 0.0)
    hat = channel._se3(q * (1.0 - 1e-12), 1e-12 * q)[0] if q > 0 else 0.0
    return hat, psi


def _rebuild(cls, kw, refs):
    """Unpickle: re-import the cfuncs named in ``refs``."""
    kw = dict(kw)
    for k in refs:
        kw[k] = _deref(kw[k])
    return cls(**kw)


# ============================================================================ loss kernels


def _nan_prox(y, omega, V, theta):
    return math.nan


@functools.lru_cache(maxsize=1)
def _no_prox():
    """The prox argument when the user gives none (never called: ``has_prox`` is False); compiled
    at first use, not at import (``equations.glm_erm`` imports this module)."""
    return cfunc(PROX_SIGNATURE, cache=True)(_nan_prox)


@njit(cache=True)
def _prox_newton(dl, d2l, y, omega, V, theta):
    """Root of ``z - omega + V loss'(y, z)``: Newton safeguarded by bisection in the bracket
    between ``omega`` and ``omega - V loss'(y, omega)`` (convex loss: the function increases with
    slope ``1 + V loss'' >= 1``)."""
    g0 = dl(y, omega, theta)
    if g0 == 0.0:
        return omega
    end = omega - V * g0
    lo = min(omega, end)
    hi = max(omega, end)
    z = omega - V * g0 / (1.0 + V * d2l(y, omega, theta))
    if not (lo <= z <= hi):
        z = 0.5 * (lo + hi)
    for _ in range(200):
        g = z - omega + V * dl(y, z, theta)
        if g > 0.0:
            hi = z
        elif g < 0.0:
            lo = z
        else:
            return z
        znew = z - g / (1.0 + V * d2l(y, z, theta))
        if not (lo < znew < hi):
            znew = 0.5 * (lo + hi)
        if abs(znew - z) <= 4e-16 * max(1.0, abs(z)) or hi - lo <= 4e-16 * max(1.0, abs(z)):
            return znew
        z = znew
    return z


@njit(cache=True)
def _prox_f(ls, dl, d2l, pr, has_prox, y, omega, V, theta):
    """``(z, f_out, d f_out / d omega, loss(y, z))`` at the proximal point."""
    z = pr(y, omega, V, theta) if has_prox else _prox_newton(dl, d2l, y, omega, V, theta)
    c = d2l(y, z, theta)
    return z, -dl(y, z, theta), -c / (1.0 + V * c), ls(y, z, theta)


@njit(cache=True, error_model="numpy")
def _erm_sign(ls, dl, d2l, pr, has_prox, theta, m, q, V, rho, noise, xs, ws):
    """Sign teacher: ``[I_m, I_q, I_V, train_loss, moreau, train_error]`` (glm_erm's layout) on the
    ``xi`` rule ``(xs, ws)`` (weights without the Gaussian density)."""
    res = np.zeros(6)
    if not (q >= 0.0 and V > 0.0):
        res[:] = np.nan
        return res
    sq = math.sqrt(q)
    mq = m / sq if q > 0.0 else 0.0
    s = max(rho - mq * mq, 0.0) + noise
    s = max(s, 1e-30 * rho)
    c = mq / math.sqrt(s)
    dens = 1.0 / math.sqrt(2.0 * math.pi * s)
    for j in range(xs.shape[0]):
        xi = xs[j]
        wt = ws[j] * phi(xi)
        st = dens * math.exp(-0.5 * c * c * xi * xi)
        for y in (1.0, -1.0):
            z, f, df, ell = _prox_f(ls, dl, d2l, pr, has_prox, y, sq * xi, V, theta)
            p = H(-y * c * xi)
            res[0] += wt * y * f * st
            res[1] += wt * p * f * f
            res[2] -= wt * p * df
            res[3] += wt * p * ell
            res[4] += wt * p * (ell + 0.5 * V * f * f)
            if y * z < 0.0:
                res[5] += wt * p
    return res


@njit(cache=True, error_model="numpy")
def _erm_linear(ls, dl, d2l, pr, has_prox, theta, m, q, V, rho, noise, xg, wg):
    """Linear teacher ``y = z* + sqrt(noise) xi'``: tensor Gauss-Hermite in ``(xi, eta)``."""
    res = np.zeros(6)
    if not (q >= 0.0 and V > 0.0):
        res[:] = np.nan
        return res
    sq = math.sqrt(q)
    mq = m / sq if q > 0.0 else 0.0
    s = max(rho - mq * mq, 0.0) + noise
    s = max(s, 1e-30 * rho)
    ss = math.sqrt(s)
    for i in range(xg.shape[0]):
        om = sq * xg[i]
        for j in range(xg.shape[0]):
            wt = wg[i] * wg[j]
            y = mq * xg[i] + ss * xg[j]
            _, f, df, ell = _prox_f(ls, dl, d2l, pr, has_prox, y, om, V, theta)
            res[0] += wt * xg[j] * f / ss
            res[1] += wt * f * f
            res[2] -= wt * df
            res[3] += wt * ell
            res[4] += wt * (ell + 0.5 * V * f * f)
    res[5] = math.nan
    return res


@njit(cache=True)
def _loss_vec(f, y, z, theta, out):
    for k in range(y.shape[0]):
        out[k] = f(y[k], z[k], theta)


# ============================================================================ CustomLoss


@dataclass(frozen=True, repr=False)
class CustomLoss:
    """A convex, twice differentiable training loss given as Numba cfuncs (module docstring).

    Parameters
    ----------
    loss, dloss, d2loss : numba cfunc
        ``(y, z, theta) ->`` the loss, its first and its second derivative in ``z``
        (:func:`loss` decorator).
    prox : numba cfunc, optional
        ``(y, omega, V, theta) -> argmin_z loss(y, z) + (z - omega)^2 / (2V)`` (:func:`prox`);
        default: a bracketed Newton iteration on ``dloss``, ``d2loss``.
    theta : float
        Free parameter passed to the cfuncs.
    labels : {"binary", "real"}
        The teacher ``glm_erm`` uses by default: ``sign`` (binary) or ``linear`` (real).
    n_nodes : int
        Gauss-Hermite order per dimension of the linear teacher's ``(xi, eta)`` rule (8 to 400).
    """

    loss: object = None
    dloss: object = None
    d2loss: object = None
    prox: object = None
    theta: float = 0.0
    labels: str = "real"
    n_nodes: int = 64

    _CFUNCS: ClassVar[tuple[str, ...]] = ("loss", "dloss", "d2loss", "prox")

    def __post_init__(self):
        for k in ("loss", "dloss", "d2loss"):
            _check_cfunc(k, getattr(self, k), LOSS_SIGNATURE, "loss")
        if self.prox is not None:
            _check_cfunc("prox", self.prox, PROX_SIGNATURE, "prox")
        if self.labels not in _LABELS:
            raise ValueError(f"labels must be one of {', '.join(_LABELS)}; got {self.labels!r}")
        object.__setattr__(self, "theta", _real("theta", self.theta))
        _count("n_nodes", self.n_nodes, 8, 400)

    def _fns(self):
        pr = self.prox if self.prox is not None else _no_prox()
        return self.loss, self.dloss, self.d2loss, pr, self.prox is not None

    def integrals(self, channel, m, q, V, rho, noise):
        """``[I_m, I_q, I_V, train_loss, moreau, train_error]`` for the teacher ``channel``
        (``"sign"`` or ``"linear"``), as the built-in kernels of :mod:`equations.glm_erm`."""
        m, q, V, rho, noise = (float(v) for v in (m, q, V, rho, noise))
        if channel == "sign":
            sq = math.sqrt(max(q, 0.0))
            mq = m / sq if q > 0 else 0.0
            c = mq / math.sqrt(max(max(rho - mq * mq, 0.0) + noise, 1e-30 * rho))
            edges = {*np.linspace(-10.0, 10.0, 41)}
            if c != 0.0:
                edges |= {s * k / abs(c) for k in (1.0, 2.0, 4.0, 8.0) for s in (-1.0, 1.0) if k / abs(c) < 10.0}
            xs, ws = _gl_panels(np.array(sorted(edges)))
            return _erm_sign(*self._fns(), self.theta, m, q, V, rho, noise, xs, ws)
        x, w = gauss_hermite(self.n_nodes)
        return _erm_linear(*self._fns(), self.theta, m, q, V, rho, noise, x, w)

    def value(self, which, y, z):
        """``loss``, ``dloss`` or ``d2loss`` (``which``) at arrays ``y, z`` (numpy, vectorised)."""
        y, z = np.broadcast_arrays(np.asarray(y, float), np.asarray(z, float))
        out = np.empty(y.size)
        _loss_vec(getattr(self, which), np.ascontiguousarray(y.ravel()), np.ascontiguousarray(z.ravel()),
                  self.theta, out)
        return out.reshape(y.shape)

    def __repr__(self):
        parts = [f"{k}={_fname(getattr(self, k))}" for k in self._CFUNCS if getattr(self, k) is not None]
        return f"CustomLoss({', '.join(parts)}, theta={self.theta!r}, labels={self.labels!r}, n_nodes={self.n_nodes})"

    def __reduce__(self):
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        refs = tuple(k for k in self._CFUNCS if kw[k] is not None)
        for k in refs:
            kw[k] = _ref(kw[k])
        return _rebuild, (CustomLoss, kw, refs)


def erm_step(model, x):
    """``glm_erm``'s map output ``[m, q, V, m_hat, q_hat, V_hat, Psi_w, train_loss, moreau,
    train_err]`` for a model whose ``loss`` is a :class:`CustomLoss`."""
    from .glm_erm import _assemble

    flags, params = model._args
    rho, noise = params[2], params[3]
    I = model.loss.integrals(model.channel, x[0], x[1], x[2], rho, noise)
    return _assemble(flags, params, I)


def simulate_erm(model, d: int, seed: int) -> dict[str, float]:
    """One instance of ``glm_erm`` with a :class:`CustomLoss` and l2 penalty: L-BFGS on the
    cfunc-evaluated loss and gradient, one Newton step, ``V = tr(H^-1) / d`` (the observables of
    :func:`equations._simulate.erm.simulate_erm`)."""
    from scipy.linalg import cho_factor, cho_solve
    from scipy.optimize import minimize

    from ._simulate.erm import sample_instance

    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    if model.penalty != "l2":
        raise ValueError(f"penalty: simulate with a custom loss fits penalty='l2' only, got {model.penalty!r}")
    L = model.loss
    reg = float(model.reg)
    rng = np.random.default_rng(seed)
    A, y, w_star = sample_instance(model.alpha, int(d), model.rho, model.channel, model.noise, rng)
    d = A.shape[1]

    def fun(w):
        z = A @ w
        return float(np.sum(L.value("loss", y, z)) + 0.5 * reg * (w @ w)), A.T @ L.value("dloss", y, z) + reg * w

    w = minimize(fun, np.zeros(d), jac=True, method="L-BFGS-B",
                 options={"maxiter": 20000, "maxcor": 30, "ftol": 0.0, "gtol": 1e-10}).x
    z = A @ w
    Hm = A.T @ (A * L.value("d2loss", y, z)[:, None])
    Hm[np.diag_indices(d)] += reg
    factor = cho_factor(Hm)
    w_new = w - cho_solve(factor, fun(w)[1])
    if fun(w_new)[0] <= fun(w)[0] + 1e-12 * max(1.0, abs(fun(w)[0])):
        w = w_new
    V = float(np.trace(cho_solve(factor, np.eye(d)))) / d
    z = A @ w
    m = float(w @ w_star) / d
    q = float(w @ w) / d
    rho_hat = float(w_star @ w_star) / d
    res = {"m": m, "q": q, "V": V}
    if model.channel == "sign":
        cosang = m / math.sqrt(q * (rho_hat + model.noise)) if q > 0 else 0.0
        res["gen_error"] = math.acos(max(-1.0, min(1.0, cosang))) / math.pi
    else:
        res["gen_error"] = rho_hat + model.noise - 2.0 * m + q
    res["train_loss"] = float(np.mean(L.value("loss", y, z)))
    res["estimation_error"] = float((w - w_star) @ (w - w_star)) / d
    if model.channel == "sign":
        res["train_error"] = float(np.mean(y * z < 0))
    return res
