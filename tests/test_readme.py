"""The README's Python example runs as written, and its commands are the two the CI uses."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no Python example"
    namespace = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    sol, it, alg = namespace["sol"], namespace["it"], namespace["alg"]
    assert sol.converged and it.converged and alg.converged
    assert it.value < alg.value  # the information-theoretic threshold precedes the algorithmic one
    lines = namespace["lines"]
    assert [p["kind"] for p in lines.points] == ["tricritical"]
    assert lines.region(0.05, 0.9) == "hard" and lines.region(0.05, 0.5) == "impossible"


def test_two_commands():
    commands = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    assert len(commands) == 2
    main_job, tests = (c.strip() for c in commands)
    assert main_job.startswith("pip install -e . && fixedpoint diagram") and "--out" in main_job
    assert tests == "pip install -e '.[test]' && python -m pytest -n 2 --dist worksteal"
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[test]'" in ci and "python -m pytest -q -p no:cacheprovider -n 2 --dist worksteal" in ci
