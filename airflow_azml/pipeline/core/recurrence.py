"""ScheduleRecurrence: v1's recurrence rules mapped to Airflow timetables (pure, no I/O).

Minute/Hour (and Day/Week/Month without hours, minutes or week days) -> ``DeltaTriggerTimetable``
of interval x frequency; Day/Week with hours/minutes/week_days/time_of_day ->
``CronTriggerTimetable`` in ``time_zone``. No ``start_time`` -> the first run starts at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow_azml.exceptions import UserErrorException

__all__ = ["ScheduleRecurrence", "TimeZone"]


_FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CRON_DAYS = {d: str((i + 1) % 7) for i, d in enumerate(_DAYS)}
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
        self.time_zone = time_zone
        self.hours = list(hours or [])
        self.minutes = list(minutes or [])
        self.week_days = list(week_days or [])
        self.time_of_day = time_of_day
        self.validate()

    def validate(self) -> None:
        """Raise UserErrorException for a combination v1 refused."""
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
        problems += [
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
        if self.interval != 1 and self.frequency in ("Day", "Week") and self._cron_fields():
            problems.append(
                "interval > 1 cannot be combined with hours/minutes/week_days/time_of_day on Airflow; "
                "use interval=1 or drop the fixed times"
            )
        if problems:
            raise UserErrorException("Invalid ScheduleRecurrence: " + "; ".join(problems) + ".")

    def _cron_fields(self) -> bool:
        return bool(self.hours or self.minutes or self.week_days or self.time_of_day)

    @property
    def timezone_name(self) -> str:
        return _WINDOWS_ZONES.get(str(self.time_zone or "UTC"), str(self.time_zone or "UTC"))

    def cron(self) -> str | None:
        """The cron expression for fixed times of day/week, else None (a fixed delta is used)."""
        if not self._cron_fields():
            return None
        hours, minutes = self.hours or [0], self.minutes or [0]
        if self.time_of_day:
            hh, mm = _hhmm(self.time_of_day) or (0, 0)
            hours, minutes = [hh], [mm]
        days = ",".join(_CRON_DAYS[d] for d in self.week_days) if self.week_days else "*"
        return f"{','.join(map(str, sorted(minutes)))} {','.join(map(str, sorted(hours)))} * * {days}"

    def delta(self) -> Any:
        if self.frequency == "Month":
            from dateutil.relativedelta import relativedelta

            return relativedelta(months=self.interval)
        unit = {"Minute": "minutes", "Hour": "hours", "Day": "days", "Week": "weeks"}[self.frequency]
        return timedelta(**{unit: self.interval})

    def start_date(self) -> datetime:
        """The DAG's start_date: start_time (in time_zone), else a past date so the first run starts at once."""
        import pendulum

        if self.start_time is None:
            return pendulum.datetime(2024, 1, 1, tz="UTC")
        if isinstance(self.start_time, str):
            return pendulum.parse(self.start_time, tz=self.timezone_name)
        if self.start_time.tzinfo is None:
            return pendulum.instance(self.start_time, tz=self.timezone_name)
        return pendulum.instance(self.start_time)

    def timetable(self) -> Any:
        """The Airflow timetable (imports Airflow)."""
        from airflow.sdk import CronTriggerTimetable, DeltaTriggerTimetable

        cron = self.cron()
        if cron:
            return CronTriggerTimetable(
                cron, timezone=self.timezone_name, run_immediately=self.start_time is None
            )
        return DeltaTriggerTimetable(self.delta())

    def dag_arguments(self) -> dict[str, Any]:
        """What ``render_dag`` passes to ``DAG(...)`` for this recurrence."""
        return {"schedule": self.timetable(), "start_date": self.start_date(), "catchup": False}

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

    def __repr__(self) -> str:
        return f"ScheduleRecurrence({self.to_dict()})"


def _hhmm(text: str) -> tuple[int, int] | None:
    hh, sep, mm = str(text).partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or int(hh) > 23 or int(mm) > 59:
        return None
    return int(hh), int(mm)


def _safe(text: str) -> str:
    from airflow_azml.pipeline.core.published import _safe as safe

    return safe(text)
