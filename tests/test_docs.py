"""The documentation site builds offline with warnings as errors, and covers what it must.

The build executes every notebook of ``notebooks/`` (linked into ``docs/gallery/``) and the
tutorial, failing on any cell error: it is the test that the notebooks run.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fixedpoint

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _documented_names(rst: Path) -> set:
    """The entries of the autosummary tables of ``rst``."""
    names, inside = set(), False
    for line in rst.read_text().splitlines():
        if line.startswith(".. autosummary::"):
            inside = True
        elif inside and line.startswith("   ") and not line.strip().startswith(":"):
            names.add(line.strip())
        elif inside and line and not line.startswith(" "):
            inside = False
    return names


def test_api_reference_lists_the_public_api():
    documented = _documented_names(DOCS / "api.rst")
    assert set(fixedpoint.__all__) <= documented, f"missing from docs/api.rst: {set(fixedpoint.__all__) - documented}"


def test_gallery_holds_every_notebook():
    notebooks = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    linked = {p.name for p in (DOCS / "gallery").glob("*.ipynb") if p.resolve().parent == ROOT / "notebooks"}
    assert notebooks and linked == notebooks
    toctree = (DOCS / "gallery" / "index.md").read_text()
    assert all(Path(name).stem in toctree.split() for name in notebooks)


def test_every_registered_family_has_a_page():
    import equations

    pages = " ".join(p.read_text() for p in (DOCS / "models").glob("*.rst"))
    for name in equations.available():
        assert f"``{name}``" in pages, name
        assert f".. automodule:: {equations.MODELS[name].__module__}" in pages, name


def test_design_references_point_at_the_design_document():
    # every mention of a design document in the code names DESIGN.md, which exists at the top
    assert (ROOT / "DESIGN.md").is_file()
    for path in [*ROOT.glob("fixedpoint/*.py"), *ROOT.glob("equations/**/*.py")]:
        for other in re.findall(r"\b(\w+\.md)\b", path.read_text()):
            assert other in ("DESIGN.md", "README.md"), f"{path.name} points at {other}"


@pytest.mark.slow
def test_site_builds_without_warnings(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    html = tmp_path / "html"
    # the gallery's figures and the tutorial's figure were drawn by the executed cells
    for page in ("gallery/spiked_wigner.html", "gallery/glm_bayes.html", "gallery/glm_erm.html", "tutorial/own_model.html"):
        assert re.search(r'<img[^>]+src="[^"]*_images/', (html / page).read_text()), page
    assert (html / "generated" / "fixedpoint.solve.html").is_file()
