"""What the SDK-backed adapters share: lifecycle, the escape hatch, the post-and-parse loop.

`SdkProvider` holds the SDK client and its lifecycle. `JsonPostProvider` adds the call
path of the openai and anthropic adapters: the SDK sends the request (auth, headers,
error statuses) and the adapter reads the JSON itself, skipping the SDK's typed models
(about 200 µs per streamed chunk for openai's) and its stream objects. An adapter that
sets ``_direct`` (the OpenAI ones, on a client they own) posts straight to the transport
instead, with the headers the SDK computed (`aether.extensions.llm._direct_post`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, ClassVar, Final, Protocol

import anyio

from aether._loop_binding import LoopBound
from aether.errors import BadRequestError, ProviderError, RequestTimeoutError
from aether.extensions.llm._direct_post import DirectPost, StatusFailure
from aether.extensions.llm._errors import (
    connection_error,
    error_detail,
    event_error,
    malformed,
    redact,
    scrub_secrets,
    status_error,
    still_shows_secrets,
    transport_error,
)
from aether.extensions.llm._http import (
    CLEANUP_TIMEOUT,
    body_chunks,
    lean_http_enabled,
    release_body,
    resolve_http_client,
)
from aether.extensions.llm._json_body import json_body
from aether.extensions.llm._origin_guard import OriginGuard, install_origin_guard
from aether.extensions.llm._requests import merge_options, vendor_options
from aether.extensions.llm._sse import ServerSentEvent, SSEParser
from aether.extensions.llm._wire_defaults import PreparedCall, SamplingRules
from aether.llm._output_modes import OutputPlan, finish_chunk, finish_response
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk

__all__ = [
    "END",
    "JsonPostProvider",
    "SdkProvider",
    "StreamState",
    "split_request_options",
]

END: Final = object()
"""Returned by `JsonPostProvider._event_payload` for the event that ends a stream."""

_REQUEST_OPTION_KEYS = ("extra_headers", "extra_query", "extra_body", "timeout")

_IDENTITY_KEY = b"aether cache identity v1"
"""Keys the account fingerprint: a hash of an API key that is Aether's alone to make."""


