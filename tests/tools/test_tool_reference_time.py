from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aether.extensions.tools.time import get_current_time
from aether.tools import dispatch_tool


def parse(content: str) -> tuple[datetime, str]:
    stamp, label = content.split(" ", 1)
    return datetime.fromisoformat(stamp), label


async def test_default_is_utc_now_with_the_weekday() -> None:
    moment, label = parse(await get_current_time())
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=5)
    assert label == f"(UTC, {moment:%A})"


async def test_iana_zone_gives_its_local_time() -> None:
    moment, label = parse(await get_current_time("Asia/Tokyo"))
    assert moment.utcoffset() == timedelta(hours=9)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=5)
    assert label.startswith("(Asia/Tokyo, ")


async def test_invalid_zone_is_clear_error_content() -> None:
    result = await dispatch_tool("get_current_time", {"timezone": "Mars/Olympus_Mons"})
    assert result.is_error
    assert result.content == (
        "Error: tool 'get_current_time' raised ValueError: unknown IANA time zone "
        "'Mars/Olympus_Mons'; use a name such as 'Europe/Paris', 'America/New_York', "
        "'Asia/Tokyo' or 'UTC'"
    )


async def test_path_like_zone_is_refused_as_unknown() -> None:
    result = await dispatch_tool("get_current_time", {"timezone": "../../etc/passwd"})
    assert "unknown IANA time zone '../../etc/passwd'" in result.content
