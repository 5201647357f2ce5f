"""The clients `bench_openai` compares, each behind the same four operations.

Every contender makes the same request (model ``gpt-4o-mini``, one user message) to the
same mock OpenAI server and hands back the answer's text (the two Responses API
contenders over ``POST /v1/responses``, the others over chat completions), so the
worker can check that each one really read the whole answer. ``call`` returns the text
of one non-streamed answer; ``stream`` yields the text deltas of a streamed one (asking
for the usage chunk where the library can). Each contender opens one client per answer
length, because the mock server takes the length from the base URL (``/chunks/N/v1``).

The peers (LiteLLM, pydantic-ai, langchain-openai) are imported only inside their
contender, in the worker process that measures them, and only if installed (the ``bench``
extra). Each is used the way its documentation shows, with its defaults.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CONTENDERS", "PROMPT", "Contender", "ContenderSpec", "by_key"]

PROMPT = "Tell me a story."
MODEL = "gpt-4o-mini"
API_KEY = "bench-not-a-key"
MESSAGES = [{"role": "user", "content": PROMPT}]


class Contender:
    """One library's client for each answer length, and its call and stream paths."""

    def __init__(self, root: str, lengths: Sequence[int]) -> None:
        self.urls = {length: f"{root}/chunks/{length}/v1" for length in lengths}
        self.clients: dict[int, Any] = {}

    async def open(self) -> None:
        """Build the clients (no request is sent)."""
        for length, url in self.urls.items():
            self.clients[length] = self.build(url)

    def build(self, base_url: str) -> Any:
        raise NotImplementedError

    async def call(self, length: int) -> str:
        raise NotImplementedError

    def stream(self, length: int) -> AsyncIterator[str]:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Close the clients."""
        for client in self.clients.values():
            close = getattr(client, "aclose", None) or getattr(client, "close", None)
            if close is not None:
                await close()


class HttpxContender(Contender):
    """The reference: ``httpx.AsyncClient.post`` and ``json.loads``, nothing else."""

    def build(self, base_url: str) -> Any:
        import httpx

        headers = {"authorization": f"Bearer {API_KEY}"}
        return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600.0)

    async def call(self, length: int) -> str:
        body = {"model": MODEL, "messages": MESSAGES}
        response = await self.clients[length].post("/chat/completions", json=body)
        response.raise_for_status()
        content: str = response.json()["choices"][0]["message"]["content"]
        return content

    async def stream(self, length: int) -> AsyncIterator[str]:
        body = {
            "model": MODEL,
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        async with self.clients[length].stream("POST", "/chat/completions", json=body) as response:
            response.raise_for_status()
            lines = response.aiter_lines()
            try:
                async for line in lines:
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    for choice in json.loads(line[6:])["choices"]:
                        text = choice["delta"].get("content")
                        if text:
                            yield text
            finally:
                await lines.aclose()


class OpenAISdkContender(Contender):
    """The ratio base: ``AsyncOpenAI().chat.completions.create``, typed models and all."""

    def build(self, base_url: str) -> Any:
        import openai

        return openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)

    async def call(self, length: int) -> str:
        completion = await self.clients[length].chat.completions.create(
            model=MODEL, messages=MESSAGES
        )
        content: str = completion.choices[0].message.content
        return content

    async def stream(self, length: int) -> AsyncIterator[str]:
        stream = await self.clients[length].chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content


class AetherContender(Contender):
    """``Aether(OpenAIProvider(...))``: ``client.complete`` and ``client.stream_text``."""

    stack: list[object] | None = None

    def build(self, base_url: str) -> Any:
        from aether import Aether
        from aether.extensions.llm.openai import OpenAIProvider

        provider = OpenAIProvider(api_key=API_KEY, base_url=base_url, default_model=MODEL)
        return Aether(provider) if self.stack is None else Aether(provider, stack=self.stack)

    async def call(self, length: int) -> str:
        response = await self.clients[length].complete(PROMPT)
        text: str = response.text
        return text

    async def stream(self, length: int) -> AsyncIterator[str]:
        texts = self.clients[length].stream_text(PROMPT)
        try:
            async for text in texts:
                yield text
        finally:
            await texts.aclose()


class AetherEmptyStackContender(AetherContender):
    """``Aether(OpenAIProvider(...), stack=[])``: the adapter and the facade alone."""

    stack: list[object] | None = []  # noqa: RUF012 - read, never mutated


class OpenAIResponsesSdkContender(OpenAISdkContender):
    """``AsyncOpenAI().responses.create``: the Responses API with the SDK's typed events."""

    async def call(self, length: int) -> str:
        response = await self.clients[length].responses.create(model=MODEL, input=PROMPT)
        text: str = response.output_text
        return text

    async def stream(self, length: int) -> AsyncIterator[str]:
        stream = await self.clients[length].responses.create(
            model=MODEL, input=PROMPT, stream=True
        )
        async with stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    yield event.delta


