"""What the project takes from outside, bounded once: ids, times, time zones and reasons.

Every bound here keeps a request from reaching code that cannot handle it: SQLite cannot bind
an integer beyond 64 bits (OverflowError, a 500, where PostgreSQL quietly finds nothing), and a
time near year 1 or 9999 overflows as soon as it moves to another zone or a day is added. The
API's fields, the pages' forms, URL converters and model validation all ask here.
"""

import re
import zoneinfo
from datetime import datetime

# The largest primary key the databases store: a signed 64-bit integer (BigAutoField).
MAX_ID = 2**63 - 1


def _decimals_up_to(limit: int) -> str:
    """A regex for the decimal numbers from 0 to `limit`: fewer digits, or as many and not more."""
    digits = str(limit)
    width = len(digits)
    choices = [f"[0-9]{{1,{width - 1}}}"]
    for i, digit in enumerate(digits):
        if digit != "0":
            choices.append(f"{digits[:i]}[0-{int(digit) - 1}][0-9]{{{width - i - 1}}}")
    choices.append(digits)
    return "(?:" + "|".join(choices) + ")"


# An id in a URL: digits up to MAX_ID, so anything else is "no such page" (404) before a view
# runs. Used by the `<id:...>` path converter and by the API viewsets' `lookup_value_regex`.
ID_PATTERN = _decimals_up_to(MAX_ID)
_ID_RE = re.compile(rf"\A{ID_PATTERN}\Z")


def as_id(value) -> int | None:
    """`value` as a database id (a whole number from 1 to MAX_ID, or its digits as a string), else
    None. Floats, booleans and "1.5" are not ids, even when a lenient int() would make one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _ID_RE.match(value):
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None


def is_whole_number(value) -> bool:
    """An int (not a bool) or a string of digits: what an id looks like, in range or not."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.lstrip("-").isdigit() and value.isascii()
    )


# --- times --------------------------------------------------------------------------------------

# Schedules and reports take times in these years. Far enough from year 1 and 9999 that a time
# zone, a report's default week or a sweep's arithmetic never leaves what Python can represent.
EARLIEST_YEAR = 1970
LATEST_YEAR = 2999


def time_out_of_range(value: datetime | None) -> str | None:
    """Why `value` is refused as a schedule or report time (None: it is fine). Compares the wall
    clock, so it never converts (and so never overflows) to do it."""
    if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        return f"Use a time between the years {EARLIEST_YEAR} and {LATEST_YEAR}."
    return None


# --- time zones ---------------------------------------------------------------------------------

# The longest IANA name is about 32 characters; anything much longer is not a zone, and asking the
# file system for it fails with "file name too long" (OSError), not ZoneInfoNotFoundError.
TIME_ZONE_MAX_LENGTH = 64


def time_zone_or_none(name: str) -> zoneinfo.ZoneInfo | None:
    """The time zone named `name` (such as Europe/Berlin), or None when there is no such zone."""
    if not name or len(name) > TIME_ZONE_MAX_LENGTH:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


# --- text ---------------------------------------------------------------------------------------

# A reason for a status change, a request or a decision: what the status log and requests keep.
REASON_MAX_LENGTH = 255


def reason_too_long(reason: str) -> str | None:
    if len(reason) > REASON_MAX_LENGTH:
        return f"A reason is at most {REASON_MAX_LENGTH} characters (this one has {len(reason)})."
    return None
