"""The Gemini adapter: the Gemini API through the official ``google-genai`` SDK.

google-genai's own async client calls asyncio directly (it fails on trio) and prefers
aiohttp when installed; this adapter always hands it an ``httpx2.AsyncClient`` of its own
(or yours), so it runs on asyncio and trio alike. The SDK is imported when the provider
is built, never by ``import aether``.

::

    provider = GeminiProvider(api_key="...", default_model="gemini-2.5-flash")
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aether.errors import BadRequestError, ConfigurationError, ProviderError
from aether.extensions.llm._errors import (
    error_detail,
    event_error,
    malformed,
    missing_api_key,
    redact,
    status_error,
    transport_error,
)
from aether.extensions.llm._gemini_wire import (
    build_config,
    build_contents,
    finish_reason,
    read_candidate,
    usage_tokens,
)
from aether.extensions.llm._http import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_TIMEOUT,
    parse_duration,
    refusing_sync_client,
    shared_ssl_context,
    timeout_seconds,
)
from aether.extensions.llm._output_schemas import gemini_mode, gemini_schema
from aether.extensions.llm._parts import PartsBuilder
from aether.extensions.llm._requests import merge_options, vendor_options
from aether.extensions.llm._sdk_provider import SdkProvider
from aether.extensions.llm._stream_guard import StreamGuard, finish_sdk_stream, install_guard_hook
from aether.extensions.llm._wire_defaults import PreparedCall, SamplingRules
from aether.llm._output_modes import OutputPlan, apply_mode, finish_chunk, finish_response
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk, TokenCounts, ToolCall

__all__ = ["DEFAULT_MODEL", "GeminiProvider"]

DEFAULT_MODEL = "gemini-2.5-flash"


def _import_sdk() -> tuple[Any, Any, Any]:
    try:
        from google import genai
        from google.genai import errors, types
    except ImportError as error:
        raise ImportError(
            "the gemini provider needs the google-genai package: pip install 'aether-llm[gemini]'",
            name="google.genai",
        ) from error
    return genai, types, errors


class GeminiProvider(SdkProvider):
    """Gemini models through the Gemini API.

    Args:
        api_key: The API key; ``GEMINI_API_KEY`` when omitted.
        default_model: The model for requests that name none.
        base_url: Another server for the same API (a proxy or a gateway).
        api_version: The API version path (the SDK's default when omitted).
        http_client: An ``httpx2.AsyncClient`` (or ``httpx.AsyncClient``) to send
            through. It stays yours: `aclose` leaves it open. The provider adds a
            response hook to it, which acts only on its own streams.
        transport: An ``httpx2`` async transport; the provider builds and owns a client
            around it.
        timeout: Seconds for every phase of a request, or an ``httpx2.Timeout`` whose
            phases (connect, read, write, pool) each hold; 600 s (5 s to connect) when
            omitted. Set on every request the provider sends, through a client you pass
            in too.
        default_headers: Headers sent with every request.
        sampling: Your sampling rules, model-name pattern to ``"defaults"``,
            ``"no_defaults"`` or ``"refuses"``, checked before the built-in ones (see
            `aether.extensions.llm.sampling`).

    Structured output (``output_type=``): ``auto`` is ``native`` (``response_mime_type``
    ``application/json`` with ``response_json_schema``), except ``tool`` when the request
    has tools on a model before Gemini 3, which refuses function calling with a JSON
    response type.

    Raises:
        ConfigurationError: If no API key is known, both ``http_client`` and
            ``transport`` were given, or a sampling rule is invalid.
    """

    name = "gemini"
    structured_output = True
    api_key_env = "GEMINI_API_KEY"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        default_model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        api_version: str | None = None,
        http_client: Any = None,
        transport: Any = None,
        timeout: Any = None,
        default_headers: Mapping[str, str] | None = None,
        sampling: Mapping[str, str] | None = None,
    ) -> None:
        genai, types, errors = _import_sdk()
        self._genai = genai
        self._sampling = SamplingRules(self.name, sampling)
        self._types = types
        self._errors = errors
        api_key = api_key or os.environ.get(self.api_key_env) or None
        if api_key is None:
            raise missing_api_key(self.name, self.api_key_env, how="or pass api_key=...")
        self._api_key = api_key
        self.default_model = default_model
        self._settings = (base_url, api_version, dict(default_headers) if default_headers else None)
        self._timeout_ms = int(
            (timeout_seconds(timeout) if timeout is not None else DEFAULT_TIMEOUT) * 1000
        )
        self._timeout = timeout
        self._http_client = self._start(
            http_client=http_client, transport=transport, timeout=timeout
        )
        options = getattr(getattr(self._sdk, "_api_client", None), "_http_options", None)
        self.base_url = str(getattr(options, "base_url", None) or base_url)
        self._guard_origin(self._http_client)
        version = getattr(options, "api_version", None) or api_version
        self._account = (version, dict(default_headers or {}))

    def _build_sdk(self, http_client: Any) -> Any:
        install_guard_hook(http_client)
        _install_phase_timeouts(http_client, self._timeout, secret=self._api_key)
        base_url, api_version, headers = self._settings
        http_options = self._types.HttpOptions(
            base_url=base_url,
            api_version=api_version,
            headers=headers,
            timeout=self._timeout_ms,
            httpx_async_client=http_client,
            # Without these, every client loads two CA bundles (about 250 ms): one for a
            # sync client Aether never uses, one for the Live API's websockets.
            httpx_client=refusing_sync_client(
                "GeminiProvider's SDK client is async-only: use provider.sdk.aio (or pass "
                "your own google.genai.Client for synchronous calls)"
            ),
            async_client_args={"ssl": shared_ssl_context()},
        )
        try:
            return self._genai.Client(api_key=self._api_key, http_options=http_options)
        except ValueError as error:
            raise ConfigurationError(f"the {self.name} provider cannot start: {error}") from error

    def _prepare(self, request: LLMRequest) -> tuple[str, list[Any], Any, OutputPlan | None]:
        model = request.model or self.default_model
        plan = None
        if request.output is not None:
            mode = gemini_mode(request.output.mode, model, has_tools=bool(request.tools))
            schema = gemini_schema(request.output.json_schema)
            request, plan = apply_mode(request, mode, tool_schema=schema)
        contents = build_contents(self._types, request.messages, provider=self.name, model=model)
        config = build_config(request, model=model, provider=self.name)
        if plan is not None and plan.mode == "native":
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = schema
        extra = vendor_options(request, self.name)
        if extra:
            config = merge_options(config, extra)
        self._sampling.apply(PreparedCall(config, {}, model), request, hatch=extra)
        try:
            typed_config = self._types.GenerateContentConfig.model_validate(config)
        except ValueError as error:
            raise BadRequestError(
                f"provider_options[{self.name!r}] is not a valid GenerateContentConfig: {error}",
                provider=self.name,
            ) from error
        return model, contents, typed_config, plan

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` and return the whole answer."""
        sdk = await self._sdk_for_loop()
        model, contents, config, plan = self._prepare(request)
        builder = PartsBuilder(self.name)
        calls: list[ToolCall] = []
        try:
            response = await sdk.aio.models.generate_content(
                model=model, contents=contents, config=config
            )
            text, finish = read_candidate(
                response, provider=self.name, builder=builder, calls=calls, required=True
            )
        except Exception as error:
            raise self._translate(error)  # noqa: B904 - _translate chains the cause
        version = getattr(response, "model_version", None)
        answer = LLMResponse(
            text=text,
            model=version if isinstance(version, str) and version else model,
            tokens=usage_tokens(getattr(response, "usage_metadata", None)) or TokenCounts(),
            parts=builder.parts(),
            response_id=_response_id(response),
            tool_calls=tuple(calls),
            finish_reason=finish_reason(finish, has_tool_calls=bool(calls)),
            provider=self.name,
        )
        return answer if plan is None else finish_response(answer, plan)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Stream ``request``'s answer: text chunks, then a final chunk with usage."""
        sdk = await self._sdk_for_loop()
        model, contents, config, plan = self._prepare(request)
        guard = StreamGuard(self._check_event)
        iterator: Any = None
        suspended = False  # the SDK's generators are paused mid-stream
        builder = PartsBuilder(self.name)
        calls: list[ToolCall] = []
        finish: object = None
        usage: Any = None
        version: object = None
        response_id: str | None = None
        try:
            with guard.active():
                iterator = await sdk.aio.models.generate_content_stream(
                    model=model, contents=contents, config=config
                )
                response = await anext(iterator, None)
            while response is not None:
                suspended = True
                deltas: list[str | StreamChunk] = []
                _, chunk_finish = read_candidate(
                    response,
                    provider=self.name,
                    builder=builder,
                    calls=calls,
                    required=False,
                    deltas=deltas,
                )
                finish = chunk_finish or finish
                usage = getattr(response, "usage_metadata", None) or usage
                version = getattr(response, "model_version", None) or version
                response_id = response_id or _response_id(response)
                for delta in deltas:
                    yield StreamChunk(text=delta) if isinstance(delta, str) else delta
                suspended = False
                with guard.active():
                    response = await anext(iterator, None)
        except Exception as error:
            raise self._translate(error)  # noqa: B904 - _translate chains the cause
        finally:
            await finish_sdk_stream(iterator, guard, drain=suspended)
        if finish is None:
            raise malformed(self.name, "the stream ended before a chunk gave a finish_reason")
        final = StreamChunk(
            finish_reason=finish_reason(finish, has_tool_calls=bool(calls)),
            model=version if isinstance(version, str) and version else model,
            tokens=usage_tokens(usage),
            parts=builder.parts(),
            tool_calls=tuple(calls),
            provider=self.name,
            response_id=response_id,
        )
        # Gemini sends a call's arguments whole: in tool mode the final chunk carries them.
        yield final if plan is None else finish_chunk(final, plan, streamed=False)

    def _check_event(self, payload: object) -> None:
        """Fail the stream from below on an error event (see `StreamGuard`)."""
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            raise self._error_from_body(payload, headers=None)

    def _map_error(self, error: Exception) -> Exception:
        if isinstance(error, ProviderError):
            return error
        if isinstance(error, self._errors.APIError):
            details = error.details if isinstance(error.details, dict) else {}
            response = getattr(error, "response", None)
            return self._error_from_body(
                details,
                headers=getattr(response, "headers", None),
                status=getattr(error, "code", None),
                fallback=str(error),
            )
        if isinstance(error, self._errors.UnknownApiResponseError | UnicodeDecodeError):
            return malformed(self.name, redact(str(error), (self._api_key,))[:200])
        if isinstance(error, json.JSONDecodeError):
            return malformed(self.name, f"invalid JSON ({error})")
        if type(error).__name__ == "ValidationError":  # pydantic, reading the response
            shown = redact(str(error), (self._api_key,))  # before cutting: no half key
            return malformed(self.name, f"unexpected response fields ({shown})"[:300])
        return transport_error(self.name, error) or error

    def _error_from_body(
        self,
        details: dict[str, Any],
        *,
        headers: Any,
        status: object = None,
        fallback: str = "no details given",
    ) -> ProviderError:
        body = details.get("error", details)
        body = body if isinstance(body, dict) else {}
        detail = error_detail(details, fallback)
        if not isinstance(status, int):
            status = detail.status
        if not isinstance(status, int) or status < 400:
            return event_error(
                provider=self.name,
                detail=detail,
                secrets=(self._api_key,),
                key_env=self.api_key_env,
            )
        return status_error(
            provider=self.name,
            status=status,
            detail=detail.message,
            headers=headers,
            secrets=(self._api_key,),
            key_env=self.api_key_env,
            code=detail.code or detail.type,
            retry_after=_retry_delay(body) if status == 429 else None,
        )

    async def _disconnect(self, connection: tuple[Any, Any, Any]) -> None:
        sdk, http_client, _ = connection
        sdk.close()  # the SDK's idle sync client
        await http_client.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client the provider owns (never one you passed in)."""
        if not self._closed and self._connection is None:
            self._sdk.close()  # the SDK's idle sync client; your HTTP client stays open
        await super().aclose()


class _PhaseTimeouts:
    """A request hook that gives the provider's requests each phase of its timeout.

    google-genai puts one number on every request, which httpx applies to connect, read,
    write and pool alike: a short read timeout would also cut a connect that a loaded
    machine is slow to complete. The provider's requests (those carrying its key) get the
    phases of the ``httpx2.Timeout`` it was given instead (by default 600 s, 5 s to
    connect, as the other adapters have). A number stays one number for every phase.
    """

    __slots__ = ("_phases", "_secret")

    def __init__(self, phases: dict[str, float | None], secret: str) -> None:
        self._phases = phases
        self._secret = secret

    async def __call__(self, request: Any) -> None:
        if any(self._secret in value for value in request.headers.values()):
            request.extensions["timeout"] = dict(self._phases)

    def __repr__(self) -> str:
        return f"_PhaseTimeouts({self._phases!r})"


def _install_phase_timeouts(client: Any, timeout: Any, *, secret: str) -> None:
    phases: dict[str, float | None]
    if timeout is None:
        phases = {"connect": DEFAULT_CONNECT_TIMEOUT, "read": DEFAULT_TIMEOUT}
        phases |= {"write": DEFAULT_TIMEOUT, "pool": DEFAULT_TIMEOUT}
    elif callable(getattr(timeout, "as_dict", None)):
        phases = dict(timeout.as_dict())
    else:
        return
    hooks = client.event_hooks
    request_hooks = list(hooks.get("request", []))
    client.event_hooks = {**hooks, "request": [*request_hooks, _PhaseTimeouts(phases, secret)]}


def _retry_delay(body: object) -> float | None:
    """``RetryInfo.retryDelay`` from a Google error body, in seconds."""
    details = body.get("details") if isinstance(body, dict) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            return parse_duration(detail.get("retryDelay"))
    return None


def _response_id(response: object) -> str | None:
    value = getattr(response, "response_id", None)
    return value if isinstance(value, str) and value else None
