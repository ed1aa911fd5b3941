"""Matrix order parameters in the flat float64 state.

Models with ``p`` hidden directions (multi-index models, committee machines) have symmetric
``p x p`` order parameters (``Q``, ``Q_hat``). The engine iterates flat float64 vectors, so a
symmetric matrix is stored as its upper triangle, row by row, under the state names
``Q[i,j]`` (``i <= j``); :func:`sym_names`, :func:`pack` and :func:`unpack` convert, and results
(:class:`fixedpoint.Solution`, :class:`fixedpoint.Sweep`, :class:`fixedpoint.PhaseDiagram`)
return ``sol["Q"]`` as the ``p x p`` matrix (stacked along the leading axes of a sweep or a
diagram) by :func:`block`.

The domain of an overlap matrix is not a box: ``0 <= Q <= rho I`` in the order of positive
semi-definite matrices. :func:`psd_violation` is the test a model's ``domain_violation(x)``
(an optional protocol member) typically makes; the solver replaces an extrapolated iterate
outside the domain by the plain step, and reports a map that leaves it as ``out_of_domain``.
"""

from __future__ import annotations

import functools
import re

import numpy as np

__all__ = ["sym_names", "pack", "unpack", "block", "psd_violation", "size_for"]

_ENTRY = re.compile(r"^(?P<name>.+)\[(?P<i>\d+),(?P<j>\d+)\]$")


@functools.lru_cache(maxsize=None)
def _upper(p: int):
    return np.triu_indices(p)


def size_for(p: int) -> int:
    """Number of entries of a symmetric ``p x p`` matrix in the state: ``p (p + 1) / 2``."""
    return p * (p + 1) // 2


def sym_names(name: str, p: int) -> tuple[str, ...]:
    """State names of a symmetric ``p x p`` matrix: ``("Q[0,0]", "Q[0,1]", ..., "Q[p-1,p-1]")``."""
    if int(p) != p or p < 1:
        raise ValueError(f"p must be a positive integer, got {p!r}")
    i, j = _upper(int(p))
    return tuple(f"{name}[{a},{b}]" for a, b in zip(i, j))


def pack(M) -> np.ndarray:
    """The upper triangle of the symmetric matrix ``M``, row by row (the order of :func:`sym_names`).

    Raises
    ------
    ValueError
        When ``M`` is not square or not symmetric (to 1e-12 of its largest entry).
    """
    M = np.asarray(M, dtype=float)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"M must be a square matrix, got shape {M.shape}")
    if not np.allclose(M, M.T, rtol=0, atol=1e-12 * max(1.0, float(np.max(np.abs(M), initial=0.0)))):
        raise ValueError("M must be symmetric")
    return M[_upper(M.shape[0])].copy()


def unpack(v, p: int) -> np.ndarray:
    """The symmetric ``p x p`` matrix whose upper triangle is ``v`` (inverse of :func:`pack`)."""
    v = np.asarray(v, dtype=float)
    if v.shape[-1] != size_for(p):
        raise ValueError(f"a symmetric {p}x{p} matrix has {size_for(p)} entries, got {v.shape[-1]}")
    i, j = _upper(p)
    M = np.empty(v.shape[:-1] + (p, p))
    M[..., i, j] = v
    M[..., j, i] = v
    return M


def block(names, x, name: str):
    """The matrix ``name`` from the entries ``name[i,j]`` of a state (or a stack of states).

    Returns ``None`` when no entry is named ``name[i,j]``; a ``p x p`` array for one state
    ``x`` (shape ``(n,)``), ``(..., p, p)`` for states stacked along leading axes.
    """
    entries = []
    for k, n in enumerate(names):
        m = _ENTRY.match(n)
        if m and m.group("name") == name:
            entries.append((int(m.group("i")), int(m.group("j")), k))
    if not entries:
        return None
    p = 1 + max(max(i, j) for i, j, _ in entries)
    x = np.asarray(x, dtype=float)
    M = np.full(x.shape[:-1] + (p, p), np.nan)
    for i, j, k in entries:
        M[..., i, j] = x[..., k]
        M[..., j, i] = x[..., k]
    return M


def psd_violation(M, upper: float | None = None, name: str = "Q", tol: float = 1e-12) -> str | None:
    """Why ``M`` is outside ``0 <= M <= upper I`` (PSD order), or ``None`` when it is inside.

    ``tol`` is relative to the largest of ``|M|`` and ``upper``: eigenvalues within it of the
    bounds are rounding, not a violation. Non-finite entries are a violation.
    """
    M = np.asarray(M, dtype=float)
    if not np.all(np.isfinite(M)):
        return f"{name} has non-finite entries"
    ev = np.linalg.eigvalsh(0.5 * (M + M.T))
    scale = max(float(np.max(np.abs(ev), initial=0.0)), abs(upper) if upper is not None else 0.0, 1e-300)
    if ev[0] < -tol * scale:
        return f"{name} is not positive semi-definite (smallest eigenvalue {ev[0]:.6g})"
    if upper is not None and ev[-1] > upper + tol * scale:
        return f"{name} exceeds {upper:g} I (largest eigenvalue {ev[-1]:.6g})"
    return None
