"""Value-free explanations of jsonschema errors, and validation that never fetches.

Messages are built from the failing rule, the JSON path and the value's JSON *type*, never
from the value itself, because values can be secrets; names the user wrote (unexpected keys,
path segments the schema does not declare) are masked unless our schemas know them.
Validation runs with a registry that refuses any retrieval: a ``$ref`` the schema cannot
resolve by itself is an ``UnusableSchema``, not a request to some URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from populator.core.storage_config import UUID_RE, describe_names, json_type, masked_name
from populator.launcher.iglu.errors import ConfigError, Problem, UnusableSchema
from populator.launcher.iglu.jsonfile import known_names

_URI_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FORMATS = FormatChecker(formats=())


def _refuse(uri: str) -> Any:
    raise NoSuchResource(ref=uri)


NO_RETRIEVAL: Registry[Any] = Registry(retrieve=_refuse)  # type: ignore[call-arg]


@_FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(UUID_RE.match(value))


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _URI_SCHEME_RE.match(value) or any(c.isspace() or ord(c) < 32 for c in value):
        return False
    parts = urlsplit(value)
    return bool(parts.netloc or parts.path)


_ARTICLE = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
    "boolean": "a boolean",
    "null": "null",
}
_FORMAT_TEXT = {
    "uuid": "a UUID (8-4-4-4-12 hex digits)",
    "uri": "an absolute URI such as http://iglucentral.com",
}


def _json_path(base: str, parts: Iterable[Any], known: frozenset[str]) -> str:
    path = base
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in known:
            path += f"[{masked_name(part)}]"
        elif _IDENTIFIER_RE.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part)}]"
    return path


def _sort_key(error: ValidationError) -> tuple[Any, ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in error.absolute_path)


def _describe_type(rule_value: Any, instance: Any) -> str:
    types = rule_value if isinstance(rule_value, list) else [rule_value]
    wanted = " or ".join(_ARTICLE.get(t, str(t)) for t in types)
    got = json_type(instance)
    if got == "number" and "integer" in types:
        got = "a number with a fraction"
    return f"{wanted}, got {got}"


def _describe(error: ValidationError, base: str, known: frozenset[str]) -> list[Problem]:
    """Value-free problems for one jsonschema error (from its rule, path and the value's type)."""
    path = _json_path(base, error.absolute_path, known)
    rule, rule_value, instance = error.validator, error.validator_value, error.instance
    if rule == "type":
        return [Problem(path, _describe_type(rule_value, instance), rule)]
    if rule == "required":
        present = instance if isinstance(instance, dict) else {}
        return [
            Problem(_json_path(path, [name], known), "this required field (missing)", rule)
            for name in rule_value
            if name not in present
        ]
    if rule == "additionalProperties":
        allowed = list((error.schema or {}).get("properties", {}))
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        allowed_text = ", ".join(allowed) if allowed else "none"
        unexpected = describe_names(extra, known)
        return [Problem(path, f"only the fields {allowed_text}; unexpected: {unexpected}", rule)]
    if rule == "enum":
        choices = ", ".join(json.dumps(choice) for choice in rule_value)
        return [Problem(path, f"one of {choices}, got another {json_type(instance)}", rule)]
    if rule == "oneOf":
        return _describe_one_of(error, base, path, known)
    return [Problem(path, _describe_bound(rule, rule_value, error.schema), rule)]


def _describe_bound(rule: str, rule_value: Any, schema: Any) -> str:
    """The rules that constrain a value's size, form or range."""
    if rule in ("minimum", "maximum"):
        exclusive = bool((schema or {}).get("exclusive" + rule.capitalize()))
        sign = {"minimum": (">=", ">"), "maximum": ("<=", "<")}[rule][exclusive]
        return f"a number {sign} {rule_value}"
    if rule == "format":
        return _FORMAT_TEXT.get(rule_value, f"a string in {rule_value} format")
    if rule in ("minLength", "maxLength"):
        word = "at least" if rule == "minLength" else "at most"
        return f"a string of {word} {rule_value} characters"
    if rule in ("minItems", "maxItems"):
        word = "at least" if rule == "minItems" else "at most"
        return f"an array of {word} {rule_value} items"
    if rule == "pattern":
        return f"a string matching {rule_value}"
    return f"a value that satisfies the schema's {rule!r} rule"


def _describe_one_of(
    error: ValidationError, base: str, path: str, known: frozenset[str]
) -> list[Problem]:
    """Report the branch the user evidently meant, else say what the alternatives are."""
    by_branch: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    root_rules = {"required", "type", "additionalProperties"}
    meant = [
        errors
        for errors in by_branch.values()
        if not any(not sub.relative_path and sub.validator in root_rules for sub in errors)
    ]
    if error.context and len(meant) == 1:
        problems: list[Problem] = []
        for sub in sorted(meant[0], key=_sort_key):
            problems.extend(_describe(sub, base, known))
        return problems
    keys = (
        f" with the keys {describe_names(sorted(error.instance), known)}"
        if isinstance(error.instance, dict)
        else ""
    )
    got = f"got {_ARTICLE.get(json_type(error.instance), json_type(error.instance))}{keys}"
    if error.absolute_path and error.absolute_path[-1] == "connection":
        return [
            Problem(
                path,
                'exactly one of {"embedded": {"path": "…"}} or '
                '{"http": {"uri": "…", "apikey": "…" (optional)}}, ' + got,
                "oneOf",
            )
        ]
    choices = " or ".join(_summarize(branch) for branch in error.validator_value)
    return [Problem(path, f"exactly one of: {choices}; {got}", "oneOf")]


def _summarize(schema: dict[str, Any]) -> str:
    types = schema.get("type", "")
    types = types if isinstance(types, list) else [types] if types else []
    text = " or ".join(_ARTICLE.get(t, t) for t in types) or "a value"
    if schema.get("required"):
        text += " with " + ", ".join(schema["required"])
    return text


def declared_names(schema: Any) -> frozenset[str]:
    """Property names a schema declares (``properties`` and ``required``, at any depth)."""
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(props)
            required = node.get("required")
            if isinstance(required, list):
                names.update(name for name in required if isinstance(name, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(names)


def validator_for(schema: dict[str, Any]) -> Draft4Validator:
    """A draft-04 validator that resolves ``$ref`` inside the schema only, never by fetching."""
    return Draft4Validator(schema, format_checker=_FORMATS, registry=NO_RETRIEVAL)


def schema_problems(instance: Any, schema: dict[str, Any], base: str = "$.data") -> list[Problem]:
    """All problems of ``instance`` against a draft-04 schema: the most relevant first, then
    the others in path order; duplicates removed."""
    known = known_names() | declared_names(schema)
    try:
        errors = sorted(validator_for(schema).iter_errors(instance), key=_sort_key)
    except Unresolvable:
        raise UnusableSchema(
            "the schema has a $ref that does not resolve inside it (nothing is fetched)"
        ) from None
    except RecursionError:
        raise UnusableSchema("the schema nests or refers to itself too deeply to apply") from None
    if not errors:
        return []
    best = best_match(errors)
    while best.parent is not None:
        best = best.parent
    ordered = [best] + [e for e in errors if e is not best]
    problems: list[Problem] = []
    for error in ordered:
        for problem in _describe(error, base, known):
            if problem not in problems:
                problems.append(problem)
    return problems


def validate(
    instance: Any, schema: dict[str, Any], source: str, base: str = "$.data", hint: str = ""
) -> None:
    """Raise one ConfigError listing every problem (values never shown)."""
    problems = schema_problems(instance, schema, base)
    if problems:
        raise ConfigError(source, hint=hint, problems=problems)
