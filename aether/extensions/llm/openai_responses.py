"""The OpenAI Responses API adapter: reasoning models, their reasoning items, built-in tools.

``LLM_PROVIDER=openai-responses`` selects it; it reads the same variables as the
``openai`` provider (``OPENAI_API_KEY``, ``OPENAI_MODEL``, ``OPENAI_BASE_URL``) and
sends through the same official ``openai`` SDK, imported when the provider is built.
It is a provider of its own rather than an option of ``openai`` because the two are
different wires: different escape-hatch fields (``provider_options["openai-responses"]``
is a Responses body), different state (reasoning items, stored responses), and the
built-in tools exist only here; chat completions remain what every OpenAI-compatible
server speaks.

::

    provider = OpenAIResponsesProvider(api_key="sk-...", default_model="gpt-5-mini")
    provider = OpenAIResponsesProvider(state="chained")   # previous_response_id
    provider = OpenAIResponsesProvider(transport=httpx2.MockTransport(handler))

Conversation state (see docs/providers.md):

``"stateless"`` (the default)
    ``store=false``; every request carries the whole conversation. A reasoning model's
    reasoning comes back encrypted (``include=["reasoning.encrypted_content"]``) as a
    `ReasoningPart` in the answer's parts and goes back with the next request, so a
    session stored in Redis and resumed by another process keeps it.
``"chained"``
    ``store=true``; each answer keeps its response id as
    ``ProviderPart(provider="openai-responses", kind="response", data={"id": ...})``,
    and the next request sends ``previous_response_id`` and only the turns after that
    answer. The id lives in the conversation, so it survives a session store too; OpenAI
    keeps stored responses for 30 days, after which a chained request fails (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, get_args

from aether.errors import ConfigurationError
from aether.extensions.llm._json_body import loads
from aether.extensions.llm._output_schemas import strict_schema
from aether.extensions.llm._responses_output import failure, parse_response
from aether.extensions.llm._responses_stream import ResponsesStreamState
from aether.extensions.llm._responses_wire import build_body, json_schema_format
from aether.extensions.llm._sdk_provider import END, StreamState
from aether.extensions.llm._sse import ServerSentEvent
from aether.extensions.llm._wire_defaults import PreparedCall, SamplingRules
from aether.extensions.llm.openai import DEFAULT_MODEL, OpenAIBaseProvider
from aether.llm._output_modes import OutputPlan
from aether.llm.contracts import LLMRequest, LLMResponse

__all__ = ["ConversationState", "OpenAIResponsesProvider", "ReasoningSummary"]

ConversationState = Literal["stateless", "chained"]
"""Where the conversation lives: carried in every request, or chained on OpenAI's side."""

ReasoningSummary = Literal["auto", "concise", "detailed"]
"""The reasoning summary asked for when a call sets ``reasoning=``."""

_MERGED_LISTS = ("tools", "include")
"""Body lists the escape hatch extends instead of replacing."""


