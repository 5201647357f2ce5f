"""Keys that built-in middlewares keep in `LLMRequest.context`.

The context dict is shared by every copy of a request, so these survive the tool loop's
re-entry into the chain. User middlewares should pick their own keys, not these.
"""

from __future__ import annotations

ATTEMPT = "aether.attempt"
"""The current attempt number (from 1), written by retry before each attempt."""

TOOL_LOOP = "aether.tool_loop"
"""Present while the tool loop drives a logical stream; it then emits stream.start,
stream.complete and stream.error once for the whole stream, and the events middleware
below it emits only the per-chunk events."""

STREAM_CHUNKS = "aether.stream_chunks"
"""Text chunks yielded so far in a logical stream driven by the tool loop, so the events
middleware numbers ``stream.chunk`` events across iterations instead of restarting at 0."""
