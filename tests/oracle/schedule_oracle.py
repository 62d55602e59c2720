#!/usr/bin/env python3
"""Differential-test oracle for Overdue's schedule engine.

Generates a deterministic stream of schedule test cases (cron and systemd
OnCalendar expressions, plus assorted malformed input) and computes, for each
one, the answer healthchecks.io would give, using the same libraries it uses
(``cronsim`` and ``oncalendar``) and the same logic as its schedule validation
(``Spec.check_schedule``) and next-expected-ping computation
(``Check.get_grace_start``).

Usage::

    python3 tests/oracle/schedule_oracle.py --seed 1 --count 6000

Each case is printed to stdout as one JSON object per line::

    {"id": 0, "kind": "cron", "expr": "30 2 * * *", "tz": "Europe/Riga",
     "after": "2021-03-28T00:59:58Z", "n": 3, "result": {...}}

where ``kind`` is healthchecks.io's guess of the schedule kind
("cron" or "oncalendar"), ``after`` is the UTC instant to start from, ``n``
is the number of upcoming occurrences wanted and ``result`` is one of:

* ``{"ok": ["2021-03-29T00:30:00Z", ...]}`` -- up to ``n`` next occurrences
  strictly after ``after``, as UTC instants (fewer, possibly none, if the
  schedule runs out);
* ``{"error": "Bad minute"}`` -- the schedule is rejected, with the library's
  message, or ``"no occurrences"`` if it never fires after 2000-01-01;
* ``{"timeout": true}`` -- the reference took longer than the per-case limit
  (the comparison should skip these);
* ``{"exception": "ValueError: ..."}`` -- the reference crashed with an
  exception other than the libraries' own error types.

A summary is printed to stderr. The same seed and count always produce the
same cases; results depend only on the libraries and the system tz database.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError
from oncalendar import OnCalendar, OnCalendarError

UTC = timezone.utc
OUT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Zones for the check's own "tz" setting, with weights: most have DST.
ZONES = {
    "UTC": 5,
    "Asia/Kolkata": 4,
    "Europe/Riga": 12,
    "America/New_York": 10,
    "Europe/London": 8,
    "Australia/Lord_Howe": 10,  # 30-minute DST shift
    "Australia/Sydney": 8,  # southern hemisphere
    "America/Santiago": 10,  # southern hemisphere, changes around midnight
    "Pacific/Chatham": 8,  # +12:45 / +13:45
    "America/Havana": 10,  # changes at midnight
    "Europe/Dublin": 8,  # negative DST in tzdata
}
# Zones that may trail an OnCalendar expression: real ones and bogus ones.
EXPR_ZONES = list(ZONES) + ["US/Eastern", "Etc/GMT+5", "GMT", "Asia/Tokyo"]
BOGUS_ZONES = ["Europe/Surprise", "Mars/Olympus", "europe/riga", "Europe/Riga/", "Europe", "utc+2"]

T_MIN = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
T_MAX = int(datetime(2036, 1, 1, tzinfo=UTC).timestamp()) - 1


# --------------------------------------------------------------------------
# Reference computation (mirrors healthchecks.io)
# --------------------------------------------------------------------------


def guess_kind(schedule: str) -> str:
    if "\n" not in schedule.strip() and len(schedule.split()) == 5:
        return "cron"
    return "oncalendar"


class CaseTimeout(BaseException):
    """Raised from SIGALRM when a single case exceeds its time limit."""


def _on_alarm(signum, frame):
    raise CaseTimeout()


def reference(expr: str, tz: str, after: datetime, n: int) -> dict:
    kind = guess_kind(expr)
    # Validation, as done when the schedule is saved.
    try:
        if kind == "cron":
            it = CronSim(expr, datetime(2000, 1, 1))
        else:
            it = OnCalendar(expr, datetime(2000, 1, 1, tzinfo=UTC))
        next(it)
    except (CronSimError, OnCalendarError) as exc:
        return {"error": str(exc)}
    except StopIteration:
        return {"error": "no occurrences"}

    # The next n expected pings, as computed for a running check.
    start = after.astimezone(ZoneInfo(tz))
    it = CronSim(expr, start) if kind == "cron" else OnCalendar(expr, start)
    found = []
    for _ in range(n):
        try:
            found.append(next(it).astimezone(UTC).strftime(OUT_FORMAT))
        except StopIteration:
            break
    return {"ok": found}


def run_case(expr: str, tz: str, after: datetime, n: int, limit: float) -> dict:
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return reference(expr, tz, after, n)
    except CaseTimeout:
        return {"timeout": True}
    except Exception as exc:
        return {"exception": f"{type(exc).__name__}: {exc}"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


# --------------------------------------------------------------------------
# Start instants
# --------------------------------------------------------------------------


@lru_cache(maxsize=None)
def transitions(zone_name: str, year: int) -> tuple[int, ...]:
    """UTC timestamps (seconds) at which the zone's UTC offset changes in year."""
    zone = ZoneInfo(zone_name)

    def offset(ts: int):
        return datetime.fromtimestamp(ts, zone).utcoffset()

    ts = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    found = []
    prev = offset(ts)
    while ts < end:
        cur = offset(ts + 3600)
        if cur != prev:
            lo, hi = ts, ts + 3600  # offset(lo) == prev, offset(hi) == cur
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == prev:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
            prev = cur
        ts += 3600
    return tuple(found)


