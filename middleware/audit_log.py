"""A JSONL audit log: one line per call or stream, with secrets scrubbed.

Each line is a JSON object::

    {"time": "2025-01-01T12:00:00.000000+00:00", "id": "9f1c...", "mode": "stream",
     "outcome": "ok", "duration_seconds": 0.81,
     "request": {"model": ..., "temperature": ..., "messages": [...], "tools": [...], ...},
     "response": {"text": ..., "model": ..., "finish_reason": ..., "input_tokens": ...,
                  "output_tokens": ..., "cost_usd": ..., "tool_calls": [...]},
     "error": null, "context": {"user_id": "alice"}}

Content parts are logged without their bytes: an image, audio or document part as its
``type``, ``media_type``, ``size`` and ``sha256`` (or its ``url``), with ``detail`` or
``name`` where set, so a line stays small and the file holds no media, yet a part can be
matched to the file it came from. Text and reasoning parts keep their text; opaque
provider signatures are left out (they are ciphertext, of no use to an auditor). An
answer with parts logs them under ``response.parts`` the same way.

``outcome`` is ``ok``, ``error`` (with ``error.type`` and ``error.message``),
``cancelled``, or, for a stream the consumer stopped reading, ``abandoned``. A stream is
logged once, at its end, with the text assembled from its chunks. ``id`` is
``request.context["request_id"]``, set to a fresh id when the caller gave none, so the
layers inside can tag their own logs with it.

Scrubbing: the whole line passes through `scrub`. In every dict, at any depth (tool-call
arguments, ``provider_options`` headers, context values), the value of a field whose
name says it holds a secret (``password``, ``secret``, ``token``, ``api_key``, ``api-key``,
``Authorization``, ``cookie``, ``*_key``...; see `SECRET_FIELD_WORDS`) is replaced whole.
In every other string, API keys of the common providers (OpenAI, Anthropic, Google, Groq,
Hugging Face, xAI, GitHub, GitLab, Slack, Stripe, AWS key ids), bearer tokens, JWTs,
private key blocks and assignments such as ``password=...`` or ``api_key: 'a b c'``
(quoted or not) become ``[REDACTED]``. It is a safety net, not a guarantee: log only the
context keys you need, and put `middleware.pii_redaction` outside this middleware if
personal data must stay out of the file too.

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

from aether.llm.contracts import (
    AudioPart,
    DocumentPart,
    ImagePart,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    StreamChunk,
)
from aether.llm.streaming import StreamAccumulator, aclose_stream
from aether.pipeline import CallNext, StreamNext

__all__ = [
    "SECRET_FIELD_WORDS",
    "SECRET_PATTERNS",
    "JsonlAuditLog",
    "is_secret_field",
    "part_record",
    "scrub",
]

logger = logging.getLogger("middleware.audit_log")

REDACTED = "[REDACTED]"

# A whole run of name characters holding a secret word. Atomic, and starting only where
# a run starts: a long run without a separator after it is read once, not once per word.
_SECRET_NAME = (
    r"(?<![\w-])(?>[\w-]*?"
    r"(?:password|passwd|passphrase|pwd|secret|token|credential|api[_-]?key|[_-]key)[\w-]*)"
)

SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S
        ),
        REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),  # OpenAI, Anthropic, many others
    (re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"), REDACTED),  # Stripe
    (re.compile(r"\bgsk_[A-Za-z0-9]{20,}"), REDACTED),  # Groq
    (re.compile(r"\bxai-[A-Za-z0-9]{20,}"), REDACTED),  # xAI
    (re.compile(r"\bhf_[A-Za-z0-9]{20,}"), REDACTED),  # Hugging Face
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), REDACTED),  # Google API keys
    (re.compile(r"\b(?:gh[pousr]|github_pat)_[A-Za-z0-9_]{20,}"), REDACTED),  # GitHub
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), REDACTED),  # GitLab
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), REDACTED),  # Slack
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),  # AWS access key ids
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), REDACTED),
    (  # password = 's3cr3t', "api_key": "a b c", pwd: "correct horse battery"
        re.compile(rf"(?i)({_SECRET_NAME}[\"']?\s*[:=]\s*)([\"'])[^\"'\n]{{4,}}\2"),
        rf"\1\2{REDACTED}\2",
    ),
    (  # password=s3cr3t, DB_PASSWORD: s3cr3t, export OPENAI_KEY=sk-...
        re.compile(rf"(?i)({_SECRET_NAME}[\"']?\s*[:=]\s*)[^\s\"',;&]{{4,}}"),
        rf"\1{REDACTED}",
    ),
)
"""Each secret pattern and what replaces it, applied in order by `scrub` to every string."""

SECRET_FIELD_WORDS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "jwt",
        "key",
        "oauth",
        "passphrase",
        "passwd",
        "password",
        "pwd",
        "secret",
        "token",
    }
)
"""A dict key holding one of these words has its whole value scrubbed.

