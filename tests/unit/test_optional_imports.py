"""A module that cannot be imported is marked missing once, so later imports fail at once."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming_core.optional_imports import OPTIONAL_ADK_MODULES, remember_missing_modules
from streaming_core.runtime import AssistantConfig, get_assistant

PROBE = "lab_optional_probe"


def _write_probe(directory: Path) -> None:
    # Counts how often its body runs, then fails as ADK's module does without the a2a extra.
    body = "import sys\nsys.lab_probe_runs = getattr(sys, 'lab_probe_runs', 0) + 1\nimport lab_no_such_package\n"
    (directory / f"{PROBE}.py").write_text(body)


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _write_probe(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "lab_probe_runs", 0, raising=False)
    monkeypatch.delitem(sys.modules, PROBE, raising=False)
    yield
    sys.modules.pop(PROBE, None)


def _import_probe() -> None:
    with pytest.raises(ImportError):
        importlib.import_module(PROBE)


@pytest.mark.usefixtures("probe")
def test_python_runs_a_failing_module_again_on_every_import() -> None:
    for _ in range(3):
        _import_probe()
    assert sys.lab_probe_runs == 3  # type: ignore[attr-defined]


@pytest.mark.usefixtures("probe")
def test_a_remembered_missing_module_runs_once_and_then_fails_at_once() -> None:
    remember_missing_modules((PROBE,))
    for _ in range(3):
        _import_probe()
    assert sys.lab_probe_runs == 1  # type: ignore[attr-defined]


@pytest.mark.skipif(importlib.util.find_spec("a2a") is not None, reason="the a2a extra is installed")
async def test_building_an_assistant_marks_adk_remote_agent_missing_and_turns_still_run() -> None:
    assistant = get_assistant(AssistantConfig(backend="scripted", persistent=False))
    assert all(sys.modules.get(name, ...) is None for name in OPTIONAL_ADK_MODULES)
    events = [event async for event in assistant.stream_turn("hello")]
    assert events[-1].status == "completed"  # type: ignore[union-attr]
