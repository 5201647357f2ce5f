"""One-shot convenience: ``await ask("hi")`` builds a client, asks, and closes it."""

from __future__ import annotations

from typing import Unpack

from aether.client import Aether, CallOptions, Prompt

__all__ = ["ask"]


async def ask(prompt: Prompt, **options: Unpack[CallOptions]) -> str:
    """Ask once with a fresh ``Aether()`` (configured from the environment), then close it.

    For more than one call, keep an `Aether` client instead: it reuses connections and
    accumulates usage.
    """
    async with Aether() as client:
        return await client.ask(prompt, **options)
