"""The Anthropic adapter: the Messages API through the official ``anthropic`` SDK.

The SDK is imported when the provider is built, never by ``import aether``.

::

    provider = AnthropicProvider(api_key="sk-ant-...", default_model="claude-haiku-4-5")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from aether.errors import ConfigurationError
from aether.extensions.llm._anthropic_reasoning import family
from aether.extensions.llm._anthropic_wire import MessageStreamState, build_body, parse_message
from aether.extensions.llm._errors import (
    error_detail,
    event_error,
    missing_api_key,
)
from aether.extensions.llm._json_body import loads
from aether.extensions.llm._output_schemas import anthropic_mode, anthropic_schema
from aether.extensions.llm._sdk_provider import JsonPostProvider, StreamState
from aether.extensions.llm._sse import ServerSentEvent
from aether.extensions.llm._wire_defaults import PreparedCall, SamplingRules, thinking_enabled
from aether.llm._output_modes import OutputPlan, apply_mode
from aether.llm.contracts import LLMRequest, LLMResponse

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_MODEL", "AnthropicProvider"]

DEFAULT_MODEL = "claude-haiku-4-5"

DEFAULT_MAX_TOKENS = 4096
"""Sent when a request sets no ``max_tokens``: the Messages API requires one."""


def _import_sdk() -> Any:
    try:
        import anthropic
    except ImportError as error:
        raise ImportError(
            "the anthropic provider needs the anthropic package: "
            "pip install 'aether-llm[anthropic]'",
            name="anthropic",
        ) from error
    return anthropic


class AnthropicProvider(JsonPostProvider):
    """Claude through the Anthropic Messages API.

    Args:
        api_key: The API key; ``ANTHROPIC_API_KEY`` when omitted.
        default_model: The model for requests that name none.
        base_url: Another server speaking the Messages API (``ANTHROPIC_BASE_URL`` is
            read by the SDK when omitted).
        http_client: An ``httpx2.AsyncClient`` to send through (proxies, limits,
            tests). It stays yours: `aclose` leaves it open.
        transport: An ``httpx2`` async transport; the provider builds and owns a client
            around it.
        timeout: Seconds (or an ``httpx2.Timeout``) per request; 600 s when omitted.
        default_headers: Headers sent with every request (beta flags, say).
        default_max_tokens: ``max_tokens`` for requests that set none (with extended
            thinking on, added to ``thinking.budget_tokens``, which it must exceed).
        sampling: Your sampling rules, model-name pattern to ``"defaults"``,
            ``"no_defaults"`` or ``"refuses"``, checked before the built-in ones (see
            `aether.extensions.llm.sampling`).

    Structured output (``output_type=``): ``auto`` is ``native`` (``output_config.format``,
    no beta header) on Claude 4.5 and later when the schema fits its subset (no
    recursion, no open objects), else ``tool``: a forced ``final_result`` tool, or with
    extended thinking on (which refuses a forced tool) an offered one and an
    instruction to call it.

    Raises:
        ConfigurationError: If no API key is known, both ``http_client`` and
            ``transport`` were given, or a sampling rule is invalid.
    """

    name = "anthropic"
    structured_output: ClassVar[bool] = True
    api_key_env = "ANTHROPIC_API_KEY"
    _path = "/v1/messages"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        default_model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        http_client: Any = None,
        transport: Any = None,
        timeout: Any = None,
        default_headers: Mapping[str, str] | None = None,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        sampling: Mapping[str, str] | None = None,
    ) -> None:
        anthropic = _import_sdk()
        self._vendor = anthropic
        self._sampling = SamplingRules(self.name, sampling)
        api_key = api_key or os.environ.get(self.api_key_env) or None
        if api_key is None:
            raise missing_api_key(self.name, self.api_key_env, how="or pass api_key=...")
        self._api_key = api_key
        self.default_model = default_model
        self.default_max_tokens = default_max_tokens
        self._sdk_options = self._client_options(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            default_headers=default_headers,
        )
        client = self._start(http_client=http_client, transport=transport, timeout=timeout)
        self.base_url = str(self._sdk.base_url)
        self._guard_origin(client)
        self._account = (self._sdk.auth_token, dict(default_headers or {}))

    def _build_sdk(self, http_client: Any) -> Any:
        anthropic = self._vendor
        try:
            return anthropic.AsyncAnthropic(**self._sdk_options, http_client=http_client)
        except (anthropic.AnthropicError, TypeError) as error:  # TypeError: an httpx client
            raise ConfigurationError(f"the {self.name} provider cannot start: {error}") from error

    def _body(self, request: LLMRequest, *, model: str, stream: bool) -> dict[str, Any]:
        return build_body(
            request,
            model=model,
            provider=self.name,
            max_tokens=self.default_max_tokens,
            stream=stream,
        )

    def _thinks(self, request: LLMRequest, model: str) -> bool:
        """Whether the call turns extended thinking on (which refuses a forced tool)."""
        if family(model) == "always":
            return True
        if request.reasoning is not None and request.reasoning not in ("none", 0):
            return True
        return thinking_enabled(request.provider_options.get(self.name) or {})

    def _prepare_output(self, request: LLMRequest, model: str) -> tuple[LLMRequest, OutputPlan]:
        output = request.output
        assert output is not None
        _, native_ok = anthropic_schema(output.json_schema)
        mode = anthropic_mode(output.mode, model, native_ok=native_ok)
        return apply_mode(request, mode, forced=not self._thinks(request, model))

    def _output_fields(self, body: dict[str, Any], request: LLMRequest, plan: OutputPlan) -> None:
        output = request.output
        if plan.mode == "native" and output is not None:
            schema, _ = anthropic_schema(output.json_schema)
            config = dict(body.get("output_config") or {})
            config["format"] = {"type": "json_schema", "schema": schema}
            body["output_config"] = config

    def _apply_sampling_rules(
        self, call: PreparedCall, request: LLMRequest, hatch: dict[str, Any]
    ) -> None:
        thinking = thinking_enabled(call.body)
        # Claude takes temperature from 0 to 1, and asks for temperature or top_p, not both.
        self._sampling.apply(
            call, request, hatch=hatch, thinking=thinking, temperature_max=1.0, one_of=True
        )
        budget = call.body["thinking"].get("budget_tokens") if thinking else None
        if (
            isinstance(budget, int)
            and request.max_tokens is None
            and "max_tokens" not in hatch
            and call.body.get("max_tokens", 0) <= budget
        ):
            # max_tokens must exceed the thinking budget: the default leaves room to answer.
            call.body["max_tokens"] = budget + self.default_max_tokens

    def _parse(self, data: object, *, fallback_model: str) -> LLMResponse:
        return parse_message(data, provider=self.name, fallback_model=fallback_model)

    def _stream_state(self) -> StreamState:
        return MessageStreamState(self.name)

    def _event_payload(self, event: ServerSentEvent) -> object:
        if event.event is None or event.event == "ping" or not event.data:
            return None
        payload = loads(event.data)
        if event.event == "error":
            detail = error_detail(payload, "the server sent an error event")
            raise event_error(
                provider=self.name,
                detail=detail,
                secrets=(self._api_key,),
                key_env=self.api_key_env,
            )
        return payload
