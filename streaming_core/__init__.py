"""ADK Streaming Lab core: typed streaming on top of Google ADK's StreamingMode.SSE.

Nothing in this package imports Streamlit; the API, a CLI or a notebook can use it as is.
"""