def local_ts(zone_name: str, *args: int) -> int:
    return int(datetime(*args, tzinfo=ZoneInfo(zone_name)).timestamp())


def gen_after(rng: random.Random, tz: str) -> datetime:
    r = rng.random()
    exact = False
    if r < 0.5 and (trs := transitions(tz, rng.randint(2000, 2035))):
        base = rng.choice(trs)
        u = rng.random()
        if u < 0.12:
            ts, exact = base, True
        elif u < 0.22:
            ts, exact = base + rng.choice([-1, 1, -3600, 3600, -1800, 1800]), True
        else:
            ts = base + rng.randint(-5400, 5400)
    elif r < 0.7:
        # Around the end of a month (local midnight of the 1st of the next one).
        y, m = rng.randint(2000, 2035), rng.randint(1, 12)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        ts = local_ts(tz, y, m, 1) + rng.randint(-86400, 86400)
    elif r < 0.8:
        # Around Feb 28/29 of a leap year.
        y = rng.choice(range(2000, 2036, 4))
        ts = local_ts(tz, y, 2, 28) + rng.randint(-86400, 3 * 86400)
    else:
        ts = rng.randint(T_MIN, T_MAX)

    if not exact:
        u = rng.random()
        if u < 0.25:
            ts -= ts % 60
        elif u < 0.4:
            ts -= ts % 3600
        elif u < 0.45:
            ts = ts - ts % 60 + 59
    ts = min(max(ts, T_MIN), T_MAX)
    return datetime.fromtimestamp(ts, UTC)


# --------------------------------------------------------------------------
# Shared helpers for expression generation
# --------------------------------------------------------------------------


def rand_case(rng: random.Random, s: str) -> str:
    u = rng.random()
    if u < 0.3:
        return s.upper()
    if u < 0.6:
        return s.lower()
    if u < 0.85:
        return s.capitalize()
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)


# Non-ASCII letters whose str.upper() is ASCII: "ſ" -> "S", "ı" -> "I".
UNICODE_NAMES = {
    "SUN": "ſun", "SAT": "ſat", "FRI": "frı", "SEP": "ſep", "FRIDAY": "frıday", "SUNDAY": "ſunday",
}


def name(rng: random.Random, s: str) -> str:
    if s in UNICODE_NAMES and rng.random() < 0.05:
        return UNICODE_NAMES[s]
    return rand_case(rng, s)


def join_fields(rng: random.Random, fields: list[str]) -> str:
    u = rng.random()
    if u < 0.85:
        return " ".join(fields)
    seps = [" ", "  ", "\t", " \t "]
    out = fields[0]
    for f in fields[1:]:
        out += rng.choice(seps) + f
    if u < 0.95:
        out = rng.choice([" ", "  ", "\t"]) + out + rng.choice(["", " ", "\n", "\r"])
    return out


# --------------------------------------------------------------------------
# Cron expressions
# --------------------------------------------------------------------------

CRON_FIELDS = ["minute", "hour", "dom", "month", "dow"]
CRON_RANGES = {"minute": (0, 59), "hour": (0, 23), "dom": (1, 31), "month": (1, 12), "dow": (0, 7)}
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
DOWS = "SUN MON TUE WED THU FRI SAT".split()

