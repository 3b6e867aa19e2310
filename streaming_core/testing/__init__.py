"""Test helpers published with the package, as Streamlit publishes `streamlit.testing`: real
servers on free loopback ports for tests, benchmarks and scripts alike (needs the `dev` extra).

fake_gemini   a local Gemini REST endpoint with scripted scenarios; `fake_gemini_environment`
faults        the fault table: what the fake does and what a person must end up with
servers       an ASGI app or our SSE API on a uvicorn thread; `wait_until`, `eventually`
processes     a server command in its own process (benchmarks, installed entry points)
sse           reading an SSE response to its end with httpx-sse
paths         the Streamlit-core and SSE-API paths a turn takes, driven as their consumers drive them
resources     memory, file descriptors, sockets and threads of this process
streamlit_server, streamlit_browser   `streamlit run app.py` from a checkout, and a Chromium tab on it
datastores    redis-server and PostgreSQL on free ports; `free_port`
"""
