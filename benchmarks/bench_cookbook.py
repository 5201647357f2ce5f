"""What each cookbook recipe adds to a call, and PII redaction to each stream chunk."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from aether import LLMRequest, Message, Pipeline
from aether.extensions.llm.fake import FakeProvider
from aether.pipeline import on_request
from benchmarks._harness import BACKENDS, Row, cli, measure
from middleware.audit_log import JsonlAuditLog
from middleware.budget import BudgetMiddleware
from middleware.fallback import FallbackMiddleware
from middleware.model_routing import ModelRouter
from middleware.pii_redaction import PIIRedactionMiddleware
from middleware.rate_limit import RateLimitMiddleware

TITLE = "Cookbook: what each recipe costs"
NOTES = """
Each recipe alone in a `Pipeline` in front of the Fake provider, driven with a prebuilt
request; the value is the time per call minus the bare Fake provider's. The limits are
set so that nothing is ever refused or made to wait: this is the happy-path cost. The
audit log row includes its worker-thread hop and the append to a file on local disk.
Stream rows divide by the 51 chunks of a 50-word answer (one of them a placeholder to put
back, in the PII case).
"""

CHUNKS = 50
ANSWER = " ".join(["word"] * (CHUNKS - 1) + ["[EMAIL_1]"])
PLAIN = LLMRequest(
    messages=(Message(role="user", content="Summarise the meeting notes, please."),),
    model="fake-model",
    context={"user_id": "bench"},
)
WITH_EMAIL = PLAIN.model_copy(
    update={"messages": (Message(role="user", content="Summarise and mail alice@example.com"),)}
)


def recipes(directory: Path) -> dict[str, tuple[Callable[[], object], LLMRequest]]:
    return {
        "PII redaction, no PII in the prompt": (PIIRedactionMiddleware, PLAIN),
        "PII redaction, an email in the prompt": (PIIRedactionMiddleware, WITH_EMAIL),
        "budget (tokens and dollars)": (
            lambda: BudgetMiddleware(max_tokens=10**15, max_cost_usd=1e12),
            PLAIN,
        ),
        "rate limit (requests and tokens)": (
            lambda: RateLimitMiddleware(requests_per_minute=1e12, tokens_per_minute=1e15),
            PLAIN,
        ),
        "model routing": (
            lambda: on_request(ModelRouter(cheap_model="small", strong_model="large")),
            PLAIN,
        ),
        "fallback, first provider answers": (
            lambda: FallbackMiddleware(FakeProvider("backup")),
            PLAIN,
        ),
        "audit log (JSONL line per call)": (
            lambda: JsonlAuditLog(directory / "audit.jsonl"),
            PLAIN,
        ),
    }


def per_call(
    make: Callable[[], object] | None, request: LLMRequest, *, n: int, backend: str
) -> float:
    async def body(iterations: int) -> None:
        # Built inside the run: anyio locks bind to the event loop that first uses them.
        pipeline = Pipeline([make()] if make else [], FakeProvider(ANSWER))
        for _ in range(iterations):
            await pipeline.complete(request)

    return measure(body, iterations=n, backend=backend)


def per_chunk(
    make: Callable[[], object] | None, request: LLMRequest, *, n: int, backend: str
) -> float:
    async def body(iterations: int) -> None:
        pipeline = Pipeline([make()] if make else [], FakeProvider(ANSWER))
        for _ in range(iterations):
            async for _chunk in pipeline.stream(request):
                pass

    return measure(body, iterations=n, backend=backend) / (CHUNKS + 1)


def run(quick: bool) -> list[Row]:
    calls = 500 if quick else 5_000
    streams = 50 if quick else 500
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as directory:
        cases = recipes(Path(directory))
        for backend in BACKENDS:
            bare_call = per_call(None, PLAIN, n=calls, backend=backend)
            bare_chunk = per_chunk(None, PLAIN, n=streams, backend=backend)
            rows.append(Row("call, bare Fake provider", backend, bare_call, "s"))
            for case, (make, request) in cases.items():
                n = calls // 10 if "audit" in case else calls
                value = per_call(make, request, n=n, backend=backend) - bare_call
                rows.append(Row(f"call: {case}", backend, value, "s"))
            rows.append(Row("stream chunk, bare Fake provider", backend, bare_chunk, "s"))
            for case, request in (
                ("no PII in the prompt (pass-through)", PLAIN),
                ("an email in the prompt (un-masking)", WITH_EMAIL),
            ):
                value = per_chunk(PIIRedactionMiddleware, request, n=streams, backend=backend)
                rows.append(
                    Row(f"stream chunk: PII redaction, {case}", backend, value - bare_chunk, "s")
                )
    return rows


if __name__ == "__main__":
    cli(run)
