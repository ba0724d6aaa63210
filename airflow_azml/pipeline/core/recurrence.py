"""ScheduleRecurrence: v1's recurrence rules and their fire times (pure: no Airflow, no I/O).

A recurrence fires in *periods* of ``interval`` x ``frequency`` counted from its anchor: the
``start_time`` (read in ``time_zone``), or, without one, Monday 2024-01-01 00:00 in that zone,
so that every parse of a DAG file computes the same times. Within an active period:

* Minute / Hour / Month, and Day / Week without fixed times: once, at anchor + k x period;
* Day with ``hours``/``minutes`` (or ``time_of_day``): at every listed hour x minute of the day;
* Week with ``week_days`` and/or times: on every listed week day (default: the anchor's) at every
  listed hour x minute (default: the anchor's hour and minute). Weeks start on Monday.

Missing hours or minutes default to the anchor's (midnight without a start_time). No fire time
is earlier than a given start_time. ``next_fire_time`` is the whole arithmetic; the Airflow side
(``airflow_azml.provider.timetables``) turns it into a timetable: a cron or delta timetable where Airflow's
own can say it, our ``RecurrenceTimetable`` otherwise (e.g. every other day at 22:30).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_azml.exceptions import UserErrorException

__all__ = ["ScheduleRecurrence", "TimeZone", "ANCHOR"]


_FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CRON_DAYS = {d: str((i + 1) % 7) for i, d in enumerate(_DAYS)}
#: the anchor of a recurrence without start_time (a Monday, midnight in the recurrence's zone)
ANCHOR = datetime(2024, 1, 1)
#: a few Windows zone names v1 accepted (TimeZone enum) -> IANA names
_WINDOWS_ZONES = {
    "UTC": "UTC",
    "PacificStandardTime": "America/Los_Angeles",
    "EasternStandardTime": "America/New_York",
    "CentralStandardTime": "America/Chicago",
    "GMTStandardTime": "Europe/London",
    "WEuropeStandardTime": "Europe/Berlin",
    "CentralEuropeStandardTime": "Europe/Budapest",
    "IndiaStandardTime": "Asia/Kolkata",
    "TokyoStandardTime": "Asia/Tokyo",
}


class TimeZone:
    """v1's ``TimeZone`` names that map to IANA zones (any IANA name works too)."""

    UTC = "UTC"
    PacificStandardTime = "PacificStandardTime"
    EasternStandardTime = "EasternStandardTime"
    GMTStandardTime = "GMTStandardTime"


