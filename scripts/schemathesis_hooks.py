"""Schemathesis hooks for the tradecloud specs (loaded by scripts/api_conformance.py
through SCHEMATHESIS_HOOKS).

The specs describe Tradecloud's zone-less timestamps with two custom formats
(`format: date-time` would demand a zone, RFC 3339). Other tools treat an
unknown format as any string; these strategies make schemathesis generate
values of the documented shapes instead:

* `local-date-time`: `yyyy-MM-ddTHH:mm:ss[.fraction]`, no zone (ERP times);
* `iso-date-time`: the same, or with `Z` / `+hh:mm` (ISO 8601 allows both).
"""
from datetime import datetime, timedelta, timezone

import schemathesis
from hypothesis import strategies as st

_moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 12, 31))
_fractions = st.sampled_from(["", ".1", ".812", ".123456"])


def _local(moment, fraction):
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction


local_date_time = st.builds(_local, _moments, _fractions)
_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: "Z" if m == 0 else datetime.now(timezone(timedelta(minutes=m))).strftime("%z")[:3]
    + ":" + datetime.now(timezone(timedelta(minutes=m))).strftime("%z")[3:])
iso_date_time = st.one_of(local_date_time, st.builds(lambda t, z: t + z, local_date_time, _offsets))

schemathesis.openapi.format("local-date-time", local_date_time)
schemathesis.openapi.format("iso-date-time", iso_date_time)
