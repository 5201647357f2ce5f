"""Keys that built-in middlewares keep in `LLMRequest.context`.

The context dict is shared by every copy of a request, so these survive the tool loop's
re-entry into the chain. User middlewares should pick their own keys, not these.
"""

from __future__ import annotations

ATTEMPT = "aether.attempt"
"""The current attempt number (from 1), written by retry before each attempt."""
