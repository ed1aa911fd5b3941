"""Sphinx configuration of the fixedpoint documentation.

Built offline with warnings as errors (``tests/test_docs.py``)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The notebooks of ``notebooks/`` (linked into ``docs/gallery/``) and the tutorial are executed at
every build, and a cell error fails it: the build is the test that the notebooks run.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the packages documented are the ones of this checkout, whatever is installed
sys.path.insert(0, str(ROOT))

import fixedpoint  # noqa: E402

project = "fixedpoint"
author = "the fixedpoint authors"
copyright = "the fixedpoint authors"
version = release = fixedpoint.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax copied into the site: formulas render without a network
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "tutorial/*.py"]
root_doc = "index"

# -- API reference ----------------------------------------------------------------------------
autosummary_generate = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False  # autosummary tables would duplicate the members listed
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- Notebooks (myst-nb) ----------------------------------------------------------------------
# The kernels inherit this environment: with MPLBACKEND=Agg (as CI sets it) they would draw no
# figure at all, so they get the inline backend that Jupyter uses by default.
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
nb_execution_mode = "force"  # notebooks are stored without outputs; every build runs them
nb_execution_timeout = 900
nb_execution_raise_on_error = True  # a failing cell fails the build (and so the test)
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# -- HTML: offline (no intersphinx; MathJax is served from _static/mathjax) --------------------
html_theme = "alabaster"
html_static_path = ["_static"]
templates_path = ["_templates"]
html_theme_options = {
    "description": "Fixed-point equations of the statistical physics of learning",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_title = "fixedpoint"
