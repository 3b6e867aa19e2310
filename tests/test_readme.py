"""The README's Python example runs as written, so it cannot drift from the code."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 1
    output = io.StringIO()

    with contextlib.redirect_stdout(output):
        exec(compile(blocks[0], str(README), "exec"), {})

    printed = output.getvalue()
    assert "You asked: My name is Ada." in printed
    assert "You asked: What is my name?" in printed
    assert printed.count("[completed, first chunk after") == 2
