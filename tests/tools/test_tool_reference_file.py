"""read_file: confinement to its root, size limits, binary files."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from _tool_helpers import asks, call, says
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aether.extensions.tools  # noqa: F401 - registers read_file
from aether import Aether
from aether.extensions.llm.fake import FakeProvider
from aether.extensions.tools.file import read_text_file
from aether.tools import dispatch_tool

SECRET = "top secret outside the root"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp/root is the tool's root; tmp/secret.txt lies outside it."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "notes.txt").write_text("hello from the root\n")
    (root / "sub" / "deep.txt").write_text("deep inside")
    (tmp_path / "secret.txt").write_text(SECRET)
    monkeypatch.setenv("AETHER_FILE_TOOL_ROOT", str(root))
    return root


async def read(path: str) -> tuple[str, bool]:
    result = await dispatch_tool("read_file", {"path": path})
    return result.content, result.is_error


async def test_reads_a_file_through_the_tool_loop(root: Path) -> None:
    fake = FakeProvider(responses=[asks(call("read_file", path="notes.txt")), says("done")])
    await Aether(fake).ask("read notes", tools=["read_file"])
    assert fake.requests[1].messages[-1].content == "hello from the root\n"


async def test_relative_paths_in_subdirectories_are_read(root: Path) -> None:
    assert await read("sub/deep.txt") == ("deep inside", False)
    assert await read("sub/../notes.txt") == ("hello from the root\n", False)


async def test_absolute_path_inside_the_root_is_read(root: Path) -> None:
    assert await read(str(root / "notes.txt")) == ("hello from the root\n", False)


async def test_default_root_is_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here.txt").write_text("cwd file")
    monkeypatch.chdir(tmp_path)
    assert await read("here.txt") == ("cwd file", False)


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["../secret.txt", "sub/../../secret.txt", "./../secret.txt"])
async def test_dot_dot_escaping_the_root_is_refused(root: Path, path: str) -> None:
    content, is_error = await read(path)
    assert is_error
    assert "PermissionError: refused" in content
    assert SECRET not in content


async def test_absolute_path_outside_the_root_is_refused(root: Path) -> None:
    content, is_error = await read(str(root.parent / "secret.txt"))
    assert is_error
    assert "is outside the directory read_file is confined to" in content


async def test_symlink_escaping_the_root_is_refused(root: Path) -> None:
    (root / "link.txt").symlink_to(root.parent / "secret.txt")
    content, is_error = await read("link.txt")
    assert is_error
    assert "PermissionError: refused" in content
    assert SECRET not in content


async def test_symlinked_directory_escaping_the_root_is_refused(root: Path) -> None:
    (root / "escape").symlink_to(root.parent)
    content, is_error = await read("escape/secret.txt")
    assert is_error
    assert "PermissionError: refused" in content


async def test_symlink_staying_inside_the_root_is_followed(root: Path) -> None:
    (root / "alias.txt").symlink_to(root / "sub" / "deep.txt")
    assert await read("alias.txt") == ("deep inside", False)


async def test_refusal_does_not_reveal_whether_an_outside_file_exists(root: Path) -> None:
    existing, _ = await read("../secret.txt")
    missing, _ = await read("../no-such-file.txt")
    assert existing.replace("secret.txt", "X") == missing.replace("no-such-file.txt", "X")


async def test_missing_file_inside_the_root_is_reported(root: Path) -> None:
    content, is_error = await read("nope.txt")
    assert is_error
    assert "FileNotFoundError: there is no file 'nope.txt'" in content


async def test_directory_is_reported(root: Path) -> None:
    content, is_error = await read("sub")
    assert is_error
    assert "IsADirectoryError: 'sub' is a directory" in content


async def test_binary_file_is_reported_not_dumped(root: Path) -> None:
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    content, is_error = await read("image.png")
    assert not is_error
    assert content == (
        "[image.png is a binary file of 16 bytes; its content is not shown. read_file "
        "reads UTF-8 text only.]"
    )


async def test_long_file_is_truncated_with_a_marker(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_FILE_TOOL_MAX_BYTES", "10")
    (root / "long.txt").write_text("0123456789abcdef")
    content, _ = await read("long.txt")
    assert content == "0123456789\n\n[truncated: long.txt is 16 bytes; only the first 10 are shown]"


def test_truncation_inside_a_multibyte_character_is_still_text(root: Path) -> None:
    (root / "accents.txt").write_text("é" * 10)  # 20 bytes
    content = read_text_file("accents.txt", max_bytes=5)
    assert content.startswith("éé\n\n[truncated: accents.txt is 20 bytes")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
async def test_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")
    with anyio.fail_after(5):
        content, is_error = await read("pipe")
    assert is_error
    assert "'pipe' is not a regular file" in content


_segments = st.sampled_from(["..", ".", "sub", "notes.txt", "secret.txt", "escape", "deep.txt"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_segments, min_size=1, max_size=6))
def test_no_relative_path_reads_outside_the_root(root: Path, segments: list[str]) -> None:
    if not (root / "escape").exists():
        (root / "escape").symlink_to(root.parent)
    try:
        content = read_text_file("/".join(segments))
    except (PermissionError, FileNotFoundError, IsADirectoryError):
        return
    assert SECRET not in content