CRON_FIXED = [
    "30 2 * * *", "0 3 * * *", "15 1,2,3 * * *", "0-59/20 2-3 * * *", "30 1 * * *",
    "0 2 * * *", "0 0 * * *", "30 0 * * *", "59 23 * * *", "0 1 * * SUN", "45 2 * * 0",
    "0,30 0-3 * * *", "5 4 L * *", "0 12 * * MON-FRI", "0 0/6 * * *", "0 1-3/2 * * *",
]
CRON_NON_FIXED = [
    "*/30 * * * *", "0 */2 * * *", "* 2 * * *", "*/5 1-3 * * *", "0 * * * *",
    "30 * * * *", "*/15 2 * * *", "0 */3 * * *", "* * * * *", "*/7 */5 * * *",
]
CRON_IMPOSSIBLE = [
    "0 0 31 2 *", "* * 30 2 *", "0 0 31 4,6 *", "0 0 30,31 2 *", "0 0 29 2 *",
    "0 0 29 2 MON", "0 0 31 2,4 *", "0 0 31 2,3 *", "0 0 30 2 MON", "0 0 31 */2 *",
    "* * */100 * MON#4", "0 0 */40 * MON#5", "0 0 */100 2 5#5", "0 0 * 2 MON#5",
    "0 0 */100 * 7L", "0 0 L 2 *", "0 0 LW 2 SUN",
]
CRON_DOM = ["*/2", "1-7", "*", "15", "L", "*/1", "1,15", "LW", "*/7", "8-14", "L/2"]
CRON_MONTHS_SIMPLE = ["*", "*", "2", "*/2", "jan-mar", "FEB", "2,8"]
CRON_DOW = ["MON", "1-5", "*", "5L", "MON#1", "*/2", "0", "7", "SUN,SAT", "mon-fri", "*/1"]

CRON_BAD_ANY = [
    "*/0", "2/", "/2", "1//2", "1-1_0", "LL", "LWX", "¹", "1,,2", "-1", "1-", "*-5", "**",
    "?", "1.5", "0x1f", "99999999999999999999", "+1", "1W", "٣", "５", "L-3", "1-*", "*/",
]
CRON_BAD_FIELD = {
    "minute": ["60", "0-60", "L", "*/60/2", "59-1"],
    "hour": ["24", "0-24", "LW", "23-1", "*/24/2"],
    "dom": ["0", "32", "0-5", "LW/0", "jan", "31-1", "5L", "MON"],
    "month": ["0", "13", "mon", "dec-jan", "L", "12-1", "*/13/2"],
    "dow": ["8", "MONL", "L", "LW", "1#0", "1#6", "MON#", "#1", "jan", "5L/2", "fri-mon", "7-1", "0#5#1"],
}


def cron_value(rng: random.Random, field: str) -> tuple[str, int]:
    lo, hi = CRON_RANGES[field]
    v = rng.randint(lo, hi)
    if field == "month" and rng.random() < 0.3:
        return name(rng, MONTHS[v - 1]), v
    if field == "dow" and v < 7 and rng.random() < 0.3:
        return name(rng, DOWS[v]), v
    return (f"{v:02d}" if rng.random() < 0.1 else str(v)), v


def cron_good_term(rng: random.Random, field: str) -> str:
    lo, hi = CRON_RANGES[field]
    u = rng.random()
    if field == "dom" and u < 0.1:
        return rng.choice(["L", "LW", "L/2", "LW/2"])
    if field == "dow" and u < 0.12:
        if rng.random() < 0.5:
            return rng.choice(["0", "5", "7", "1"]) + "L"
        return f"{cron_value(rng, 'dow')[0]}#{rng.randint(1, 5)}"
    u = rng.random()
    if u < 0.2:
        return "*"
    if u < 0.5:
        return cron_value(rng, field)[0]
    if u < 0.7:
        (a, av), (b, bv) = cron_value(rng, field), cron_value(rng, field)
        return f"{a}-{b}" if av <= bv else f"{b}-{a}"
    step = rng.choice([1, 2, 3, 5, 7, 10, 15, 20, 30, hi, hi + 1, 100])
    if u < 0.85:
        return f"*/{step}"
    a, av = cron_value(rng, field)
    if u < 0.93:
        return f"{a}/{step}"
    b = rng.randint(av, hi)
    return f"{a}-{b}/{step}"


def cron_good_field(rng: random.Random, field: str) -> str:
    if rng.random() < 0.75:
        return cron_good_term(rng, field)
    return ",".join(cron_good_term(rng, field) for _ in range(rng.randint(2, 4)))


