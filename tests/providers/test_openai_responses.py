"""The Responses API adapter: exact request bodies, reasoning options, conversation state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aether import Aether
from aether.errors import BadRequestError, ConfigurationError
from aether.extensions.llm._responses_wire import json_schema_format
from aether.extensions.llm.openai_responses import OpenAIResponsesProvider
from aether.llm.contracts import (
    LLMRequest,
    Message,
    ProviderPart,
    ReasoningPart,
    TextPart,
    Tool,
    ToolCall,
)
from aether.testing.wire import MockServer, ScriptedReply
from aether.testing.wires import OPENAI_RESPONSES_WIRE

from ._responses_support import (
    ENCRYPTED,
    KEY,
    RawServer,
    function_call,
    message,
    reasoning,
    response,
    stream_of,
    text_delta,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("openai_http_path")]

ADD = Tool(name="add", description="Add.", parameters={"type": "object", "properties": {}})
CALL = ToolCall(id="call_1", name="add", arguments={"a": 17, "b": 25})
HISTORY = (
    Message(role="system", content="Be terse."),
    Message(role="developer", content="Answer in English."),
    Message(role="user", content="What's 17+25?"),
    Message(role="assistant", content="Adding.", tool_calls=(CALL,)),
    Message(role="tool", content="42", tool_call_id="call_1", name="add"),
)


def _serve(*script: Any, **options: Any) -> tuple[OpenAIResponsesProvider, MockServer]:
    server = MockServer(OPENAI_RESPONSES_WIRE, script)
    return OPENAI_RESPONSES_WIRE.build_provider(server, **options), server


def _ask(*messages: Message | str, **fields: Any) -> LLMRequest:
    turns = tuple(Message(role="user", content=m) if isinstance(m, str) else m for m in messages)
    return LLMRequest(messages=turns, **fields)


async def test_request_body_matches_the_responses_format() -> None:
    provider, server = _serve(ScriptedReply(text=("42",)))
    request = LLMRequest(
        messages=HISTORY,
        model="gpt-4o-mini",
        temperature=0.2,
        top_p=0.9,
        max_tokens=100,
        tools=(ADD,),
        tool_choice="add",
    )
    await provider.complete(request)
    assert server.last.body == {
        "model": "gpt-4o-mini",
        "instructions": "Be terse.\n\nAnswer in English.",
        "input": [
            {"role": "user", "content": "What's 17+25?"},
            {"role": "assistant", "content": "Adding."},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "add",
                "arguments": '{"a":17,"b":25}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ],
        "store": False,
        "temperature": 0.2,
        "top_p": 0.9,
        "max_output_tokens": 100,
        "tools": [
            {
                "type": "function",
                "name": "add",
                "parameters": {"type": "object", "properties": {}},
                "strict": False,
                "description": "Add.",
            }
        ],
        "tool_choice": {"type": "function", "name": "add"},
    }
    assert server.last.path == "/v1/responses"
    assert server.last.headers["authorization"] == f"Bearer {OPENAI_RESPONSES_WIRE.api_key}"
    await provider.aclose()


async def test_a_stream_asks_for_one_and_nothing_else() -> None:
    provider, server = _serve(ScriptedReply(text=("hi",)))
    async for _ in provider.stream(_ask("x")):
        pass
    assert server.last.body == {
        "model": "gpt-4o-mini",
        "input": [{"role": "user", "content": "x"}],
        "store": False,
        "stream": True,
    }
    await provider.aclose()


async def test_a_reasoning_model_asks_for_encrypted_reasoning_and_gets_no_default_temperature() -> (
    None
):
    server = MockServer(OPENAI_RESPONSES_WIRE, [ScriptedReply(text=("ok",))] * 2)
    async with Aether(OPENAI_RESPONSES_WIRE.build_provider(server)) as client:
        await client.ask("hi", model="o4-mini")
        assert "temperature" not in server.last.body
        assert server.last.body["include"] == ["reasoning.encrypted_content"]
        assert "reasoning" not in server.last.body  # the model's own effort
        await client.ask("hi", model="gpt-4o-mini")
        assert (server.last.body["temperature"], "include" in server.last.body) == (0.7, False)


@pytest.mark.parametrize(
    ("summary", "expected"),
    [("auto", {"effort": "high", "summary": "auto"}), (None, {"effort": "high"})],
)
async def test_reasoning_sets_the_effort_and_the_summary(
    summary: str | None, expected: dict[str, str]
) -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)), reasoning_summary=summary)
    await provider.complete(_ask("hi", model="gpt-5-mini", reasoning="high"))
    assert server.last.body["reasoning"] == expected
    assert server.last.body["include"] == ["reasoning.encrypted_content"]
    await provider.aclose()


async def test_reasoning_none_asks_for_no_summary() -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)))
    await provider.complete(_ask("hi", model="gpt-5.1", reasoning="none"))
    assert server.last.body["reasoning"] == {"effort": "none"}
    await provider.aclose()


@pytest.mark.parametrize(
    ("model", "reasoning", "says"),
    [
        ("gpt-5-mini", 4096, "not a budget of 4096 tokens"),
        ("gpt-4o", "low", "gpt-4o does not reason"),
    ],
)
async def test_reasoning_the_wire_cannot_take_fails_before_sending(
    model: str, reasoning: Any, says: str
) -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)))
    with pytest.raises(BadRequestError, match=says) as raised:
        await provider.complete(_ask("hi", model=model, reasoning=reasoning))
    assert (len(server.requests), raised.value.provider) == (0, "openai-responses")
    await provider.aclose()


async def test_a_compatible_server_judges_reasoning_itself() -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)), base_url="http://vllm:8000/v1")
    await provider.complete(_ask("hi", model="gpt-4o-local", reasoning="low"))
    assert server.last.body["reasoning"] == {"effort": "low", "summary": "auto"}
    await provider.aclose()


async def test_invalid_options_are_reported_together() -> None:
    with pytest.raises(ConfigurationError) as raised:
        OpenAIResponsesProvider(api_key=KEY, state="server", reasoning_summary="short")  # type: ignore[arg-type]
    assert len(raised.value.problems) == 2
    assert "state='server'" in str(raised.value)
    assert "reasoning_summary='short'" in str(raised.value)


async def test_encrypted_reasoning_goes_back_before_the_call_it_led_to() -> None:
    first = response(
        reasoning("Need the sum.", "Use the tool.", encrypted=ENCRYPTED),
        function_call("call_1", "add", '{"a": 17, "b": 25}'),
    )
    server = RawServer(first, response(message("42.")))
    provider = server.provider()
    question = Message(role="user", content="What's 17+25?")
    answer = await provider.complete(_ask(question, model="o4-mini", tools=(ADD,)))
    thought = ReasoningPart(
        text="Need the sum.\n\nUse the tool.",
        signature=ENCRYPTED,
        provider="openai-responses",
        id="rs_001",
    )
    assert (answer.parts, answer.tool_calls, answer.finish_reason) == (
        (thought,),
        (ToolCall(id="call_1", name="add", arguments={"a": 17, "b": 25}),),
        "tool_calls",
    )
    result = Message(role="tool", content="42", tool_call_id="call_1", name="add")
    await provider.complete(_ask(question, answer.message, result, model="o4-mini", tools=(ADD,)))
    assert server.last["input"][1:] == [
        {
            "type": "reasoning",
            "id": "rs_001",
            "summary": [{"type": "summary_text", "text": "Need the sum.\n\nUse the tool."}],
            "encrypted_content": ENCRYPTED,
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "add",
            "arguments": '{"a":17,"b":25}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    ]
    await provider.aclose()


async def test_reasoning_the_server_did_not_keep_is_not_sent_back() -> None:
    server = RawServer(response(message("ok")))
    provider = server.provider()
    bare = ReasoningPart(text="thoughts", provider="openai-responses", id="rs_9")
    foreign = ReasoningPart(text="x", signature="c2ln", provider="anthropic")
    history = (
        Message(role="user", content="hi"),
        Message(role="assistant", content=(bare, foreign, TextPart(text="Hello."))),
        Message(role="user", content="more"),
    )
    await provider.complete(LLMRequest(messages=history))
    # With store=false an id alone would be answered 404 ("Items are not persisted").
    assert server.last["input"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "more"},
    ]
    await provider.aclose()


async def test_reasoning_cut_off_before_any_answer_is_not_sent_back() -> None:
    server = RawServer(response(message("ok")))
    provider = server.provider()
    cut = ReasoningPart(text="Hmm", signature=ENCRYPTED, provider="openai-responses", id="rs_1")
    history = (
        Message(role="user", content="hi"),
        Message(role="assistant", content=(cut,)),
        Message(role="user", content="go on"),
    )
    await provider.complete(LLMRequest(messages=history, model="o4-mini"))
    # Sent alone, OpenAI refuses it: "provided without its required following item".
    assert server.last["input"] == [
        {"role": "user", "content": "hi"},
        {"role": "user", "content": "go on"},
    ]
    await provider.aclose()


async def test_chained_state_sends_only_the_new_turns_after_the_stored_response() -> None:
    server = RawServer(
        response(message("Hi Alice."), response_id="resp_A"), response(message("Alice."))
    )
    provider = server.provider(state="chained")
    system = Message(role="system", content="Be brief.")
    greeting = Message(role="user", content="I am Alice.")
    first = await provider.complete(_ask(system, greeting))
    assert server.last["store"] is True
    assert ("previous_response_id" in server.last, "include" in server.last) == (False, False)
    anchor = ProviderPart(provider="openai-responses", kind="response", data={"id": "resp_A"})
    assert (first.text, first.parts, first.response_id) == (
        "Hi Alice.",
        (TextPart(text="Hi Alice."), anchor),
        "resp_A",
    )
    question = Message(role="user", content="Who am I?")
    await provider.complete(_ask(system, greeting, first.message, question))
    assert server.last == {
        "model": "gpt-4o-mini",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": "Who am I?"}],
        "previous_response_id": "resp_A",
        "store": True,
    }
    await provider.aclose()


async def test_the_chain_survives_a_session_store_and_a_new_client(tmp_path: Path) -> None:
    from aether.extensions.memory.sqlite import SQLiteSessionStore

    server = RawServer(
        response(message("Hi Alice."), response_id="resp_A"), response(message("Alice."))
    )
    path = tmp_path / "sessions.db"
    provider = server.provider(state="chained")
    async with SQLiteSessionStore(path) as store, Aether(provider, memory_store=store) as client:
        await client.session("alice").ask("I am Alice.")
    provider = server.provider(state="chained")
    async with SQLiteSessionStore(path) as store, Aether(provider, memory_store=store) as other:
        assert await other.session("alice").ask("Who am I?") == "Alice."
    assert (server.last["previous_response_id"], server.last["input"]) == (
        "resp_A",
        [{"role": "user", "content": "Who am I?"}],
    )


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_the_tool_loop_chains_its_rounds(stream: bool) -> None:
    async def add(arguments: dict[str, Any]) -> int:
        return int(arguments["a"]) + int(arguments["b"])

    tool = Tool(name="add", parameters={"type": "object"}, handler=add)
    asking = response(
        reasoning("Use the tool.", encrypted=None),
        function_call("call_1", "add", '{"a": 17, "b": 25}'),
        response_id="resp_A",
    )
    final = response(message("42."), response_id="resp_B")
    first: Any = stream_of(asking) if stream else asking
    second: Any = stream_of(final, text_delta("42.")) if stream else final
    server = RawServer(first, second)
    async with Aether(server.provider(state="chained")) as client:
        if stream:
            text = "".join([delta async for delta in client.stream_text("17+25?", tools=[tool])])
        else:
            text = await client.ask("17+25?", tools=[tool])
    assert text == "42."
    assert server.bodies[0]["input"] == [{"role": "user", "content": "17+25?"}]
    assert (server.last["previous_response_id"], server.last["input"]) == (
        "resp_A",
        [{"type": "function_call_output", "call_id": "call_1", "output": "42"}],
    )


async def test_switching_state_mid_conversation_sends_the_whole_history() -> None:
    anchor = ProviderPart(provider="openai-responses", kind="response", data={"id": "resp_A"})
    stored = ReasoningPart(text="Hmm", provider="openai-responses", id="rs_1")
    chained_turn = Message(role="assistant", content=(stored, TextPart(text="Hi."), anchor))
    plain_turn = Message(role="assistant", content="Hi.")
    server = RawServer(response(message("ok")), response(message("ok")))
    whole = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": "more"},
    ]
    for state, turn in (("stateless", chained_turn), ("chained", plain_turn)):
        provider = server.provider(state=state)
        await provider.complete(_ask("hi", turn, "more"))
        assert (server.last["input"], "previous_response_id" in server.last) == (whole, False)
        await provider.aclose()


async def test_built_in_tools_and_includes_join_aethers_own() -> None:
    provider, server = _serve(ScriptedReply(text=("ok",)), ScriptedReply(text=("ok",)))
    hatch = {
        "openai-responses": {
            "tools": [
                {"type": "web_search"},
                {"type": "code_interpreter", "container": {"type": "auto"}},
            ],
            "include": ["web_search_call.action.sources"],
        }
    }
    await provider.complete(_ask("hi", model="o4-mini", tools=(ADD,), provider_options=hatch))
    body = server.last.body
    assert [tool["type"] for tool in body["tools"]] == [
        "function",
        "web_search",
        "code_interpreter",
    ]
    assert body["include"] == ["reasoning.encrypted_content", "web_search_call.action.sources"]
    await provider.complete(_ask("hi", provider_options=hatch))
    assert server.last.body["tools"] == hatch["openai-responses"]["tools"]
    assert server.last.body["include"] == ["web_search_call.action.sources"]
    await provider.aclose()


async def test_structured_output_goes_as_text_format() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    provider, server = _serve(ScriptedReply(text=('{"answer": ', "42}")))
    text = json_schema_format(schema, name="sum", description="The sum.")
    options = {"openai-responses": {"text": text}}
    answer = await provider.complete(_ask("17+25?", provider_options=options))
    assert server.last.body["text"] == {
        "format": {
            "type": "json_schema",
            "name": "sum",
            "schema": schema,
            "strict": True,
            "description": "The sum.",
        }
    }
    assert answer.text == '{"answer": 42}'
    await provider.aclose()
