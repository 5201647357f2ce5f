"""Time one cold start in this fresh process; print JSON.

::

    python -m benchmarks._cold_start import MODULE
    python -m benchmarks._cold_start answer CASE BACKEND ROOT

``import`` times ``import MODULE``. ``answer`` times everything from this module's first
line to the first answer of a call: importing the library, building its client, and the
first request to the mock server at ``ROOT`` (connection, lazy imports, first-use
caches). Both print wall and CPU seconds (threads included). The interpreter's own
start-up (about 20 ms, the same for every case) is not counted.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()
CPU_STARTED = time.process_time()

import importlib  # noqa: E402 - after the clock starts, on purpose
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from typing import Any  # noqa: E402

__all__ = ["ANSWERS", "main"]

PROMPT = "Tell me a story."
API_KEY = "bench-not-a-key"
MESSAGES = [{"role": "user", "content": PROMPT}]


async def _aether(provider: str, root: str) -> str:
    from aether import Aether, ProviderConfig

    base_url = f"{root}/v1" if provider == "openai" else root
    config = ProviderConfig(name=provider, api_key=API_KEY, base_url=base_url)
    async with Aether(config=config) as client:
        return await client.ask(PROMPT)


async def _openai_sdk(root: str) -> str:
    import openai

    async with openai.AsyncOpenAI(base_url=f"{root}/v1", api_key=API_KEY) as client:
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        content: str = completion.choices[0].message.content
        return content


async def _anthropic_sdk(root: str) -> str:
    import anthropic

    async with anthropic.AsyncAnthropic(base_url=root, api_key=API_KEY) as client:
        message = await client.messages.create(
            model="claude-haiku-4-5", max_tokens=1024, messages=MESSAGES
        )
        text: str = message.content[0].text
        return text


async def _genai_sdk(root: str) -> str:
    from google import genai
    from google.genai import types

    client = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=root))
    try:
        response = await client.aio.models.generate_content(
            model="gemini-2.5-flash", contents=PROMPT
        )
        text: str = response.text
        return text
    finally:
        await client.aio.aclose()


async def _litellm(root: str) -> str:
    import litellm

    response = await litellm.acompletion(
        model="openai/gpt-4o-mini", messages=MESSAGES, api_base=f"{root}/v1", api_key=API_KEY
    )
    content: str = response.choices[0].message.content
    return content


async def _pydantic_ai(root: str) -> str:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=f"{root}/v1", api_key=API_KEY)
    result = await Agent(OpenAIChatModel("gpt-4o-mini", provider=provider)).run(PROMPT)
    output: str = result.output
    return output


async def _langchain(root: str) -> str:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="gpt-4o-mini", base_url=f"{root}/v1", api_key=API_KEY)
    message = await llm.ainvoke(PROMPT)
    content: str = message.content
    return content


def _for_aether(provider: str) -> Callable[[str], Awaitable[str]]:
    async def answer(root: str) -> str:
        return await _aether(provider, root)

    return answer


ANSWERS: dict[str, Callable[[str], Awaitable[str]]] = {
    "aether-openai": _for_aether("openai"),
    "aether-anthropic": _for_aether("anthropic"),
    "aether-gemini": _for_aether("gemini"),
    "openai-sdk": _openai_sdk,
    "anthropic-sdk": _anthropic_sdk,
    "genai-sdk": _genai_sdk,
    "litellm": _litellm,
    "pydantic-ai": _pydantic_ai,
    "langchain": _langchain,
}
"""Each cold-start case: a coroutine function of the server root returning the answer."""


def main(argv: list[str]) -> int:
    """Run the case the command line names and print its timings as JSON."""
    result: dict[str, Any]
    if argv[0] == "import":
        importlib.import_module(argv[1])
        result = {"import_s": time.perf_counter() - STARTED}
    else:
        case, backend, root = argv[1:4]
        import anyio

        text = anyio.run(ANSWERS[case], root, backend=backend)
        result = {"answer_s": time.perf_counter() - STARTED, "chars": len(text)}
    result["cpu_s"] = time.process_time() - CPU_STARTED
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