class OpenAIResponsesProvider(OpenAIBaseProvider):
    """OpenAI's Responses API (``POST /v1/responses``), or a server that speaks it.

    Args:
        api_key: The API key; ``OPENAI_API_KEY`` when omitted. A server at a custom
            ``base_url`` may need none (a placeholder is then sent).
        default_model: The model for requests that name none.
        base_url: The server; ``OPENAI_BASE_URL`` when omitted, else OpenAI's.
        http_client: An ``httpx2.AsyncClient`` (or ``httpx.AsyncClient``) to send
            through. It stays yours: `aclose` leaves it open.
        transport: An ``httpx2`` async transport; the provider builds and owns a client
            around it.
        timeout: Seconds (or an ``httpx2.Timeout``) per request; the SDK's default
            (600 s) when omitted.
        organization: The OpenAI organization id, if any.
        project: The OpenAI project id, if any.
        default_headers: Headers sent with every request.
        sampling: Your sampling rules (see `aether.extensions.llm.sampling`): a model
            they do not mark ``"defaults"`` is also treated as a reasoning model.
        state: ``"stateless"`` (the default) or ``"chained"`` (see the module docs).
        reasoning_summary: The summary asked for when a call sets ``reasoning=``:
            ``"auto"`` (the default), ``"concise"``, ``"detailed"``, or ``None`` for
            none (OpenAI asks organizations to verify before they get summaries).

    Raises:
        ConfigurationError: If no API key is known and no ``base_url`` is set, both
            ``http_client`` and ``transport`` were given, or an option is invalid.
    """

    name = "openai-responses"
    structured_output: ClassVar[bool] = True
    _path = "/responses"

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
        sampling: Mapping[str, str] | None = None,
        state: ConversationState = "stateless",
        reasoning_summary: ReasoningSummary | None = "auto",
    ) -> None:
        problems = []
        if state not in get_args(ConversationState):
            problems.append(f"state={state!r}: give 'stateless' (the default) or 'chained'")
        if reasoning_summary is not None and reasoning_summary not in get_args(ReasoningSummary):
            problems.append(
                f"reasoning_summary={reasoning_summary!r}: give 'auto', 'concise', "
                f"'detailed' or None"
            )
        if problems:
            raise ConfigurationError(
                f"the {self.name} provider cannot start: " + "; ".join(problems),
                problems=problems,
            )
        self._sampling = SamplingRules(self.name, sampling)
        self.default_model = default_model
        self.state: ConversationState = state
        self.reasoning_summary: ReasoningSummary | None = reasoning_summary
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

    @property
    def _chained(self) -> bool:
        return self.state == "chained"

    def _body(self, request: LLMRequest, *, model: str, stream: bool) -> dict[str, Any]:
        return build_body(
            request,
            model=model,
            provider=self.name,
            stream=stream,
            chained=self._chained,
            reasoning_model=self._sampling.support(model) != "defaults",
            reasoning_summary=self.reasoning_summary,
            official=self._official,
        )

    def _output_fields(self, body: dict[str, Any], request: LLMRequest, plan: OutputPlan) -> None:
        output = request.output
        assert output is not None
        schema, strict = strict_schema(output.json_schema)
        if plan.mode == "native":
            body["text"] = json_schema_format(
                schema if strict else output.json_schema,
                name=output.name,
                strict=strict,
                description=output.description,
            )
        elif plan.mode == "tool" and self._official and strict:
            for tool in body.get("tools", ()):
                if tool.get("name") == plan.tool:
                    tool["strict"] = True

    def _prepare(self, request: LLMRequest, *, stream: bool) -> PreparedCall:
        hatch = request.provider_options.get(self.name)
        lists = {
            key: value
            for key in _MERGED_LISTS
            if isinstance(hatch, dict) and isinstance(value := hatch.get(key), list)
        }
        if not lists:
            return super()._prepare(request, stream=stream)
        # Built-in tools and extra includes join Aether's own instead of replacing them.
        assert isinstance(hatch, dict)
        rest = {key: value for key, value in hatch.items() if key not in lists}
        options = {**request.provider_options, self.name: rest}
        call = super()._prepare(
            request.model_copy(update={"provider_options": options}), stream=stream
        )
        body = dict(call.body)
        for key, given in lists.items():
            own = body.get(key) or []
            body[key] = [*own, *(item for item in given if item not in own)]
        call.body = body
        return call

    def _parse(self, data: object, *, fallback_model: str) -> LLMResponse:
        return parse_response(
            data,
            provider=self.name,
            fallback_model=fallback_model,
            chained=self._chained,
            secrets=(self._api_key,),
            key_env=self.api_key_env,
        )

    def _stream_state(self) -> StreamState:
        return ResponsesStreamState(self.name, chained=self._chained)

    def _event_payload(self, event: ServerSentEvent) -> object:
        data = event.data
        if data.startswith("[DONE]"):  # not OpenAI's, but some compatible servers end so
            return END
        payload = loads(data)
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "error" or kind == "response.failed":
            error = payload.get("error") or payload
            if kind == "response.failed":
                response = payload.get("response")
                error = response.get("error") if isinstance(response, dict) else None
            raise failure(self.name, error, secrets=(self._api_key,), key_env=self.api_key_env)
        return payload
