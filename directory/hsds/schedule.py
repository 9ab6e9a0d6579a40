"""Whether a service is open at a moment, from its HSDS schedules (pure).

A schedule is open on its `byday` days from `opens_at` to `closes_at` in its own time
zone (an IANA name, or an offset in hours such as `-5`), else `default_tz`; one that
closes before it opens runs past midnight; `valid_from`/`valid_to` bound it (local
dates, inclusive). A service without schedules is not known to be open.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from events.hsds_events import Schedule

DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _zone(name: str | None, default: tzinfo) -> tzinfo:
    if not name:
        return default
    try:
        return timezone(timedelta(hours=float(name)))
    except ValueError:
        pass
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def _clock(text: str) -> time:
    hours, minutes = int(text[:2]), int(text[3:5])
    return time.max if hours == 24 else time(hours, minutes)


def _open(schedule: Schedule, when: datetime, default: tzinfo) -> bool:
    local = when.astimezone(_zone(schedule.timezone, default))
    day = local.date()
    days = schedule.byday.split(",")
    opens, closes = _clock(schedule.opens_at), _clock(schedule.closes_at)
    now = local.time().replace(tzinfo=None)

    def valid(on: datetime) -> bool:
        d = on.date()
        return (schedule.valid_from is None or schedule.valid_from <= d) and (
            schedule.valid_to is None or d <= schedule.valid_to
        )

    if opens <= closes:
        return DAYS[day.weekday()] in days and valid(local) and opens <= now < closes
    # Past midnight: open from `opens` on a listed day, until `closes` the day after.
    yesterday = local - timedelta(days=1)
    return (DAYS[day.weekday()] in days and valid(local) and now >= opens) or (
        DAYS[yesterday.weekday()] in days and valid(yesterday) and now < closes
    )


def open_at(schedules: Iterable[Schedule], when: datetime, default_tz: tzinfo) -> bool:
    """Whether any schedule has the service open at `when` (an aware datetime)."""
    return any(_open(s, when, default_tz) for s in schedules)