def cron_bad_field(rng: random.Random, field: str) -> str:
    lo, hi = CRON_RANGES[field]
    u = rng.random()
    if u < 0.35:
        bad = rng.choice(CRON_BAD_FIELD[field])
    elif u < 0.5:
        bad = f"{rng.randint(hi + 1, hi + 40)}"
    elif u < 0.6:
        a = rng.randint(lo + 1, hi)
        bad = f"{a}-{rng.randint(lo, a - 1)}"  # reversed range
    else:
        bad = rng.choice(CRON_BAD_ANY)
    if rng.random() < 0.25:
        bad = f"{cron_good_term(rng, field)},{bad}"
    return bad


def gen_cron(rng: random.Random) -> str:
    u = rng.random()
    if u < 0.1:
        return rng.choice(CRON_FIXED)
    if u < 0.15:
        return rng.choice(CRON_NON_FIXED)
    if u < 0.22:
        return rng.choice(CRON_IMPOSSIBLE)
    if u < 0.32:
        # DOM/DOW combinations: AND if either starts with "*", otherwise OR.
        minute = rng.choice(["0", "30", "*/30", "15,45"])
        hour = rng.choice(["0", "2", "12", "*/6", "1-3"])
        dom, month, dow = rng.choice(CRON_DOM), rng.choice(CRON_MONTHS_SIMPLE), rng.choice(CRON_DOW)
        return f"{minute} {hour} {dom} {month} {dow}"
    if u < 0.45:
        # Fixed-time jobs (minute and hour not starting with "*"), DST-prone hours.
        minute = rng.choice(["0", "15", "30", "45", "59", "0,30", "0-59/20", "10-20", "5/15"])
        hour = rng.choice(["0", "1", "2", "3", "4", "22", "23", "1,2,3", "2-3", "1-3/2", "0/6"])
        dom, month, dow = "*", "*", "*"
        if rng.random() < 0.3:
            dom, month, dow = (cron_good_field(rng, f) for f in ("dom", "month", "dow"))
        fields = [minute, hour, dom, month, dow]
    else:
        fields = [cron_good_field(rng, f) for f in CRON_FIELDS]
        # Keep most random expressions from being too sparse to be interesting.
        if rng.random() < 0.5:
            fields[2], fields[3] = "*", "*"
    if rng.random() < 0.3:
        i = rng.randrange(5)
        fields[i] = cron_bad_field(rng, CRON_FIELDS[i])
    return join_fields(rng, fields)


# --------------------------------------------------------------------------
# OnCalendar expressions
# --------------------------------------------------------------------------

OC_DAYS = "MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY SUNDAY".split()
OC_SPECIALS = "minutely hourly daily monthly weekly yearly annually quarterly semiannually".split()
OC_WEEKDAY_BAD = [
    "*", "Mo", "Fri..Mon", "Mon/2", "Mon..", "1", "Mon,,Tue", "Mon-", "Sun-Mon", "Mond", "Mon..Tue..Wed",
]
OC_DATE_GOOD = [
    "*-*-*", "2024-02-29", "*-02-29", "*-*-01", "*-*~1", "*-*~03", "*-02~1..3", "*-*~3/2",
    "24-01-01", "69-12-31", "70-01-01", "*-1..3-1", "*-*-1/7", "2020/2-01-01", "2019-01-01",
    "*-02-30", "2023-02-29", "2199-12-31", "12-25", "02~1", "*-*-31", "2030..2032-*-15",
]
OC_DATE_BAD = [
    "*-*~29", "1969-01-01", "2200-01-01", "*/1-01-01", "*-*/2-01", "2024-13-01", "2024-00-01",
    "2024-01-32", "2024-01-00", "2024-1-1-1", "2024--01", "*-*-~0", "*-*-*/2", "2024-01-01..",
    "100-01-01", "*-02~1..30", "2030..2028-01-01", "*-*-1/0",
]
OC_TIME_GOOD = [
    "12:34", "12:34:56", "*:00", "*:0/15", "*:*:0/5", "2..4:30", "0,12:00", "03:30", "02:30",
    "01:30", "00:00", "*:*", "*:*:*", "0/6:00", "1:2:3", "23:59:59", "00:30", "02:00", "03:00",
    "01:00:00", "*:30", "2,3:15", "00:00:01",
]
OC_TIME_BAD = [
    "1:2:3:4", "25:00", "12:60", "12:00:60", "*/2:00", "12:", ":30", "12:34:56.5", "a:b",
    "*:*/15", "4..2:00", "12:0/0", "99999999999999999999:00",
]


