"""ADK Streaming Lab: the router, and the one-port server that also carries the SSE API under /api.

`streamlit run app.py` reads this file twice. It imports it as a module to find `app` (an `st.App`):
that server serves the pages and mounts the API, so a hosted demo with a single port has both.
Then Streamlit executes it as `__main__` for every page view: page config, the shared sidebar,
and the page the URL asks for.
"""

import streamlit as st
from starlette.routing import Mount

import ui


def home() -> None:
    context = ui.setup_page(
        "ADK Streaming Lab",
        "Google ADK's StreamingMode.SSE, one pattern per page: watch the chunks arrive, measure them, "
        "stop them, and copy the code.",
    )
    st.markdown(
        "Every page streams a real ADK `Runner.run_async` through the project's `streaming_core` "
        "(normalized events, a background event loop, metrics) into `st.write_stream`. "
        f"Backend now: **{context.backend}** ({context.backend_note}). "
        "Pick another backend, the streaming mode, and the scripted model's pacing and faults in the sidebar."
    )
    columns = st.columns(3)
    for index, spec in enumerate(ui.PATTERNS):
        with columns[index % 3].container(border=True):
            st.page_link(spec.path, label=spec.title, icon=spec.icon)
            st.caption(spec.blurb)


if __name__ == "__main__":
    home_page = ui.home_page(home)
    page = ui.navigation(home_page)
    with ui.app_shell(home_page):
        page.run()
else:
    from starlette.middleware import Middleware

    from streaming_core.api.app import create_app, lifespan_of
    from streaming_core.visitors import VisitorCookieMiddleware

    api = create_app()
    app = st.App(
        "app.py",
        routes=[Mount("/api", app=api)],
        lifespan=lifespan_of(api),
        middleware=[Middleware(VisitorCookieMiddleware)],  # one user id per browser: pages and API
    )
