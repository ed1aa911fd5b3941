"""Tiered compilation of the toolkit's kernels: interpreted while that is cheaper, then Numba.

Why. A process that calls one Numba kernel pays about 0.3 s to import Numba and 0.5 s to start
its compiler, even when every kernel loads from the on-disk cache, and then seconds to compile
the kernels the first time. Most single solves, on the other hand, take 2-100 ms with the same
kernels run as plain Python (measured per registered model in ``benchmarks/bench_coldstart.py``).
So a short job (one ``fixedpoint solve``, a threshold, a small sweep) is fastest interpreted and a
long one (a phase diagram) compiled; which one a process is running is not known in advance.

The rule (the "ski rental" rule of online algorithms). Every kernel is declared with
:func:`njit`, which takes the same options as ``numba.njit`` and returns a :class:`Kernel`. A
kernel called from Python runs its plain Python function (inside ``np.errstate(all="ignore")``,
since Numba's arithmetic does not warn) and the process adds up the time these calls take. Once
that total exceeds the budget (1 s, :data:`BUDGET`; the environment variable
``FIXEDPOINT_JIT_BUDGET`` sets another), Numba is imported and every kernel called from then on is compiled
(or loaded from the cache) and runs as machine code: a long job loses at most the budget. A
process therefore does at most twice the work of the better of the two choices made in
hindsight, up to the compile time.

Exceptions. Python and Numba differ where IEEE arithmetic meets Python's own rules:
``math.exp(1000)`` and ``math.log(0.0)`` raise in Python and give ``inf`` / ``-inf`` in Numba; an
index past the end raises in Python and reads memory in Numba. An exception inside an interpreted
call restores the array arguments as they were and runs the call again compiled, so the result
is the compiled kernel's (an error the kernel raises on purpose is raised again by the compiled
kernel); that kernel stays compiled in this process, the others keep their tier. This happens
where a kernel relies on IEEE results (``error_model="numpy"`` kernels dividing by zero, say).

What it changes. Interpreted and compiled kernels may round differently in the last bits
(Numba's loops sum in order; its ``exp`` / ``log`` may differ from the C library's by an ulp),
so a solve run in the first second of a process and the same solve run later agree to rounding;
fixed-point iterations are contractions, so the difference stays at that level. Measured: the
first example of every tiered model reaches bit-for-bit the same fixed point both ways
(``tests/test_jit.py`` asserts 1e-9 relative). ``FIXEDPOINT_JIT=compile`` compiles from the first
call (as before tiering; every process then runs the same machine code),
``FIXEDPOINT_JIT=interpret`` never compiles (debugging: a Python traceback inside the kernel).

Kernels that take seconds per call as plain Python (the multi-index, sequence and subspace
clustering integrals, the simulators) are declared with :func:`njit_compiled`: Numba from their
first call, since one interpreted call could cost more than compiling.

Inside compiled kernels a :class:`Kernel` named as a global is typed as its Numba dispatcher
(registered with ``numba.extending.typeof_impl`` when Numba is imported), so kernels call each
other, inline (``inline="always"``) and cache exactly as ``numba.njit`` functions do.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time

import numpy as np

__all__ = ["BUDGET", "Kernel", "compile_now", "mode", "njit", "njit_compiled", "register_with_numba"]

_MODES = ("auto", "compile", "interpret")

#: seconds of interpreted kernel time after which a process compiles its kernels (the default of
#: ``FIXEDPOINT_JIT_BUDGET``)
BUDGET: float = 1.0

_lock = threading.Lock()
_local = threading.local()  # .depth: interpreted kernel calls in progress on this thread
_state: dict = {}  # filled from the environment at the first kernel call (_settings)


def _settings() -> dict:
    """The process's rule, read from the environment once, at the first kernel call (not at
    import, so that a wrong value is an error of the call, which the command line reports)."""
    if not _state:
        mode = os.environ.get("FIXEDPOINT_JIT", "auto").strip().lower() or "auto"
        if mode not in _MODES:
            raise ValueError(f"the environment variable FIXEDPOINT_JIT must be one of {', '.join(_MODES)}, "
                             f"got {mode!r}")
        text = os.environ.get("FIXEDPOINT_JIT_BUDGET", str(BUDGET))
        try:
            budget = float(text)
        except ValueError:
            budget = float("nan")
        if not budget >= 0.0:
            raise ValueError(f"the environment variable FIXEDPOINT_JIT_BUDGET must be a number of seconds >= 0, "
                             f"got {text!r}")
        _state.update(mode=mode, budget=budget, compiled=mode == "compile", interpreted_seconds=0.0, fallbacks=[])
    return _state


def mode() -> dict:
    """The process's state: ``{"mode", "budget", "compiled", "interpreted_seconds", "fallbacks"}``
    (``fallbacks``: the kernels compiled because Python raised inside them)."""
    state = _settings()
    return {**state, "fallbacks": list(state["fallbacks"])}


def compile_now() -> None:
    """Compile from the next kernel call on (what the budget does once it is spent).

    :func:`fixedpoint.phase_diagram` calls it in the calling process and in every row task, so
    that all the points of a diagram are computed by the same machine code whatever the
    executor (and workers forked from the caller inherit the kernels it compiled)."""
    state = _settings()
    if state["mode"] != "interpret":
        state["compiled"] = True


def register_with_numba() -> None:
    """Teach Numba that a :class:`Kernel` is typed as its dispatcher.

    The package declares it as Numba's extension entry point (``numba_extensions``), which Numba
    runs before its first compilation, so that a function compiled by anyone (a user's own
    ``numba.njit`` or ``cfunc`` calling ``fixedpoint.quadrature.H``, say) can call a kernel."""
    from numba.extending import typeof_impl

    def typeof_kernel(value, context):
        return typeof_impl(value.dispatcher, context)

    typeof_impl.register(Kernel)(typeof_kernel)


@functools.cache
def _numba():
    """Numba, imported once (and the registration above made even without the entry point,
    e.g. when this checkout is run from a path rather than installed)."""
    import numba

    register_with_numba()
    return numba


class Kernel:
    """A function declared with :func:`njit`: interpreted or compiled per the module's rule.

    Attributes
    ----------
    py_func : function
        The plain Python function.
    dispatcher : numba dispatcher
        ``numba.njit(**options)(py_func)``, created (and Numba imported) on first use.
    """

    def __init__(self, py_func, options: dict, always_compiled: bool):
        self.py_func = py_func
        self.options = options
        self._dispatcher = None
        # compiled from the first call (njit_compiled), or since Python raised inside it (module doc)
        self._compiled = always_compiled
        functools.update_wrapper(self, py_func)

    @property
    def targetoptions(self) -> dict:
        # what Numba's inlining pass reads off a dispatcher found as a global (inline="always")
        return self.options

    @property
    def dispatcher(self):
        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    self._dispatcher = _numba().njit(**self.options)(self.py_func)
        return self._dispatcher

    def __call__(self, *args):
        state = _state or _settings()
        if state["compiled"] or (self._compiled and state["mode"] != "interpret"):
            return self.dispatcher(*args)
        if getattr(_local, "depth", 0):  # called by an interpreted kernel: no bookkeeping
            return self.py_func(*args)
        return self._interpret(args)

    def _interpret(self, args):
        """One top-level interpreted call, timed; run compiled instead if Python raises."""
        saved = [(a, a.copy()) for a in args if isinstance(a, np.ndarray) and a.flags.writeable]
        _local.depth = 1
        start = time.perf_counter()
        try:
            with np.errstate(all="ignore"):
                return self.py_func(*args)
        except Exception:
            if _state["mode"] == "interpret":
                raise
        finally:
            _local.depth = 0
            _state["interpreted_seconds"] += time.perf_counter() - start
            if _state["interpreted_seconds"] > _state["budget"]:
                compile_now()
        # Python's rules, not the kernel's: undo what the call wrote, then run it compiled
        for a, before in saved:
            a[...] = before
        self._compiled = True
        _state["fallbacks"].append(f"{self.__module__}.{self.__qualname__}")
        return self.dispatcher(*args)

    def __reduce__(self):
        # by reference, like a Numba dispatcher: the module attribute of the same name
        return (_lookup, (self.__module__, self.__qualname__))

    def __repr__(self):
        return f"<Kernel {self.__module__}.{self.__qualname__}>"


def _lookup(module: str, qualname: str):
    import importlib

    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _declare(fn, options, always_compiled):
    if fn is not None and not callable(fn):
        raise TypeError("njit takes the function, or keyword options only")
    if fn is None:
        return lambda f: Kernel(f, options, always_compiled)
    return Kernel(fn, options, always_compiled)


def njit(fn=None, **options):
    """``numba.njit`` for the toolkit's kernels, interpreted while that is cheaper (module doc).

    ``@njit(cache=True)`` and the other options of ``numba.njit`` are passed to Numba."""
    return _declare(fn, options, always_compiled=False)


def njit_compiled(fn=None, **options):
    """``numba.njit`` from the first call, for kernels too slow to interpret (module doc); Numba
    itself is still imported only when one of them is first called."""
    return _declare(fn, options, always_compiled=True)


if "numba" in sys.modules:  # imported before us: its entry points may have run already
    register_with_numba()
