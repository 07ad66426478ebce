"""What both remote targets' requests share: the job's arguments, tags, names and digest.

The EMR requests (targets/emr/request.py) and the EMR Serverless ones
(targets/serverless/request.py) are plain dicts built from plain values; both give the job
the same command line (`build_job_args`), tag what they start the same way (the duplicate
guard reads these tags), name it after the table and the request digest, and print it
redacted for `--dry-run`. Nothing here talks to AWS, and no secret enters a request: the job
gets the storage config as the S3 URI of its (server-side encrypted) uploaded copy.

The request digest identifies a backfill request: the SHA-256 of the request built with an
empty digest (`with_digest`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from populator.core.job_args import to_argv
from populator.launcher.redact import Redactor

__all__ = [
    "DEFAULT_RELEASE_LABEL",
    "TAG_ARCHIVE",
    "TAG_DIGEST",
    "TAG_TABLE",
    "TAG_TABLE_REGION",
    "TAG_TOOL",
    "TAG_VERSION",
    "TOOL_NAME",
    "JobArgs",
    "build_job_args",
    "parse_tags",
    "redact_request",
    "request_digest",
    "step_name",
    "tag_value",
    "with_digest",
]

DEFAULT_RELEASE_LABEL = "emr-7.12.0"  # Spark 3.5, Python 3.9 on the nodes
TOOL_NAME = "event-manifest-populator"
TAG_TOOL = "populator:tool"
TAG_VERSION = "populator:version"
TAG_ARCHIVE = "populator:archive"
TAG_TABLE = "populator:table"
TAG_TABLE_REGION = "populator:table-region"
TAG_DIGEST = "populator:request-digest"
_RESERVED_TAG_PREFIXES = ("populator:", "aws:")
_MAX_TAG_KEY = 128
_MAX_TAG_VALUE = 256
# What AWS allows in EMR tags: letters, digits, spaces and _ . : / = + - @
_TAG_TEXT_RE = re.compile(r"[\w .:/=+\-@]*", re.UNICODE)


@dataclass(frozen=True)
class JobArgs:
    """The job's own command line (see spark_jobs/populate_manifest.py): S3 URIs, no secrets."""

    enriched_archive: str
    storage_config_uri: str
    since: Optional[str] = None  # run-id form, YYYY-MM-DD-HH-MM-SS (UTC)
    run_manifest_table: Optional[str] = None
    report_uri: Optional[str] = None
    bad_rows_uri: Optional[str] = None  # an S3 prefix: a local path would stay on a node
    in_flight: Optional[int] = None
    include_expired: bool = False
    accept_read_errors: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # further job flags, by dest


def build_job_args(args: JobArgs) -> List[str]:
    """The job's flags in the order of populator.core.job_args.FLAGS (options left at their
    default are left out, so a request and its digest only change when the user asks)."""
    return to_argv(
        {
            "enriched_archive": args.enriched_archive,
            "storage_config": args.storage_config_uri,
            "since": args.since,
            "run_manifest_table": args.run_manifest_table,
            "report": args.report_uri,
            "bad_rows": args.bad_rows_uri,
            "in_flight": args.in_flight,
            "include_expired": args.include_expired,
            "accept_read_errors": args.accept_read_errors,
            **args.extra,
        }
    )


def step_name(table: str, digest: str) -> str:
    """The step's name carries the table and the request digest (found again on re-submit)."""
    return f"populate events manifest {table} [{digest[:16]}]"


def request_digest(request: Dict[str, Any]) -> str:
    """SHA-256 of the request's canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def with_digest(build: Callable[[str], Dict[str, Any]]) -> Tuple[Dict[str, Any], str]:
    """Build once with an empty digest, hash that, build again carrying the hash."""
    digest = request_digest(build(""))
    return build(digest), digest


def tag_value(text: str) -> str:
    """Fit a value into EMR's tag rules: allowed characters only, at most 256 of them."""
    cleaned = "".join(ch if _TAG_TEXT_RE.fullmatch(ch) else "_" for ch in text)
    return cleaned[:_MAX_TAG_VALUE]


def parse_tags(items: Iterable[str]) -> List[Tuple[str, str]]:
    """`KEY=VALUE` strings to pairs; ValueError with the reason for a bad or reserved one."""
    pairs: List[Tuple[str, str]] = []
    seen = set()
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--tag {item!r}: expected KEY=VALUE, e.g. --tag team=data")
        if key.lower().startswith(_RESERVED_TAG_PREFIXES):
            raise ValueError(f"--tag {item!r}: keys starting 'populator:' or 'aws:' are reserved")
        if len(key) > _MAX_TAG_KEY or len(value) > _MAX_TAG_VALUE:
            raise ValueError(
                f"--tag {item!r}: keys are at most {_MAX_TAG_KEY} characters, values at most "
                f"{_MAX_TAG_VALUE}"
            )
        if not (_TAG_TEXT_RE.fullmatch(key) and _TAG_TEXT_RE.fullmatch(value)):
            raise ValueError(
                f"--tag {item!r}: tags may hold letters, digits, spaces and _ . : / = + - @ only"
            )
        if key in seen:
            raise ValueError(f"--tag {item!r}: key {key!r} is given twice")
        seen.add(key)
        pairs.append((key, value))
    return pairs


def redact_request(request: Any, secrets: Iterable[str]) -> Any:
    """A deep copy with every string scrubbed of `secrets` (in all their encoded forms).

    Defence in depth for `--dry-run` output: the builders never put a secret in a request.
    """
    redactor = Redactor(secrets)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return redactor.redact(value)
        if isinstance(value, dict):
            return {scrub(k): scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [scrub(item) for item in value]
        return value

    return scrub(request)
