"""SSE API: how to call the project's streaming endpoint from a terminal and from a browser."""

import streamlit as st

import ui

ui.setup_page(
    "SSE API",
    "The same streaming core behind an HTTP endpoint that speaks Server-Sent Events, for your own "
    "front end. The tutorial's EventSource client works with it unchanged.",
)
st.markdown(
    """
**Where it runs.** `make api` serves it on <http://127.0.0.1:8000> (with a small client page at `/`
and OpenAPI docs at `/docs`). On a hosted demo that exposes one port, the same API is mounted on
this Streamlit server under [`/api/`](/api/).

**From a terminal.** `-N` turns off curl's buffering so the chunks print as they arrive:
"""
)
st.code(
    """curl -N "http://127.0.0.1:8000/chat/stream?query=Count%20to%2010"

# the tutorial's form: POST with the question in the URL
curl -N -X POST "http://127.0.0.1:8000/chat/stream?query=Hello"

# JSON body; continue a conversation with the id from the X-Session-Id header or the done event
curl -N http://127.0.0.1:8000/chat/stream \\
  -H 'Content-Type: application/json' \\
  -d '{"query": "And in miles?", "session_id": "SESSION_ID"}'""",
    language="bash",
)
st.markdown("**What comes back.** Every event has an `id:`; text chunks are unnamed so `onmessage` sees them:")
st.code(
    """id: RUN_ID:1
data: {"text":"Streaming sends "}

id: RUN_ID:2
data: {"text":"the answer in pieces"}

event: tool_call     (also tool_result and error: named, so onmessage ignores them)
data: {"name":"convert_units","args":{"value":10,"from_unit":"km","to_unit":"mi"},"call_id":"…"}

event: done
data: {"status":"completed","session_id":"…","metrics":{"time_to_first_chunk":0.31,…}}

data: [DONE]""",
    language="text",
)
st.markdown("**From a browser.** The tutorial's client, with the two lines that matter fixed:")
st.code(
    """const source = new EventSource(`/chat/stream?query=${encodeURIComponent(question)}`);
source.onmessage = (event) => {
  if (event.data === "[DONE]") {
    source.close();               // otherwise EventSource reconnects and asks again
    return;
  }
  const { text } = JSON.parse(event.data);
  output.textContent += text;     // the tutorial has: output.innerHTML += data.text
};
source.addEventListener("error", (event) => {
  if (event.data) output.append(`\\n[${JSON.parse(event.data).message}]`);
});""",
    language="javascript",
)
st.markdown(
    """
- **`innerHTML += data.text` is an XSS hole.** The text comes from a model, and a model repeats what
  it reads: a prompt, a web page or a document can make it write `<img src=x onerror="…">`, and
  `innerHTML` runs that in your page, with your user's cookies and session. Insert model text with
  `textContent` (or render markdown with a sanitizer such as DOMPurify). This Streamlit demo renders
  model output as markdown with HTML disabled for the same reason.
- **Close on `[DONE]`.** When the server ends the response, `EventSource` treats it as a dropped
  connection and reconnects a few seconds later with the same URL: the question is sent again and the
  model answers (and bills) twice. Call `source.close()` when `[DONE]` arrives. Our API also resumes a
  real dropped connection from `Last-Event-ID` instead of starting over.
- **Stop.** Closing the `EventSource` ends the request; the server notices the disconnect and
  cancels the model call once the grace period for reconnects runs out (30 s by default). A Stop
  button should also call `DELETE /chat/runs/RUN_ID` (the id is in the `X-Run-Id` header) to
  cancel at once.
- **Proxies.** SSE needs an unbuffered path: turn off response buffering (nginx: `proxy_buffering off`)
  and compression for `text/event-stream`.
"""
)
