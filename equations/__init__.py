"""The registry of models (DESIGN.md): ``MODELS``, ``get(name, **params)``, ``available()``.

Each family lives in its own module and registers its finished models with
:func:`equations._registry.register`. A family module is listed in ``_FAMILIES`` only once it
is complete (equations, observables, free entropy, simulator, tests).
"""

from __future__ import annotations

import importlib

from ._registry import MODELS, available, get, register

__all__ = ["MODELS", "available", "get", "register"]

#: family modules imported (and so registered) with the package
_FAMILIES: tuple[str, ...] = (
    "attention",
    "gcm",
    "gcm_spiked",
    "glm_bayes",
    "glm_erm",
    "mixtures",
    "multi_index",
    "sequence",
    "spiked_wigner",
    "storage",
)

for _family in _FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")


def __getattr__(name: str):
    # ``equations.custom`` needs Numba at import (its cfunc signatures): imported on first use, so
    # that ``import equations`` does not import Numba (fixedpoint._jit: kernels start interpreted)
    if name == "custom":
        return importlib.import_module(f"{__name__}.custom")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
