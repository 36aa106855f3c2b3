"""The README's Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_example_runs_and_classifies():
    section = README.read_text().split("## From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope = {}
    exec(compile(code, str(README), "exec"), scope)
    # Chance is 1/2; the prototypes are ~32 pixels apart at 10% noise.
    assert scope["model"].score(scope["X"][400:], scope["y"][400:]) > 0.95
    assert scope["images"].shape == (5, 64)
