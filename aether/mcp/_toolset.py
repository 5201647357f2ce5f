"""`MCPToolset`: the tools of one MCP server, usable wherever Aether takes tools.

::

    from aether.mcp import MCPToolset

    files = MCPToolset.stdio("python", args=["fs_server.py", "./docs"], prefix="fs")
    async with files:
        await client.ask("What does README.md say?", tools=[files, "add"])

Each server tool becomes an ordinary `Tool` whose handler calls the server, so the tool
loop, tool.* events, cost tracking and tool wrappers treat it like any other tool.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aether.errors import ConfigurationError, ToolError
from aether.llm.contracts import Tool
from aether.mcp._link import MCPConnectionError, ServerLink
from aether.mcp._results import ArgumentsCheck, content_from_result, result_text
from aether.mcp._transports import StdioTransport, TransportSpec, http_transport
from aether.tools._dispatch import ToolTimeoutError

if TYPE_CHECKING:
    import httpx2
    import mcp_types
    from mcp import Client

__all__ = ["MCPToolset"]

logger = logging.getLogger("aether.mcp")

_CONNECTION_CLOSED = -32000
_REQUEST_TIMEOUT = -32001
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def _require_sdk() -> None:
    if importlib.util.find_spec("mcp") is None:
        raise ConfigurationError("MCP toolsets need the mcp package: pip install 'aether-llm[mcp]'")


def _patterns(value: Iterable[str] | None, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise ConfigurationError(f"{name}= takes a list of tool names, not one: {name}=[{value!r}]")
    return tuple(value)


class MCPToolHandler:
    """Runs one server tool: checks the arguments, calls the server, maps the result."""

    __slots__ = ("check", "remote_name", "toolset")

    def __init__(
        self, toolset: MCPToolset, remote_name: str, name: str, schema: Mapping[str, Any]
    ) -> None:
        self.toolset = toolset
        self.remote_name = remote_name
        self.check = ArgumentsCheck(name, schema)

    async def __call__(self, arguments: dict[str, Any]) -> Any:
        self.check(arguments)
        return await self.toolset._call(self.remote_name, arguments)

    def __repr__(self) -> str:
        return f"MCPToolHandler({self.remote_name!r}, {self.toolset!r})"


class MCPToolset:
    """The tools of one MCP server, for ``tools=[...]`` on a call or on `Aether`.

    Build it with `MCPToolset.stdio`, `MCPToolset.http` or `MCPToolset.sse`, and start
    it with ``async with toolset:`` (or give it to ``Aether(tools=[...])`` and use
    ``async with client:``). Its listing is cached, and refreshed when the server
    announces a change.

    Args:
        transport: How to reach the server (the class methods build it).
        prefix: Put ``prefix_`` before every tool name, to keep the names of several
            servers (and of your ``@register_tool`` tools) apart.
        allow: Offer only the server tools whose names match one of these (``fnmatch``
            patterns such as ``"read_*"``); all of them by default.
        deny: Never offer the server tools whose names match one of these patterns.
        timeout: Seconds one tool call may take; past it the call is cancelled on the
            server and the model is told it timed out.
        connect_timeout: Seconds to start or reach the server and list its tools.
    """

    def __init__(
        self,
        transport: TransportSpec,
        *,
        prefix: str | None = None,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 30.0,
    ) -> None:
        _require_sdk()
        problems = []
        if prefix is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", prefix):
            problems.append(f"prefix= must be letters, digits, _ or -, not {prefix!r}")
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if not isinstance(value, int | float) or not value > 0:
                problems.append(f"{name}= must be a number of seconds above 0, not {value!r}")
        if problems:
            raise ConfigurationError("; ".join(problems), problems=problems)
        self.prefix = prefix
        self.allow = _patterns(allow, "allow")
        self.deny = _patterns(deny, "deny")
        self.timeout = float(timeout)
        self._link = ServerLink(
            transport, connect_timeout=float(connect_timeout), on_listing=self._publish
        )
        self._tools: tuple[Tool, ...] = ()
        self._depth = 0

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> MCPToolset:
        """A server started as a child process, speaking MCP over its stdin and stdout.

        The process starts on ``async with`` and is stopped (stdin closed, then
        terminated, then killed) when it ends; a process that dies is started again at
        the next call.

        Args:
            command: The program to run (``"python"``, ``"npx"``, a path).
            args: Its arguments, as a list.
            env: Environment variables for it, over a minimal inherited set (PATH, HOME,
                USER, ...): your other variables, API keys included, are not passed on.
            cwd: Its working directory.
            **options: `MCPToolset` options (``prefix``, ``allow``, ``deny``,
                ``timeout``, ``connect_timeout``).
        """
        if isinstance(args, str):
            raise ConfigurationError(f"args= takes a list of arguments: args=[{args!r}]")
        return cls(StdioTransport(command, tuple(args), env, cwd), **options)

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx2.Auth | str | None = None,
        **options: Any,
    ) -> MCPToolset:
        """A server reached over streamable HTTP.

        Args:
            url: The server's MCP endpoint (``https://example.com/mcp``).
            headers: Headers sent with every request.
            auth: A bearer token, or an ``httpx2.Auth`` (the `mcp` package's
                ``OAuthClientProvider``, say). Neither appears in reprs or errors.
            **options: `MCPToolset` options (``prefix``, ``allow``, ``deny``,
                ``timeout``, ``connect_timeout``).
        """
        return cls(http_transport(url, headers, auth, sse=False), **options)

    @classmethod
    def sse(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx2.Auth | str | None = None,
        **options: Any,
    ) -> MCPToolset:
        """A server reached over the legacy HTTP+SSE transport (its ``/sse`` endpoint).

        Takes the same arguments as `MCPToolset.http`.
        """
        return cls(http_transport(url, headers, auth, sse=True), **options)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the toolset is started."""
        return self._link.running

    async def __aenter__(self) -> MCPToolset:
        if self._depth == 0:
            try:
                await self._link.start()
            except MCPConnectionError:
                raise
            except Exception as error:  # bad arguments for the SDK, say
                transport = self._link.transport
                raise MCPConnectionError(
                    f"could not start the {transport.describe()}: {transport.scrub(str(error))}"
                ) from None
        self._depth += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            try:
                await self._link.stop()
            finally:
                self._tools = ()

    # -- tools ---------------------------------------------------------------------------

    def current_tools(self) -> tuple[Tool, ...]:
        """The server's tools as last listed, filtered and prefixed.

        Raises:
            ToolError: If the toolset is not started.
        """
        if not self._link.running:
            raise ToolError(
                f"{self!r} is not started: use it inside `async with toolset:`, or give it "
                f"to Aether(tools=[...]) and use `async with client:` (`with client:` for a "
                f"SyncAether)"
            )
        return self._tools

    async def refresh(self) -> tuple[Tool, ...]:
        """List the server's tools again now, and return them."""
        await self._link.refresh()
        return self.current_tools()

    def _offered(self, name: str) -> bool:
        if self.allow is not None and not any(fnmatch.fnmatchcase(name, p) for p in self.allow):
            return False
        return not (self.deny and any(fnmatch.fnmatchcase(name, p) for p in self.deny))

    def _publish(self, listing: list[mcp_types.Tool]) -> None:
        tools: dict[str, Tool] = {}
        for remote in listing:
            if not self._offered(remote.name):
                continue
            name = _UNSAFE_NAME.sub("_", remote.name)  # providers take [A-Za-z0-9_-] only
            if self.prefix:
                name = f"{self.prefix}_{name}"
            if name in tools:
                logger.warning(
                    "%r: two server tools are both named %r for the model; only "
                    "the first is offered",
                    self,
                    name,
                )
                continue
            schema = dict(remote.input_schema)
            schema.setdefault("type", "object")
            tools[name] = Tool(
                name=name,
                description=remote.description or remote.title or "",
                parameters=schema,
                handler=MCPToolHandler(self, remote.name, name, schema),
            )
        if self.allow:
            names = [remote.name for remote in listing]
            unmatched = [p for p in self.allow if not fnmatch.filter(names, p)]
            if unmatched:
                logger.warning(
                    "%r: allow=%r matches none of the server's tools (%s)",
                    self,
                    unmatched,
                    ", ".join(names) or "none",
                )
        self._tools = tuple(tools.values())

    # -- calls ---------------------------------------------------------------------------

    async def _call(self, remote_name: str, arguments: dict[str, Any]) -> Any:
        from mcp.shared.exceptions import MCPError
        from pydantic import ValidationError

        client: Client = await self._link.client()
        try:
            result = await client.call_tool(
                remote_name, arguments, read_timeout_seconds=self.timeout
            )
        except MCPError as error:
            if error.code == _CONNECTION_CLOSED:
                self._link.lost(client)
                raise MCPConnectionError(
                    f"the {self._link.transport.describe()} closed the connection during "
                    f"the call (it may have crashed), so the call may or may not have run; "
                    f"calling again reconnects"
                ) from None
            if error.code == _REQUEST_TIMEOUT:
                raise ToolTimeoutError(
                    f"tool {remote_name!r} did not answer within {self.timeout:g} seconds and "
                    f"was cancelled on the server; try again with a smaller request, or do "
                    f"without it"
                ) from None
            message = self._link.transport.scrub(error.message)
            raise ToolError(f"the MCP server refused the call: {message}") from None
        except (RuntimeError, ValidationError) as error:
            # The SDK checks structured output against the tool's output schema.
            raise ToolError(f"the MCP server's answer could not be read: {error}") from None
        if result.is_error:
            raise ToolError(result_text(result))
        return content_from_result(result)

    def __repr__(self) -> str:
        prefix = f", prefix={self.prefix!r}" if self.prefix else ""
        return f"MCPToolset({self._link.transport.describe()}{prefix})"
