"""The OpenAI chat-completions wire format: request bodies out, JSON and SSE chunks in.

Aether reads the JSON the SDK decoded instead of the SDK's typed models: building a
typed chunk costs about 200 µs, a dict lookup well under one (see benchmarks/). Every
read is defensive, because OpenAI-compatible servers differ in the details.
"""

from __future__ import annotations

from typing import Any

from aether.errors import BadRequestError
from aether.extensions.llm._errors import malformed
from aether.extensions.llm._openai_content import messages_json, reasoning_of
from aether.extensions.llm._parts import PartsBuilder
from aether.extensions.llm._tool_calls import ToolCallAssembler, make_tool_call, text_of
from aether.llm.contracts import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    ReasoningPart,
    StreamChunk,
    TextPart,
    TokenCounts,
    Tool,
    ToolCall,
)

__all__ = ["ChatStreamState", "build_body", "parse_completion", "reasoning_effort", "usage_tokens"]

_NOT_REASONING = ("gpt-3.5", "gpt-4", "chatgpt-")
"""OpenAI's models that take no ``reasoning_effort`` (by name prefix, on OpenAI's host)."""

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def _finish(reason: object, *, has_tool_calls: bool, refused: bool) -> FinishReason:
    if refused:
        return "content_filter"
    normalised = _FINISH.get(reason, "other") if isinstance(reason, str) else "other"
    # Some compatible servers (Ollama, older vLLM) say "stop" after a tool call.
    if has_tool_calls and normalised == "stop":
        return "tool_calls"
    return normalised


