"""The suite's scenarios for failures: every one must surface as an Aether error."""

from __future__ import annotations

import email.utils
import time
import traceback

from aether.errors import (
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
    RequestTimeoutError,
    ServerError,
)
from aether.testing.provider_suite import ScenarioKit, expect, scenario
from aether.testing.wire import (
    BrokenStream,
    ConnectionFailure,
    MalformedBody,
    ScriptedError,
    ScriptedReply,
    ScriptedTimeout,
    StreamErrorEvent,
)


@scenario()
async def rate_limit_carries_retry_after(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(ScriptedError(429, "Rate limit reached", {"retry-after": "7"}))
    error, chunks = await kit.call_failing(provider, kit.request("hi"), RateLimitError)
    expect((error.status_code, error.retry_after), (429, 7.0), "status and retry_after")
    expect((error.provider, error.retryable, chunks), (kit.wire.name, True, []), "error fields")


@scenario()
async def retry_after_ms_preferred_over_retry_after(kit: ScenarioKit) -> None:
    headers = {"retry-after-ms": "1500", "retry-after": "7"}
    provider, _ = kit.serve(ScriptedError(429, "slow down", headers))
    error, _ = await kit.call_failing(provider, kit.request("hi"), RateLimitError)
    expect(error.retry_after, 1.5, "retry_after from retry-after-ms")


@scenario()
async def retry_after_as_http_date(kit: ScenarioKit) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    provider, _ = kit.serve(ScriptedError(429, "slow down", {"retry-after": when}))
    error, _ = await kit.call_failing(provider, kit.request("hi"), RateLimitError)
    wait = error.retry_after
    expect(wait is not None and 25.0 <= wait <= 31.0, True, f"retry_after near 30 s ({wait})")


@scenario()
async def server_error_is_retryable(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(ScriptedError(500, "The server had an error"))
    error, _ = await kit.call_failing(provider, kit.request("hi"), ServerError)
    expect((error.status_code, error.retryable), (500, True), "status and retryable")
    expect("The server had an error" in str(error), True, f"server's message in {error}")


@scenario()
async def unauthorized_names_the_key_variable(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(ScriptedError(401, "Invalid authentication"))
    error, _ = await kit.call_failing(provider, kit.request("hi"), AuthenticationError)
    expect((error.status_code, error.retryable), (401, False), "status and retryable")
    key_env = getattr(provider, "api_key_env", None)
    if key_env:
        expect(key_env in str(error), True, f"{key_env} named in {error}")


@scenario()
async def bad_request_is_not_retryable(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(ScriptedError(400, "Unknown parameter: 'foo'"))
    error, _ = await kit.call_failing(provider, kit.request("hi"), BadRequestError)
    expect((error.status_code, error.retryable), (400, False), "status and retryable")


@scenario()
async def api_key_never_in_errors(kit: ScenarioKit) -> None:
    key = kit.wire.api_key
    provider, _ = kit.serve(ScriptedError(401, f"Incorrect API key provided: {key}."))
    error, _ = await kit.call_failing(provider, kit.request("hi"), AuthenticationError)
    expect(key in str(error) or key in repr(error), False, "the key appears in the error")
    printed = "".join(traceback.format_exception(error))
    expect(key in printed, False, "the key appears in the printed traceback")
    expect(key in repr(provider), False, "the key appears in the provider's repr")


@scenario()
async def malformed_body_is_malformed_response(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(MalformedBody())
    error, _ = await kit.call_failing(provider, kit.request("hi"), MalformedResponseError)
    expect(error.retryable, True, "retryable")


@scenario(modes=("stream",))
async def broken_stream_is_malformed_after_its_text(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(BrokenStream(text=("partial ", "answer")))
    _, chunks = await kit.call_failing(provider, kit.request("hi"), MalformedResponseError)
    expect([chunk.text for chunk in chunks], ["partial ", "answer"], "chunks before the error")


@scenario(modes=("stream",))
async def error_event_mid_stream_is_retryable(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(StreamErrorEvent(text=("Hel",), message="Overloaded"))
    error, chunks = await kit.call_failing(provider, kit.request("hi"), ServerError)
    expect([chunk.text for chunk in chunks], ["Hel"], "chunks before the error")
    expect(("Overloaded" in str(error), error.retryable), (True, True), f"error: {error}")


@scenario()
async def connection_failure_is_connection_error(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(ConnectionFailure())
    error, _ = await kit.call_failing(provider, kit.request("hi"), ProviderConnectionError)
    expect(error.retryable, True, "retryable")


@scenario()
async def read_timeout_is_timeout_error(kit: ScenarioKit) -> None:
    provider, _ = kit.serve(ScriptedTimeout())
    error, _ = await kit.call_failing(provider, kit.request("hi"), RequestTimeoutError)
    expect(error.retryable, True, "retryable")


@scenario()
async def sdk_retries_are_off(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedError(503, "busy"), ScriptedReply(text=("ok",)))
    await kit.call_failing(provider, kit.request("hi"), ServerError)
    expect(len(server.requests), 1, "requests sent for one failing call")


@scenario()
async def closed_provider_refuses_calls(kit: ScenarioKit) -> None:
    provider, server = kit.serve(ScriptedReply(text=("ok",)))
    await provider.aclose()
    expect(server.transport_closed, True, "the HTTP client the provider built is closed")
    await provider.aclose()
    error, _ = await kit.call_failing(provider, kit.request("hi"), ProviderError)
    expect((error.retryable, len(server.requests)), (False, 0), "retryable and requests sent")
