"""Reading a Responses API stream: typed SSE events into text and reasoning chunks.

Text and reasoning deltas become chunks as they arrive; the answer itself is read from
the terminal event (``response.completed`` or ``response.incomplete``, whose
``response`` holds every item and the usage) exactly as a non-streamed body is read, so
both modes give the same answer. ``error`` and ``response.failed`` events are raised by
the adapter before they reach the state (see `failure`).
"""

from __future__ import annotations

from typing import Any

from aether.extensions.llm._errors import malformed
from aether.extensions.llm._responses_output import (
    SUMMARY_SEPARATOR,
    anchor,
    model_of,
    read_output,
    usage_tokens,
)
from aether.extensions.llm._tool_calls import text_of
from aether.llm.contracts import StreamChunk

__all__ = ["ResponsesStreamState"]


def _details(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class ResponsesStreamState:
    """Folds Responses stream events into text and reasoning deltas, then the final chunk.

    Text deltas come back as strings (the hot path), reasoning deltas as ``reasoning``
    chunks; the items finished along the way (``response.output_item.done``) stand in
    for the terminal event's ``output`` if a server leaves that list empty. In tool mode
    (structured output), the output tool's argument deltas come back as text deltas.
    """

    __slots__ = (
        "_chained",
        "_items",
        "_output_item",
        "_provider",
        "_summary",
        "_terminal",
        "model",
        "output_tool",
    )

    def __init__(self, provider: str, *, chained: bool) -> None:
        self._provider = provider
        self._chained = chained
        self._items: dict[int, dict[str, Any]] = {}
        self._terminal: dict[str, Any] | None = None
        self._summary: tuple[object, object] | None = None
        self.model: str | None = None
        self.output_tool: str | None = None
        self._output_item: object = None

    def feed(self, event: object) -> str | StreamChunk | None:
        """Record one event; return its text delta or reasoning chunk, if it has one."""
        if not isinstance(event, dict):
            raise malformed(self._provider, f"a stream event is {type(event).__name__}")
        kind = event.get("type")
        if kind == "response.output_text.delta" or kind == "response.refusal.delta":
            delta = event.get("delta")
            return delta if isinstance(delta, str) and delta else None
        if (
            kind == "response.reasoning_summary_text.delta"
            or kind == "response.reasoning_text.delta"
        ):
            return self._reasoning_delta(event)
        if kind == "response.function_call_arguments.delta":
            delta = event.get("delta")
            answer = event.get("item_id") == self._output_item and self._output_item is not None
            return delta if answer and isinstance(delta, str) and delta else None
        if kind == "response.output_item.added" and self.output_tool is not None:
            added = _details(event.get("item"))
            if added.get("type") == "function_call" and added.get("name") == self.output_tool:
                self._output_item = added.get("id")
        if kind == "response.output_item.done":
            item = event.get("item")
            index = event.get("output_index")
            if isinstance(item, dict):
                self._items[index if isinstance(index, int) else len(self._items)] = item
        elif kind in ("response.created", "response.in_progress"):
            model = _details(event.get("response")).get("model")
            if isinstance(model, str):
                self.model = model
        elif kind in ("response.completed", "response.incomplete"):
            terminal = event.get("response")
            if not isinstance(terminal, dict):
                raise malformed(self._provider, f"the {kind} event has no response")
            if kind == "response.incomplete" and terminal.get("status") is None:
                terminal = {**terminal, "status": "incomplete"}
            self._terminal = terminal
        return None

    def _reasoning_delta(self, event: dict[str, Any]) -> StreamChunk | None:
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return None
        # One reasoning part per item: its summary parts are joined as in a whole body.
        where = (event.get("item_id"), event.get("summary_index"))
        if self._summary is not None and where != self._summary and where[0] == self._summary[0]:
            delta = SUMMARY_SEPARATOR + delta
        self._summary = where
        return StreamChunk(kind="reasoning", reasoning=delta)

    def final(self, fallback_model: str) -> StreamChunk:
        """The stream's final chunk, read from the terminal event.

        Raises:
            MalformedResponseError: If the stream ended before ``response.completed`` or
                ``response.incomplete`` (a cut connection, not a finished answer).
        """
        response = self._terminal
        if response is None:
            raise malformed(self._provider, "the stream ended before response.completed")
        output = response.get("output")
        if not isinstance(output, list) or not output:
            output = [self._items[index] for index in sorted(self._items)]
        answer = read_output(output, provider=self._provider)
        if self._chained and (found := anchor(response, self._provider)) is not None:
            answer.parts.append(found)
        return StreamChunk(
            finish_reason=answer.finish(response.get("status"), response.get("incomplete_details")),
            model=model_of(response, self.model or fallback_model),
            tokens=usage_tokens(response.get("usage")),
            parts=answer.answer_parts(),
            tool_calls=tuple(answer.calls),
            provider=self._provider,
            response_id=text_of(response.get("id")) or None,
        )
