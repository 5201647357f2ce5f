"""`Session`: a conversation that remembers, on top of a client and a `SessionStore`.

Each turn loads the stored history, sends it with the new prompt, and, only once the
answer is complete, appends the user message and the assistant's final message to the
store in one step. A prompt may be parts (``session.ask(["What is this?", image])``); the
stored answer keeps its parts too (reasoning with its signature, media, provider-native
blocks), so another process resuming the session sends them back exactly. That order
gives the three guarantees:

- Tool dispatches stay out of history: the turn stored is ``(user, assistant answer)``;
  the tool loop's internal turns (``LLMResponse.tool_messages``, tool chunks in a
  stream) are never written.
- A failed turn leaves nothing behind: an error, a stream broken mid-way or a
  cancellation before the answer is complete writes nothing, so there is no dangling
  user message to remove. Once the answer is complete the write is shielded from
  cancellation, so a turn is stored whole or not at all.
- Turns on one `Session` are serialised by a lock, so each sees the previous one and
  history never interleaves. Any task may release it (see `TurnLock`), so a session
  stream abandoned to the garbage collector still frees the session. Across processes,
  a store's atomic ``append`` keeps each turn's two messages together (see
  `aether.memory.contracts`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, Unpack, overload

import anyio

from aether.errors import ConfigurationError
from aether.llm.contracts import Content, LLMResponse, Message, Part, StreamChunk
from aether.memory._turn_lock import TurnLock
from aether.memory.contracts import AppendableSessionStore, SessionStore
from aether.memory.window import HistoryWindow
from aether.middleware.structured_output import structured_answer

if TYPE_CHECKING:
    from aether.client import Aether, CallOptions

__all__ = ["Session"]

_T = TypeVar("_T")

UserContent = str | Sequence[str | Part]
"""A prompt: text, or a list of parts and strings (a string becomes a `TextPart`)."""


def _answer(content: Content) -> Message | None:
    """The assistant turn to store, or ``None`` for an answer with nothing to send back.

    Several providers refuse a conversation holding an empty assistant turn (or one
    holding reasoning alone), which would break every later turn.
    """
    if isinstance(content, str):
        return Message(role="assistant", content=content) if content else None
    if any(part.type != "reasoning" and (part.type != "text" or part.text) for part in content):
        return Message(role="assistant", content=content)
    return None


class Session:
    """One conversation: ``client.session(session_id, system=...)`` returns it.

    The same id returns the same object within a client. Every call accepts the same
    keyword options as the client's (``model``, ``temperature``, ``tools``...).

    Attributes:
        session_id: The id the history is stored under.
        store: Where the history lives.
        window: What part of a long history is sent.
    """

    __slots__ = (
        "__weakref__",
        "_append",
        "_client",
        "_lock",
        "_system",
        "session_id",
        "store",
        "window",
    )

    def __init__(
        self,
        client: Aether,
        session_id: str,
        *,
        store: SessionStore,
        system: str | None = None,
        window: HistoryWindow | None = None,
    ) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise ConfigurationError(f"a session id is a non-empty string, not {session_id!r}")
        self._client = client
        self.session_id = session_id
        self.store = store
        self._append = store.append if isinstance(store, AppendableSessionStore) else None
        self._system = Message(role="system", content=system) if system is not None else None
        self.window = window if window is not None else HistoryWindow()
        self._lock = TurnLock(session_id)

    @property
    def system(self) -> str | None:
        """The system message sent first on every turn (``None``: the stored one)."""
        return self._system.text if self._system is not None else None

    def check_same(self, *, system: str | None, window: HistoryWindow) -> None:
        """Refuse to reopen this session with a different system message or window.

        Raises:
            ConfigurationError: If an argument given differs from the session's.
        """
        problems = []
        if system is not None and system != self.system:
            problems.append(f"system={system!r} differs from the open one ({self.system!r})")
        caps = (window.max_messages, window.max_tokens)
        # The token counter is not compared: a lambda passed again is a new object; the
        # counter of the first opening stays.
        if not window.unlimited and caps != (self.window.max_messages, self.window.max_tokens):
            problems.append(f"the history cap {window} differs from the open one {self.window}")
        if problems:
            raise ConfigurationError(
                f"session {self.session_id!r} is already open on this client: "
                f"{'; '.join(problems)}. Open it with the same arguments, or with none.",
                problems=problems,
            )

    # -- history -----------------------------------------------------------------------

    async def history(self) -> list[Message]:
        """The stored history, oldest first: system, then user and assistant turns.

        Raises:
            SessionCorruptedError: If the stored history cannot be read.
        """
        return await self.store.load(self.session_id)

    async def clear(self) -> None:
        """Forget the conversation; the next turn starts afresh (with ``system``)."""
        async with self._lock:
            await self.store.delete(self.session_id)

    def _outgoing(self, stored: list[Message], prompt: Message) -> list[Message]:
        stored_system = stored[0] if stored and stored[0].role == "system" else None
        rest = stored[1:] if stored_system is not None else stored
        system = self._system if self._system is not None else stored_system
        head = [system] if system is not None else []
        if not self.window.unlimited:
            rest = self.window.select(rest, fixed=[*head, prompt])
        return [*head, *rest, prompt]

    async def _commit(self, prompt: Message, content: Content) -> None:
        answer = _answer(content)
        if answer is None:
            return
        turn = (prompt, answer)
        prefix = (self._system,) if self._system is not None else ()
        with anyio.CancelScope(shield=True):
            if self._append is not None:
                await self._append(self.session_id, turn, prefix_if_new=prefix)
            else:
                stored = await self.store.load(self.session_id)
                await self.store.save(self.session_id, [*(stored or prefix), *turn])

    # -- turns ---------------------------------------------------------------------------

    @overload
    async def complete(
        self, prompt: UserContent, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> LLMResponse: ...

    @overload
    async def complete(
        self, prompt: UserContent, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> LLMResponse[_T]: ...

    @overload
    async def complete(
        self, prompt: UserContent, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> LLMResponse[dict[str, Any]]: ...

    @overload
    async def complete(
        self, prompt: UserContent, *, output_type: object, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]: ...

    async def complete(
        self, prompt: UserContent, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> LLMResponse[Any]:
        """Send ``prompt`` with the history; store the turn; return the whole response.

        The stored answer is the response's parts when it has them (`LLMResponse.parts`),
        else its text; never its tool calls (see the module docstring). A structured
        answer (``output_type=``) is stored as its JSON text.
        """
        message = _user_message(prompt)
        async with self._lock:
            stored = await self.store.load(self.session_id)
            response: LLMResponse[Any] = await self._client.complete(
                self._outgoing(stored, message), output_type=output_type, **options
            )
            await self._commit(message, response.parts or response.text)
        return response

    @overload
    async def ask(
        self, prompt: UserContent, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> str: ...

    @overload
    async def ask(
        self, prompt: UserContent, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> _T: ...

    @overload
    async def ask(
        self, prompt: UserContent, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> dict[str, Any]: ...

    @overload
    async def ask(
        self, prompt: UserContent, *, output_type: object, **options: Unpack[CallOptions]
    ) -> Any: ...

    async def ask(
        self, prompt: UserContent, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> Any:
        """Send ``prompt`` with the history; store the turn; return the final text (or,
        with ``output_type=``, the validated answer)."""
        response = await self.complete(prompt, output_type=output_type, **options)
        return response.text if output_type is None else structured_answer(response)

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: None = None, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk, None]: ...

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: type[_T], **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[_T], None]: ...

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: dict[str, Any], **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[dict[str, Any]], None]: ...

    @overload
    def stream(
        self, prompt: UserContent, *, output_type: object, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[Any], None]: ...

    async def stream(
        self, prompt: UserContent, *, output_type: Any = None, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[StreamChunk[Any], None]:
        """Stream the answer as `StreamChunk` objects; the turn is stored when it completes.

        The stored answer is the final chunk's ``parts`` when it has them, else the text
        after the last tool chunk (or ``output_retry`` chunk), as in call mode. The final
        chunk is yielded after the turn is stored, so a consumer that stops at it still
        gets the turn saved. Stopping earlier, or an error, stores nothing. The session
        stays locked while the stream is open: close it (``contextlib.aclosing``) rather
        than leaving it to the garbage collector.
        """
        message = _user_message(prompt)
        async with self._lock:
            stored = await self.store.load(self.session_id)
            inner = self._client.stream(
                self._outgoing(stored, message), output_type=output_type, **options
            )
            parts: list[str] = []
            held: StreamChunk[Any] | None = None
            try:
                async for chunk in inner:
                    if held is not None:
                        yield held
                        held = None
                    if chunk.kind == "text":
                        if chunk.text:
                            parts.append(chunk.text)
                    elif chunk.kind != "reasoning":
                        # Text before a tool call, or an answer asked for again, is not
                        # the final answer.
                        parts.clear()
                    if chunk.finish_reason is not None:
                        held = chunk
                        continue
                    yield chunk
            finally:
                await inner.aclose()
            final_parts = held.parts if held is not None else ()
            await self._commit(message, final_parts or "".join(parts))
        if held is not None:
            yield held

    async def stream_text(
        self, prompt: UserContent, **options: Unpack[CallOptions]
    ) -> AsyncGenerator[str, None]:
        """Stream only the text deltas; the final text is stored when the stream completes."""
        inner = self.stream(prompt, **options)
        try:
            async for chunk in inner:
                if chunk.kind == "text" and chunk.text:
                    yield chunk.text
        finally:
            await inner.aclose()

    def __repr__(self) -> str:
        return f"Session({self.session_id!r}, store={self.store!r})"


def _user_message(prompt: UserContent) -> Message:
    """The user turn for ``prompt``.

    Raises:
        ConfigurationError: If ``prompt`` is neither text nor a list of parts and strings.
    """
    if isinstance(prompt, str):
        return Message(role="user", content=prompt)
    how = "write session.ask('...') or session.ask(['What is this?', ImagePart.from_path(...)])"
    if not isinstance(prompt, Sequence) or isinstance(prompt, bytes | bytearray):
        raise ConfigurationError(
            f"a session prompt is text or a list of parts and strings, not "
            f"{type(prompt).__name__}: {how}"
        )
    if not prompt:
        raise ConfigurationError(f"the prompt is an empty list: {how}")
    try:
        return Message(role="user", content=tuple(prompt))
    except ValueError as error:
        raise ConfigurationError(f"the prompt is not valid content ({error}): {how}") from None
