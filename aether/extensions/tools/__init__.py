"""The reference tools. Importing this package registers them::

    import aether.extensions.tools  # registers get_current_time, http_get, read_file

    await client.ask("What time is it in Tokyo?", tools=["get_current_time"])

- ``get_current_time(timezone=None)``: the time now, in UTC or an IANA zone.
- ``http_get(url)``: an HTTP GET guarded against server-side request forgery.
- ``read_file(path)``: a UTF-8 text file, confined to one directory.

Registering them does not offer them to any model: a call offers only the tools it
names in ``tools=[...]``.
"""

from aether.extensions.tools.file import read_file
from aether.extensions.tools.http import http_get
from aether.extensions.tools.time import get_current_time

__all__ = ["get_current_time", "http_get", "read_file"]
