"""ADK's optional imports that fail here: remembered as missing, so each fails once per process."""

from __future__ import annotations

import importlib
import sys

# ADK's workflow imports RemoteA2aAgent inside `build_node`, for every turn, and a2a-sdk is an
# optional extra (google-adk[a2a]). Python does not cache a failed import: without the extra it
# ran ADK's module again up to the missing package on every turn, 5% of our API's CPU on the
# Gemini load (py-spy). None in sys.modules makes each later import raise ModuleNotFoundError at
# once, which ADK catches as it caught the first.
OPTIONAL_ADK_MODULES = ("google.adk.agents.remote_a2a_agent",)


def remember_missing_modules(names: tuple[str, ...] = OPTIONAL_ADK_MODULES) -> None:
    """Imports each module once; one that cannot be imported is marked missing for the process."""
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            sys.modules[name] = None  # type: ignore[assignment]
