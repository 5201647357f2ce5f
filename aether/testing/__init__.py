"""Test kits for Aether users and plug-in authors.

- `aether.testing.store_conformance` is the suite every `SessionStore` should pass, and
  `aether.testing.redis_server` starts a throwaway ``redis-server`` on loopback
  (`RedisServer`), or a local Redis Cluster of three (`LocalRedisCluster`).
- `aether.testing.wire` describes scripted vendor servers (`MockServer`, `ScriptedReply`,
  `ScriptedError`, ...) and the `WireFormat` protocol a wire format implements.
- `aether.testing.wires` holds the OpenAI, Gemini and Anthropic wire formats (httpx2).
- `aether.testing.provider_suite` is the scenario suite every adapter must pass.
- The Fake provider, for testing application code, is `aether.extensions.llm.fake`.

Importing ``aether.testing`` imports none of the vendor SDKs.
"""

__all__: list[str] = []
