"""The names telemetry writes: OpenTelemetry GenAI semantic conventions, plus Aether's own.

The package depends on ``opentelemetry-api`` only (the ``otel`` extra), and the
``opentelemetry-semantic-conventions`` package is not part of it, so the names are
written out here; the tests check every ``gen_ai.*``, ``server.*`` and ``error.*`` name
against the semantic-conventions package (``tests/telemetry/test_semconv_names.py``).
Names starting with ``aether.`` are Aether's and have no convention.
"""

from __future__ import annotations

from typing import Final

# -- spans and operations ---------------------------------------------------------------

CHAT: Final = "chat"
"""``gen_ai.operation.name`` of one model call (the span is ``chat {model}``)."""
INVOKE_AGENT: Final = "invoke_agent"
"""``gen_ai.operation.name`` of a logical request that runs the tool loop."""
EXECUTE_TOOL: Final = "execute_tool"
"""``gen_ai.operation.name`` of one tool execution (the span is ``execute_tool {name}``)."""

# -- attributes -------------------------------------------------------------------------

OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
REQUEST_TOP_P: Final = "gen_ai.request.top_p"
REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
REQUEST_SEED: Final = "gen_ai.request.seed"
REQUEST_STREAM: Final = "gen_ai.request.stream"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE: Final = "gen_ai.token.type"
TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
TOOL_TYPE: Final = "gen_ai.tool.type"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_EVENT: Final = "exception"
"""The span event name OpenTelemetry gives a recorded exception."""

TOKEN_INPUT: Final = "input"
TOKEN_OUTPUT: Final = "output"
TOOL_TYPE_FUNCTION: Final = "function"

CACHE_HIT: Final = "aether.cache.hit"
"""Whether Aether's response cache answered this model call (set when a cache is in the
stack)."""
ATTEMPTS: Final = "aether.attempts"
"""How many attempts retry made for this model call, when more than one."""
ATTEMPT: Final = "aether.attempt"
"""On an ``exception`` event of a failed attempt: which attempt it was (from 1)."""
COST_USD: Final = "aether.cost_usd"
"""The model call's price in dollars, as cost tracking computed it (when known)."""
OUTCOME: Final = "aether.outcome"
"""How a span ended short: ``cancelled``, ``abandoned`` (a stream its consumer stopped
reading early) or ``incomplete`` (a stream that ended without its final chunk)."""

# -- metrics ----------------------------------------------------------------------------

TOKEN_USAGE: Final = "gen_ai.client.token.usage"
OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
COST: Final = "aether.client.cost"
"""Aether's metric: the dollars each model call cost, as cost tracking priced it."""

TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""The bucket boundaries the conventions give ``gen_ai.client.token.usage``."""
SECONDS_BUCKETS: Final = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""The bucket boundaries the conventions give the duration and first-chunk metrics."""
COST_BUCKETS: Final = (
    0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
)  # fmt: skip
"""Bucket boundaries for the cost metric: a hundredth of a cent up to ten dollars."""

# -- provider names ---------------------------------------------------------------------

PROVIDERS: Final = {
    "openai": "openai",
    "openai-responses": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
}
"""``gen_ai.provider.name`` for Aether's provider names; any other name is kept as is."""

HOSTS: Final = (
    ("api.groq.com", "groq"),
    ("api.deepseek.com", "deepseek"),
    ("api.x.ai", "x_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    (".openai.azure.com", "azure.ai.openai"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
)
"""Hosts whose suffix names the provider behind an OpenAI- or Gemini-compatible API."""