def split_request_options(extra: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split escape-hatch options into body fields and SDK request options.

    ``extra_headers``, ``extra_query`` and ``timeout`` (the SDKs' own per-call knobs)
    become request options; ``extra_body`` and every other key go into the JSON body.
    """
    body = dict(extra)
    headers, query, extra_body, timeout = (body.pop(key, None) for key in _REQUEST_OPTION_KEYS)
    options: dict[str, Any] = {}
    if headers:
        options["headers"] = headers
    if query:
        options["params"] = query
    if timeout is not None:
        options["timeout"] = timeout
    if isinstance(extra_body, dict):
        body = merge_options(body, extra_body)
    return body, options


class StreamState(Protocol):
    """Folds a vendor's stream events into deltas and a final chunk.

    ``feed`` returns a text delta as a string (the common case, kept cheap), another
    chunk (a reasoning delta) as a `StreamChunk`, several in a tuple (an event that
    carries two deltas), or ``None``. ``output_tool`` names the structured-output tool
    of a call in tool mode, whose argument deltas the state returns as text.
    """

    output_tool: str | None

    def feed(self, event: object) -> str | StreamChunk | tuple[StreamChunk, str] | None: ...

    def final(self, fallback_model: str) -> StreamChunk: ...


class SdkProvider:
    """The lifecycle every SDK-backed adapter shares.

    Subclasses set ``name``, ``api_key_env``, ``default_model``, ``base_url`` and
    ``_api_key`` in ``__init__``, implement `_build_sdk`, and call `_start`.

    The SDK client and the HTTP client under it belong to the event loop that uses them.
    When the provider owns its HTTP client (it built it, around your transport or its
    own), both are rebuilt on first use in a new event loop, and closed when the loop
    that used them ends (see `aether._loop_binding`): one provider serves successive
    ``asyncio.run`` and ``trio.run`` calls. An HTTP client you pass stays yours, on the
    loops you use it on.
    """

    name: str
    api_key_env: str
    default_model: str
    base_url: str
    _sdk: Any
    _api_key: str
    _owns_http_client: bool
    _connection: LoopBound[tuple[Any, Any, Any]] | None = None
    """Per event loop: the SDK client, the HTTP client under it, the transport under that
    (``None`` when httpx2 chose its own)."""
    _sampling: SamplingRules
    _closed: bool = False
    _account: tuple[object, ...] = ()
    """What, beside the key, decides whose account answers (organization, headers...)."""
    _lean_http: ClassVar[bool] = False
    """Whether the client this adapter builds sends through `LeanTransport` (see
    `aether.extensions.llm._lean_transport`) rather than httpcore2, and the adapter posts
    straight to its transport (see `aether.extensions.llm._direct_post`)."""
    _direct_ok: bool = False
    """Set by `_start`: the adapter owns a transport it may post to directly."""
    _origin_guard: OriginGuard | None = None

    @property
    def sdk(self) -> Any:
        """The vendor SDK's client, for features Aether does not wrap.

        When the provider owns its HTTP client, this is the client of the event loop that
        used the provider last (each loop gets its own).
        """
        return self._sdk

    @property
    def cache_identity(self) -> str:
        """Who answers this provider's requests, for the response cache's key.

        The provider's name, its endpoint and a fingerprint of its account: an HMAC of
        the API key with what else selects the account (organization, project, API
        version, default headers), never the key itself. Two providers with the same
        identity give the same answer to the same request.
        """
        material = json.dumps([self._api_key, *self._account], default=str, sort_keys=True)
        digest = hmac.new(_IDENTITY_KEY, material.encode(), hashlib.sha256).hexdigest()
        return f"{self.name} {self.base_url} account:{digest[:32]}"

    def _guard_origin(self, client: Any) -> None:
        """Keep the key and headers with ``base_url``'s origin on ``client``.

        Call once ``base_url`` is known; see `aether.extensions.llm._origin_guard`.
        """
        guard = self._origin_guard
        if guard is None:
            guard = OriginGuard(provider=self.name, base_url=self.base_url, secret=self._api_key)
            self._origin_guard = guard
        install_origin_guard(client, guard)

    def _build_sdk(self, http_client: Any) -> Any:
        """The vendor's async client, sending through ``http_client``."""
        raise NotImplementedError

    def _start(self, *, http_client: Any, transport: Any, timeout: Any) -> Any:
        """Build the SDK client; return the HTTP client it sends through.

        Sets ``_direct_ok`` when the adapter is lean (``_lean_http``), owns its client and
        the environment allows it (`lean_http_enabled`): the transport under that client,
        `LeanTransport` or the one given, may then take requests straight from the
        adapter.

        Raises:
            ConfigurationError: If both ``http_client`` and ``transport`` were given, or
                the SDK refuses its settings.
        """
        lean = self._lean_http and http_client is None and lean_http_enabled()

        def own_transport() -> Any:
            if transport is None and lean:
                from aether.extensions.llm._lean_transport import LeanTransport

                return LeanTransport(max_connections=1000, max_keepalive=1000)
            return transport

        first = own_transport() if http_client is None else transport
        client, self._owns_http_client = resolve_http_client(
            provider=self.name,
            http_client=http_client,
            transport=first,
            timeout=timeout,
            always=True,
        )
        self._sdk = self._build_sdk(client)
        self._direct_ok = lean and first is not None
        if self._owns_http_client:

            def connect() -> tuple[Any, Any, Any]:
                own = own_transport()
                fresh, _ = resolve_http_client(
                    provider=self.name,
                    http_client=None,
                    transport=own,
                    timeout=timeout,
                    always=True,
                )
                self._guard_origin(fresh)  # the first client is guarded by the adapter
                return self._build_sdk(fresh), fresh, own

            self._connection = LoopBound(
                connect,
                self._disconnect,
                what=f"the {self.name} provider",
                initial=(self._sdk, client, first),
            )
        return client

    async def _sdk_for_loop(self) -> Any:
        """The SDK client for the running event loop (checks the provider is open)."""
        self._ensure_open()
        if self._connection is None:
            return self._sdk
        sdk, _, _ = await self._connection.get()
        self._sdk = sdk
        return sdk

    async def _transport_for_loop(self) -> Any:
        """The transport under the running event loop's client (a direct adapter's)."""
        self._ensure_open()
        assert self._connection is not None  # posting directly needs an owned client
        sdk, _, transport = await self._connection.get()
        self._sdk = sdk
        return transport

    async def _disconnect(self, connection: tuple[Any, Any, Any]) -> None:
        sdk, _, _ = connection
        await sdk.close()

    def _map_error(self, error: Exception) -> Exception:
        raise NotImplementedError

    def _translate(self, error: Exception) -> Exception:
        """Aether's error for an SDK ``error``, both scrubbed of the key; raise it as is.

        The SDK's error is scrubbed first, so the mapped one is built from clean text, and
        the mapped one after, for text the scrub cannot reach (a pydantic validation
        error renders its input when printed). The SDK's error is chained as the cause,
        for tracebacks to show, unless its text still holds the key: then the mapped
        error, which says what it said, stands alone.
        """
        secrets = (self._api_key,)
        scrub_secrets(error, secrets)
        mapped = self._map_error(error)
        if mapped is error or mapped is error.__cause__:
            return mapped  # Aether's own error (a hook's), which the SDK wrapped
        scrub_secrets(mapped, secrets)
        mapped.__cause__ = None if still_shows_secrets(error, secrets) else error
        mapped.__suppress_context__ = True
        return mapped

    def _ensure_open(self) -> None:
        if self._closed:
            raise ProviderError(
                f"the {self.name} provider is closed; build a new one to make more calls",
                provider=self.name,
            )

    async def aclose(self) -> None:
        """Close the SDK client and the HTTP client it owns (never one you passed in).

        Closing twice does nothing more; a call after closing raises `ProviderError`.
        """
        if self._closed:
            return
        self._closed = True
        if self._connection is not None:
            await self._connection.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.default_model!r}, base_url={self.base_url!r})"


