// The SSE API's browser client: no dependencies, model text inserted as text only.
// Wire format: unnamed events carry {"text": ...}; tool_call, tool_result, queued, error and done
// are named events; the stream ends with `data: [DONE]`.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("ask"), input = $("query"), send = $("send"), stop = $("stop");
  const answer = $("answer"), tools = $("tools"), problem = $("problem"), status = $("status");

  let source = null;        // the open EventSource, if any
  let sessionId = null;     // from the `done` event, so the next question continues the conversation
  let runId = null;         // from the event ids "<run_id>:<seq>", so Stop can cancel the run
  let turn = null;          // per-question counters for the status line

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function describe() {
    const parts = [];
    if (turn.firstChunkMs !== null) parts.push(`first chunk after ${(turn.firstChunkMs / 1000).toFixed(2)} s`);
    parts.push(`${turn.chunks} chunk${turn.chunks === 1 ? "" : "s"}`);
    if (turn.reconnects) parts.push(`resumed ${turn.reconnects}× after a dropped connection`);
    return parts.join(" · ");
  }

  function finish(state, text) {
    if (source) source.close();
    source = null;
    send.disabled = false;
    stop.disabled = true;
    setStatus(state, text);
  }

  function ask(query) {
    answer.textContent = "";
    tools.textContent = "";
    problem.textContent = "";
    turn = { started: performance.now(), firstChunkMs: null, chunks: 0, reconnects: 0, lost: false };
    runId = null;
    const params = new URLSearchParams({ query });
    if (sessionId) params.set("session_id", sessionId);
    // Relative URL: works at "/" and when the API is mounted under a prefix such as "/api/".
    source = new EventSource(`chat/stream?${params}`);
    send.disabled = true;
    stop.disabled = false;
    setStatus("connecting", "Connecting…");

    source.onopen = () => {
      if (turn.lost) {
        // EventSource reconnected by itself and sent Last-Event-ID: the server resumes the
        // same answer after the last event we got, so nothing is lost or repeated.
        turn.lost = false;
        turn.reconnects += 1;
      }
      setStatus("streaming", describe() || "Waiting for the first chunk…");
    };

    source.onmessage = (event) => {
      runId = event.lastEventId.split(":")[0] || runId;
      if (event.data === "[DONE]") {
        // Close explicitly: when the server ends the response, EventSource reconnects after
        // `retry` ms and, without a Last-Event-ID, would ask the same question again.
        finish(problem.textContent ? "error" : "done", describe());
        return;
      }
      const { text } = JSON.parse(event.data);
      if (turn.firstChunkMs === null) turn.firstChunkMs = performance.now() - turn.started;
      turn.chunks += 1;
      answer.append(document.createTextNode(text)); // text, never HTML: model output is untrusted
      setStatus("streaming", describe());
    };

    source.addEventListener("tool_call", (event) => {
      const call = JSON.parse(event.data);
      addTool(`Calling ${call.name}(${JSON.stringify(call.args)})`);
    });
    source.addEventListener("tool_result", (event) => {
      const result = JSON.parse(event.data);
      addTool(`${result.name} → ${JSON.stringify(result.response)}`);
    });
    source.addEventListener("queued", (event) => {
      setStatus("queued", JSON.parse(event.data).message); // e.g. the local model is busy with another visitor
    });
    source.addEventListener("done", (event) => {
      sessionId = JSON.parse(event.data).session_id || sessionId;
    });

    // One listener sees two kinds of "error": the server's named `event: error` (it has data)
    // and EventSource's own connection failures (no data).
    source.addEventListener("error", (event) => {
      if (event.data) {
        problem.textContent = JSON.parse(event.data).message;
        return;
      }
      if (source && source.readyState === EventSource.CONNECTING) {
        turn.lost = true;
        setStatus("reconnecting", `Connection lost; reconnecting… (${describe()})`);
      } else if (source) {
        finish("error", `Connection failed (${describe()})`);
      }
    });
  }

  function addTool(text) {
    const item = document.createElement("li");
    item.textContent = text;
    tools.append(item);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = input.value.trim();
    if (!query || source) return;
    ask(query);
  });

  stop.addEventListener("click", () => {
    if (!source) return;
    // Closing alone would let the server finish generating for its grace period (it cannot
    // tell Stop from a dropped connection); the DELETE cancels the model call now.
    if (runId) fetch(`chat/runs/${encodeURIComponent(runId)}`, { method: "DELETE" }).catch(() => {});
    finish("stopped", `Stopped (${describe()}); the partial answer is kept.`);
  });

  $("new").addEventListener("click", () => {
    sessionId = null;
    answer.textContent = "";
    tools.textContent = "";
    problem.textContent = "";
    setStatus("idle", "New conversation.");
  });
})();
