"""What each cookbook recipe adds to a call, and PII redaction to each stream chunk.

The budget, rate limit and fallback, built in since, are measured in bench_fleet.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from aether import LLMRequest, Message, Pipeline
from aether.extensions.llm.fake import FakeProvider
from aether.pipeline import on_request
from benchmarks._harness import BACKENDS, Row, cli, measure
from middleware.audit_log import JsonlAuditLog
from middleware.model_routing import ModelRouter
from middleware.pii_redaction import PIIRedactionMiddleware

TITLE = "Cookbook: what each recipe costs"
NOTES = """
Each recipe alone in a `Pipeline` in front of the Fake provider, driven with a prebuilt
request. The value is the time per call minus the bare Fake provider's; each side is the
best of three interleaved medians, so that other processes on a busy machine do not skew
one side only, and differences below about 2 µs are within the noise. The limits are set
so that nothing is ever refused or made to wait: this is the happy-path cost. The audit
log row includes its worker-thread hop and the append to a file on local disk. Stream rows
divide by the 51 chunks of a 50-word answer (one of them a placeholder to put back, in
the PII case).
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
        "model routing": (
            lambda: on_request(ModelRouter(cheap_model="small", strong_model="large")),
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


def added(
    measure_one: Callable[..., float],
    make: Callable[[], object],
    request: LLMRequest,
    *,
    n: int,
    backend: str,
    rounds: int,
) -> tuple[float, float]:
    """(bare, recipe minus bare): each the best of ``rounds`` interleaved medians.

    Interleaving and taking the best keeps other processes on a busy machine from
    landing in one side of the difference only. A difference below the machine's
    resolution reads as 0, never as a negative cost.
    """
    bare, with_recipe = [], []
    for _ in range(rounds):
        bare.append(measure_one(None, request, n=n, backend=backend))
        with_recipe.append(measure_one(make, request, n=n, backend=backend))
    return min(bare), max(0.0, min(with_recipe) - min(bare))


def run(quick: bool) -> list[Row]:
    calls = 500 if quick else 3_000
    streams = 50 if quick else 300
    rounds = 1 if quick else 3
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as directory:
        cases = recipes(Path(directory))
        for backend in BACKENDS:
            bare_calls: list[float] = []
            for case, (make, request) in cases.items():
                n = calls // 10 if "audit" in case else calls
                bare, value = added(per_call, make, request, n=n, backend=backend, rounds=rounds)
                bare_calls.append(bare)
                rows.append(Row(f"call: {case}", backend, value, "s"))
            rows.insert(
                len(rows) - len(cases),
                Row("call, bare Fake provider", backend, min(bare_calls), "s"),
            )
            bare_chunks: list[float] = []
            chunk_rows: list[Row] = []
            for case, request in (
                ("no PII in the prompt (pass-through)", PLAIN),
                ("an email in the prompt (un-masking)", WITH_EMAIL),
            ):
                bare, value = added(
                    per_chunk,
                    PIIRedactionMiddleware,
                    request,
                    n=streams,
                    backend=backend,
                    rounds=rounds,
                )
                bare_chunks.append(bare)
                chunk_rows.append(Row(f"stream chunk: PII redaction, {case}", backend, value, "s"))
            rows.append(Row("stream chunk, bare Fake provider", backend, min(bare_chunks), "s"))
            rows += chunk_rows
    return rows


if __name__ == "__main__":
    cli(run)
