"""``get_current_time``: the current date and time, in UTC or an IANA time zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aether.tools.registry import register_tool

__all__ = ["get_current_time"]


def _zone(name: str) -> tzinfo:
    if name.strip().upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown IANA time zone {name!r}; use a name such as 'Europe/Paris', "
            f"'America/New_York', 'Asia/Tokyo' or 'UTC'"
        ) from None


@register_tool(description="Get the current date and time, in UTC or in a given time zone.")
async def get_current_time(timezone: str | None = None) -> str:
    """Return the current time as ISO 8601, with the zone and the day of the week.

    Args:
        timezone: An IANA time zone name such as "Europe/Paris" or "America/New_York".
            UTC when omitted.

    Raises:
        ValueError: If the time zone is unknown (the model is told, and can retry).
    """
    zone = _zone(timezone) if timezone else UTC
    now = datetime.now(zone)
    label = timezone.strip() if timezone else "UTC"
    return f"{now.isoformat(timespec='seconds')} ({label}, {now:%A})"
