"""Test kits for Aether users and adapter authors.

- `aether.extensions.llm.fake` holds the Fake provider, for testing application code.
- `aether.testing.wire` describes scripted vendor servers (`MockServer`, `ScriptedReply`,
  `ScriptedError`, ...) and the `WireFormat` protocol a wire format implements.
- `aether.testing.wires` holds the OpenAI, Gemini and Anthropic wire formats (httpx2).
- `aether.testing.provider_suite` is the scenario suite every adapter must pass.

Importing ``aether.testing`` imports none of the vendor SDKs.
"""

__all__: list[str] = []
