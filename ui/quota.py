"""The visitor's side of the quotas: a refusal with how long to wait, and today's Gemini budget."""

from __future__ import annotations

import streamlit as st

from streaming_core.bridge import get_background_loop
from streaming_core.quotas import QuotaExceeded, QuotaStoreUnavailable, get_limiter
from ui.visitor import visitor_id


def quota_key() -> str:
    """The quotas' key for this browser: its visitor id (the API charges the same cookie)."""
    return f"v:{visitor_id()}"


def show_refusal(refusal: QuotaExceeded, *, where: str = "above") -> None:
    st.warning(f"{refusal} Your text is still in the box {where}.", icon=":material/hourglass_top:")


def show_budget() -> None:
    """How much of the demo's daily Gemini budget is left, for everyone (shared across processes with Redis)."""
    limiter = get_limiter()
    try:
        left = get_background_loop().run(limiter.budget_left)
    except QuotaStoreUnavailable as error:
        st.caption(f"Gemini budget today: unknown. {error}")
        return
    total = limiter.limits.gemini_daily_budget
    st.caption(f"Gemini budget today: {left:,} of {total:,} tokens left ({left / total:.0%}); it renews at 00:00 UTC.")
