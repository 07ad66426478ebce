"""Iglu for the launcher: self-describing JSON files, schema validation, schema resolution.

Snowplow configs are self-describing JSON validated against Iglu schemas. We resolve the
storage-config schema through the user's resolver config like Snowplow does, but configs in
the wild list Iglu Central and many machines cannot reach it, so resolution never hangs
(short time-outs, one hard budget for all repositories) and falls back to the copy bundled in
``schemas/`` with a one-line notice. One module per job:

- ``keys``: schema keys and the bundled copies;
- ``jsonfile``: strict reading of a user's JSON file;
- ``explain``: value-free explanations of schema errors, validation that never fetches;
- ``trust``: whether a repository's answer is the schema asked for, complete in itself;
- ``http_fetch``: one GET through urllib3 within a hard deadline;
- ``resolver``: repositories, their order, the budget, the fallback notice.

Launcher only (Python 3.11).
"""

from __future__ import annotations

from populator.launcher.iglu.errors import ConfigError, Problem, RepoProblem, UnusableSchema
from populator.launcher.iglu.explain import schema_problems, validate
from populator.launcher.iglu.jsonfile import (
    MAX_CONFIG_BYTES,
    load_self_describing,
    parse_json,
    read_config_file,
)
from populator.launcher.iglu.keys import (
    IGLU_CENTRAL,
    SCHEMA_URI_RE,
    SchemaKey,
    bundled_schema,
    parse_schema_uri,
)
from populator.launcher.iglu.resolver import (
    OFFLINE_ENV,
    HttpTimeouts,
    Repository,
    Resolver,
    offline_requested,
)

__all__ = [
    "IGLU_CENTRAL",
    "MAX_CONFIG_BYTES",
    "OFFLINE_ENV",
    "SCHEMA_URI_RE",
    "ConfigError",
    "HttpTimeouts",
    "Problem",
    "RepoProblem",
    "Repository",
    "Resolver",
    "SchemaKey",
    "UnusableSchema",
    "bundled_schema",
    "load_self_describing",
    "offline_requested",
    "parse_json",
    "parse_schema_uri",
    "read_config_file",
    "schema_problems",
    "validate",
]
