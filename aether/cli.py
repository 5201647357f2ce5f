"""The ``aether`` command (and ``python -m aether``): ask, chat, demo.

::

    aether ask "What is the meaning of life?"        # streams the answer
    git diff | aether ask "Review this change"        # stdin comes before the prompt
    aether ask --json "hi"                            # one JSON object, for scripts
    aether ask --output-type invoices:Invoice "..."   # a validated Invoice, as JSON
    aether chat --provider anthropic                  # a REPL with saved history
    aether demo                                       # the demo

Exit codes: 0 done; 1 the call failed (a provider error, the budget, the tool loop's
cap); 2 bad usage or configuration (an unknown option, a missing API key, an unknown
provider, a ``--tools`` that cannot be imported, no prompt); 130 interrupted (Ctrl-C).

Built on argparse: it adds nothing to the start-up time, which ``import aether`` makes
(about 0.2 s). The answer goes to stdout; tool calls, usage and cost go to stderr, so a
pipe gets only the answer. Colour (dim for the notes on stderr) only on a terminal and
never when ``NO_COLOR`` is set. The chat keeps its history in an SQLite session under
the user's data directory (``platformdirs``: the ``cli`` extra), or in ``--history FILE``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from aether.config import ProviderConfig, provider_name
from aether.errors import AetherError, ConfigurationError
from aether.llm.contracts import Message, StreamChunk, Tool
from aether.mcp._serve import add_command as add_mcp_command
from aether.sync import SyncAether, SyncSession

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad command-line input, reported with exit code 2."""


def use_color(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return not environ.get("NO_COLOR") and stream.isatty()


def _note(text: str) -> None:
    """A note on stderr (usage, tool calls, errors), dimmed on a terminal."""
    if use_color(sys.stderr):
        text = f"\x1b[2m{text}\x1b[0m"
    print(text, file=sys.stderr, flush=True)


# -- options shared by ask and chat ----------------------------------------------------------


def _load_tools(specs: Sequence[str]) -> list[Any]:
    """``module:attr`` items: a function, a `Tool`, or a list of them."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: your own modules import
    tools: list[Any] = []
    for spec in specs:
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise UsageError(f"--tools {spec!r}: write module:attribute, such as mytools:add")
        try:
            value = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise UsageError(f"--tools {spec!r}: {error}") from error
        items = list(value) if isinstance(value, list | tuple) else [value]
        for item in items:
            if not (isinstance(item, Tool) or callable(item)):
                raise UsageError(f"--tools {spec!r}: {item!r} is not a function or a Tool")
        tools += items
    return tools


def _load_output_type(spec: str) -> Any:
    """``module:attr``: a pydantic model, a dataclass, a TypedDict, a type alias or a JSON
    Schema dict."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(
            f"--output-type {spec!r}: write module:attribute, such as invoices:Invoice"
        )
    try:
        value = importlib.import_module(module_name)
        for name in attribute.split("."):
            value = getattr(value, name)
    except (ImportError, AttributeError) as error:
        raise UsageError(f"--output-type {spec!r}: {error}") from error
    if callable(value) or isinstance(value, dict) or hasattr(value, "__origin__"):
        return value
    raise UsageError(f"--output-type {spec!r}: {value!r} is not a type or a JSON Schema dict")


def _mcp_servers(specs: Sequence[str]) -> list[Any]:
    """``--mcp`` items: a URL (streamable HTTP) or a command line (a server over stdio)."""
    import shlex

    from aether.mcp import MCPToolset

    toolsets = []
    for spec in specs:
        if spec.startswith(("http://", "https://")):
            toolsets.append(MCPToolset.http(spec))
            continue
        command = shlex.split(spec)
        if not command:
            raise UsageError("--mcp '': give a server's command line or URL")
        toolsets.append(MCPToolset.stdio(command[0], args=command[1:]))
    return toolsets


def _client(args: argparse.Namespace, **options: Any) -> SyncAether:
    config = ProviderConfig(name=args.provider or provider_name(), model=args.model)
    return SyncAether(config=config, tools=_mcp_servers(args.mcp), **options)


