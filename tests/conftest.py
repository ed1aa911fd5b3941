"""Test configuration.

Numba's on-disk cache does not notice edits in another file (DESIGN.md, Numba rules), so every
test session compiles into a fresh temporary cache folder. This must happen before numba is
imported, hence at the top of the root conftest. The folder is made once per session, by the
process that starts it, and handed down through the environment: the xdist workers (and the
notebook kernels of the documentation build) inherit it, so a kernel one of them compiled is
loaded, not compiled again, by the others. (One folder per process had each worker compile
every kernel it used: a quarter of the suite's CPU is compilation.)
"""

import os
import tempfile

if not os.environ.get("FIXEDPOINT_KEEP_NUMBA_CACHE"):
    if not os.environ.get("FIXEDPOINT_SESSION_NUMBA_CACHE"):
        os.environ["FIXEDPOINT_SESSION_NUMBA_CACHE"] = tempfile.mkdtemp(prefix="numba-cache-")
    os.environ["NUMBA_CACHE_DIR"] = os.environ["FIXEDPOINT_SESSION_NUMBA_CACHE"]
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_collection_modifyitems(config, items):
    """The ``slow`` checks first, then the rest, each group in file order, and the documentation
    build (every notebook, the longest check) last. xdist's work stealing hands each worker a
    contiguous half of this list (by count) and lets an idle worker take from the end of the
    other's queue. So one worker starts with the slow checks, and the other reaches the
    documentation build after a few hundred seconds of short checks: by then the two have compiled
    most kernels into the session's cache, which the notebooks' kernels load instead of compiling
    (the build took 455 s from a cold cache, 260 s from a warm one, 2026-12-03), and the slow
    checks' worker still has short checks queued for the other to take at the end (a long check
    drawn last left one worker alone for 80 s, 2026-12-03)."""
    def rank(item):
        if item.name == "test_site_builds_without_warnings":
            return 2
        return 0 if item.get_closest_marker("slow") else 1

    items.sort(key=rank)
