"""Time windows of a monitor: durations as people type them (``90s``, ``30m``, ``1h``, ``1d``,
``2w``) and the consecutive windows that cover a period."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..errors import InvalidInput

__all__ = ["MAX_WINDOWS", "Window", "parse_duration", "split_period", "utc"]

#: The most windows one monitor call computes (``--since 30d --window 1m`` is refused).
MAX_WINDOWS = 1000

_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return f"{_iso(self.start)}/{_iso(self.end)}"


def parse_duration(text: str | timedelta, what: str = "duration") -> timedelta:
    """``"1h"`` -> one hour; a timedelta is returned as it is. Units: s, m, h, d, w."""
    if isinstance(text, timedelta):
        found: timedelta = text
    else:
        match = _DURATION_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(
                f"invalid {what} {text!r}: use a number and a unit such as 90s, 30m, 1h, 1d or 2w",
                value=repr(text),
            )
        found = timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if found <= timedelta(0):
        raise InvalidInput(f"{what} must be positive, got {text!r}", value=repr(text))
    return found


def split_period(start: datetime, end: datetime, size: timedelta | None) -> list[Window]:
    """Consecutive windows of ``size`` from ``start``; the last one ends at ``end`` (it may be
    shorter). ``size`` None: one window, the whole period."""
    if end <= start:
        raise InvalidInput(f"the period is empty: {_iso(start)} is not before {_iso(end)}")
    if size is None:
        return [Window(start, end)]
    count = -(-(end - start) // size)
    if count > MAX_WINDOWS:
        raise InvalidInput(
            f"{count} windows of {size} in {end - start}: at most {MAX_WINDOWS}; choose a larger window",
            windows=count,
        )
    return [Window(start + i * size, min(start + (i + 1) * size, end)) for i in range(count)]


def utc(moment: datetime | str | None, what: str) -> datetime | None:
    """``moment`` as an aware UTC datetime (naive and ISO text mean UTC); None stays None."""
    if moment is None:
        return None
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            raise InvalidInput(f"invalid {what} {moment!r}: use an ISO date-time", value=moment) from None
    if not isinstance(moment, datetime):
        raise InvalidInput(f"{what} must be a datetime or ISO text, got {moment!r}", value=repr(moment))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