class ScheduleRecurrence:
    """``ScheduleRecurrence(frequency, interval, start_time=None, time_zone=None, hours=None, minutes=None,
    week_days=None, time_of_day=None)`` — checked with v1's rules when built."""

    def __init__(
        self,
        frequency: str,
        interval: int,
        start_time: datetime | str | None = None,
        time_zone: str | None = None,
        hours: list[int] | None = None,
        minutes: list[int] | None = None,
        week_days: list[str] | None = None,
        time_of_day: str | None = None,
    ):
        self.frequency = frequency
        self.interval = interval
        self.start_time = start_time
        self.time_zone = getattr(time_zone, "value", time_zone)
        self.hours = list(hours or [])
        self.minutes = list(minutes or [])
        self.week_days = list(week_days or [])
        self.time_of_day = time_of_day
        self.validate()

    def validate(self) -> None:
        """Raise UserErrorException for a combination v1 refused."""
        problems = self._combination_problems() + self._value_problems()
        if problems:
            raise UserErrorException("Invalid ScheduleRecurrence: " + "; ".join(problems) + ".")

    def _combination_problems(self) -> list[str]:
        problems = []
        if self.frequency not in _FREQUENCIES:
            problems.append(f"frequency must be one of {', '.join(_FREQUENCIES)}, not {self.frequency!r}")
        if not isinstance(self.interval, int) or isinstance(self.interval, bool) or self.interval < 1:
            problems.append(f"interval must be an integer >= 1, not {self.interval!r}")
        if (self.hours or self.minutes) and self.frequency not in ("Day", "Week"):
            problems.append("hours and minutes can be given only when frequency is Day or Week")
        if self.week_days and self.frequency != "Week":
            problems.append("week_days can be given only when frequency is Week")
        if self.time_of_day and self.frequency not in ("Day", "Week"):
            problems.append("time_of_day can be given only when frequency is Day or Week")
        if self.time_of_day and (self.hours or self.minutes):
            problems.append("give either time_of_day or hours/minutes, not both")
        return problems

    def _value_problems(self) -> list[str]:
        problems = [
            f"hour {h!r} is not in 0..23" for h in self.hours if not isinstance(h, int) or not 0 <= h <= 23
        ]
        problems += [
            f"minute {m!r} is not in 0..59"
            for m in self.minutes
            if not isinstance(m, int) or not 0 <= m <= 59
        ]
        problems += [
            f"week day {d!r} is not one of {', '.join(_DAYS)}" for d in self.week_days if d not in _DAYS
        ]
        if self.time_of_day and not _hhmm(self.time_of_day):
            problems.append(f"time_of_day {self.time_of_day!r} must be 'hh:mm'")
        try:
            self.zone()
        except ZoneInfoNotFoundError:
            problems.append(
                f"time_zone {self.time_zone!r} is not a known zone (an IANA name such as 'Europe/Berlin')"
            )
        if isinstance(self.start_time, str):
            try:
                datetime.fromisoformat(self.start_time)
            except ValueError:
                problems.append(
                    f"start_time {self.start_time!r} is not an ISO date-time ('2030-05-01T08:00:00')"
                )
        return problems

    # -- what the recurrence means -----------------------------------------------------------
    def _cron_fields(self) -> bool:
        return bool(self.hours or self.minutes or self.week_days or self.time_of_day)

    @property
    def timezone_name(self) -> str:
        return _WINDOWS_ZONES.get(str(self.time_zone or "UTC"), str(self.time_zone or "UTC"))

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)

    def anchor(self) -> datetime:
        """Where periods are counted from (aware, in ``time_zone``): start_time, else ``ANCHOR``."""
        start = self.start_time
        if start is None:
            return ANCHOR.replace(tzinfo=self.zone())
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        return start.replace(tzinfo=self.zone()) if start.tzinfo is None else start.astimezone(self.zone())

    def times_of_day(self) -> list[time]:
        """The fixed times of day of a Day/Week recurrence, sorted (defaults from the anchor)."""
        anchor = self.anchor()
        if self.time_of_day:
            hh, mm = _hhmm(self.time_of_day) or (0, 0)
            return [time(hh, mm)]
        hours, minutes = self.hours or [anchor.hour], self.minutes or [anchor.minute]
        return sorted({time(h, m) for h in hours for m in minutes})

    def week_day_numbers(self) -> list[int]:
        """Monday=0 … Sunday=6: the listed week days, else the anchor's."""
        return sorted({_DAYS.index(d) for d in self.week_days} or {self.anchor().weekday()})

    def timetable_kind(self) -> str:
        """'delta' (a fixed period), 'cron' (fixed times, interval 1) or 'recurrence' (what cron cannot say)."""
        if not self._cron_fields():
            return "delta"
        return "cron" if self.interval == 1 else "recurrence"

    def cron(self) -> str | None:
        """The cron expression of fixed times with interval 1 (in ``time_zone``), else None."""
        if self.timetable_kind() != "cron":
            return None
        times = self.times_of_day()
        hours = sorted({t.hour for t in times})
        minutes = sorted({t.minute for t in times})
        days = "*"
        if self.frequency == "Week":
            days = ",".join(_CRON_DAYS[_DAYS[i]] for i in self.week_day_numbers())
        return f"{','.join(map(str, minutes))} {','.join(map(str, hours))} * * {days}"

    def delta(self) -> Any:
        """The period: a timedelta, or a relativedelta of months for Month."""
        if self.frequency == "Month":
            from dateutil.relativedelta import relativedelta

            return relativedelta(months=self.interval)
        unit = {"Minute": "minutes", "Hour": "hours", "Day": "days", "Week": "weeks"}[self.frequency]
        return timedelta(**{unit: self.interval})

    # -- the arithmetic ------------------------------------------------------------------------
    def next_fire_time(self, after: datetime, *, inclusive: bool = False) -> datetime:
        """The first fire time after ``after`` (or at it, with ``inclusive``), as an aware UTC datetime."""
        if after.tzinfo is None:
            raise UserErrorException("next_fire_time needs an aware datetime (with tzinfo).")
        after = after.astimezone(UTC)
        if self._cron_fields():
            found = self._next_fixed_time(after, inclusive)
        elif self.frequency == "Month":
            found = self._next_month(after, inclusive)
        else:
            found = self._next_delta(after, inclusive)
        return found.astimezone(UTC)

    def fire_times(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` fire times strictly after ``after`` (UTC)."""
        out: list[datetime] = []
        for _ in range(count):
            after = self.next_fire_time(after)
            out.append(after)
        return out

    def _next_delta(self, after: datetime, inclusive: bool) -> datetime:
        """Minute/Hour in absolute time; Day/Week on the anchor's wall clock in its zone."""
        anchor, step = self.anchor(), self.delta()
        if self.frequency in ("Minute", "Hour"):
            anchor = anchor.astimezone(UTC)
        else:
            after = after.astimezone(self.zone())
        k = max(0, int((after.replace(tzinfo=None) - anchor.replace(tzinfo=None)) // step))
        while True:
            candidate = _wall(anchor + k * step, anchor.tzinfo)
            if candidate > after or (inclusive and candidate == after):
                return candidate
            k += 1

    def _next_month(self, after: datetime, inclusive: bool) -> datetime:
        from dateutil.relativedelta import relativedelta

        anchor = self.anchor()
        local = after.astimezone(self.zone())
        months = (local.year - anchor.year) * 12 + local.month - anchor.month
        k = max(0, months // self.interval - 1)
        while True:
            candidate = _wall(anchor + relativedelta(months=k * self.interval), anchor.tzinfo)
            if candidate > after or (inclusive and candidate == after):
                return candidate
            k += 1

    def _period_start(self, k: int) -> date:
        """The first day of period ``k`` of a Day/Week recurrence with fixed times."""
        first = self.anchor().date()
        if self.frequency == "Week":
            first -= timedelta(days=first.weekday())
            return first + timedelta(weeks=k * self.interval)
        return first + timedelta(days=k * self.interval)

    def _next_fixed_time(self, after: datetime, inclusive: bool) -> datetime:
        zone, anchor = self.zone(), self.anchor()
        span = self.interval * (7 if self.frequency == "Week" else 1)
        days = [0] if self.frequency == "Day" else self.week_day_numbers()
        k = max(0, (after.astimezone(zone).date() - self._period_start(0)).days // span)
        for period in range(k, k + 3):
            start = self._period_start(period)
            for day in days:
                for t in self.times_of_day():
                    candidate = datetime.combine(start + timedelta(days=day), t, tzinfo=zone)
                    if candidate < anchor:
                        continue
                    if candidate > after or (inclusive and candidate == after):
                        return candidate
        raise AssertionError("unreachable: every period has a fire time")  # pragma: no cover

    # -- text ------------------------------------------------------------------------------------
    def describe(self) -> str:
        """A short human description (the timetable's summary in the Airflow UI)."""
        unit = self.frequency.lower() + ("s" if self.interval > 1 else "")
        text = f"every {self.interval} {unit}" if self.interval > 1 else f"every {unit}"
        if self.frequency == "Week" and self._cron_fields():
            text += " on " + ",".join(_DAYS[i][:3] for i in self.week_day_numbers())
        if self._cron_fields():
            text += " at " + ",".join(t.strftime("%H:%M") for t in self.times_of_day())
        if self.time_zone and self.timezone_name != "UTC":
            text += f" ({self.timezone_name})"
        return text

    def to_dict(self) -> dict[str, Any]:
        start = self.start_time.isoformat() if isinstance(self.start_time, datetime) else self.start_time
        return {
            "frequency": self.frequency,
            "interval": self.interval,
            "start_time": start,
            "time_zone": self.time_zone,
            "hours": self.hours,
            "minutes": self.minutes,
            "week_days": self.week_days,
            "time_of_day": self.time_of_day,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleRecurrence) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"ScheduleRecurrence({self.to_dict()})"


def _wall(moment: datetime, zone: Any) -> datetime:
    """``moment`` as a valid wall-clock time of ``zone`` (timedelta arithmetic keeps wall time)."""
    return moment.astimezone(UTC).astimezone(zone)


def _hhmm(text: str) -> tuple[int, int] | None:
    hh, sep, mm = str(text).partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or int(hh) > 23 or int(mm) > 59:
        return None
    return int(hh), int(mm)