def oc_weekday(rng: random.Random) -> str:
    def day():
        d = rng.choice(OC_DAYS)
        return name(rng, d if rng.random() < 0.2 else d[:3])

    u = rng.random()
    if u < 0.4:
        return day()
    if u < 0.6:
        return ",".join(day() for _ in range(rng.randint(2, 3))) + ("," if rng.random() < 0.1 else "")
    if u < 0.8:
        a, b = sorted(rng.sample(range(7), 2))
        sep = rng.choice(["..", "-"])
        return f"{name(rng, OC_DAYS[a][:3])}{sep}{name(rng, OC_DAYS[b][:3])}"
    return rng.choice(["Mon", "mon,fri", "Mon..Fri", "Mon-Fri", "Sat,Sun", "Mon,", "Mon..Wed,Fri", "sat-sun"])


def oc_date(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(OC_DATE_GOOD)
    y4, y2 = str(rng.randint(2000, 2040)), f"{rng.randint(0, 40):02d}"
    year = rng.choice(["*", "*", y4, y2, "2024..2026", "2020/2", "2024,2026"])
    m2, m1 = f"{rng.randint(1, 12):02d}", str(rng.randint(1, 12))
    month = rng.choice(["*", "*", m2, m1, "1..3", "1/3", "01,07"])
    day = rng.choice(["*", f"{rng.randint(1, 31):02d}", str(rng.randint(1, 31)), "1/7", "1..7", "28..31"])
    u = rng.random()
    if u < 0.15:
        rday = rng.choice(["1", "03", "1..3", "3/2", "7", "28"])
        return f"{year}-{month}~{rday}" if rng.random() < 0.6 else f"{month}~{rday}"
    return f"{year}-{month}-{day}" if u < 0.8 else f"{month}-{day}"


def oc_time(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(OC_TIME_GOOD)
    hour = rng.choice(["*", str(rng.randint(0, 23)), f"{rng.randint(0, 23):02d}", "0..3", "1,2,3", "0/2"])
    minute = rng.choice(["00", "30", f"{rng.randint(0, 59):02d}", "0/15", "*", "15,45"])
    if rng.random() < 0.3:
        return f"{hour}:{minute}:{rng.choice(['00', '30', '*', '0/20', str(rng.randint(0, 59))])}"
    return f"{hour}:{minute}"


def oc_zone(rng: random.Random) -> str:
    return rng.choice(BOGUS_ZONES) if rng.random() < 0.2 else rng.choice(EXPR_ZONES)


def gen_oncalendar_line(rng: random.Random, bad: bool) -> str:
    if rng.random() < 0.12:
        expr = rand_case(rng, rng.choice(OC_SPECIALS))
        if bad:
            expr = rng.choice([expr + "ly", expr + " 12:00", "every " + expr, expr[:-1]])
        if rng.random() < 0.3:
            expr += " " + oc_zone(rng)
        return expr

    parts = {
        "weekday": oc_weekday(rng) if rng.random() < 0.35 else None,
        "date": oc_date(rng) if rng.random() < 0.6 else None,
        "time": oc_time(rng) if rng.random() < 0.75 else None,
    }
    if not any(parts.values()):
        parts["time"] = oc_time(rng)
    if bad:
        which = rng.choice(["weekday", "date", "time", "time"])
        pool = {"weekday": OC_WEEKDAY_BAD, "date": OC_DATE_BAD, "time": OC_TIME_BAD}[which]
        parts[which] = rng.choice(pool)
    fields = [p for p in parts.values() if p]
    if rng.random() < 0.2:
        fields.append(oc_zone(rng))
    if rng.random() < 0.03:
        fields.reverse()
    return join_fields(rng, fields).rstrip("\n")


def gen_oncalendar(rng: random.Random) -> str:
    bad = rng.random() < 0.25
    if rng.random() < 0.1:
        count = rng.randint(2, 3)
        bad_line = rng.randrange(count) if bad else -1
        lines = [gen_oncalendar_line(rng, i == bad_line) for i in range(count)]
        if rng.random() < 0.1:
            lines.insert(1, rng.choice(["", " "]))
        return rng.choice(["\n", "\r\n", "\n "]).join(lines)
    expr = gen_oncalendar_line(rng, bad)
    if rng.random() < 0.05:
        expr = rng.choice([" ", "  ", "\t", "\n"]) + expr + rng.choice(["", " ", "\n", "\r\n"])
    return expr


# --------------------------------------------------------------------------
# Odd inputs
# --------------------------------------------------------------------------

ODD_FIXED = [
    "", " ", "   ", "\t", "\n", "\r\n", "*/15 * * * * *", "0 */2 * * * *", "0 0 12 * * ?",
    "* * * *", "0 0 * *", "* * * * * * *", "hello world", "Europe/Riga", "UTC", "@daily",
    "@reboot", "12:00\nbogus", "12:00\n\n13:00", "* * * * *\r", "0\t0\t*\t*\t*",
    "*\u00a0* * * *", "*\x1c* * * *", "*\u3000* * * *", "*\x85* * * *", "* *\u200b* * *",
    "0 0 * * *\n", "\n0 0 * * *", "0 0 * * *\n0 1 * * *", "12:00\tEurope/Riga", "12:00 \tUTC",
    "99999999999999999999 * * * *", "* * * * 99999999999999999999", "99999999999999999999:00",
    "*-*-* 99999999999999999999:00", "daily\ndaily", "Mon\r\n12:00", "Mon Europe/Riga",
    "daily Europe/Riga Europe/Riga", "12:00 Europe/Riga UTC", "*-*-* *:*:* *", "- - - - -",
    "~ ~ ~ ~ ~", "L L L L L", "# # # # #", "0 0 ? * MON", "0 0 1W * *", "0 0 * * MON#1,FRI#2",
]
ODD_CHARS = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~0123456789aLWZ"
    "ÄäßØ€£¥§°±×÷¹²³½ΩЖжあ中文🙂👍\u0301\u00a0\u2003\u3000\x1c\x85\u2028\u200b\ufeff٣５ſı \t"
)


def gen_odd(rng: random.Random) -> str:
    u = rng.random()
    if u < 0.55:
        return rng.choice(ODD_FIXED)
    if u < 0.8:
        return "".join(rng.choice(ODD_CHARS) for _ in range(rng.randint(1, 24)))
    if u < 0.9:
        # Five random-character fields: classified as cron.
        ascii_chars = ODD_CHARS[:60]
        fields = ("".join(rng.choice(ascii_chars) for _ in range(rng.randint(1, 4))) for _ in range(5))
        return " ".join(fields)
    if u < 0.97:
        return rng.choice(EXPR_ZONES + BOGUS_ZONES)
    # Numbers beyond Python's 4300-digit int() limit.
    digits = "9" * rng.choice([4300, 4301, 5000])
    return rng.choice([f"{digits} * * * *", f"{digits}:00", f"0 0 * * {digits}"])


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def gen_case(rng: random.Random) -> tuple[str, str, datetime, int]:
    u = rng.random()
    if u < 0.46:
        expr = gen_cron(rng)
    elif u < 0.92:
        expr = gen_oncalendar(rng)
    else:
        expr = gen_odd(rng)
    tz = rng.choices(list(ZONES), weights=list(ZONES.values()))[0]
    after = gen_after(rng, tz)
    n = rng.choice([1, 1, 2, 3, 4, 5, 6, 7, 8, 8])
    return expr, tz, after, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=6000)
    parser.add_argument("--timeout", type=float, default=1.0, help="per-case limit, seconds")
    args = parser.parse_args()

    signal.signal(signal.SIGALRM, _on_alarm)
    rng = random.Random(args.seed)
    stats: Counter[str] = Counter()
    started = time.monotonic()
    out = sys.stdout
    for i in range(args.count):
        expr, tz, after, n = gen_case(rng)
        kind = guess_kind(expr)
        result = run_case(expr, tz, after, n, args.timeout)
        stats[kind] += 1
        stats[f"{kind} {next(iter(result))}"] += 1
        line = {
            "id": i,
            "kind": kind,
            "expr": expr,
            "tz": tz,
            "after": after.strftime(OUT_FORMAT),
            "n": n,
            "result": result,
        }
        out.write(json.dumps(line, ensure_ascii=True) + "\n")
    out.flush()

    elapsed = time.monotonic() - started
    print(f"{args.count} cases in {elapsed:.1f}s (seed {args.seed})", file=sys.stderr)
    for kind in ("cron", "oncalendar"):
        detail = ", ".join(f"{k}={stats[f'{kind} {k}']}" for k in ("ok", "error", "timeout", "exception"))
        print(f"  {kind}: {stats[kind]} ({detail})", file=sys.stderr)


if __name__ == "__main__":
    main()