Keys are split into words at ``_``, ``-``, spaces and case changes (``api-key``,
``apiKey``, ``OPENAI_API_KEY``, ``X-Auth-Token``, ``client_secret``) and compared in lower
case. ``tokens`` (plural, as in ``input_tokens``) is a count and is kept.
"""

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def is_secret_field(name: str) -> bool:
    """Whether a dict key such as ``"api-key"`` or ``"password"`` names a secret."""
    return any(word.lower() in SECRET_FIELD_WORDS for word in _WORD.findall(name))


def scrub(value: Any) -> Any:
    """``value`` with its secrets replaced; dicts and lists are walked.

    In a dict, the value of a key that names a secret (see `SECRET_FIELD_WORDS`) is
    replaced whole, whatever its type, unless it is ``None``. Every other string passes
    through `SECRET_PATTERNS`. Anything that is not a string, number, bool, None, dict,
    list or tuple becomes its ``str()`` first, so the result is always JSON-ready.
    """
    if isinstance(value, str):
        for pattern, replacement in SECRET_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {
            str(key): REDACTED if item is not None and is_secret_field(str(key)) else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return scrub(str(value))


def part_record(part: Part) -> dict[str, Any]:
    """What the log keeps of one part: never media bytes or provider signatures."""
    if isinstance(part, ImagePart | AudioPart | DocumentPart):
        shown = part.model_dump(mode="json", exclude={"data"}, exclude_none=True)
        if part.data is not None:
            shown.update(size=len(part.data), sha256=part.sha256())
        return shown
    return part.model_dump(mode="json", exclude={"signature"}, exclude_defaults=True)


_NO_SIGNATURES: dict[str, Any] = {"tool_calls": {"__all__": {"signature"}}}


def _message_record(message: Message) -> dict[str, Any]:
    exclude = {"content": True, **_NO_SIGNATURES}
    record = message.model_dump(mode="json", exclude=exclude, exclude_defaults=True)
    content = message.content
    record["content"] = content if isinstance(content, str) else list(map(part_record, content))
    return record


def _request_record(request: LLMRequest) -> dict[str, Any]:
    parts = not all(isinstance(message.content, str) for message in request.messages)
    exclude: dict[str, Any] = {"tools": True, "context": True}
    # With parts, messages are dumped one by one, so media bytes are never base64-encoded
    # for nothing.
    exclude["messages"] = True if parts else {"__all__": _NO_SIGNATURES}
    record = request.model_dump(mode="json", exclude=exclude, exclude_defaults=True)
    if parts:
        record = {"messages": list(map(_message_record, request.messages)), **record}
    if request.tools:
        record["tools"] = [tool.name for tool in request.tools]
    return record


def _response_record(response: LLMResponse) -> dict[str, Any]:
    shown = {"text", "model", "provider", "finish_reason", "cost_usd", "tool_calls"}
    record = response.model_dump(mode="json", include=shown, exclude=_NO_SIGNATURES)
    tokens = response.tokens
    record.update(
        input_tokens=tokens.input,
        output_tokens=tokens.output,
        cached_input_tokens=tokens.cached_input,
    )
    if tokens.reasoning:
        record["reasoning_tokens"] = tokens.reasoning
    if response.parts:
        record["parts"] = list(map(part_record, response.parts))
    return record


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
