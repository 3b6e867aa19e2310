"""The backend registry: one record per backend, read by settings, the sidebar, /healthz and agents/."""

from __future__ import annotations

import pytest
from google import genai

from streaming_core.backends import (
    AUTO,
    BACKEND_CHOICES,
    BACKENDS,
    GEMINI_KEY_VARIABLES,
    gemini_credentials,
    resolve_backend,
)
from streaming_core.backends.gemini import create_gemini
from streaming_core.errors import BackendUnavailable
from streaming_core.failures import describe_failure
from streaming_core.settings import load_settings

SWITCHES = ["false", "FALSE", "0", "no", " true", "", "1", "true", "True", "TRUE"]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in GEMINI_KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_vertexai_false_without_a_key_is_not_gemini(clean_env: pytest.MonkeyPatch) -> None:
    """Regression: GOOGLE_GENAI_USE_VERTEXAI=false with no key counted as "Gemini is configured" (any
    non-empty value did), so auto picked Gemini and every turn then failed for want of a key."""
    env = {"GOOGLE_GENAI_USE_VERTEXAI": "false"}
    settings = load_settings(env)

    assert not settings.gemini_configured
    assert resolve_backend(AUTO, settings).name == "local"
    with pytest.raises(BackendUnavailable, match="GOOGLE_API_KEY"):
        resolve_backend("gemini", settings)
    clean_env.setenv("GOOGLE_GENAI_USE_VERTEXAI", "false")
    with pytest.raises(BackendUnavailable, match="GOOGLE_API_KEY"):
        create_gemini()


@pytest.mark.parametrize("switch", SWITCHES)
def test_gemini_counts_as_configured_exactly_when_google_genai_finds_credentials(
    switch: str, clean_env: pytest.MonkeyPatch
) -> None:
    # A project and location, so that Vertex AI mode, when google-genai picks it, needs nothing else.
    env = {"GOOGLE_GENAI_USE_VERTEXAI": switch, "GOOGLE_CLOUD_PROJECT": "p", "GOOGLE_CLOUD_LOCATION": "us-central1"}
    for name, value in env.items():
        clean_env.setenv(name, value)
    try:
        genai.Client()
        genai_accepts = True
    except ValueError:  # "No API key was provided"
        genai_accepts = False

    assert gemini_credentials(env) is genai_accepts
    assert load_settings(env).gemini_configured is genai_accepts


def test_enterprise_switch_decides_over_vertexai() -> None:
    assert not gemini_credentials({"GOOGLE_GENAI_USE_ENTERPRISE": "false", "GOOGLE_GENAI_USE_VERTEXAI": "true"})
    assert gemini_credentials({"GOOGLE_GENAI_USE_ENTERPRISE": "1"})


def test_a_blank_key_is_no_key() -> None:
    assert not gemini_credentials({"GOOGLE_API_KEY": "  ", "GEMINI_API_KEY": ""})
    assert gemini_credentials({"GEMINI_API_KEY": "k"})


def test_settings_accept_exactly_the_registry_names() -> None:
    assert (AUTO, *BACKENDS) == BACKEND_CHOICES
    for name in BACKEND_CHOICES:
        assert load_settings({"STREAMING_BACKEND": name.upper()}).backend == name


def test_a_named_backend_is_labelled_by_its_record() -> None:
    choice = resolve_backend("scripted", load_settings({}))

    assert (choice.label, choice.reason) == (BACKENDS["scripted"].label, "scripted model selected")


@pytest.mark.parametrize(("backend", "who"), [("local", "local Gemma 3 270M"), ("scripted", "scripted model")])
def test_an_unexpected_failure_names_the_backend_that_failed(backend: str, who: str) -> None:
    """Regression: any backend's unexpected failure read "Gemini call failed (...)"."""
    error = describe_failure(RuntimeError("llama_decode returned -1"), backend)

    assert error.code == "unknown"
    assert who in error.message and "RuntimeError" in error.message
    assert "Gemini" not in error.message


def test_an_unexpected_gemini_failure_is_described_by_the_gemini_backend() -> None:
    error = describe_failure(RuntimeError("boom"), "gemini")

    assert error.code == "unknown" and error.message.startswith("Gemini call failed (RuntimeError)")


def test_a_failure_of_an_unnamed_model_says_the_model_failed() -> None:
    error = describe_failure(RuntimeError("boom"))

    assert error.message == "The model failed (RuntimeError)."