class JsonPostProvider(SdkProvider):
    """Complete and stream by posting JSON through the SDK and reading the JSON back.

    Streams come back as the raw ``httpx2.Response`` (the SDK still raises for error
    statuses) and are parsed here, so every async generator involved is closed on
    ``[DONE]``, on errors and on early close alike.
    """

    _path: str
    _base_request_options: ClassVar[dict[str, Any]] = {}
    _vendor: Any
    _direct: DirectPost | None = None
    """Set by an adapter that posts straight to its transport (see `_direct_post`)."""
    structured_output: ClassVar[bool] = False
    """Whether the adapter asks for structured output itself (`_prepare_output`); one
    that does not gets it from the pipeline, in the instructions (prompted mode)."""
    """The SDK module (``openai``, ``anthropic``): both SDKs share their error classes."""

    @staticmethod
    def _client_options(
        *,
        api_key: str,
        base_url: str | None,
        timeout: Any,
        default_headers: Mapping[str, str] | None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Keyword arguments for the vendor's async client, its own retries turned off."""
        options: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "max_retries": 0,  # Aether's retry is the only one
            "default_headers": dict(default_headers) if default_headers else None,
            **extra,
        }
        if timeout is not None:
            options["timeout"] = timeout
        return options

    def _map_error(self, error: Exception) -> Exception:
        if isinstance(error, ProviderError):
            return error
        vendor = self._vendor
        secrets = (self._api_key,)
        if isinstance(error, vendor.APITimeoutError):
            return RequestTimeoutError(
                f"{self.name} did not answer in time. Raise timeout= if long answers are "
                f"expected; retrying may succeed.",
                provider=self.name,
            )
        if isinstance(error, vendor.APIConnectionError):
            if isinstance(error.__cause__, ProviderError):  # raised by the origin guard
                return error.__cause__
            return connection_error(self.name, error.__cause__ or error)
        if isinstance(error, vendor.APIStatusError | StatusFailure):
            detail = error_detail(error.body, error.message)
            return status_error(
                provider=self.name,
                status=error.status_code,
                detail=detail.message,
                headers=error.response.headers,
                secrets=secrets,
                key_env=self.api_key_env,
                code=detail.code or detail.type,
            )
        if isinstance(error, vendor.APIResponseValidationError):
            return malformed(self.name, str(error))
        if isinstance(error, vendor.APIError):  # an error event inside a 200 stream
            return event_error(
                provider=self.name,
                detail=error_detail(error.body, error.message),
                secrets=secrets,
                key_env=self.api_key_env,
            )
        if isinstance(error, json.JSONDecodeError | UnicodeDecodeError):
            return malformed(self.name, f"invalid JSON ({error})")
        return transport_error(self.name, error) or error

    def _body(self, request: LLMRequest, *, model: str, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def _parse(self, data: object, *, fallback_model: str) -> LLMResponse:
        raise NotImplementedError

    def _stream_state(self) -> StreamState:
        raise NotImplementedError

    def _event_payload(self, event: ServerSentEvent) -> object:
        """The JSON payload of one stream event: ``None`` to skip it, `END` to stop."""
        raise NotImplementedError

    def _prepare_output(self, request: LLMRequest, model: str) -> tuple[LLMRequest, OutputPlan]:
        """The request as sent for its structured output, and the plan (see `_output_modes`)."""
        raise NotImplementedError

    def _output_fields(self, body: dict[str, Any], request: LLMRequest, plan: OutputPlan) -> None:
        """Add the vendor's structured-output fields to ``body`` (before the escape hatch)."""
        raise NotImplementedError

    def _prepare(self, request: LLMRequest, *, stream: bool) -> PreparedCall:
        self._ensure_open()
        model = request.model or self.default_model
        plan = None
        if request.output is not None and self.structured_output:
            request, plan = self._prepare_output(request, model)
        body = self._body(request, model=model, stream=stream)
        if plan is not None:
            self._output_fields(body, request, plan)
        options = dict(self._base_request_options)
        extra = vendor_options(request, self.name)
        extra_body: dict[str, Any] = {}
        if extra:
            extra_body, extra_options = split_request_options(extra)
            body = merge_options(body, extra_body)
            options.update(extra_options)
        call = PreparedCall(body, options, str(body.get("model") or model), output=plan)
        self._apply_sampling_rules(call, request, extra_body)
        return call

    def _apply_sampling_rules(
        self, call: PreparedCall, request: LLMRequest, hatch: dict[str, Any]
    ) -> None:
        """Leave out the defaults the model does not take (see `SamplingRules.apply`)."""
        self._sampling.apply(call, request, hatch=hatch)

    async def _post(self, call: PreparedCall, *, stream: bool) -> Any:
        """Post ``call``; resend it once per default of Aether's that the server refused.

        Returns the parsed JSON of a call, the unread ``httpx2.Response`` of a stream.
        The resend happens here, below the middlewares, so the stack sees one call: one
        ``request.*`` event, one attempt for retry, one bill for cost tracking (a 400 is
        not billed). A refused value the call set itself is raised, naming the fix.
        """
        if self._direct is not None:
            return await self._post_direct(self._direct, call, stream=stream)
        import httpx2

        sdk = await self._sdk_for_loop()
        post: dict[str, Any] = (
            {"cast_to": httpx2.Response, "stream": True, "stream_cls": None}
            if stream
            else {"cast_to": object}
        )
        while True:
            content = self._json_bytes(call.body)
            try:
                return await sdk.post(self._path, content=content, options=call.options, **post)
            except self._vendor.APIStatusError as error:
                self._refused(call, error)

    async def _post_direct(self, direct: DirectPost, call: PreparedCall, *, stream: bool) -> Any:
        """`_post` straight to the transport (see `aether.extensions.llm._direct_post`)."""
        transport = await self._transport_for_loop()
        while True:
            content = self._json_bytes(call.body)
            response = await direct.send(transport, content, call.options)
            if 200 <= response.status_code < 300:
                return response if stream else await direct.read_json(response)
            self._refused(call, await direct.read_failure(response))

    def _refused(self, call: PreparedCall, error: Any) -> None:
        """Return if ``call`` dropped a refused default (send it again); else raise."""
        if call.drop_refused(error.status_code, error.body, self._sampling):
            return
        key = call.explicit_refusal(error.status_code, error.body)
        if key is None:
            raise error
        raise self._refused_by_model(error, call, key)  # it sets the cause itself

    def _json_bytes(self, body: dict[str, Any]) -> bytes:
        """``body`` as JSON bytes for the SDK to send as they are (see `_json_body`).

        Raises:
            BadRequestError: If the body holds a value JSON cannot carry (nothing sent).
        """
        try:
            return json_body(body)
        except ValueError as error:  # pydantic-core's PydanticSerializationError
            raise BadRequestError(
                f"the {self.name} request cannot be written as JSON ({error}); "
                f"provider_options[{self.name!r}] takes JSON values only. Nothing was sent.",
                provider=self.name,
            ) from None

    def _refused_by_model(self, error: Any, call: PreparedCall, key: str) -> Exception:
        mapped = self._translate(error)
        if not isinstance(mapped, ProviderError):
            return mapped
        self._sampling.learn(call.model, key, log=False)
        detail = error_detail(error.body, error.message).message
        value = call.explicit[key]
        refused = type(mapped)(
            f"{self.name} model {call.model!r} refused {key}={value!r}, which this call set "
            f"({redact(detail.strip().rstrip('.'), (self._api_key,))}). Leave {key} unset for "
            f"this model (Aether then sends none of its own); this call is not retried.",
            provider=self.name,
            status_code=mapped.status_code,
        )
        refused.__cause__ = mapped.__cause__
        refused.__suppress_context__ = True
        return refused

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` and return the whole answer."""
        call = self._prepare(request, stream=False)
        try:
            data = await self._post(call, stream=False)
        except Exception as error:
            raise self._translate(error)  # noqa: B904 - _translate chains the cause
        response = self._parse(data, fallback_model=call.model)
        return response if call.output is None else finish_response(response, call.output)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Stream ``request``'s answer: text chunks, then a final chunk with usage."""
        call = self._prepare(request, stream=True)
        try:
            response = await self._post(call, stream=True)
        except Exception as error:
            raise self._translate(error)  # noqa: B904 - _translate chains the cause
        state = self._stream_state()
        if call.output is not None:
            state.output_tool = call.output.tool
        parser = SSEParser()
        ended = False
        raw_chunks = body_chunks(response)
        try:
            async for raw in raw_chunks:
                if ended:
                    continue  # drain the body, so the connection can be reused
                for delta in self._deltas(state, parser.feed(raw)):
                    if delta is END:
                        ended = True
                        break
                    yield StreamChunk(text=delta) if isinstance(delta, str) else delta
            if not ended:
                for delta in self._deltas(state, parser.flush()):
                    if delta is END:
                        break
                    yield StreamChunk(text=delta) if isinstance(delta, str) else delta
        except Exception as error:
            raise self._translate(error)  # noqa: B904 - _translate chains the cause
        finally:
            with anyio.move_on_after(CLEANUP_TIMEOUT, shield=True):
                await release_body(raw_chunks, response.aclose)
        final = state.final(call.model)
        yield final if call.output is None else finish_chunk(final, call.output, streamed=True)

    def _deltas(self, state: StreamState, events: list[ServerSentEvent]) -> Iterator[Any]:
        """The deltas of ``events`` (text, or chunks), one at a time, then `END` if it ended.

        One at a time, so each delta reaches the caller before the next event is read:
        an error event in the same network read raises only after the text before it.
        """
        for event in events:
            payload = self._event_payload(event)
            if payload is END:
                yield END
                return
            if payload is not None:
                delta = state.feed(payload)
                if isinstance(delta, tuple):
                    yield from delta
                elif delta:
                    yield delta