def _call_options(tools: list[Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if tools:
        options["tools"] = tools
    return options


def _usage_line(chunk: StreamChunk | Any) -> str:
    cost = chunk.cost_usd
    price = f"${cost:.6f}" if cost is not None else "cost unknown"
    return f"[{chunk.model}: {chunk.input_tokens} in + {chunk.output_tokens} out tokens, {price}]"


def _print_stream(chunks: Any) -> StreamChunk | None:
    """Write text deltas to stdout and tool calls to stderr; return the final chunk."""
    final = None
    for chunk in chunks:
        if chunk.kind == "tool_call" and chunk.tool_call is not None:
            call = chunk.tool_call
            _note(f"[calling {call.name}({json.dumps(call.arguments)})]")
        elif chunk.text:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
        if chunk.finish_reason is not None:
            final = chunk
    sys.stdout.write("\n")
    sys.stdout.flush()
    return final


def _print_output(response: Any) -> int:
    """Write a structured answer to stdout as JSON (indented on a terminal)."""
    from pydantic_core import to_json

    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(to_json(response.output, indent=indent).decode() + "\n")
    sys.stdout.flush()
    _note(f"[{response.output_mode} output] " + _usage_line(response))
    return EXIT_OK


# -- commands ------------------------------------------------------------------------------


def _prompt(args: argparse.Namespace, stdin: TextIO) -> str:
    parts = []
    if not stdin.isatty():
        piped = stdin.read().strip()
        if piped:
            parts.append(piped)
    if args.prompt:
        parts.append(args.prompt)
    if not parts:
        raise UsageError('no prompt: give one (aether ask "...") or pipe it on stdin')
    return "\n\n".join(parts)


def _ask(args: argparse.Namespace) -> int:
    prompt = _prompt(args, sys.stdin)
    tools = _load_tools(args.tools)
    messages: Any = prompt
    if args.system:
        messages = [
            Message(role="system", content=args.system),
            Message(role="user", content=prompt),
        ]
    output_type = _load_output_type(args.output_type) if args.output_type else None
    with _client(args) as client:
        options = _call_options(tools)
        if args.json:
            response = client.complete(messages, output_type=output_type, **options)
            print(json.dumps(response.model_dump(mode="json"), ensure_ascii=False))
            return EXIT_OK
        if output_type is not None:
            return _print_output(client.complete(messages, output_type=output_type, **options))
        final = _print_stream(client.stream(messages, **options))
        if final is not None:
            _note(_usage_line(final))
    return EXIT_OK


_CHAT_HELP = """commands:
  /cost          tokens and dollars spent in this chat
  /model [NAME]  show the model, or switch to NAME for the next answers
  /reset         forget this session's history
  /help          this list
  /exit          leave (or Ctrl-D); Ctrl-C cancels an answer"""


def _history_file(args: argparse.Namespace) -> Path:
    if args.history:
        return Path(args.history)
    try:
        import platformdirs
    except ImportError:
        raise UsageError(
            "aether chat keeps its history under your data directory, found with "
            "platformdirs: pip install 'aether-llm[cli]', or pass --history FILE"
        ) from None
    return Path(platformdirs.user_data_dir("aether", appauthor=False)) / "chat.sqlite3"


def _chat_command(
    line: str, session: SyncSession, client: SyncAether, state: dict[str, Any]
) -> bool:
    """Run a ``/command``; ``False`` to leave the chat."""
    name, _, rest = line[1:].partition(" ")
    if name in ("exit", "quit"):
        return False
    if name == "cost":
        usage = client.usage
        cost = f"${usage.total_cost_usd:.6f}" if usage.total_requests else "$0"
        unpriced = f", {usage.unpriced_requests} unpriced" if usage.unpriced_requests else ""
        _note(
            f"{usage.total_requests} requests, {usage.total_input_tokens} input and "
            f"{usage.total_output_tokens} output tokens, {cost}{unpriced}"
        )
    elif name == "reset":
        session.clear()
        _note(f"[session {session.session_id!r} forgotten]")
    elif name == "model":
        if rest.strip():
            state["model"] = rest.strip()
        _note(f"[model: {state.get('model') or client.default_model}]")
    else:
        _note(_CHAT_HELP)
    return True


def _chat(args: argparse.Namespace) -> int:
    import anyio

    from aether.extensions.memory.sqlite import SQLiteSessionStore

    tools = _load_tools(args.tools)
    path = _history_file(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteSessionStore(path)
    try:
        with _client(args, memory_store=store) as client:
            session = client.session(args.session, system=args.system)
            _note(
                f"aether chat: {client.aether.provider_name} {client.default_model}; session "
                f"{args.session!r} in {path}. /help for commands, Ctrl-D to leave."
            )
            _chat_loop(session, client, _call_options(tools))
    finally:
        anyio.run(store.aclose)
    return EXIT_OK


def _chat_loop(session: SyncSession, client: SyncAether, options: dict[str, Any]) -> None:
    state: dict[str, Any] = {"model": None}
    you = "\x1b[1myou>\x1b[0m " if use_color(sys.stdout) and sys.stdin.isatty() else "you> "
    while True:
        try:
            line = input(you).strip()
        except EOFError:
            print()
            return
        except KeyboardInterrupt:  # at the prompt: a fresh line, as Python's REPL does
            print()
            continue
        if not line:
            continue
        if line.startswith("/"):
            if not _chat_command(line, session, client, state):
                return
            continue
        turn = dict(options)
        if state["model"]:
            turn["model"] = state["model"]
        try:
            final = _print_stream(session.stream(line, **turn))
        except KeyboardInterrupt:  # the answer, not the program; nothing is stored
            print()
            _note("[cancelled]")
            continue
        except AetherError as error:
            _note(f"aether: {error}")
            continue
        if final is not None:
            _note(_usage_line(final))


def _demo(args: argparse.Namespace) -> int:
    from aether.demo import main as demo

    demo()
    return EXIT_OK


# -- the parser ------------------------------------------------------------------------------


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider", help="the provider (default: LLM_PROVIDER, else openai): openai, "
        "gemini, anthropic, fake, or one you registered"
    )
    parser.add_argument("--model", help="the model (default: the provider's, or *_MODEL)")
    parser.add_argument("--system", help="a system message sent first")
    parser.add_argument(
        "--tools",
        action="append",
        default=[],
        metavar="MODULE:ATTR",
        help="tools the model may call: a function, a Tool or a list of them (repeatable), "
        "such as aether.extensions.tools:get_current_time",
    )
    parser.add_argument(
        "--mcp",
        action="append",
        default=[],
        metavar="SERVER",
        help="an MCP server whose tools the model may call (repeatable): a command line "
        "started over stdio, such as 'npx -y @modelcontextprotocol/server-filesystem .', "
        "or an http(s) URL",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``aether`` command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="aether",
        description="Ask a model from the terminal, chat with it, run the demo, or serve "
        "tools to MCP clients.",
        epilog="Exit codes: 0 done, 1 the call failed, 2 bad usage or configuration, "
        "130 interrupted. NO_COLOR turns colour off.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    ask = commands.add_parser(
        "ask",
        help="ask once and stream the answer",
        description="Ask once: the answer streams to stdout, usage and cost go to stderr. "
        "Text piped on stdin comes before the prompt.",
    )
    ask.add_argument("prompt", nargs="?", help="the prompt (or pipe it on stdin)")
    _add_model_options(ask)
    ask.add_argument(
        "--json", action="store_true", help="print the whole response as one JSON object"
    )
    ask.add_argument(
        "--output-type",
        metavar="MODULE:ATTR",
        help="ask for a structured answer of this type (a pydantic model, a dataclass, a "
        "TypedDict or a JSON Schema dict) and print it, validated, as JSON",
    )
    ask.set_defaults(run=_ask)
    chat = commands.add_parser(
        "chat",
        help="chat in a REPL with saved history",
        description="A conversation whose history is kept in an SQLite session. Commands: "
        "/cost, /model [NAME], /reset, /help, /exit. Ctrl-C cancels an answer; Ctrl-D leaves.",
    )
    _add_model_options(chat)
    chat.add_argument("--session", default="default", help="the conversation to continue")
    chat.add_argument(
        "--history", metavar="FILE", help="the SQLite file (default: under your data directory)"
    )
    chat.set_defaults(run=_chat)
    demo = commands.add_parser(
        "demo",
        help="run the demo",
        description="An answer, a stream, a tool call inside a stream, events and usage, on "
        "LLM_PROVIDER (the Fake provider when no provider or OpenAI key is set).",
    )
    demo.set_defaults(run=_demo)
    add_mcp_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aether`` command; return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return EXIT_OK
    try:
        return run(args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        _note("[interrupted]")
        return EXIT_INTERRUPTED
    except (UsageError, ConfigurationError) as error:
        _note(f"aether: {error}")
        return EXIT_USAGE
    except AetherError as error:
        _note(f"aether: {error}")
        return EXIT_FAILED
