"""Generates a few tokens with the packaged Gemma model, as the local backend does.

`scripts/check-local-model.sh` runs it after installing: a llama-cpp-python build whose CPU
kernels do not suit this machine dies here (a signal, not an exception) instead of in a
visitor's first answer.
"""

import asyncio

from google.adk.models import LlmRequest
from google.genai import types

from streaming_core.backends.local_gemma import LocalModelUnavailable, create_local_gemma


async def main() -> int:
    try:
        model = create_local_gemma()
    except LocalModelUnavailable as exc:
        print(f"local model unavailable: {exc}")
        return 1
    request = LlmRequest(
        contents=[types.Content(role="user", parts=[types.Part(text="Count to 3")])],
        config=types.GenerateContentConfig(max_output_tokens=4, temperature=0),
    )
    async for _ in model.generate_content_async(request, stream=True):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
