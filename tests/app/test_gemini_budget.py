"""The daily Gemini budget on the pages, spent on the fake Gemini: the sidebar shows what is left,
and once it is spent a Gemini turn is refused with an offer of the local or scripted model."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from streaming_core.quotas import MemoryQuotaStore, QuotaLimiter, QuotaLimits, install_limiter
from streaming_core.testing.fake_gemini import FakeGeminiServer, Scenario
from tests.app.apptest import APP

PROGRESS = "pages/4_progress.py"


def budget_caption(at: AppTest) -> str:
    return next(c.value for c in at.sidebar.caption if c.value.startswith("Gemini budget today"))


def test_spending_the_budget_on_a_page_refuses_gemini_and_offers_another_model(
    fake_gemini: FakeGeminiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAMING_BACKEND", "gemini")
    install_limiter(QuotaLimiter(QuotaLimits(gemini_daily_budget=12), MemoryQuotaStore()))
    fake_gemini.default = Scenario.reply("Six words spend the whole budget.", chunks=2)
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    at.switch_page(PROGRESS).run()
    at.sidebar.slider(key="temperature_gemini").set_value(0.3).run()  # a config of its own: no cached assistant
    before = budget_caption(at)

    at.text_area[0].set_value("Spend it")
    next(b for b in at.button if b.proto.is_form_submitter).click().run()
    answered = [m.value for m in at.markdown if "Six words" in m.value]
    at.text_area[0].set_value("One more, kept")
    next(b for b in at.button if b.proto.is_form_submitter).click().run()

    refusal = [w.value for w in at.warning if "budget for today is spent" in w.value]
    assert not at.exception
    assert before.startswith("Gemini budget today: 12 of 12 tokens left")
    assert answered
    assert budget_caption(at).startswith("Gemini budget today: 0 of 12 tokens left")
    assert refusal and "local model or the scripted model" in refusal[0]
    assert at.text_area[0].value == "One more, kept"
    assert len(fake_gemini.requests) == 1