class AetherResponsesContender(AetherContender):
    """``Aether(OpenAIResponsesProvider(...))``: the default stack on the Responses API."""

    def build(self, base_url: str) -> Any:
        from aether import Aether
        from aether.extensions.llm.openai_responses import OpenAIResponsesProvider

        provider = OpenAIResponsesProvider(api_key=API_KEY, base_url=base_url, default_model=MODEL)
        return Aether(provider)


class LiteLLMContender(Contender):
    """``litellm.acompletion(model="openai/gpt-4o-mini", api_base=...)``."""

    def build(self, base_url: str) -> Any:
        import litellm

        litellm.suppress_debug_info = True
        return base_url

    async def aclose(self) -> None:
        """LiteLLM keeps its HTTP clients in a module-level cache: nothing to close."""

    async def call(self, length: int) -> str:
        import litellm

        response = await litellm.acompletion(
            model=f"openai/{MODEL}",
            messages=MESSAGES,
            api_base=self.clients[length],
            api_key=API_KEY,
        )
        content: str = response.choices[0].message.content
        return content

    async def stream(self, length: int) -> AsyncIterator[str]:
        import litellm

        stream = await litellm.acompletion(
            model=f"openai/{MODEL}",
            messages=MESSAGES,
            api_base=self.clients[length],
            api_key=API_KEY,
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content


class PydanticAIContender(Contender):
    """A pydantic-ai ``Agent`` on ``OpenAIChatModel``: ``agent.run`` and ``run_stream``."""

    def build(self, base_url: str) -> Any:
        from pydantic_ai import Agent
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        provider = OpenAIProvider(base_url=base_url, api_key=API_KEY)
        return Agent(OpenAIChatModel(MODEL, provider=provider))

    async def aclose(self) -> None:
        """pydantic-ai keeps its HTTP clients in a process-wide cache: nothing to close."""

    async def call(self, length: int) -> str:
        result = await self.clients[length].run(PROMPT)
        output: str = result.output
        return output

    async def stream(self, length: int) -> AsyncIterator[str]:
        # debounce_by=None: every delta as it arrives (the default groups them by 0.1 s).
        async with self.clients[length].run_stream(PROMPT) as result:
            async for text in result.stream_text(delta=True, debounce_by=None):
                yield text


class LangChainContender(Contender):
    """langchain-openai's ``ChatOpenAI``: ``ainvoke`` and ``astream``."""

    def build(self, base_url: str) -> Any:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=MODEL, base_url=base_url, api_key=API_KEY, stream_usage=True)

    async def aclose(self) -> None:
        """ChatOpenAI keeps its HTTP clients in a process-wide cache: nothing to close."""

    async def call(self, length: int) -> str:
        message = await self.clients[length].ainvoke(PROMPT)
        content: str = message.content
        return content

    async def stream(self, length: int) -> AsyncIterator[str]:
        async for chunk in self.clients[length].astream(PROMPT):
            if chunk.content:
                yield chunk.content


@dataclass(frozen=True, slots=True)
class ContenderSpec:
    """A contender's key, its table label, what it needs and how to build it.

    ``package`` is the distribution (for its version), ``module`` what it imports.
    """

    key: str
    label: str
    package: str
    module: str
    factory: Callable[[str, Sequence[int]], Contender]
    peer: bool = False


CONTENDERS = (
    ContenderSpec("httpx", "httpx + json (reference)", "httpx", "httpx", HttpxContender),
    ContenderSpec("openai", "openai SDK (ratio base)", "openai", "openai", OpenAISdkContender),
    ContenderSpec("aether", "Aether, default stack", "aether-llm", "aether", AetherContender),
    ContenderSpec("aether-empty", "Aether, stack=[]", "aether-llm", "aether",
                  AetherEmptyStackContender),
    ContenderSpec("openai-responses", "openai SDK, Responses API", "openai", "openai",
                  OpenAIResponsesSdkContender),
    ContenderSpec("aether-responses", "Aether, Responses API, default stack", "aether-llm",
                  "aether", AetherResponsesContender),
    ContenderSpec("litellm", "LiteLLM acompletion", "litellm", "litellm", LiteLLMContender,
                  peer=True),
    ContenderSpec("pydantic-ai", "pydantic-ai Agent", "pydantic-ai-slim", "pydantic_ai",
                  PydanticAIContender, peer=True),
    ContenderSpec("langchain", "langchain-openai ChatOpenAI", "langchain-openai",
                  "langchain_openai", LangChainContender, peer=True),
)  # fmt: skip
"""Every contender, in the order of the results table."""


def by_key(key: str) -> ContenderSpec:
    """The contender called ``key``."""
    for spec in CONTENDERS:
        if spec.key == key:
            return spec
    raise KeyError(f"no contender {key!r}; known: {', '.join(spec.key for spec in CONTENDERS)}")
