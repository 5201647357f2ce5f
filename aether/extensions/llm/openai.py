"""The OpenAI adapter: chat completions through the official ``openai`` SDK.

On a client it owns, the adapter posts straight to the transport with the headers the
SDK computed once (the direct path, `aether.extensions.llm._direct_post`); a client you
pass in, a proxy in the environment or ``AETHER_LEAN_HTTP=0`` send through the SDK.

Any OpenAI-compatible server works through it (Ollama, vLLM, LM Studio, Groq,
OpenRouter...): set ``OPENAI_BASE_URL`` (or ``base_url=``). The SDK is imported when the
provider is built, never by ``import aether``.

::

    provider = OpenAIProvider(api_key="sk-...", default_model="gpt-4o-mini")
    provider = OpenAIProvider(base_url="http://localhost:11434/v1", default_model="llama3.2")
    provider = OpenAIProvider(api_key="sk-...", transport=httpx2.MockTransport(handler))
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from aether.errors import ConfigurationError
from aether.extensions.llm._direct_post import DirectPost
from aether.extensions.llm._errors import (
    error_detail,
    event_error,
    missing_api_key,
)
from aether.extensions.llm._json_body import loads
from aether.extensions.llm._openai_wire import ChatStreamState, build_body, parse_completion
from aether.extensions.llm._output_schemas import openai_mode, strict_schema
from aether.extensions.llm._sdk_provider import END, JsonPostProvider, StreamState
from aether.extensions.llm._sse import ServerSentEvent
from aether.extensions.llm._wire_defaults import PreparedCall, SamplingRules
from aether.llm._output_modes import OutputPlan, apply_mode
from aether.llm.contracts import LLMRequest, LLMResponse, OutputSchema

__all__ = ["DEFAULT_MODEL", "OpenAIBaseProvider", "OpenAIProvider"]

DEFAULT_MODEL = "gpt-4o-mini"

_OFFICIAL_HOST = "api.openai.com"
_REASONING_MAX_TOKENS = "max_completion_tokens"
_KEYLESS_PLACEHOLDER = "not-needed"


def _import_sdk() -> Any:
    try:
        import openai
    except ImportError as error:
        raise ImportError(
            "the openai provider needs the openai package: pip install 'aether-llm[openai]'",
            name="openai",
        ) from error
    return openai


def _response_format(output: OutputSchema) -> dict[str, Any]:
    """The ``response_format`` asking for JSON following ``output`` (strict when it can be)."""
    schema, strict = strict_schema(output.json_schema)
    spec: dict[str, Any] = {
        "name": output.name,
        "schema": schema if strict else output.json_schema,
        "strict": strict,
    }
    if output.description:
        spec["description"] = output.description
    return {"type": "json_schema", "json_schema": spec}


class OpenAIBaseProvider(JsonPostProvider):
    """What the adapters on OpenAI's API share: the key, the SDK client and error bodies.

    `OpenAIProvider` (chat completions) and `OpenAIResponsesProvider` (the Responses
    API) call `_start_openai` in ``__init__``.
    """

    api_key_env = "OPENAI_API_KEY"
    _base_request_options: ClassVar[dict[str, Any]] = {"security": {"bearer_auth": True}}
    _sdk_options: dict[str, Any]
    _lean_http: ClassVar[bool] = True
    _official: bool  # OpenAI itself, not a compatible server

    def _start_openai(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        http_client: Any,
        transport: Any,
        timeout: Any,
        organization: str | None,
        project: str | None,
        default_headers: Mapping[str, str] | None,
    ) -> None:
        """Resolve the key and the server, and start the SDK client.

        The key comes from ``api_key_env`` when not given; a server at a custom base URL
        may need none (a placeholder is then sent).

        Raises:
            ConfigurationError: If no key is known and no base URL is set, both a client
                and a transport were given, or the SDK refuses the options.
        """
        self._vendor = _import_sdk()
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = api_key or os.environ.get(self.api_key_env) or None
        if api_key is None:
            if base_url is None:
                raise missing_api_key(
                    self.name,
                    self.api_key_env,
                    how="or pass api_key=..., or point OPENAI_BASE_URL at a server that needs none",
                )
            api_key = _KEYLESS_PLACEHOLDER
        self._api_key = api_key
        self._sdk_options = self._client_options(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            default_headers=default_headers,
            organization=organization,
            project=project,
        )
        client = self._start(http_client=http_client, transport=transport, timeout=timeout)
        self.base_url = str(self._sdk.base_url)
        self._official = _OFFICIAL_HOST in self.base_url
        self._guard_origin(client)
        sdk = self._sdk
        self._account = (sdk.organization, sdk.project, dict(default_headers or {}))
        if self._direct_ok and "?" not in self.base_url:
            self._direct = self._direct_post(sdk)

    def _direct_post(self, sdk: Any) -> DirectPost:
        """Posting without the SDK: its headers (auth, vendor, yours) and URL, taken once."""
        assert self._origin_guard is not None
        timeout = sdk.timeout
        read = getattr(timeout, "read", timeout)
        headers = {**sdk.default_headers, **sdk.auth_headers, "X-Stainless-Retry-Count": "0"}
        if read is not None:
            headers["X-Stainless-Read-Timeout"] = str(read)
        return DirectPost(
            provider=self.name,
            url=str(sdk.base_url).rstrip("/") + "/" + self._path.lstrip("/"),
            headers={name: value for name, value in headers.items() if isinstance(value, str)},
            timeout=timeout,
            guard=self._origin_guard,
        )

    def _build_sdk(self, http_client: Any) -> Any:
        try:
            return self._vendor.AsyncOpenAI(**self._sdk_options, http_client=http_client)
        except self._vendor.OpenAIError as error:
            raise ConfigurationError(f"the {self.name} provider cannot start: {error}") from error

    def _prepare_output(self, request: LLMRequest, model: str) -> tuple[LLMRequest, OutputPlan]:
        """The output mode for ``model`` (both APIs choose alike); strict schemas on OpenAI."""
        output = request.output
        assert output is not None
        mode = openai_mode(output.mode, model, official=self._official)
        tool_schema = None
        if mode == "tool" and self._official:
            schema, strict = strict_schema(output.json_schema)
            tool_schema = schema if strict else None
        return apply_mode(request, mode, tool_schema=tool_schema)


class OpenAIProvider(OpenAIBaseProvider):
    """Chat completions on OpenAI or any OpenAI-compatible server.

    Args:
        api_key: The API key; ``OPENAI_API_KEY`` when omitted. A server at a custom
            ``base_url`` may need none (a placeholder is then sent).
        default_model: The model for requests that name none.
        base_url: The server, such as ``http://localhost:11434/v1`` for Ollama;
            ``OPENAI_BASE_URL`` when omitted, else OpenAI's.
        http_client: An ``httpx2.AsyncClient`` (or ``httpx.AsyncClient``) to send
            through: proxies, limits, tests. It stays yours: `aclose` leaves it open.
        transport: An ``httpx2`` async transport (``httpx2.MockTransport``,
            ``httpx2.AsyncHTTPTransport(proxy=...)``); the provider builds and owns a
            client around it.
        timeout: Seconds (or an ``httpx2.Timeout``) per request; the SDK's default
            (600 s) when omitted.
        organization: The OpenAI organization id, if any.
        project: The OpenAI project id, if any.
        default_headers: Headers sent with every request.
        max_tokens_field: Where `LLMRequest.max_tokens` goes, for every model. When
            omitted: ``max_completion_tokens`` (what OpenAI's reasoning models require)
            on OpenAI itself; elsewhere ``max_tokens`` (what every compatible server
            knows), except for models the sampling rules do not mark ``"defaults"``
            (reasoning models) and models that refused ``max_tokens`` before.
        sampling: Your sampling rules, model-name pattern to ``"defaults"``,
            ``"no_defaults"`` or ``"refuses"``, checked before the built-in ones (see
            `aether.extensions.llm.sampling`).
        developer_role: The role ``developer`` messages are sent as: ``developer`` on
            OpenAI itself, ``system`` (what every compatible server knows) elsewhere,
            unless set here.

    Structured output (``output_type=``): ``auto`` is ``native`` (``response_format``
    json_schema, strict where the schema allows), except ``tool`` for OpenAI's models
    that predate it (``gpt-3.5``, ``gpt-4``, ``gpt-4-turbo``). A compatible server
    without json_schema support takes ``output_mode="prompted"``.

    Raises:
        ConfigurationError: If no API key is known and no ``base_url`` is set, both
            ``http_client`` and ``transport`` were given, or a sampling rule is invalid.
    """

    name = "openai"
    api_key_env = "OPENAI_API_KEY"
    structured_output: ClassVar[bool] = True
    _path = "/chat/completions"
    _base_request_options: ClassVar[dict[str, Any]] = {"security": {"bearer_auth": True}}

    def __init__(
        self,
        api_key: str | None = None,
        *,
        default_model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        http_client: Any = None,
        transport: Any = None,
        timeout: Any = None,
        organization: str | None = None,
        project: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        max_tokens_field: str | None = None,
        sampling: Mapping[str, str] | None = None,
        developer_role: str | None = None,
    ) -> None:
        self._sampling = SamplingRules(self.name, sampling)
        self.default_model = default_model
        self._start_openai(
            api_key=api_key,
            base_url=base_url,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
            organization=organization,
            project=project,
            default_headers=default_headers,
        )
        self._max_tokens_field_given = max_tokens_field is not None
        if max_tokens_field is None:
            max_tokens_field = "max_completion_tokens" if self._official else "max_tokens"
        self.max_tokens_field = max_tokens_field
        if developer_role is None:
            developer_role = "developer" if self._official else "system"
        self.developer_role = developer_role

    def _max_tokens_field(self, model: str) -> str:
        if self._max_tokens_field_given or self.max_tokens_field == _REASONING_MAX_TOKENS:
            return self.max_tokens_field
        reasoning = self._sampling.support(model) != "defaults"
        if reasoning or self._sampling.refused(model, "max_tokens"):
            return _REASONING_MAX_TOKENS
        return self.max_tokens_field

    def _body(self, request: LLMRequest, *, model: str, stream: bool) -> dict[str, Any]:
        return build_body(
            request,
            model=model,
            provider=self.name,
            max_tokens_field=self._max_tokens_field(model),
            stream=stream,
            developer_role=self.developer_role,
            official=self._official,
        )

    def _output_fields(self, body: dict[str, Any], request: LLMRequest, plan: OutputPlan) -> None:
        output = request.output
        assert output is not None
        if plan.mode == "native":
            body["response_format"] = _response_format(output)
        elif plan.mode == "tool" and self._official and strict_schema(output.json_schema)[1]:
            for tool in body.get("tools", ()):
                if tool["function"]["name"] == plan.tool:
                    tool["function"]["strict"] = True

    def _apply_sampling_rules(
        self, call: PreparedCall, request: LLMRequest, hatch: dict[str, Any]
    ) -> None:
        self._sampling.apply(call, request, hatch=hatch)
        if (
            "max_tokens" in call.body
            and "max_tokens" not in hatch
            and not self._max_tokens_field_given
        ):
            # The field's name is Aether's choice: a server that refuses it gets the other.
            call.renames["max_tokens"] = _REASONING_MAX_TOKENS

    def _parse(self, data: object, *, fallback_model: str) -> LLMResponse:
        return parse_completion(data, provider=self.name, fallback_model=fallback_model)

    def _stream_state(self) -> StreamState:
        return ChatStreamState(self.name)

    def _event_payload(self, event: ServerSentEvent) -> object:
        if event.data.startswith("[DONE]"):
            return END
        payload = loads(event.data)
        if isinstance(payload, dict) and payload.get("error"):
            detail = error_detail(payload["error"], "the server sent an error event")
            raise event_error(
                provider=self.name,
                detail=detail,
                secrets=(self._api_key,),
                key_env=self.api_key_env,
            )
        return payload
