"""SCORM time values, with exact integer centisecond arithmetic.

* SCORM 1.2 ``CMITimespan`` (``HHHH:MM:SS.SS``, hours 2-4 digits) and ``CMITime``
  (``HH:MM:SS.SS``, a time of day).
* SCORM 2004 ``timeinterval(second,10,2)`` (ISO 8601 duration ``P[nY][nM][nD][T[nH][nM][n[.n]S]]``)
  and ``time(second,10,0)`` (ISO 8601 timestamp ``YYYY[-MM[-DD[Thh[:mm[:ss[.s[TZD]]]]]]]``,
  years 1970-2038, the zone designator only after fractional seconds, exactly as the RTE book
  writes the format).

Durations are integers of centiseconds (1/100 s, the precision SCORM requires), so adding session
times never accumulates floating point error. The regular expressions below are also exported to
the JavaScript player (see :mod:`app.scorm.datamodel`), so they are written in the common subset of
Python ``re`` and ECMAScript ``RegExp``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = [
    "CMITIME_RE",
    "CMITIMESPAN_RE",
    "ISO_DURATION_RE",
    "ISO_TIMESTAMP_RE",
    "accumulate_total_time",
    "format_cmitimespan",
    "format_iso_duration",
    "is_iso_timestamp",
    "parse_cmitime",
    "parse_cmitimespan",
    "parse_iso_duration",
    "parse_iso_timestamp",
]

#: SCORM 1.2 CMITimespan. Minutes and seconds are "exactly 2 digits"; values 60-99 are accepted
#: (and carried into the next unit) because content that rounds 59.996 s up to "60" exists.
CMITIMESPAN_RE = r"^[0-9]{2,4}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,2})?$"
#: SCORM 1.2 CMITime: a time of day on a 24 hour clock.
CMITIME_RE = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,2})?$"
#: SCORM 2004 timeinterval: at least one component, a "T" only before a time component. Any number
#: of fraction digits is accepted on seconds (valid ISO 8601); arithmetic truncates to centiseconds.
ISO_DURATION_RE = (
    r"^P(?!$)(?:[0-9]+Y)?(?:[0-9]+M)?(?:[0-9]+D)?"
    r"(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:\.[0-9]+)?S)?)?$"
)

_YEAR = r"(?:19[7-9][0-9]|20[0-2][0-9]|203[0-8])"
_LEAP = "(?:" + "|".join(str(y) for y in range(1972, 2039, 4)) + ")"
_TPART = (
    r"(?:T(?:[01][0-9]|2[0-3])(?::[0-5][0-9](?::[0-5][0-9]"
    r"(?:\.[0-9]{1,2}(?:Z|[+-](?:[01][0-9]|2[0-3])(?::[0-5][0-9])?)?)?)?)?)?"
)
#: SCORM 2004 time(second,10,0), with real calendar dates (February 29 only in leap years).
ISO_TIMESTAMP_RE = (
    "^(?:" + _YEAR + "(?:-(?:"
    r"(?:0[13578]|1[02])(?:-(?:0[1-9]|[12][0-9]|3[01])" + _TPART + ")?"
    r"|(?:0[469]|11)(?:-(?:0[1-9]|[12][0-9]|30)" + _TPART + ")?"
    r"|02(?:-(?:0[1-9]|1[0-9]|2[0-8])" + _TPART + ")?"
    "))?|" + _LEAP + "-02-29" + _TPART + ")$"
)

_TIMESPAN = re.compile(r"([0-9]{2,4}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,2}))?")
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,2}))?")
_DURATION = re.compile(
    r"P(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)D)?"
    r"(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+)(?:\.([0-9]+))?S)?)?"
)
_DURATION_CHECK = re.compile(ISO_DURATION_RE)
_TIMESTAMP_CHECK = re.compile(ISO_TIMESTAMP_RE)
_TIMESTAMP_PARTS = re.compile(
    r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})"
    r"(?:\.([0-9]{1,2})(Z|[+-][0-9]{2}(?::[0-9]{2})?)?)?)?)?)?)?)?"
)

CS_PER_SECOND = 100
CS_PER_MINUTE = 60 * CS_PER_SECOND
CS_PER_HOUR = 60 * CS_PER_MINUTE
CS_PER_DAY = 24 * CS_PER_HOUR
#: Calendar components of a duration have no fixed length; SCORM only needs a convention for
#: summing session times: a month counts as 30 days and a year as 365 days.
CS_PER_MONTH = 30 * CS_PER_DAY
CS_PER_YEAR = 365 * CS_PER_DAY
_MAX_CMITIMESPAN = 9999 * CS_PER_HOUR + 59 * CS_PER_MINUTE + 59 * CS_PER_SECOND + 99


def _fraction_cs(digits: str | None) -> int:
    """Centiseconds of a decimal fraction of a second, truncated: "5" -> 50, "05" -> 5, "999" -> 99."""
    if not digits:
        return 0
    return int((digits + "0")[:2])


def parse_cmitimespan(text: str) -> int:
    """SCORM 1.2 CMITimespan (``HHHH:MM:SS.SS``) to centiseconds; ValueError when malformed."""
    m = _TIMESPAN.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not a CMITimespan (HHHH:MM:SS.SS)")
    h, mi, s, frac = m.groups()
    return int(h) * CS_PER_HOUR + int(mi) * CS_PER_MINUTE + int(s) * CS_PER_SECOND + _fraction_cs(frac)


def format_cmitimespan(cs: int) -> str:
    """Centiseconds to a CMITimespan: ``0000:00:00``, ``0001:02:03.45``.

    CMITimespan has at most 4 hour digits, so values beyond 9999:59:59.99 are clamped to it.
    """
    cs = max(0, min(int(cs), _MAX_CMITIMESPAN))
    h, rest = divmod(cs, CS_PER_HOUR)
    mi, rest = divmod(rest, CS_PER_MINUTE)
    s, frac = divmod(rest, CS_PER_SECOND)
    out = f"{h:04d}:{mi:02d}:{s:02d}"
    return out + (f".{frac:02d}" if frac else "")


def parse_cmitime(text: str) -> int:
    """SCORM 1.2 CMITime (``HH:MM:SS.SS``, a time of day) to centiseconds since midnight."""
    m = _TIME.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{text!r} is not a CMITime (HH:MM:SS.SS)")
    h, mi, s, frac = m.groups()
    return int(h) * CS_PER_HOUR + int(mi) * CS_PER_MINUTE + int(s) * CS_PER_SECOND + _fraction_cs(frac)


def parse_iso_duration(text: str) -> int:
    """SCORM 2004 timeinterval (ISO 8601 duration, e.g. ``PT1H2M3.45S``, ``P1DT2H``) to centiseconds.

    Weeks (``P2W``), fractions on components other than seconds, signs and an empty ``P``/``PT``
    are refused (ValueError). Years count 365 days and months 30 days; fractions of a centisecond are
    truncated.
    """
    if not isinstance(text, str) or not _DURATION_CHECK.fullmatch(text):
        raise ValueError(f"{text!r} is not an ISO 8601 duration of the SCORM timeinterval form")
    m = _DURATION.fullmatch(text)
    assert m is not None
    y, mo, d, h, mi, s, frac = m.groups()
    return (
        int(y or 0) * CS_PER_YEAR
        + int(mo or 0) * CS_PER_MONTH
        + int(d or 0) * CS_PER_DAY
        + int(h or 0) * CS_PER_HOUR
        + int(mi or 0) * CS_PER_MINUTE
        + int(s or 0) * CS_PER_SECOND
        + _fraction_cs(frac)
    )


def format_iso_duration(cs: int) -> str:
    """Centiseconds to the canonical timeinterval ``PT[nH][nM][n[.nn]S]``; zero is ``PT0S``.

    Hours are not folded into days (a day is not always 24 hours in ISO 8601 terms, and every LMS
    reads hours); trailing zeros of the fraction are dropped (``PT3.5S``).
    """
    cs = max(0, int(cs))
    if cs == 0:
        return "PT0S"
    h, rest = divmod(cs, CS_PER_HOUR)
    mi, rest = divmod(rest, CS_PER_MINUTE)
    s, frac = divmod(rest, CS_PER_SECOND)
    out = "PT"
    if h:
        out += f"{h}H"
    if mi:
        out += f"{mi}M"
    if s or frac:
        out += f"{s}" + (f".{frac:02d}".rstrip("0") if frac else "") + "S"
    return out


def is_iso_timestamp(text: str) -> bool:
    """True when ``text`` is a SCORM 2004 time(second,10,0) value."""
    return isinstance(text, str) and bool(_TIMESTAMP_CHECK.fullmatch(text))


def parse_iso_timestamp(text: str) -> datetime:
    """A SCORM 2004 timestamp to a datetime (missing parts default to their minimum).

    The result is timezone-aware only when the value carries a zone designator (``Z`` or an offset);
    SCORM allows local times without one. ValueError when the value is not a SCORM timestamp.
    """
    if not is_iso_timestamp(text):
        raise ValueError(f"{text!r} is not a SCORM 2004 timestamp")
    m = _TIMESTAMP_PARTS.fullmatch(text)
    assert m is not None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    tz = None
    if zone == "Z":
        tz = timezone.utc
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        zh, _, zm = zone[1:].partition(":")
        tz = timezone(sign * timedelta(hours=int(zh), minutes=int(zm or 0)))
    return datetime(
        int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0),
        _fraction_cs(frac) * 10_000, tzinfo=tz,
    )


def accumulate_total_time(version: str, total_time: str, session_time: str) -> str:
    """``total_time + session_time`` in the format of the version (1.2 CMITimespan, 2004 ISO).

    An empty or malformed ``session_time`` adds nothing (the SCO did not report one usable value).
    """
    if version == "1.2":
        parse, fmt = parse_cmitimespan, format_cmitimespan
    elif version == "2004":
        parse, fmt = parse_iso_duration, format_iso_duration
    else:
        raise ValueError(f"unknown SCORM version {version!r}")
    base = parse(total_time) if total_time else 0
    try:
        extra = parse(session_time) if session_time else 0
    except ValueError:
        extra = 0
    return fmt(base + extra)