def _tool_json(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _tool_choice_json(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def reasoning_effort(
    request: LLMRequest,
    *,
    model: str,
    provider: str,
    official: bool,
    api: str = "chat completions",
) -> str | None:
    """The effort level for ``request.reasoning`` (``None``: send none), on either of
    OpenAI's wires (``api`` names it in errors).

    Raises:
        BadRequestError: For a token budget (OpenAI takes levels only), or a level other
            than ``"none"`` for an OpenAI model that does not reason.
    """
    reasoning = request.reasoning
    if reasoning is None:
        return None
    if isinstance(reasoning, int):
        raise BadRequestError(
            f"{provider} takes an effort level with {api} (reasoning='minimal', 'low', "
            f"'medium' or 'high'), not a budget of {reasoning} tokens; a server that takes "
            f"budgets gets one through provider_options. Nothing was sent.",
            provider=provider,
        )
    if official and model.startswith(_NOT_REASONING):
        if reasoning == "none":
            return None
        raise BadRequestError(
            f"{model} does not reason, so it takes no reasoning={reasoning!r}; use a reasoning "
            f"model (gpt-5, o4-mini...) or leave reasoning out. Nothing was sent.",
            provider=provider,
        )
    return reasoning


def build_body(
    request: LLMRequest,
    *,
    model: str,
    provider: str,
    max_tokens_field: str,
    stream: bool,
    developer_role: str = "developer",
    official: bool = True,
) -> dict[str, Any]:
    """The JSON body of ``POST /chat/completions`` for ``request`` (before the escape hatch).

    Raises:
        BadRequestError: If a part or the reasoning option cannot go on this wire.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": messages_json(
            request.messages, provider=provider, developer_role=developer_role, official=official
        ),
    }
    if request.reasoning is not None:
        effort = reasoning_effort(request, model=model, provider=provider, official=official)
        if effort is not None:
            body["reasoning_effort"] = effort
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        body[max_tokens_field] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if request.tools:
        body["tools"] = [_tool_json(tool) for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice_json(request.tool_choice)
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_NO_DETAILS: dict[str, Any] = {}


def usage_tokens(usage: object) -> TokenCounts | None:
    """Aether's token counts from an OpenAI ``usage`` object (``None`` if there is none)."""
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else _NO_DETAILS
    completion = usage.get("completion_tokens_details")
    completion = completion if isinstance(completion, dict) else _NO_DETAILS
    return TokenCounts(
        input=_int(usage.get("prompt_tokens")),
        output=_int(usage.get("completion_tokens")),
        cached_input=_int(prompt.get("cached_tokens")),
        reasoning=_int(completion.get("reasoning_tokens")),
        input_audio=_int(prompt.get("audio_tokens")),
        input_image=_int(prompt.get("image_tokens")),
        output_audio=_int(completion.get("audio_tokens")),
    )


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some servers send content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def parse_completion(data: object, *, provider: str, fallback_model: str) -> LLMResponse:
    """The `LLMResponse` for a chat-completion JSON body."""
    if not isinstance(data, dict):
        raise malformed(provider, f"expected a JSON object, got {type(data).__name__}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise malformed(provider, "the body has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise malformed(provider, "the first choice has no message")
    text = _content_text(message.get("content"))
    refusal = message.get("refusal")
    refused = isinstance(refusal, str) and bool(refusal) and not text
    if refused:
        text = str(refusal)
    calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls")
    for position, raw in enumerate(raw_calls if isinstance(raw_calls, list) else ()):
        # A call without a name or id is the model's mistake, not a broken response: like
        # the stream, the call keeps an empty name and the tool loop tells the model.
        call: dict[str, Any] = raw if isinstance(raw, dict) else {}
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        calls.append(
            make_tool_call(
                text_of(call.get("id")) or f"call_{position}",
                text_of(function.get("name")),
                arguments=function.get("arguments"),
            )
        )
    model = data.get("model")
    reasoning = reasoning_of(message)
    parts = (
        (ReasoningPart(text=reasoning, provider=provider), TextPart(text=text)) if reasoning else ()
    )
    return LLMResponse(
        text=text,
        model=model if isinstance(model, str) and model else fallback_model,
        tokens=usage_tokens(data.get("usage")) or TokenCounts(),
        parts=parts,
        response_id=text_of(data.get("id")) or None,
        tool_calls=tuple(calls),
        finish_reason=_finish(
            choices[0].get("finish_reason"), has_tool_calls=bool(calls), refused=refused
        ),
        provider=provider,
    )


class ChatStreamState:
    """Folds chat-completion chunks into deltas and, at the end, the final chunk.

    Text deltas are kept in a list, the cheapest record; a stream that brings reasoning
    switches to a `PartsBuilder`, so the final chunk's parts keep the order they came in.
    In tool mode (structured output), the output tool's argument deltas come back as
    text deltas, so the answer streams like a native one.
    """

    __slots__ = (
        "_output_key",
        "_parts",
        "_provider",
        "_refused",
        "_texts",
        "_tools",
        "finish",
        "model",
        "output_tool",
        "response_id",
        "usage",
    )

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self.output_tool: str | None = None
        self._output_key: object = None
        self._tools = ToolCallAssembler()
        self._refused = False
        self._texts: list[str] = []
        self._parts: PartsBuilder | None = None
        self.finish: object = None
        self.model: str | None = None
        self.usage: object = None
        self.response_id: str | None = None

    def feed(self, chunk: object) -> str | StreamChunk | tuple[StreamChunk, str] | None:
        """Record one chunk; return its text delta or its reasoning chunk (both, in a
        pair, when one delta carries both), if any."""
        if not isinstance(chunk, dict):
            raise malformed(self._provider, f"a stream chunk is {type(chunk).__name__}")
        model = chunk.get("model")
        if model and isinstance(model, str):
            self.model = model
        if self.response_id is None:
            self.response_id = text_of(chunk.get("id")) or None
        usage = chunk.get("usage")
        if usage is not None:
            self.usage = usage
        choices = chunk.get("choices")
        if not choices or not isinstance(choices, list):
            return None
        choice = choices[0]
        if not isinstance(choice, dict):
            raise malformed(self._provider, "a stream choice is not an object")
        finish = choice.get("finish_reason")
        if finish:
            self.finish = finish
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return None
        tool_calls = delta.get("tool_calls")
        if tool_calls:
            answer = self._add_tool_calls(tool_calls)
            if answer:
                return answer
        content = delta.get("content")
        if content and isinstance(content, str):
            if len(delta) > 1 and reasoning_of(delta):  # both in one delta: reasoning first
                return (self._reasoning(reasoning_of(delta)), self._text(content))
            return self._text(content)
        refusal = delta.get("refusal")
        if refusal and isinstance(refusal, str):
            self._refused = True
            return self._text(refusal)
        reasoning = reasoning_of(delta)
        if reasoning:
            return self._reasoning(reasoning)
        return None

    def _text(self, text: str) -> str:
        if self._parts is None:
            self._texts.append(text)
        else:
            self._parts.delta("text", text)
        return text

    def _reasoning(self, text: str) -> StreamChunk:
        parts = self._parts
        if parts is None:
            parts = self._parts = PartsBuilder(self._provider)
            if self._texts:
                parts.delta("text", "".join(self._texts))
        parts.delta("reasoning", text)
        return StreamChunk(kind="reasoning", reasoning=text)

    def _add_tool_calls(self, tool_calls: object) -> str | None:
        """Record tool-call fragments; return the output tool's argument text, if any."""
        if not isinstance(tool_calls, list):
            raise malformed(self._provider, "delta.tool_calls is not a list")
        answer = None
        for fragment in tool_calls:
            if not isinstance(fragment, dict):
                raise malformed(self._provider, "a tool-call delta is not an object")
            function = fragment.get("function")
            function = function if isinstance(function, dict) else {}
            key, arguments = fragment.get("index"), function.get("arguments")
            self._tools.add(
                key, call_id=fragment.get("id"), name=function.get("name"), arguments=arguments
            )
            if self.output_tool is not None:
                if function.get("name") == self.output_tool:
                    self._output_key = key if key is not None else "unkeyed"
                is_output = self._output_key is not None and (
                    key == self._output_key or (key is None and self._output_key == "unkeyed")
                )
                if is_output and isinstance(arguments, str) and arguments:
                    answer = (answer or "") + arguments
        return answer

    def final(self, fallback_model: str) -> StreamChunk:
        """The stream's final chunk.

        Raises:
            MalformedResponseError: If the stream ended before any chunk said why the
                model stopped (a cut connection, not a finished answer).
        """
        if self.finish is None:
            raise malformed(self._provider, "the stream ended before a chunk gave a finish_reason")
        calls = self._tools.calls()
        return StreamChunk(
            finish_reason=_finish(self.finish, has_tool_calls=bool(calls), refused=self._refused),
            model=self.model or fallback_model,
            tokens=usage_tokens(self.usage),
            parts=self._parts.parts() if self._parts is not None else (),
            tool_calls=calls,
            provider=self._provider,
            response_id=self.response_id,
        )
