r"""Subspace clustering: a ``k``-cluster Gaussian mixture with sparse means, Bayes-optimally (``subspace_clustering``).

Data (``d x n``, ``n = alpha d``)::

    Y = sqrt(snr / d) V (U - c)^T + Z,      Z_{i nu} ~ N(0, 1),      c = 1/k (centred) or 0,

``U in {0, 1}^{n x k}`` the one-hot labels of ``n`` points drawn uniformly among ``k`` clusters
(column ``nu`` of ``Y`` is the point ``x_nu = sqrt(snr/d) (v_{c(nu)} - c sum_c' v_c') + z_nu``),
``V in R^{d x k}`` the ``k`` cluster means as columns. The means are sparse with a SHARED
support: each row of ``V`` (one coordinate of all the means) is drawn i.i.d. from::

    P_v(v) = rho N(0, I_k) + (1 - rho) delta_0        (v in R^k),

so the means live in the span of ``rho d`` random coordinates, the relevant subspace of
subspace clustering. This is the model of Pesce, Loureiro, Krzakala, Zdeborova, "Subspace
clustering in high-dimensions: phase transitions & statistical-to-computational gap", NeurIPS
2022 (arXiv 2205.13527), written as the asymmetric low-rank factorisation of Lesieur, Krzakala,
Zdeborova, "Constrained low-rank matrix estimation: phase transitions, approximate message
passing and applications", J. Stat. Mech. 073403 (2017) (their ``UV^T`` framework with ``Delta =
1/snr``), which also gives the dense (``rho = 1``) Gaussian-mixture clustering result of Lesieur,
De Bacco, Banks, Krzakala, Moore, Zdeborova, "Phase transitions and optimal algorithms in
high-dimensional Gaussian mixture clustering", Allerton 2016 (arXiv 1610.02918).

Centred data (``centred=True``, the default) and why it matters. With raw one-hot labels
(``centred=False``) the data's mean ``sqrt(snr/d) sum_c v_c / k`` is learned at every ``snr``, and
because the support is shared it reveals which coordinates carry the means: the centroid channel
then has the eigenvalue ``a1 = alpha snr / k`` on the mean direction ``1/sqrt(k)`` even at zero
overlap, weak recovery is easier, and at small ``rho`` the hard phase can disappear (``k = 2,
rho = 0.05, alpha = 2``: weak recovery at ``rho snr = 0.506`` instead of ``2/sqrt(2)``, and no
informed branch below it, at ``0.5 .. 0.99`` times that ``snr``: the transition is continuous).
The paper's statements (``lambda_alg = k/sqrt(alpha)``, the two-cluster analysis and the authors'
code) are those of the centred model, where that direction is absent (``a1 = 0``): subtract the
data's mean (equivalently, labels ``u = e_c - 1/k``). Then ``k = 2`` is EXACTLY the authors'
antipodal two-cluster model (GitHub ``lucpoisson/SubspaceClustering``, ``AMP_SE/SE_AMP_functions.py``:
``Y = sqrt(snr'/d) w s^T + Z``, ``s = +-1``, ``w`` Gauss-Bernoulli) with ``w = (v_1 - v_2)/sqrt 2``
and ``snr' = snr / 2`` (tested: their printed state-evolution steps and a solve of their scalar
equations).

Normalisation. The paper's ``k``-cluster ``lambda`` is ``rho snr`` (its signal per relevant
coordinate): the trivial point of the centred model loses stability at ``alpha snr^2 rho^2 / k^2
= 1``, i.e. ``lambda_alg = rho snr_alg = k / sqrt(alpha)`` exactly, the paper's value (a
normalisation ``lambda = snr rho sqrt(alpha)`` would make it ``k``). The authors' two-cluster code
uses ``lambda' = rho snr' = rho snr / 2`` (so ``lambda'_alg sqrt(alpha) = 1``); in it their
notebook (``AMP_SE/How_to_AMP_SE.ipynb``, ``alpha = 2``) prints ``lambda'_IT sqrt(alpha) =
0.83633, 0.96337`` and the lower / algorithmic spinodals ``0.81849 / 1.00229, 0.95478 / 1.00811``
at ``rho = 0.09, 0.15``; through the engine we find ``0.83588, 0.96361`` and ``0.81848 / 1.00242,
0.95478 / 1.00814`` (theirs are read off a 100-point grid; tested). Small ``rho`` (centred,
``alpha = 2``): ``lambda_IT sqrt(alpha) / sqrt(-k rho log rho)`` with ``lambda = rho snr`` is
2.50, 2.37, 2.24 (``k = 2``) and 2.80, 2.61, 2.46 (``k = 3``) at ``rho = 0.05, 0.01, 0.001``,
slowly decreasing, and it tends to 2 for every ``k``: at ``alpha = 1`` and ``rho = 1e-4, 1e-6,
1e-8, 1e-10`` it is 2.18, 2.11, 2.08, 2.06 (``k = 2``), 2.37, 2.28, 2.23, 2.20 (``k = 3``) and 2.51,
2.40, 2.33, 2.29 (``k = 4``). So the paper's ``lambda_IT ~ sqrt(-k rho log rho) / sqrt(alpha)``
holds with prefactor 1 in the two-cluster code's normalisation ``lambda / 2``, and with prefactor 2
in the normalisation of its ``lambda_alg = k / sqrt(alpha)``: the two statements are a factor 2
apart. (States at such ``rho`` are of order ``rho``: below ``rho ~ 1e-7`` pass a smaller ``atol``.)

State evolution (Bayes-optimal AMP; Lesieur et al. 2017, sec. 4-5). With the overlaps ``M_v =
V_hat^T V / d`` and ``M_u = U_hat^T U / n`` (``k x k``)::

    A_u = snr M_v,          M_u = E[f_u f_u^T],  f_u = E[u | A_u u + A_u^{1/2} xi]   (labels' prior)
    A_v = alpha snr M_u,    M_v = E[f_v f_v^T],  f_v = E[v | A_v v + A_v^{1/2} xi]   (P_v)

Exact reduction by the symmetry between clusters. The labels sum to one, so ``M_u = (1 - c k)
11^T/k^2 + m_u P`` always (``P = I - 11^T/k``), whatever the state; the centroid channel has the
eigenvalue ``a1 = alpha snr (1 - c k) / k`` on the mean direction. Both priors are invariant
under permutations of the clusters, so the iteration keeps ``M_v = m_par 11^T/k + m P`` from the
starts used here, and the state evolution is the scalar recursion in the between-cluster overlap
``m``::

    a_u = snr m,              m_u = (k p(a_u) - 1) / (k (k - 1)),   p(a) = E softmax_1(a e_1 + sqrt(a) xi)
    a = alpha snr m_u,        (m_par, m) <- centroid channel at eigenvalues (a1, a) on (1, P)

(the integrals: :mod:`equations.mixtures._clustering_kernels`, accurate to ~1e-12; the label side
is tabulated once per ``k``, :class:`fixedpoint.tabulate.LazyChebyshev`, relative accuracy
1e-12). The state is nevertheless the full packed ``M_v`` (``M[i,j]``, ``sol["M"]`` is the ``k x
k`` matrix; ``m_par`` is not an order parameter: it is recomputed from ``m``, and is 0 for
centred data); a state that is not of that form is first averaged over the cluster permutations
(``m = tr(P M) / (k - 1)``): the map is the state evolution on the permutation-invariant
overlaps, which is where the uninformed, informed and trivial points lie and stay.

The trivial point's stability. The Jacobian of the map at ``m = 0`` is::

    d m' / d m = alpha snr^2 E[pi^2] / k^2,

``pi`` the posterior probability that a row is in the support given the mean channel alone
(:meth:`SubspaceClustering.trivial_slope`, a one-dimensional integral). Centred: ``E[pi^2] =
rho^2`` and ``snr_alg = k / (rho sqrt(alpha))``. Raw labels: ``E[pi^2] > rho^2`` at ``a1 = alpha
snr/k`` (the support is seen in the mean), and ``snr_alg`` solves ``alpha snr^2 E[pi^2] = k^2``,
below ``k / (rho sqrt(alpha))``. Dense means (``rho = 1``, both models): Lesieur et al.'s
``snr_alg = k / sqrt(alpha)``, and ``m_u(a) = a/k^2 + (k - 4) a^2 / (2 k^3) + O(a^3)`` (tested)
makes the branch leaving ``m = 0`` bend backwards (a first-order transition, a hard phase) iff
``k > 4 + 2 sqrt(alpha)``: their criterion, confirmed.

Replica-symmetric potential (per row of ``Y``; stationary at the fixed points)::

    phi(m) = psi_v(a1, a) + alpha psi_u(a_u) - alpha snr (k - 1) m_u m / 2,
    psi_v = E log int dP_v(v) exp(v.B - v.A_v v/2),
    psi_u(a) = (k - 1)/2 int_0^a m_u(s) ds     (= the label channel's E log Z less its a-independent part),

the full potential ``psi_v(A_v) + alpha psi_u(A_u) - alpha snr tr(M_u M_v)/2`` in which the
mean-direction terms cancel. Mutual information per row: ``I(U, V; Y)/d = alpha snr rho s / 2 -
phi`` with ``s = 1 - 1/k`` (centred) or 1.

Observables: ``m_v`` (``m``, between-cluster centroid overlap, ``<= rho``), ``m_v_mean``
(``m_par``), ``m_u`` and ``label_overlap`` (``k m_u = (k p - 1)/(k - 1)``, 0 at chance, 1 for
perfect clustering: the normalised posterior probability of the true cluster), ``accuracy``
(probability that the MAP cluster of a point is its true cluster, up to the global relabelling:
``E_x Phi(x + sqrt(a_u))^{k-1}``, ``1/k`` at chance), ``mse`` (per entry of the means, ``rho -
tr M_v / k``; the mean direction is not estimable from centred data), ``free_entropy``,
``mutual_information``.

Thresholds through the engine, in ``snr``: weak recovery ``threshold(model, "snr", bracket,
kind="stability")`` (closed form :meth:`SubspaceClustering.stability_snr`), the algorithmic
spinodal ``kind="spinodal"``, the information-theoretic ``kind="first_order"``.

Supported: ``2 <= k <= 16`` (the integrals cost the same for every ``k``).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fixedpoint.matrices import pack, psd_violation, sym_names, unpack
from fixedpoint.tabulate import LazyChebyshev

from .._registry import parameter_table, register
from ..glm_bayes import _real
from ._clustering_kernels import centroid_side, label_accuracy, label_ratio

__all__ = ["SubspaceClustering", "label_channel", "centroid_channel", "K_RANGE"]

#: supported numbers of clusters
K_RANGE = (2, 16)
_CENTRED = (True, False)
#: uninformed start: the trivial point displaced by this fraction of rho along the between-cluster block
_EPS_UNINFORMED = 1e-6
#: informed start: M_v = (1 - _EPS_INFORMED) rho I
_EPS_INFORMED = 1e-6
#: the label table covers 0 <= a <= _A_TABLE (beyond: direct evaluation)
_A_TABLE = 512.0

_GL8 = np.polynomial.legendre.leggauss(8)
_GL6 = np.polynomial.legendre.leggauss(6)
_TABLES: dict[int, LazyChebyshev] = {}
_TABLES_LOCK = threading.Lock()


def _label_table(k: int) -> LazyChebyshev:
    with _TABLES_LOCK:
        t = _TABLES.get(k)
        if t is None:
            gx, gw = _GL8
            t = LazyChebyshev(lambda a: (label_ratio(a, k, gx, gw),),
                              [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, _A_TABLE],
                              rtol=1e-12, degrees=(16, 32))
            _TABLES[k] = t
    return t


def _ratio(a: float, k: int) -> float:
    """``m_u(a) / a`` (tabulated up to ``_A_TABLE``)."""
    if a <= _A_TABLE:
        return float(_label_table(k)(a)[0])
    return float(label_ratio(a, k, *_GL8))


def label_channel(a: float, k: int) -> tuple[float, float]:
    """``(m_u, psi_u)`` of the one-hot label channel at between-cluster signal-to-noise ``a``.

    ``m_u = (k p - 1)/(k (k - 1))`` with ``p = E softmax_1(a e_1 + sqrt(a) xi)``; ``psi_u(a) = (k -
    1)/2 int_0^a m_u`` (a composite 16-node Gauss-Legendre rule on ``[0, 1], [1, 2], [2, 4], ...``
    over the table).
    """
    a = float(a)
    if a <= 0.0:
        return 0.0, 0.0
    x, w = np.polynomial.legendre.leggauss(16)
    ends = [0.0]
    e = min(a, 1.0)
    while True:
        ends.append(e)
        if e >= a:
            break
        e = min(2.0 * e, a)
    acc = 0.0
    for lo, hi in zip(ends[:-1], ends[1:]):
        s = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x
        acc += 0.5 * (hi - lo) * sum(wi * si * _ratio(si, k) for wi, si in zip(w, s))
    return a * _ratio(a, k), 0.5 * (k - 1) * acc


def centroid_channel(rho: float, k: int, a1: float, a: float) -> tuple[float, float, float]:
    """``(m_par, m_perp, psi_v)`` of the row prior at eigenvalues ``a1`` (mean direction) and ``a``
    (its complement) of ``A_v`` (:func:`equations.mixtures._clustering_kernels.centroid_side`)."""
    m_par, ratio, psi = centroid_side(float(rho), int(k) - 1, float(a1), float(a), *_GL6)
    return m_par, a * ratio, psi


class _StateNames:
    def __get__(self, obj, cls):
        k = obj.k if obj is not None else cls.k
        return sym_names("M", k)


@register
@dataclass(frozen=True)
class SubspaceClustering:
    """Bayes-optimal clustering of ``k`` Gaussian clusters with sparse means (state: the ``k x k``
    centroid overlap ``M``).

    Parameters
    ----------
    k : int
        Number of clusters, ``2 <= k <= 16``.
    rho : float
        Fraction of coordinates in the means' shared support, in ``(0, 1]``.
    alpha : float
        Samples per dimension ``n / d > 0``.
    snr : float
        Signal-to-noise ratio ``>= 0`` (``Y = sqrt(snr/d) V (U - c)^T + Z``; the paper's ``lambda``
        is ``rho snr``).
    centred : bool
        Centred data (``c = 1/k``, the paper's model, default) or raw one-hot labels (``c = 0``:
        the data's mean reveals the support).

    Notes
    -----
    Equations, reduction, normalisation and references: module docstring. ``sol["M"]`` is the
    centroid overlap ``M_v``; :meth:`label_overlap_matrix` gives ``M_u``.

    Examples
    --------
    >>> import equations, fixedpoint
    >>> m = equations.get("subspace_clustering", k=3, rho=1.0, alpha=2.0, snr=3.0)
    >>> sol = fixedpoint.solve(m)            # doctest: +SKIP
    >>> sol["M"]                             # doctest: +SKIP
    """

    k: int = 3
    rho: float = 0.3
    alpha: float = 2.0
    snr: float = 8.0
    centred: bool = True

    name: ClassVar[str] = "subspace_clustering"
    state_names: ClassVar[tuple[str, ...]] = _StateNames()
    labels: ClassVar[dict[str, str]] = {
        "k": r"$k$", "rho": r"$\rho$", "alpha": r"$\alpha = n/d$", "snr": r"$\mathrm{snr}$",
        "m_v": r"centroid overlap $m_v$", "m_v_mean": r"mean-direction overlap", "m_u": r"label overlap $m_u$",
        "label_overlap": r"label overlap $k m_u$", "accuracy": "clustering accuracy", "mse": "centroid MSE",
        "free_entropy": r"free entropy $\phi$", "mutual_information": r"$I(U, V; Y)/d$",
    }
    examples: ClassVar[tuple[dict, ...]] = (
        {"k": 3, "rho": 1.0, "alpha": 2.0, "snr": 3.0},
        {"k": 2, "rho": 0.3, "alpha": 2.0, "snr": 8.0},
        {"k": 3, "rho": 0.3, "alpha": 2.0, "snr": 6.0, "centred": False},
    )

    @classmethod
    def parameters(cls) -> dict:
        """Each parameter's default, allowed values or range, and meaning (protocol member)."""
        return parameter_table(cls, {
            "k": {"allowed": tuple(range(K_RANGE[0], K_RANGE[1] + 1)), "doc": "number of clusters"},
            "rho": {"range": (0.0, 1.0), "open": (True, False),
                    "doc": "fraction of coordinates in the means' shared support (non-zero entries N(0, 1))"},
            "alpha": {"range": (0.0, None), "open": (True, True), "doc": "samples per dimension n/d"},
            "snr": {"range": (0.0, None), "open": (False, True),
                    "doc": "signal-to-noise ratio, Y = sqrt(snr/d) V (U - 1/k)^T + Z (the paper's lambda = rho snr)"},
            "centred": {"allowed": _CENTRED,
                        "doc": "the data centred (the paper's model); False: raw one-hot labels, "
                               "whose mean reveals the support"},
        })

    def __post_init__(self):
        k = self.k
        if isinstance(k, (float, np.floating)) and float(k).is_integer():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not K_RANGE[0] <= k <= K_RANGE[1]:
            raise ValueError(f"k (the number of clusters) must be an integer between {K_RANGE[0]} and "
                             f"{K_RANGE[1]}, got {self.k!r}")
        object.__setattr__(self, "k", int(k))
        rho = _real("rho", self.rho)
        if not 0.0 < rho <= 1.0:
            raise ValueError(f"rho (the fraction of coordinates in the support) must be in (0, 1], got {rho}")
        alpha = _real("alpha", self.alpha)
        if not alpha > 0.0:
            raise ValueError(f"alpha (samples per dimension n/d) must be > 0, got {alpha}")
        snr = _real("snr", self.snr)
        if not snr >= 0.0:
            raise ValueError(f"snr must be >= 0, got {snr}")
        if not isinstance(self.centred, (bool, np.bool_)):
            raise ValueError(f"centred must be True or False, got {self.centred!r}")
        object.__setattr__(self, "centred", bool(self.centred))
        object.__setattr__(self, "rho", rho)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "snr", snr)

    # ------------------------------------------------------------------ helpers
    @property
    def a1(self) -> float:
        """Eigenvalue of ``A_v`` on the mean direction: 0 for centred data, else ``alpha snr / k``."""
        return 0.0 if self.centred else self.alpha * self.snr / self.k

    def _P(self):
        k = self.k
        return np.eye(k) - np.ones((k, k)) / k

    def _packed(self, m_par, m):
        """``pack(m_par 11^T/k + m P)`` written directly (the map's hot path)."""
        k = self.k
        iu, ju = np.triu_indices(k)
        return np.where(iu == ju, m_par / k + m * (1.0 - 1.0 / k), (m_par - m) / k)

    def _matrix(self, m_par, m):
        k = self.k
        return m_par * np.ones((k, k)) / k + m * self._P()

    def between(self, x) -> float:
        """``m = tr(P M) / (k - 1)``: the between-cluster eigenvalue of ``M`` (averaged over the
        ``k - 1`` directions orthogonal to ``1``)."""
        M = unpack(np.asarray(x, dtype=float).ravel(), self.k)
        return float((np.trace(M) - M.sum() / self.k) / (self.k - 1))

    @functools.lru_cache(maxsize=256)
    def _chain(self, m: float):
        """``(a_u, m_u, a, m_par', m', psi_v)`` along the map at between-cluster overlap ``m``."""
        a_u = self.snr * m
        m_u = a_u * _ratio(a_u, self.k) if a_u > 0.0 else 0.0
        a = self.alpha * self.snr * m_u
        m_par, m_new, psi_v = centroid_channel(self.rho, self.k, self.a1, a)
        return a_u, m_u, a, m_par, m_new, psi_v

    def _m(self, x) -> float:
        return min(max(self.between(x), 0.0), self.rho)

    # ------------------------------------------------------------------ protocol
    def initial_state(self, start: str = "uninformed") -> np.ndarray:
        """``"uninformed"``: the trivial point plus ``1e-6 rho P``; ``"informed"``: ``(1 - 1e-6) rho I``."""
        if start == "uninformed":
            m_par = self._chain(0.0)[3]
            return pack(self._matrix(m_par, _EPS_UNINFORMED * self.rho))
        if start == "informed":
            return pack((1.0 - _EPS_INFORMED) * self.rho * np.eye(self.k))
        raise ValueError(f"start must be 'uninformed' or 'informed', got {start!r}")

    def trivial_state(self):
        """``M = m_par 11^T / k`` (the data's mean learned, nothing between the clusters)."""
        return pack(self._matrix(self._chain(0.0)[3], 0.0))

    def bounds(self):
        k, rho = self.k, self.rho
        return pack(-rho * (np.ones((k, k)) - np.eye(k))), pack(rho * np.ones((k, k)))

    def domain_violation(self, x):
        """Why ``M`` is outside ``0 <= M <= rho I`` (PSD order), or ``None``."""
        return psd_violation(unpack(np.asarray(x, dtype=float).ravel(), self.k), upper=self.rho, name="M")

    def update(self, x) -> np.ndarray:
        """``M -> m_par' 11^T/k + m' P`` from ``m = tr(P M)/(k - 1)`` (module docstring)."""
        x = np.asarray(x, dtype=float).ravel()
        if not np.all(np.isfinite(x)):
            return np.full(x.size, math.nan)
        out = self._chain(self._m(x))
        return self._packed(out[3], out[4])

    def trivial_slope(self) -> float:
        """``d m'/d m`` at ``m = 0``: ``alpha snr^2 E[pi^2] / k^2`` (module docstring)."""
        _, ratio, _ = centroid_side(self.rho, self.k - 1, self.a1, 0.0, *_GL6)
        return self.alpha * self.snr ** 2 * ratio / self.k ** 2

    def jacobian(self, x) -> np.ndarray:
        """Jacobian of :meth:`update` in the packed entries. At ``m = 0`` the exact rank-one
        ``trivial_slope * pack(P) (x) grad m`` (``m_par'`` is stationary there: its derivative
        in ``a`` is ``E[R/2 - (k-1)/2] = 0``); elsewhere forward differences."""
        x = np.asarray(x, dtype=float).ravel()
        k = self.k
        if abs(self.between(x)) <= 1e-14 * self.rho:  # the trivial point (up to the rounding of pack)
            iu, ju = np.triu_indices(k)
            grad = np.where(iu == ju, 1.0 - 1.0 / k, -2.0 / k) / (k - 1)
            return self.trivial_slope() * np.outer(pack(self._P()), grad)
        from fixedpoint.solvers import numerical_jacobian
        lo, hi = self.bounds()
        J, _ = numerical_jacobian(self.update, x, lo, hi, order=1, outside=self.domain_violation)
        return J

    def free_entropy_at(self, m: float) -> float:
        """``phi(m)`` (module docstring), stationary at the fixed points."""
        a_u, m_u, a, _, _, psi_v = self._chain(float(m))
        psi_u = label_channel(a_u, self.k)[1]
        return psi_v + self.alpha * psi_u - 0.5 * self.alpha * self.snr * (self.k - 1) * m_u * m

    def free_entropy(self, x) -> float:
        return self.free_entropy_at(self._m(x))

    def label_overlap_matrix(self, x) -> np.ndarray:
        """``M_u = m_u P`` (centred) or ``11^T / k^2 + m_u P`` at the state ``x``."""
        m_u = self._chain(self._m(x))[1]
        k = self.k
        return (0.0 if self.centred else 1.0 / k ** 2) * np.ones((k, k)) + m_u * self._P()

    def observable_names(self) -> tuple[str, ...]:
        """The keys of :meth:`observables`, in order (protocol member)."""
        return ("m_v", "m_v_mean", "m_u", "label_overlap", "accuracy", "mse", "free_entropy", "mutual_information")

    def observables(self, x) -> dict[str, float]:
        x = np.asarray(x, dtype=float).ravel()
        M = unpack(x, self.k)
        m = self._m(x)
        a_u, m_u, _, _, _, _ = self._chain(m)
        phi = self.free_entropy_at(m)
        return {
            "m_v": m, "m_v_mean": float(M.sum() / self.k), "m_u": m_u, "label_overlap": self.k * m_u,
            "accuracy": float(label_accuracy(a_u, self.k, *_GL8)),
            "mse": self.rho - float(np.trace(M)) / self.k,
            "free_entropy": phi, "mutual_information": 0.5 * self.alpha * self.snr * self.rho * self._signal() - phi,
        }

    def _signal(self) -> float:
        """``E |V u|^2 / (rho k)`` per point and coordinate: ``1 - 1/k`` centred, 1 raw."""
        return 1.0 - 1.0 / self.k if self.centred else 1.0

    def stability_snr(self) -> float:
        """The ``snr`` where :meth:`trivial_slope` is 1 (weak recovery by AMP): ``k / (rho
        sqrt(alpha))`` for centred data, else the root of ``alpha snr^2 E[pi^2] = k^2`` (Brent's
        method below that value, where ``E[pi^2] >= rho^2`` puts it)."""
        import dataclasses
        from scipy.optimize import brentq
        upper = self.k / (self.rho * math.sqrt(self.alpha))
        if self.centred or self.rho == 1.0:
            return upper
        f = lambda s: dataclasses.replace(self, snr=s).trivial_slope() - 1.0  # noqa: E731
        return float(brentq(f, 1e-6 * upper, upper * (1.0 + 1e-12), xtol=1e-14, rtol=1e-13))

    def simulate(self, d: int, seed: int, **kw) -> dict[str, float]:
        """Bayes-optimal AMP on one instance of size ``d`` (:mod:`equations._simulate.clustering`)."""
        from .._simulate.clustering import simulate_clustering
        return simulate_clustering(self, d, seed, **kw)
