"""A JSONL audit log: one line per call or stream, with secrets scrubbed.

Each line is a JSON object::

    {"time": "2025-01-01T12:00:00.000000+00:00", "id": "9f1c...", "mode": "stream",
     "outcome": "ok", "duration_seconds": 0.81,
     "request": {"model": ..., "temperature": ..., "messages": [...], "tools": [...], ...},
     "response": {"text": ..., "model": ..., "finish_reason": ..., "input_tokens": ...,
                  "output_tokens": ..., "cost_usd": ..., "tool_calls": [...]},
     "error": null, "context": {"user_id": "alice"}}

``outcome`` is ``ok``, ``error`` (with ``error.type`` and ``error.message``),
``cancelled``, or, for a stream the consumer stopped reading, ``abandoned``. A stream is
logged once, at its end, with the text assembled from its chunks. ``id`` is
``request.context["request_id"]``, set to a fresh id when the caller gave none, so the
layers inside can tag their own logs with it.

Scrubbing: every string in the line (messages, tool arguments, the answer, the error,
the context values you chose to log) passes through `scrub`, which replaces API keys of
the common providers, bearer tokens, JWTs, private key blocks and ``password=...``-style
assignments with ``[REDACTED]``. It is a safety net, not a guarantee: log only the context
keys you need, and put `middleware.pii_redaction` outside this middleware if personal
data must stay out of the file too.

Writes never block the event loop: each line is appended in a worker thread
(``anyio.to_thread``), whole, under a lock, so concurrent calls never interleave lines.
A failed write is logged on the ``middleware.audit_log`` logger and the call goes on,
unless ``strict=True``, which raises it instead (for audits that must be complete).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import StreamAccumulator, aclose_stream
from aether.pipeline import CallNext, StreamNext

__all__ = ["SECRET_PATTERNS", "JsonlAuditLog", "scrub"]

logger = logging.getLogger("middleware.audit_log")

REDACTED = "[REDACTED]"

SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
        ),
        REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),  # OpenAI, Anthropic, many others
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),  # Google API keys
    (re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"), REDACTED),  # GitHub
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), REDACTED),  # Slack
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),  # AWS access key ids
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), REDACTED),
    (
        re.compile(
            r"(?i)\b([\w-]*(?:api[_-]?key|secret|password|passwd|token|credential)[\w-]*)"
            r"(\"?\s*[:=]\s*\"?)[^\s\"',;&]{4,}"
        ),
        rf"\1\2{REDACTED}",
    ),
)
"""Each secret pattern and what replaces it, applied in order by `scrub`."""


def scrub(value: Any) -> Any:
    """``value`` with every secret in every string replaced; dicts and lists are walked.

    Anything that is not a string, number, bool, None, dict, list or tuple becomes its
    ``str()`` first, so the result is always JSON-ready.
    """
    if isinstance(value, str):
        for pattern, replacement in SECRET_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(key): scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return scrub(str(value))


def _request_record(request: LLMRequest) -> dict[str, Any]:
    record = request.model_dump(mode="json", exclude={"tools", "context"}, exclude_defaults=True)
    if request.tools:
        record["tools"] = [tool.name for tool in request.tools]
    return record


def _response_record(response: LLMResponse) -> dict[str, Any]:
    return response.model_dump(
        mode="json",
        include={
            "text",
            "model",
            "provider",
            "finish_reason",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cost_usd",
            "tool_calls",
        },
    )


class JsonlAuditLog:
    """Appends one scrubbed JSON line per call or stream to ``path``.

    Args:
        path: The JSONL file; created on the first write, appended to after that.
        context_keys: The request-context entries to log (scrubbed), such as
            ``("user_id",)``. Others are left out, since context may hold anything.
        strict: Raise a failed write instead of logging it and going on.
    """

    name = "AuditLog"

    __slots__ = ("_context_keys", "_write_lock", "path", "strict")

    def __init__(
        self,
        path: str | PathLike[str],
        *,
        context_keys: Sequence[str] = ("user_id",),
        strict: bool = False,
    ) -> None:
        self.path = Path(path)
        self.strict = strict
        self._context_keys = tuple(context_keys)
        self._write_lock = threading.Lock()

    def _append(self, line: str) -> None:
        with self._write_lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)

    async def _write(
        self,
        request: LLMRequest,
        *,
        mode: str,
        started: float,
        outcome: str,
        response: LLMResponse | None = None,
        error: BaseException | None = None,
    ) -> None:
        record = {
            "time": datetime.now(UTC).isoformat(),
            "id": request.context.get("request_id"),
            "mode": mode,
            "outcome": outcome,
            "duration_seconds": round(anyio.current_time() - started, 6),
            "request": _request_record(request),
            "response": _response_record(response) if response is not None else None,
            "error": (
                {"type": type(error).__name__, "message": str(error)}
                if error is not None and outcome == "error"
                else None
            ),
            "context": {
                key: request.context[key] for key in self._context_keys if key in request.context
            },
        }
        line = json.dumps(scrub(record), ensure_ascii=False) + "\n"
        # Shielded: a cancelled or abandoned call still gets its line.
        with anyio.CancelScope(shield=True):
            try:
                await anyio.to_thread.run_sync(self._append, line)
            except OSError:
                if self.strict:
                    raise
                logger.exception("could not append to the audit log %s", self.path)

    @staticmethod
    def _outcome(error: BaseException) -> str:
        if isinstance(error, GeneratorExit):
            return "abandoned"
        return "error" if isinstance(error, Exception) else "cancelled"

    async def call(self, request: LLMRequest, call_next: CallNext) -> LLMResponse:
        request.context.setdefault("request_id", uuid.uuid4().hex)
        started = anyio.current_time()
        try:
            response = await call_next(request)
        except BaseException as error:
            outcome = self._outcome(error)
            await self._write(request, mode="call", started=started, outcome=outcome, error=error)
            raise
        await self._write(request, mode="call", started=started, outcome="ok", response=response)
        return response

    async def stream(
        self, request: LLMRequest, call_next: StreamNext
    ) -> AsyncIterator[StreamChunk]:
        request.context.setdefault("request_id", uuid.uuid4().hex)
        started = anyio.current_time()
        collected = StreamAccumulator()
        outcome = "ok"
        failure: BaseException | None = None
        inner = call_next(request)
        try:
            async for chunk in inner:
                collected.add(chunk)
                yield chunk
        except BaseException as error:
            outcome, failure = self._outcome(error), error
            raise
        finally:
            try:
                await aclose_stream(inner)
            finally:
                response = collected.response(default_model=request.model or "")
                await self._write(
                    request,
                    mode="stream",
                    started=started,
                    outcome=outcome,
                    response=response if collected.text or collected.final else None,
                    error=failure,
                )
