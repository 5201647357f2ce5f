"""Recorded provider traffic for your app's tests: record real answers once, replay offline.

::

    from aether import Aether, ProviderConfig
    from aether.testing.cassette import CassetteProvider

    provider = CassetteProvider("tests/cassettes/test_weather.json", ProviderConfig(name="openai"))
    client = Aether(provider)  # the whole default stack, the tool loop included, runs above it

`CassetteProvider` wraps a provider at the provider layer, below every middleware: each
call and stream the real provider answers is written to a JSON file (the request, the
response or every stream chunk, usage, and a provider error if one was raised), and a
replay serves the file with no network and no API key. The tool loop sits above it, so
the model's tool calls replay and the tools run for real; so does structured output,
so a replayed answer is validated (and re-asked, from the recording) like a live one,
and a request for another output type matches no recording.

Modes (``mode=``, or ``AETHER_CASSETTE_MODE`` / ``--aether-cassette-mode`` in pytest):

- ``once`` (default): replay the file if it exists; otherwise record one.
- ``replay-only``: replay; a missing file fails (what CI should run).
- ``record``: call the real provider and write the file afresh.

A request is matched to the first unused recording with the same mode and the same
fields (``match_on``: model, messages, tools, sampling settings, provider options); one
that matches none fails with `CassetteMismatchError` showing a diff against the next
unused recording. Before anything is written, the provider's API key, the values of
every ``*_API_KEY`` / ``*_TOKEN`` environment variable, header-like fields named after
secrets (``authorization``, ``api_key``...) and the strings you list in ``redact`` are
replaced by ``<redacted>``; ``scrub`` may rewrite each interaction further. Requests are
cleaned the same way before matching, so a redacted value still matches.

Requests, responses and chunks are stored as their pydantic models' JSON
(``modeldump(mode="json")``, defaults left out, so a text chunk is ``{"text": "Hi"}``)
and read back with the models' JSON validation, so whatever a message carries (content
parts, binary data as base64) round-trips without a change here. JSON rather than YAML:
readable enough indented, and no dependency.
"""

from __future__ import annotations

import difflib
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal, get_args

import anyio
import anyio.to_thread

from aether.config import ProviderConfig
from aether.errors import AetherError, ConfigurationError
from aether.llm._output_modes import without_native_output
from aether.llm.contracts import LLMRequest, LLMResponse, StreamChunk
from aether.llm.streaming import aclose_stream, stream_response
from aether.pipeline import middleware_name
from aether.testing._cassette_data import (
    dump,
    error_from_json,
    error_json,
    secrets_from_environment,
)
from aether.testing._cassette_data import scrub as scrub_secrets

__all__ = [
    "DEFAULT_MATCH_ON",
    "FORMAT_VERSION",
    "CassetteMismatchError",
    "CassetteMode",
    "CassetteProvider",
]

CassetteMode = Literal["once", "replay-only", "record"]

FORMAT_VERSION: Final = 1

DEFAULT_MATCH_ON: Final = (
    "model",
    "messages",
    "tools",
    "tool_choice",
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "provider_options",
    "output",
)
"""The request fields that must be equal for a recording to answer a request."""

Interaction = dict[str, Any]
"""One recorded exchange: ``mode``, ``request``, then ``response``, ``chunks`` or ``error``."""


class CassetteMismatchError(AetherError, AssertionError):
    """A request has no recording in the cassette (the message shows a diff)."""


