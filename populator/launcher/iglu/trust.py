"""Whether to trust what a repository served for a schema key.

A repository is trusted to serve *the* schema for the key asked for, and nothing else: a
draft-04 JSON Schema whose ``self`` block names exactly that key, complete in itself. A
schema that points elsewhere (a remote ``$ref``, a ``$ref`` that does not resolve inside
it, a nested ``id`` that moves the base URI) would make validation fetch a URL nobody
configured, hang, or crash; it is the repository's fault, so it is a ``RepoProblem`` and
the resolver goes on to the next repository or the bundled copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError
from referencing.jsonschema import DRAFT4

from populator.core.storage_config import json_type
from populator.launcher.iglu.errors import RepoProblem
from populator.launcher.iglu.explain import NO_RETRIEVAL
from populator.launcher.iglu.keys import SchemaKey


def trusted_schema(body: bytes, key: SchemaKey) -> dict[str, Any]:
    """The schema in ``body`` if it is the one for ``key`` and self-contained; else RepoProblem."""
    try:
        schema = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RepoProblem("served invalid JSON") from None
    if not isinstance(schema, dict):
        raise RepoProblem(f"served a JSON {json_type(schema)}, not a schema")
    try:
        Draft4Validator.check_schema(schema)
    except SchemaError:
        raise RepoProblem("served an invalid JSON Schema") from None
    except RecursionError:
        raise RepoProblem("served a JSON Schema nested too deeply") from None
    own = schema.get("self")
    if not isinstance(own, dict):
        raise RepoProblem(f"served something that is not an Iglu schema for {key.uri} (no self)")
    if own != key.self_block():
        raise RepoProblem("served a schema whose self block names another schema")
    _check_references(schema)
    return schema


def _walk(node: Any, depth: int = 0) -> Iterator[tuple[str, Any, int]]:
    """Every ``$ref`` and ``id`` member anywhere (keyword or not: erring on the side of
    distrust), with its depth (0 for the root object)."""
    stack = [(node, 0)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, dict):
            for member in ("$ref", "id"):
                if member in current and not isinstance(current[member], (dict, list)):
                    yield member, current[member], level
            stack.extend((value, level + 1) for value in current.values())
        elif isinstance(current, list):
            stack.extend((item, level + 1) for item in current)


def _check_references(schema: dict[str, Any]) -> None:
    refs = []
    for member, value, level in _walk(schema):
        if member == "id" and level > 0:
            raise RepoProblem("served a schema with a nested id (it would move $ref targets)")
        if member == "$ref":
            if not isinstance(value, str) or not value.startswith("#"):
                raise RepoProblem("served a schema with a remote $ref (nothing is fetched)")
            refs.append(value)
    if not refs:
        return
    resolver = NO_RETRIEVAL.resolver_with_root(DRAFT4.create_resource(schema))
    targets: dict[str, Any] = {}
    for ref in refs:
        try:
            targets[ref] = resolver.lookup(ref).contents
        except Exception:  # any failure to resolve locally: PointerToNowhere, NoSuchAnchor…
            raise RepoProblem("served a schema with a $ref that points nowhere") from None
    if _loops(schema, targets):
        raise RepoProblem("served a schema whose $ref loops back without reading any data")


def _same_instance(node: Any, targets: dict[str, Any]) -> list[Any]:
    """The subschemas that apply to the very instance ``node`` applies to."""
    if not isinstance(node, dict):
        return []
    found = [targets[node["$ref"]]] if isinstance(node.get("$ref"), str) else []
    for keyword in ("allOf", "anyOf", "oneOf"):
        if isinstance(node.get(keyword), list):
            found += node[keyword]
    if "not" in node:
        found.append(node["not"])
    if isinstance(node.get("dependencies"), dict):
        found += [d for d in node["dependencies"].values() if isinstance(d, dict)]
    return found


def _loops(schema: dict[str, Any], targets: dict[str, Any]) -> bool:
    """Whether ``$ref`` makes validation recurse forever on one instance (``{"$ref": "#"}``,
    ``{"allOf": [{"$ref": "#"}]}``): a cycle among subschemas that apply to the same value."""
    done: set[int] = set()
    for start in [schema, *targets.values()]:
        if id(start) in done:
            continue
        path: set[int] = set()
        stack: list[tuple[Any, bool]] = [(start, False)]
        while stack:
            node, leaving = stack.pop()
            if leaving:
                path.discard(id(node))
                done.add(id(node))
                continue
            if id(node) in path:
                return True
            if id(node) in done:
                continue
            path.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in _same_instance(node, targets))
    return False
