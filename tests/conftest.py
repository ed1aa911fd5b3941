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
    """The documentation build (every notebook, the longest check) first, then the other ``slow``
    checks, then the rest, each group in file order: xdist's work stealing hands each worker a half
    of this list and lets the idle one take from the end of the other's queue, so the checks left
    for last are short ones, not a long check drawn when the other worker has nothing left (80 s of
    one worker alone at the end of a CI run, 2026-12-03)."""
    def rank(item):
        if item.name == "test_site_builds_without_warnings":
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)
