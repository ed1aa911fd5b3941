"""Whether two solves found the same fixed point, modulo the model's declared symmetries.

A model whose equations are invariant under a map ``S`` of the state (``F(S x) = S F(x)``,
the free entropy and the error observables unchanged) has its fixed points in orbits: in
dot-product attention the weights ``Q`` and ``-Q`` define the same student, so ``(q, m, theta,
V)`` and ``(q, -m, -theta, V)`` are one solution. Which member of an orbit a solve ends on can
depend on the path (an accelerated step that crosses the invariant plane ``theta = 0``, a
rounding-level displacement that a saddle amplifies). Comparisons of two solves (the checks of a
sweep's warm starts against cold solves, the coexistence test of a first-order threshold) must
therefore compare orbits, not points, or they mistake one solution for two.

A model declares the maps with the optional protocol member ``symmetries() -> dict[str,
callable]``: each value maps a state (a flat float64 array) to its image, each key says what it
does (it is quoted in messages). List every element of the group but the identity: the engine
does not compose them.
"""

from __future__ import annotations

import numpy as np

from .solvers import make_tolerance

__all__ = ["images", "same_fixed_point", "IDENTITY"]

#: what :func:`same_fixed_point` returns for two solves of the same point (no symmetry used)
IDENTITY = "identity"


def images(model, x) -> list[tuple[str, np.ndarray]]:
    """``x`` itself (named :data:`IDENTITY`) and its images under the model's declared
    symmetries, in the order declared."""
    x = np.asarray(x, dtype=float)
    out = [(IDENTITY, x)]
    declared = getattr(model, "symmetries", None)
    if callable(declared):
        for name, S in declared().items():
            out.append((name, np.asarray(S(x.copy()), dtype=float)))
    return out


def same_fixed_point(model, a, b, kw, radius, screen: float | None = 1e-2) -> str | None:
    """Whether two converged solves ``a``, ``b`` (``Solution``) are one fixed point to their
    accuracy, up to a declared symmetry.

    Two solves of one point are within their tolerances of each other, or, next to a continuous
    transition, within ``10 (w_a / (1 - rho_a) + w_b / (1 - rho_b))``: a solve stopped at scaled
    residual ``<= 1`` is about ``w / (1 - rho)`` from its fixed point (``w`` the tolerance,
    ``rho`` the spectral radius of the Jacobian there, ``radius(solution)``, computed only when
    needed). No absolute cut-off such as ``1e-6``: a state can be small as a whole (overlaps of
    order ``rho`` in a sparse model at ``rho = 1e-6``), and its informed branch then differs from
    the trivial point by less than any fixed number.

    An image ``y = S b.x`` is a fixed point of the equations, but of the discretised map only to
    the accuracy of its rule, which need not be equivariant (a rule that follows a line from one
    end breaks a reflection at the level of its bisection tolerances). So ``w_b`` is replaced by
    the true residual ``|F(y) - y|`` there (one evaluation of the map).

    ``screen``: points farther apart than ``screen (1 + max |y|)`` are different without asking
    for the spectral radius (which costs a Jacobian where a solve did not report it); ``None``
    asks for it whenever the tolerances do not decide. Images are always screened at ``1e-2``
    (each costs an evaluation of the map).

    Returns
    -------
    str or None
        ``IDENTITY`` for the same point, the name of the symmetry mapping ``b`` onto ``a``, or
        ``None`` for two different fixed points.
    """
    tol = make_tolerance(kw.get("atol", 1e-10), kw.get("rtol", 1e-10), getattr(model, "residual_scale", None))
    candidates = images(model, b.x)
    for name, y in candidates:
        if np.all(np.abs(a.x - y) <= tol(a.x) + tol(y)):
            return name

    def within(y, fraction):
        return fraction is None or float(np.max(np.abs(a.x - y))) <= fraction * (1.0 + float(np.max(np.abs(y))))

    # (an image is always screened: each one asked about costs an evaluation of the map)
    near = [(name, y) for name, y in candidates
            if within(y, screen if name == IDENTITY else min(screen or 1e-2, 1e-2))]
    if not near:
        return None
    r_a, r_b = radius(a), radius(b)  # the spectral radius is the same at every image of a point
    if not (r_a < 1.0 and r_b < 1.0):
        return None
    err_a = float(np.max(tol(a.x))) / max(1.0 - r_a, 1e-12)
    for name, y in near:
        if name == IDENTITY:
            w_b = float(np.max(tol(b.x)))
        else:
            with np.errstate(all="ignore"):
                w_b = float(np.max(np.abs(np.asarray(model.update(y), dtype=float) - y)))
            if not np.isfinite(w_b):
                continue
        if float(np.max(np.abs(a.x - y))) <= 10.0 * (err_a + w_b / max(1.0 - r_b, 1e-12)):
            return name
    return None
