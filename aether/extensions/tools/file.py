"""``read_file``: read a UTF-8 text file, confined to one directory.

The root is ``AETHER_FILE_TOOL_ROOT`` (read at each call), or the working directory.
A path is resolved (``..`` and symlinks followed) BEFORE anything is opened, and refused
unless the result lies inside the root: ``../secret``, ``/etc/passwd`` and a symlink
pointing out of the root are all refused, and a refusal never says whether the target
exists. The final path component is opened without following symlinks, and only
regular files are read (a FIFO or a device is refused, never waited on).

Everything inside the root is readable, dotfiles included: point the root at a
directory that holds nothing the model should not see (no ``.env`` with API keys).
"""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

from aether import config
from aether.tools.registry import register_tool

__all__ = ["read_file", "read_text_file"]

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _confine(path: str, root: Path) -> Path:
    if not path or "\x00" in path:
        raise ValueError(f"{path!r} is not a file path")
    candidate = Path(path)
    target = candidate if candidate.is_absolute() else root / candidate
    resolved = target.resolve(strict=False)
    if not resolved.is_relative_to(root):
        raise PermissionError(
            f"refused: {path!r} is outside the directory read_file is confined to; give a "
            f"path inside it (relative paths are read from it)"
        )
    return resolved


def read_text_file(
    path: str, *, root: str | os.PathLike[str] | None = None, max_bytes: int | None = None
) -> str:
    """Read the UTF-8 text file at ``path`` inside ``root``, truncated at ``max_bytes``.

    Args:
        path: Relative to the root, or absolute (and then inside the root).
        root: The directory to stay in; ``AETHER_FILE_TOOL_ROOT`` or the cwd by default.
        max_bytes: Bytes shown before truncating; ``AETHER_FILE_TOOL_MAX_BYTES`` by default.

    Raises:
        PermissionError: If the path leads outside the root.
        FileNotFoundError: If there is no such file inside the root.
        IsADirectoryError: If the path is a directory.
    """
    root_path = Path(config.file_tool_root(root)).resolve(strict=True)
    limit = config.file_tool_max_bytes(max_bytes)
    resolved = _confine(path, root_path)
    if not resolved.exists():
        raise FileNotFoundError(f"there is no file {path!r} in the directory read_file reads")
    if resolved.is_dir():
        raise IsADirectoryError(f"{path!r} is a directory; give the path of a file in it")
    descriptor = os.open(resolved, _OPEN_FLAGS)
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise PermissionError(f"refused: {path!r} is not a regular file")
        data = handle.read(limit + 1)
    truncated = len(data) > limit
    data = data[:limit]
    try:
        if b"\x00" in data:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte")
        text = codecs.getincrementaldecoder("utf-8")().decode(data, final=not truncated)
    except UnicodeDecodeError:
        return (
            f"[{path} is a binary file of {status.st_size} bytes; its content is not shown. "
            f"read_file reads UTF-8 text only.]"
        )
    if truncated:
        text += (
            f"\n\n[truncated: {path} is {status.st_size} bytes; only the first {limit} are shown]"
        )
    return text


@register_tool(description="Read a UTF-8 text file from the directory this tool may read.")
def read_file(path: str) -> str:
    """Return the text of one file; long files are truncated, binary ones reported.

    Args:
        path: The file's path, relative to the directory the tool may read.
    """
    return read_text_file(path)
