"""Build realistic enriched-event TSV lines (tests, the demo and benchmarks share them)."""

from __future__ import annotations

import uuid
from typing import Dict, Optional

FIELD_COUNT = 131
ETL_TSTAMP = 2
COLLECTOR_TSTAMP = 3
EVENT_ID = 6
EVENT_FINGERPRINT = 129

# Plausible values for a page_view so lines have the width and shape of real archives.
_TEMPLATE: Dict[int, str] = {
    0: "snowplowweb",
    1: "web",
    4: "2016-11-27 07:16:07.000",
    5: "page_view",
    7: "",
    8: "snowplowweb",
    9: "js-2.6.0",
    10: "clj-1.1.0-tom-0.2.0",
    11: "hadoop-1.8.0-common-0.24.0",
    13: "185.124.153.x",
    14: "531497290",
    15: "1f9b3980-6619-4d75-a6c9-8253c76c3bfb",
    16: "18",
    18: "GB",
    19: "ENG",
    20: "Reading",
    21: "RG1",
    22: "51.4554",
    23: "-0.9797",
    24: "Reading",
    29: "http://snowplowanalytics.com/blog/2016/03/17/2015-2016-winter-interns/",
    30: "Snowplow Analytics - 2015-2016 winter internships",
    31: "https://www.google.co.uk/",
    32: "http",
    33: "snowplowanalytics.com",
    34: "80",
    35: "/blog/2016/03/17/2015-2016-winter-interns/",
    52: '{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":'
    '[{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0",'
    '"data":{"id":"dd0f8ea7-1b4f-4e6f-9b9f-6e3b4c6a0d1a"}}]}',
    100: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_12_1) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/54.0.2840.98 Safari/537.36",
    101: "Chrome 54",
    102: "Chrome",
    103: "54.0.2840.98",
    104: "Browser",
    105: "WEBKIT",
    106: "en-GB",
    120: "Europe/London",
    121: "2016-11-27 07:16:07.000",
    125: "page_view",
}


def make_line(
    event_id: Optional[str] = None,
    etl_tstamp: str = "2016-11-27 08:46:40.000",
    fingerprint: Optional[str] = "",
    field_count: int = FIELD_COUNT,
    overrides: Optional[Dict[int, str]] = None,
) -> str:
    """Return one enriched TSV line (no newline) with the given manifest triple."""
    fields = [""] * field_count
    for index, value in _TEMPLATE.items():
        if index < field_count:
            fields[index] = value
    fields[ETL_TSTAMP] = etl_tstamp
    fields[COLLECTOR_TSTAMP] = etl_tstamp
    fields[EVENT_ID] = event_id if event_id is not None else str(uuid.uuid4())
    if field_count > EVENT_FINGERPRINT:
        fields[EVENT_FINGERPRINT] = fingerprint or ""
    for index, value in (overrides or {}).items():
        fields[index] = value
    return "\t".join(fields)
