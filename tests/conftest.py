"""Test configuration.

Numba's on-disk cache does not notice edits in another file (DESIGN.md, Numba rules), so every
test session compiles into a fresh temporary cache folder. This must happen before numba is
imported, hence at the top of the root conftest.
"""

import os
import tempfile

if not os.environ.get("FIXEDPOINT_KEEP_NUMBA_CACHE"):
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cache-")
os.environ.setdefault("MPLBACKEND", "Agg")
