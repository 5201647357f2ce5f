"""Built-in middlewares, one per module. Each works alone in a stack of your own."""

from aether.middleware.events import EventsMiddleware

__all__ = ["EventsMiddleware"]
