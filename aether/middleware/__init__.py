"""Built-in middlewares, one per module. Each works alone in a stack of your own."""

from aether.middleware.events import EventsMiddleware
from aether.middleware.tool_loop import ToolLoopMiddleware

__all__ = ["EventsMiddleware", "ToolLoopMiddleware"]
