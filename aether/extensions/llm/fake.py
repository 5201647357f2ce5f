"""The Fake provider: deterministic answers, scripted turns and faults, no network.

::

    fake = FakeProvider(canned_response="hello")          # the same answer every time
    fake = FakeProvider(responses=[                        # a script, consumed in order
        LLMResponse(text="", model="fake", tool_calls=[ToolCall(id="c1", name="add",
                    arguments={"a": 2, "b": 3})]),
        RateLimitError("slow down", retry_after=1.0),      # an exception is raised
        StreamFault(ServerError("boom"), after_chunks=2),  # a stream breaks mid-way
        "The answer is 5.",                                # a string is a text answer
    ])
    fake = FakeProvider(responder=lambda request: ...)     # computed from the request

With nothing scripted it answers with a fixed sentence that quotes the last user message
and describes the media parts it holds (kind, media type, size); when the request offers
tools it first calls one (numbers in the prompt fill its numeric arguments, in order),
then reports what the tool returned, so the tool loop runs end to end under
``LLM_PROVIDER=fake``.
Every response carries token counts (when not scripted: words, plus the estimate of
`aether.memory.approximate_content_tokens` for each media part, also counted in
``input_image`` and ``input_audio``), and every request it received is kept in
``fake.requests``. A scripted `LLMResponse` with reasoning parts streams them as
``reasoning`` chunks.

Structured output (``output_type=``): unscripted, it answers with a value valid against
the schema (deterministic: see `aether.extensions.llm._fake_output`), after calling a
tool first when the request offers some. ``auto`` is ``native``; ``tool`` answers
through the ``final_result`` tool and ``prompted`` adds the instructions, as a real
provider would (``fake.requests`` keeps the requests as received). A scripted answer is
used as it is, so a script can hold invalid JSON to exercise the re-ask.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

import anyio

from aether.errors import AetherError
from aether.extensions.llm._fake_replies import default_reply, prompt_tokens
from aether.llm._output_modes import OutputPlan, apply_mode, finish_response
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import content_chunks, final_chunk, split_text

__all__ = ["FakeProvider", "FakeScriptExhaustedError", "Script", "StreamFault"]

DEFAULT_MODEL = "fake-model"


@dataclass(frozen=True, slots=True)
class StreamFault:
    """A scripted failure that a stream raises after yielding ``after_chunks`` text chunks.

    In call mode it is raised straight away. ``text`` is what the stream yields first.
    """

    error: BaseException
    after_chunks: int = 0
    text: str = "partial output that will be cut off"


Script = LLMResponse | str | BaseException | StreamFault
Responder = Callable[[LLMRequest], "Script | Awaitable[Script]"]


class FakeScriptExhaustedError(AetherError, RuntimeError):
    """Every scripted response has been used; the test asked for one more."""


class FakeProvider:
    """A provider for tests and demos that never touches the network.

    Args:
        canned_response: Text answered to every request.
        responses: A script, consumed one item per call (see the module docstring).
        responder: A sync or async function computing each answer from the request.
        default_model: The model name reported when the request names none.
        words_per_chunk: How many words each streamed text chunk carries.
        delay: Seconds to wait before answering (for timeouts and concurrency tests).
        chunk_delay: Seconds to wait between streamed chunks.
        api_key: Ignored; accepted so the provider factory can build it like any other.
    """

    name = "fake"
    structured_output = True

    def __init__(
        self,
        canned_response: str | None = None,
        *,
        responses: Iterable[Script] | None = None,
        responder: Responder | None = None,
        default_model: str = DEFAULT_MODEL,
        words_per_chunk: int = 1,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        api_key: str | None = None,
    ) -> None:
        del api_key
        self.canned_response = canned_response
        self.script: deque[Script] = deque(responses or ())
        self.scripted = responses is not None
        self.responder = responder
        self.default_model = default_model
        self.words_per_chunk = words_per_chunk
        self.delay = delay
        self.chunk_delay = chunk_delay
        self.requests: list[LLMRequest] = []
        self.open_streams = 0
        self.closed = False

    @property
    def last_request(self) -> LLMRequest:
        """The most recent request received."""
        return self.requests[-1]

    def add_responses(self, *responses: Script) -> None:
        """Append items to the script."""
        self.script.extend(responses)
        self.scripted = True

    @staticmethod
    def _planned(request: LLMRequest) -> tuple[LLMRequest, OutputPlan | None]:
        if request.output is None:
            return request, None
        mode = request.output.mode
        return apply_mode(request, "native" if mode == "auto" else mode)

    async def _next(self, request: LLMRequest, sent: LLMRequest, plan: OutputPlan | None) -> Script:
        self.requests.append(request)
        if self.delay:
            await anyio.sleep(self.delay)
        if self.responder is not None:
            result = self.responder(request)
            if inspect.isawaitable(result):
                result = await result
            return result
        if self.scripted:
            if not self.script:
                raise FakeScriptExhaustedError(
                    f"FakeProvider's script is used up after {len(self.requests) - 1} "
                    f"responses; add more to responses=[...] for request {len(self.requests)}"
                )
            return self.script.popleft()
        if self.canned_response is not None:
            return self.canned_response
        return default_reply(
            sent,
            model=request.model or self.default_model,
            provider=self.name,
            output_tool=plan.tool if plan is not None else None,
        )

    def _response(self, request: LLMRequest, item: LLMResponse | str) -> LLMResponse:
        if isinstance(item, LLMResponse):
            return item
        return LLMResponse(
            text=item,
            model=request.model or self.default_model,
            tokens=prompt_tokens(request.messages, output=len(item.split())),
            finish_reason="stop",
            provider=self.name,
        )

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer ``request`` with the next scripted item, the responder, or the default."""
        sent, plan = self._planned(request)
        item = await self._next(request, sent, plan)
        if isinstance(item, StreamFault):
            raise item.error
        if isinstance(item, BaseException):
            raise item
        response = self._response(request, item)
        return response if plan is None else finish_response(response, plan)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Stream the same answer `complete` would give, ``words_per_chunk`` words a chunk."""
        self.open_streams += 1
        try:
            sent, plan = self._planned(request)
            item = await self._next(request, sent, plan)
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, StreamFault):
                for index, delta in enumerate(split_text(item.text, self.words_per_chunk)):
                    if index >= item.after_chunks:
                        break
                    yield StreamChunk(text=delta)
                    if self.chunk_delay:
                        await anyio.sleep(self.chunk_delay)
                raise item.error
            response = self._response(request, item)
            if plan is not None:
                response = finish_response(response, plan)
            for chunk in content_chunks(response, max(1, self.words_per_chunk)):
                yield chunk
                if self.chunk_delay:
                    await anyio.sleep(self.chunk_delay)
            yield final_chunk(response)
        finally:
            self.open_streams -= 1

    async def aclose(self) -> None:
        """Mark the provider closed (nothing to release)."""
        self.closed = True

    def __repr__(self) -> str:
        return f"FakeProvider(model={self.default_model!r}, requests={len(self.requests)})"