class CassetteProvider:
    """A provider that records another provider's traffic to a file, or replays it.

    Args:
        path: The cassette file (JSON), one per test.
        provider: What to record from: a provider instance, a `ProviderConfig` (built
            only when something must be recorded, so a replay needs no key), or
            ``None`` for ``ProviderConfig()`` (``LLM_PROVIDER`` and its variables).
        mode: ``once``, ``replay-only`` or ``record`` (see the module's docs).
        match_on: The request fields compared when replaying.
        redact: Strings to replace with ``<redacted>`` before writing (and matching).
        scrub: Rewrites each interaction dict before it is written; requests are passed
            through it (as ``{"request": ...}``) before matching too.

    Raises:
        ConfigurationError: On an unknown mode, or a missing or unreadable file in
            ``replay-only`` mode.
    """

    structured_output = True
    """The recorded provider asks for structured output itself (or the cassette asks on
    behalf of one that does not), so the request is recorded as the client made it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        provider: Any = None,
        *,
        mode: CassetteMode = "once",
        match_on: Iterable[str] = DEFAULT_MATCH_ON,
        redact: Iterable[str] = (),
        scrub: Callable[[Interaction], Interaction] | None = None,
    ) -> None:
        if mode not in get_args(CassetteMode):
            raise ConfigurationError(
                f"unknown cassette mode {mode!r}: use 'once', 'replay-only' or 'record'"
            )
        self.path = Path(path)
        self.mode: CassetteMode = mode
        self.match_on = tuple(match_on)
        self._redact = [text for text in redact if text]
        self._scrub_hook = scrub
        self._config = provider if isinstance(provider, ProviderConfig) else None
        self._inner: Any = None if provider is None or self._config is not None else provider
        self._lock = threading.Lock()
        loaded = self._load() if mode != "record" else None
        if mode == "replay-only" and loaded is None:
            raise ConfigurationError(
                f"no cassette at {self.path}: record it first (mode 'once' or 'record', "
                f"with the provider's API key set), then replay it with 'replay-only'"
            )
        self.replaying = loaded is not None
        self._file: dict[str, Any] = loaded or {"aether_cassette": FORMAT_VERSION}
        self.interactions: list[Interaction] = list(self._file.get("interactions", []))
        self._used = [False] * len(self.interactions)
        self.name: str = self._file.get("provider") or self._inner_name()
        self._file["provider"] = self.name

    # -- the provider being recorded ------------------------------------------------------

    def _inner_name(self) -> str:
        if self._inner is not None:
            return middleware_name(self._inner)
        return (self._config or ProviderConfig()).name

    def _real(self) -> Any:
        if self._inner is None:
            from aether.extensions.llm.factory import create_provider

            self._inner = create_provider(self._config or ProviderConfig())
        return self._inner

    def _real_calls(self) -> tuple[Any, Any]:
        """The real provider's ``complete`` and ``stream`` (a provider without ``stream``
        streams its whole answer; one without structured output gets it asked for)."""
        real = self._real()

        async def streamed(request: LLMRequest) -> AsyncIterator[StreamChunk]:
            async for chunk in stream_response(await real.complete(request)):
                yield chunk

        stream = real.stream if callable(getattr(real, "stream", None)) else streamed
        if getattr(real, "structured_output", False):
            return real.complete, stream
        return without_native_output(self.name, real.complete, stream)

    @property
    def default_model(self) -> str | None:
        """The recorded default model when replaying, else the real provider's."""
        if self.replaying:
            model = self._file.get("default_model")
            return model if isinstance(model, str) else None
        model = getattr(self._real(), "default_model", None)
        return model if isinstance(model, str) else None

    # -- files and cleaning ---------------------------------------------------------------

    def _load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigurationError(f"the cassette {self.path} is not JSON ({error})") from None
        if not isinstance(data, dict) or data.get("aether_cassette") != FORMAT_VERSION:
            raise ConfigurationError(
                f"{self.path} is not an Aether cassette of format {FORMAT_VERSION}; record "
                f"it again (mode 'record')"
            )
        return data

    def _secrets(self) -> list[str]:
        found = [*self._redact, *secrets_from_environment()]
        key = getattr(self._inner, "_api_key", None)
        if isinstance(key, str) and len(key) >= 8:
            found.append(key)
        if self._config is not None and self._config.api_key is not None:
            found.append(self._config.api_key.get_secret_value())
        return sorted(set(found), key=len, reverse=True)  # longest first: no half-replaced

    def _clean(self, interaction: Interaction) -> Interaction:
        cleaned: Interaction = scrub_secrets(interaction, self._secrets())
        return self._scrub_hook(cleaned) if self._scrub_hook is not None else cleaned

    def _request(self, request: LLMRequest) -> dict[str, Any]:
        request_json: dict[str, Any] = self._clean({"request": dump(request)})["request"]
        return request_json

    async def _record(self, interaction: Interaction) -> None:
        self.interactions.append(self._clean(interaction))
        self._file["default_model"] = getattr(self._inner, "default_model", None)
        self._file["interactions"] = self.interactions
        text = json.dumps(self._file, indent=2, ensure_ascii=False) + "\n"
        await anyio.to_thread.run_sync(self._write, text)

    def _write(self, text: str) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".partial")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, self.path)

    # -- replaying ------------------------------------------------------------------------

    def _selected(self, request_json: Mapping[str, Any]) -> dict[str, Any]:
        return {field: request_json.get(field) for field in self.match_on}

    def _take(self, request_json: dict[str, Any], mode: str) -> Interaction:
        wanted = self._selected(request_json)
        for index, interaction in enumerate(self.interactions):
            if self._used[index] or interaction.get("mode") != mode:
                continue
            if self._selected(interaction.get("request", {})) == wanted:
                self._used[index] = True
                return interaction
        raise self._mismatch(wanted, mode)

    def _mismatch(self, wanted: dict[str, Any], mode: str) -> CassetteMismatchError:
        unused = [i for i, used in enumerate(self._used) if not used]
        same_mode = [i for i in unused if self.interactions[i].get("mode") == mode]
        if not (same_mode or unused):
            return CassetteMismatchError(
                f"no recording left in {self.path} for this {mode} request: all "
                f"{len(self.interactions)} were used. Record the cassette again "
                f"(mode 'record') if the test now makes more calls."
            )
        closest = self.interactions[(same_mode or unused)[0]]

        def lines(value: object) -> list[str]:
            return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()

        recorded = self._selected(closest.get("request", {}))
        diff = "\n".join(
            difflib.unified_diff(
                lines(recorded), lines(wanted), "recorded", "this request", lineterm=""
            )
        )
        return CassetteMismatchError(
            f"this {mode} request matches no recording in {self.path}. Against the next "
            f"unused recording ({closest.get('mode')}):\n{diff}\nRecord the cassette again "
            f"(mode 'record') if the change is intended."
        )

    # -- the provider methods ---------------------------------------------------------------

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer from the recording, or call the real provider and record its answer."""
        request_json = self._request(request)
        if self.replaying:
            interaction = self._take(request_json, "complete")
            if "error" in interaction:
                raise error_from_json(interaction["error"])
            return LLMResponse.model_validate_json(json.dumps(interaction["response"]))
        complete, _ = self._real_calls()
        try:
            response: LLMResponse = await complete(request)
        except AetherError as error:
            await self._record(
                {"mode": "complete", "request": request_json, "error": error_json(error)}
            )
            raise
        await self._record(
            {"mode": "complete", "request": request_json, "response": dump(response)}
        )
        return response

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Replay the recorded chunks one by one, or stream the real provider and record."""
        request_json = self._request(request)
        if self.replaying:
            interaction = self._take(request_json, "stream")
            for chunk in interaction.get("chunks", []):
                yield StreamChunk.model_validate_json(json.dumps(chunk))
            if "error" in interaction:
                raise error_from_json(interaction["error"])
            if interaction.get("incomplete"):
                raise CassetteMismatchError(
                    f"the recording in {self.path} of this stream stops here: the test read "
                    f"no further when it was recorded. Record it again (mode 'record')."
                )
            return
        async for chunk in self._record_stream(request, request_json):
            yield chunk

    async def _record_stream(
        self, request: LLMRequest, request_json: dict[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        _, stream = self._real_calls()
        inner = stream(request)
        interaction: Interaction = {"mode": "stream", "request": request_json, "chunks": []}
        finished = False
        try:
            async for chunk in inner:
                interaction["chunks"].append(dump(chunk))
                if chunk.finish_reason is not None:
                    finished = True
                yield chunk
        except AetherError as error:
            interaction["error"] = error_json(error)
            finished = True
            raise
        finally:
            await aclose_stream(inner)
            if not finished:
                interaction["incomplete"] = True  # the test stopped reading early
            with anyio.CancelScope(shield=True):
                await self._record(interaction)

    async def aclose(self) -> None:
        """Close the real provider, if one was built or given."""
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()

    def __repr__(self) -> str:
        state = "replaying" if self.replaying else "recording"
        return f"CassetteProvider({str(self.path)!r}, {state} {self.name})"
