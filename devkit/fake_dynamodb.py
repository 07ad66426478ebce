"""A fast loopback DynamoDB endpoint (JSON 1.0 protocol) with fault, latency and capacity injection.

Why it exists: moto's server sustains only ~150-200 conditional writes/s here and cannot
inject throttling, 5xx answers or dropped connections, so it can neither benchmark the
manifest writer nor exercise its retry paths. This server speaks real HTTP/1.1 (keep-alive,
``Expect: 100-continue``, chunked bodies; any SigV4 ``Authorization`` header is accepted
without being verified) on asyncio, so injected latency never holds a thread and its own CPU
cost stays small. It normally runs in a separate process (``FakeDynamoDB``) so a benchmark
measures the client's CPU alone; ``GET /_control/stats`` reports the server's CPU seconds.

Scope is deliberately narrow and strict: CreateTable, DescribeTable, DeleteTable, ListTables,
UpdateTimeToLive, DescribeTimeToLive, PutItem, GetItem, BatchGetItem, Scan and BatchWriteItem
(puts only). Condition/filter expressions support ``attribute_exists``/``attribute_not_exists``,
``=``/``<>``, ``AND``/``OR``/``NOT`` and parentheses on top-level attributes. Anything else is
answered with a ValidationException naming the gap rather than being silently accepted. Where
moto and DynamoDB differ, this server follows DynamoDB (e.g. at most 25 BatchWriteItem
requests, unused ``ExpressionAttributeValues`` rejected, Scan ``Limit`` always yielding a
``LastEvaluatedKey``).

Runtime controls (JSON over the same port): ``POST /_control/config`` (partial settings),
``GET /_control/config``, ``GET /_control/stats``, ``POST /_control/reset`` (tables + stats).

CLI: ``python -m devkit.fake_dynamodb --port 0 [--latency-ms 5 --write-capacity 500 ...]``
prints ``listening on http://127.0.0.1:PORT``. Standard library only (orjson used if present),
no project imports, so the file also runs as a plain script.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import email.utils
import gc
import http.client
import importlib.util
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import traceback
import weakref
import zlib
from array import array
from dataclasses import asdict, dataclass, field, replace
from decimal import Context, Decimal
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

try:  # optional speed-up only; never a dependency
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    _loads: Callable[[Union[bytes, str]], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)

    def _dumps(obj: Any) -> bytes:
        return _ENCODER.encode(obj).encode("utf-8")

    _loads = json.loads

__all__ = [
    "FAULT_KINDS",
    "WRITE_OPERATIONS",
    "FakeDynamoDB",
    "FakeDynamoDBServer",
    "ServerConfig",
    "main",
]

API_VERSION = "DynamoDB_20120810"
REGION = "us-east-1"
ACCOUNT = "123456789012"
FAULT_KINDS: Tuple[str, ...] = ("throttle", "server_error", "drop", "slow")
WRITE_OPERATIONS: frozenset = frozenset({"PutItem", "BatchWriteItem"})
OUTCOMES: Tuple[str, ...] = (
    "ok",
    "conditional_failed",
    "throttled",
    "client_error",
    "faulted",
    "internal_error",
)
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_ITEM_BYTES = 400 * 1024
MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024
SCAN_PAGE_BYTES = 1024 * 1024

_DDB = "com.amazonaws.dynamodb.v20120810#"
_VALIDATE = "com.amazon.coral.validate#"
_CORAL = "com.amazon.coral.service#"
_THROTTLE_PREFIX = "com.amazon.coral.availability#"


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DynamoError(Exception):
    """An error answered in DynamoDB's JSON form; ``outcome`` is the stats bucket it counts in."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int = 400,
        prefix: str = _DDB,
        outcome: str = "client_error",
        extra: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.prefix = prefix
        self.outcome = outcome
        self.extra = extra

    def body(self) -> bytes:
        payload: Dict[str, Any] = {"__type": self.prefix + self.code, "message": self.message}
        if self.extra:
            payload.update(self.extra)
        return _dumps(payload)


def _validation(message: str) -> DynamoError:
    return DynamoError("ValidationException", message, prefix=_VALIDATE)


def _not_found(message: Optional[str] = None) -> DynamoError:
    return DynamoError("ResourceNotFoundException", message or "Requested resource not found")


def _throughput_exceeded() -> DynamoError:
    return DynamoError(
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
        outcome="throttled",
    )


def _throttling() -> DynamoError:
    return DynamoError(
        "ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
        prefix=_THROTTLE_PREFIX,
        outcome="faulted",
    )


def _internal_error(outcome: str = "faulted") -> DynamoError:
    return DynamoError("InternalServerError", "Internal server error", status=500, outcome=outcome)


def _serialization(message: str) -> DynamoError:
    return DynamoError("SerializationException", message, prefix=_CORAL)


# --------------------------------------------------------------------------------------------
# Attribute values: validation, number canonicalisation, sizes
# --------------------------------------------------------------------------------------------

_NUMBER_CONTEXT = Context(prec=38)
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_EMPTY_AV = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"


def _canonical_number(text: Any) -> str:
    """DynamoDB's canonical text of an N value, so equal numbers compare equal as strings.

    Plain integers (the manifest's etlTime/ttl) take a fast path; anything else goes through
    Decimal with DynamoDB's 38-digit precision and magnitude limits.
    """
    if type(text) is not str or not text:
        raise _validation("The parameter cannot be converted to a numeric value")
    digits = text[1:] if text[0] == "-" else text
    if digits.isdigit() and digits.isascii() and len(digits) <= 38:
        if digits[0] != "0":
            return text
        if digits == "0":
            return "0"
    if not _NUMBER_RE.fullmatch(text):
        raise _validation(f"The parameter cannot be converted to a numeric value: {text}")
    number = Decimal(text)
    if number.is_zero():
        return "0"
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    if len(significant) > 38:
        raise _validation("Attempting to store more than 38 significant digits in a Number")
    if number.adjusted() > 125:
        raise _validation(
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range"
        )
    if number.adjusted() < -130:
        raise _validation(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range"
        )
    return format(number.normalize(_NUMBER_CONTEXT), "f")


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _b64_len(value: Any) -> int:
    if type(value) is not str:
        raise _serialization("Start of structure or map found where not expected.")
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise _serialization("Base64 encoded length is expected a multiple of 4 bytes") from None


def _value_size(av: Any, depth: int = 0) -> int:
    """Validate one AttributeValue (canonicalising its numbers in place); return its size.

    Sizes follow DynamoDB's rules closely enough for WCU accounting and the 400 KB item limit.
    """
    if type(av) is not dict or len(av) != 1:
        raise _validation(_EMPTY_AV)
    if depth > 32:
        raise _validation("Nesting Levels have exceeded supported limits")
    ((kind, value),) = av.items()
    if kind == "S":
        if type(value) is not str:
            raise _serialization("NUMBER_VALUE cannot be converted to String")
        return _utf8_len(value)
    if kind == "N":
        canonical = _canonical_number(value)
        if canonical is not value:
            av["N"] = canonical
        return len(canonical) // 2 + 1
    if kind == "B":
        return _b64_len(value)
    if kind == "BOOL":
        if type(value) is not bool:
            raise _serialization("Unexpected value type in payload")
        return 1
    if kind == "NULL":
        if value is not True:
            raise _validation(
                "One or more parameter values were invalid: Null attribute value types must "
                "have the value of true"
            )
        return 1
    if kind in ("SS", "NS", "BS"):
        if type(value) is not list:
            raise _serialization("Unexpected value type in payload")
        if not value:
            raise _validation(
                "One or more parameter values were invalid: An number set  may not be empty"
                if kind == "NS"
                else "One or more parameter values were invalid: An string set  may not be empty"
            )
        if kind == "NS":
            value[:] = [_canonical_number(n) for n in value]
            size = sum(len(n) // 2 + 1 for n in value)
        elif kind == "SS":
            if any(type(s) is not str for s in value):
                raise _serialization("Unexpected value type in payload")
            size = sum(_utf8_len(s) for s in value)
        else:
            size = sum(_b64_len(b) for b in value)
        if len(set(value)) != len(value):
            raise _validation(
                "One or more parameter values were invalid: Input collection "
                f"{value} contains duplicates."
            )
        return size
    if kind == "L":
        if type(value) is not list:
            raise _serialization("Unexpected value type in payload")
        return 3 + sum(_value_size(v, depth + 1) + 1 for v in value)
    if kind == "M":
        if type(value) is not dict:
            raise _serialization("Unexpected value type in payload")
        return 3 + sum(_utf8_len(k) + _value_size(v, depth + 1) + 1 for k, v in value.items())
    raise _validation(_EMPTY_AV)


def _item_size(item: Any) -> int:
    """Validate a whole item (attribute names and values); return its DynamoDB size in bytes."""
    if type(item) is not dict:
        raise _serialization("Unexpected value type in payload")
    size = 0
    for name, av in item.items():
        if not name:
            raise _validation(
                "One or more parameter values were invalid: An attribute name may not be empty"
            )
        size += _utf8_len(name) + _value_size(av)
    return size


def _av_equal(left: Optional[dict], right: Optional[dict]) -> bool:
    """DynamoDB ``=``: same type and same value; numbers compare numerically, sets unordered."""
    if left is None or right is None:
        return False
    ((lkind, lval),) = left.items()
    ((rkind, rval),) = right.items()
    if lkind != rkind:
        return False
    if lval == rval:
        return True
    if lkind == "N":
        return Decimal(lval) == Decimal(rval)
    if lkind == "NS":
        return {Decimal(v) for v in lval} == {Decimal(v) for v in rval}
    if lkind in ("SS", "BS"):
        return set(lval) == set(rval)
    if lkind == "L":
        return len(lval) == len(rval) and all(map(_av_equal, lval, rval))
    if lkind == "M":
        return lval.keys() == rval.keys() and all(_av_equal(lval[k], rval[k]) for k in lval)
    return False


# --------------------------------------------------------------------------------------------
# Condition expressions: tokenizer + recursive-descent parser compiled to closures
# --------------------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<punct>[(),])
      | (?P<op><>|<=|>=|=|<|>)
      | (?P<value>:[A-Za-z0-9_]+)
      | (?P<name>\#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*)
      | (?P<path>[.\[\]])
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN"})
_KNOWN_UNSUPPORTED_FUNCTIONS = frozenset({"attribute_type", "begins_with", "contains", "size"})
_RESERVED: Optional[frozenset] = None

# An evaluator takes (item, ExpressionAttributeNames, ExpressionAttributeValues).
Evaluator = Callable[[Mapping[str, dict], Mapping[str, str], Mapping[str, dict]], Any]


def _reserved_words() -> frozenset:
    """DynamoDB's reserved words, taken from moto's copy of AWS's list when moto is installed.

    Reading the file (without importing moto) keeps this module dependency-free; without moto
    the reserved-word check is simply skipped.
    """
    global _RESERVED
    if _RESERVED is None:
        words: frozenset = frozenset()
        try:
            spec = importlib.util.find_spec("moto")
            if spec is not None and spec.origin:
                path = Path(spec.origin).parent / "dynamodb" / "parsing" / "reserved_keywords.txt"
                words = frozenset(
                    w.strip().upper() for w in path.read_text().splitlines() if w.strip()
                )
        except (OSError, ImportError, ValueError):
            words = frozenset()
        _RESERVED = words
    return _RESERVED


class Expression:
    """A compiled condition/filter expression plus the placeholders it references."""

    __slots__ = ("evaluate", "names", "values")

    def __init__(self, evaluate: Evaluator, names: frozenset, values: frozenset) -> None:
        self.evaluate = evaluate
        self.names = names
        self.values = values


class _Parser:
    """Recursive descent over: or := and (OR and)*; and := not (AND not)*;
    not := NOT not | primary; primary := '(' or ')' | function '(' path ')' | operand op operand.
    """

    def __init__(self, text: str, kind: str) -> None:
        self.kind = kind
        self.tokens: List[Tuple[str, str]] = []
        for match in _TOKEN_RE.finditer(text):
            group = match.lastgroup
            if group is None:  # only trailing whitespace left
                continue
            self.tokens.append((group, match.group(group)))
        self.pos = 0
        self.names: set = set()
        self.values: set = set()

    # -- helpers -----------------------------------------------------------------------------
    def _error(self, message: str) -> DynamoError:
        return _validation(f"Invalid {self.kind}: {message}")

    def _syntax(self) -> DynamoError:
        if self.pos < len(self.tokens):
            token = self.tokens[self.pos][1]
            near = " ".join(t for _, t in self.tokens[max(0, self.pos - 1) : self.pos + 2])
            return self._error(f'Syntax error; token: "{token}", near: "{near}"')
        return self._error('Syntax error; token: "<EOF>", near: ""')

    def _peek(self, offset: int = 0) -> Tuple[str, str]:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else ("eof", "")

    def _keyword(self, word: str) -> bool:
        kind, text = self._peek()
        if kind == "name" and text.upper() == word:
            self.pos += 1
            return True
        return False

    def _expect(self, text: str) -> None:
        if self._peek() != ("punct", text):
            raise self._syntax()
        self.pos += 1

    # -- grammar -----------------------------------------------------------------------------
    def parse(self) -> Expression:
        if not self.tokens:
            raise self._error("The expression can not be empty;")
        evaluate = self._or()
        if self.pos != len(self.tokens):
            raise self._syntax()
        return Expression(evaluate, frozenset(self.names), frozenset(self.values))

    def _or(self) -> Evaluator:
        node = self._and()
        while self._keyword("OR"):
            left, right = node, self._and()
            node = lambda i, n, v, a=left, b=right: a(i, n, v) or b(i, n, v)  # noqa: E731
        return node

    def _and(self) -> Evaluator:
        node = self._not()
        while self._keyword("AND"):
            left, right = node, self._not()
            node = lambda i, n, v, a=left, b=right: a(i, n, v) and b(i, n, v)  # noqa: E731
        return node

    def _not(self) -> Evaluator:
        if self._keyword("NOT"):
            inner = self._not()
            return lambda i, n, v: not inner(i, n, v)
        return self._primary()

    def _primary(self) -> Evaluator:
        kind, text = self._peek()
        if (kind, text) == ("punct", "("):
            self.pos += 1
            node = self._or()
            self._expect(")")
            return node
        if kind == "name" and self._peek(1) == ("punct", "("):
            return self._function(text)
        left = self._operand()
        op_kind, op = self._peek()
        if op_kind == "name" and op.upper() in ("BETWEEN", "IN"):
            raise self._error(f"FakeDynamoDB does not support the {op.upper()} operator")
        if op_kind != "op":
            raise self._syntax()
        if op not in ("=", "<>"):
            raise self._error(f"FakeDynamoDB does not support the comparator {op}")
        self.pos += 1
        right = self._operand()
        if op == "=":
            return lambda i, n, v: _av_equal(left(i, n, v), right(i, n, v))
        return lambda i, n, v: not _av_equal(left(i, n, v), right(i, n, v))

    def _function(self, name: str) -> Evaluator:
        if name in _KNOWN_UNSUPPORTED_FUNCTIONS:
            raise self._error(f"FakeDynamoDB does not support the function {name}")
        if name not in ("attribute_exists", "attribute_not_exists"):
            raise self._error(f"Invalid function name; function: {name}")
        self.pos += 2  # name and "("
        if self._peek()[0] == "value":
            raise self._error(
                "Incorrect operand type for operator or function; "
                f"operator or function: {name}, operand type: value"
            )
        get = self._path()
        self._expect(")")
        if name == "attribute_exists":
            return lambda i, n, v: get(i, n, v) is not None
        return lambda i, n, v: get(i, n, v) is None

    def _operand(self) -> Evaluator:
        kind, text = self._peek()
        if kind == "value":
            self.pos += 1
            self.values.add(text)
            return lambda i, n, v: v[text]
        return self._path()

    def _path(self) -> Evaluator:
        kind, text = self._peek()
        if kind != "name" or text.upper() in _KEYWORDS:
            raise self._syntax()
        self.pos += 1
        if self._peek()[0] == "path":
            raise self._error("FakeDynamoDB supports only top-level attribute names")
        if text.startswith("#"):
            self.names.add(text)
            return lambda i, n, v: i.get(n[text])
        if text.upper() in _reserved_words():
            raise self._error(f"Attribute name is a reserved keyword; reserved keyword: {text}")
        return lambda i, n, v: i.get(text)


_EXPRESSION_CACHE: Dict[Tuple[str, str], Expression] = {}


def compile_expression(text: Any, kind: str = "ConditionExpression") -> Expression:
    """Parse (with a small cache: the manifest sends the same expression millions of times)."""
    if type(text) is not str:
        raise _serialization(f"{kind} must be a string")
    cache_key = (kind, text)
    expression = _EXPRESSION_CACHE.get(cache_key)
    if expression is None:
        expression = _Parser(text, kind).parse()
        if len(_EXPRESSION_CACHE) > 512:
            _EXPRESSION_CACHE.clear()
        _EXPRESSION_CACHE[cache_key] = expression
    return expression


def _projection(text: Any) -> Tuple[List[str], frozenset]:
    """A ProjectionExpression of top-level names: (raw names/placeholders, placeholders used)."""
    if type(text) is not str or not text.strip():
        raise _validation("Invalid ProjectionExpression: The expression can not be empty;")
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if not re.fullmatch(r"#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*", name):
            raise _validation(
                "Invalid ProjectionExpression: FakeDynamoDB supports only comma-separated "
                f"top-level attribute names, got: {name!r}"
            )
        if not name.startswith("#") and name.upper() in _reserved_words():
            raise _validation(
                "Invalid ProjectionExpression: Attribute name is a reserved keyword; "
                f"reserved keyword: {name}"
            )
    return names, frozenset(n for n in names if n.startswith("#"))


def _placeholders(
    req: Mapping[str, Any], used_names: Iterable[str], used_values: Iterable[str], any_expr: bool
) -> Tuple[Mapping[str, str], Mapping[str, dict]]:
    """Check ExpressionAttributeNames/Values exactly match what the expressions use, as AWS does."""
    names = req.get("ExpressionAttributeNames")
    values = req.get("ExpressionAttributeValues")
    if names is not None:
        if not any_expr:
            raise _validation(
                "ExpressionAttributeNames can only be specified when using expressions"
            )
        if type(names) is not dict or not names:
            raise _validation("ExpressionAttributeNames must not be empty")
    if values is not None:
        if not any_expr:
            raise _validation(
                "ExpressionAttributeValues can only be specified when using expressions"
            )
        if type(values) is not dict or not values:
            raise _validation("ExpressionAttributeValues must not be empty")
        for av in values.values():
            _value_size(av)
    names = names or {}
    values = values or {}
    used_names = set(used_names)
    used_values = set(used_values)
    for name in sorted(used_names):
        if name not in names:
            raise _validation(
                "An expression attribute name used in the document path is not defined; "
                f"attribute name: {name}"
            )
    for value in sorted(used_values):
        if value not in values:
            raise _validation(
                "An expression attribute value used in expression is not defined; "
                f"attribute value: {value}"
            )
    unused_names = set(names) - used_names
    if unused_names:
        raise _validation(
            "Value provided in ExpressionAttributeNames unused in expressions: "
            f"keys: {{{', '.join(sorted(unused_names))}}}"
        )
    unused_values = set(values) - used_values
    if unused_values:
        raise _validation(
            "Value provided in ExpressionAttributeValues unused in expressions: "
            f"keys: {{{', '.join(sorted(unused_values))}}}"
        )
    return names, values


# --------------------------------------------------------------------------------------------
# Tables and capacity
# --------------------------------------------------------------------------------------------

_GC_FREEZE_EVERY = 50_000
_new_items = 0


def _note_new_item() -> None:
    """Move stored items out of the cyclic GC's sight every 50k inserts.

    Items are acyclic and live until reset, yet with millions of them every full collection
    walks them all: measured 0.6 s pauses at 1M items, which would show up as latency spikes
    (and client timeouts) in benchmarks. Frozen objects are still freed by reference counting.
    """
    global _new_items
    _new_items += 1
    if _new_items >= _GC_FREEZE_EVERY:
        _new_items = 0
        gc.freeze()


# A storage key: the hash value, or for composite keys "<len(hash)>:<hash><range>" (injective,
# and one string per item instead of a tuple of two).
Key = str
_TABLE_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]{3,255}")


class TokenBucket:
    """Writes/s limit with about one second of burst (DynamoDB's burst capacity, simplified)."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float) -> None:
        self.rate = float(rate)
        self.capacity = max(self.rate, 1.0)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self, units: float) -> bool:
        now = time.monotonic()
        tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        units = min(units, self.capacity)
        if tokens >= units:
            self.tokens = tokens - units
            return True
        self.tokens = tokens
        return False


@dataclass
class Table:
    """One table, stored compactly so benchmarks can hold millions of items.

    Each item is kept as its JSON text (one str instead of ~10 dicts and strings: measured
    ~1.5 KB -> ~0.45 KB per manifest item) and decoded only when read or when a
    write hits an existing key. Items live in insertion order (Scan pagination); ``index``
    maps the storage key to that position.
    """

    name: str
    key_schema: List[Dict[str, str]]
    attribute_definitions: List[Dict[str, str]]
    hash_name: str
    hash_type: str
    range_name: Optional[str]
    range_type: Optional[str]
    billing_mode: str
    read_units: int
    write_units: int
    created: float = field(default_factory=time.time)
    table_id: str = field(default_factory=lambda: f"{random.getrandbits(128):032x}")
    ttl_attribute: Optional[str] = None
    index: Dict[Key, int] = field(default_factory=dict)
    keys: List[Key] = field(default_factory=list)
    blobs: List[str] = field(default_factory=list)
    sizes: array = field(default_factory=lambda: array("L"))
    size_bytes: int = 0

    # -- keys --------------------------------------------------------------------------------
    def _component(self, name: str, kind: str, av: Any, limit: int, for_item: bool) -> str:
        if type(av) is not dict or len(av) != 1 or kind not in av:
            if for_item:
                actual = next(iter(av)) if type(av) is dict and len(av) == 1 else "?"
                raise _validation(
                    "One or more parameter values were invalid: Type mismatch for key "
                    f"{name} expected: {kind} actual: {actual}"
                )
            raise _validation("The provided key element does not match the schema")
        value = av[kind]
        if kind == "S":
            if type(value) is not str:
                raise _serialization("NUMBER_VALUE cannot be converted to String")
            if not value:
                raise _validation(
                    "One or more parameter values are not valid. The AttributeValue for a key "
                    f"attribute cannot contain an empty string value. Key: {name}"
                )
            size = _utf8_len(value)
        elif kind == "N":
            value = _canonical_number(value)
            av["N"] = value
            size = len(value) // 2 + 1
        else:
            size = _b64_len(value)
            if not size:
                raise _validation(
                    "One or more parameter values are not valid. The AttributeValue for a key "
                    f"attribute cannot contain an empty binary value. Key: {name}"
                )
        if size > limit:
            if limit == MAX_HASH_KEY_BYTES:
                raise _validation(
                    "One or more parameter values were invalid: Size of hashkey has exceeded "
                    f"the maximum size limit of{MAX_HASH_KEY_BYTES} bytes"
                )
            raise _validation(
                "One or more parameter values were invalid: Aggregated size of all range keys "
                f"has exceeded the size limit of {MAX_RANGE_KEY_BYTES} bytes"
            )
        return value

    def item_key(self, item: Mapping[str, Any]) -> Key:
        """Key of an item being written (DynamoDB's PutItem key messages)."""
        hash_av = item.get(self.hash_name)
        if hash_av is None:
            raise _validation(
                "One or more parameter values were invalid: Missing the key "
                f"{self.hash_name} in the item"
            )
        hash_value = self._component(
            self.hash_name, self.hash_type, hash_av, MAX_HASH_KEY_BYTES, True
        )
        if self.range_name is None:
            return hash_value
        range_av = item.get(self.range_name)
        if range_av is None:
            raise _validation(
                "One or more parameter values were invalid: Missing the key "
                f"{self.range_name} in the item"
            )
        range_value = self._component(
            self.range_name, self.range_type or "S", range_av, MAX_RANGE_KEY_BYTES, True
        )
        return f"{len(hash_value)}:{hash_value}{range_value}"

    def lookup_key(self, key: Any) -> Key:
        """Key given in GetItem/BatchGetItem/ExclusiveStartKey: exactly the key attributes."""
        expected = 1 if self.range_name is None else 2
        if type(key) is not dict or len(key) != expected or self.hash_name not in key:
            raise _validation("The provided key element does not match the schema")
        hash_value = self._component(
            self.hash_name, self.hash_type, key[self.hash_name], MAX_HASH_KEY_BYTES, False
        )
        if self.range_name is None:
            return hash_value
        if self.range_name not in key:
            raise _validation("The provided key element does not match the schema")
        range_value = self._component(
            self.range_name,
            self.range_type or "S",
            key[self.range_name],
            MAX_RANGE_KEY_BYTES,
            False,
        )
        return f"{len(hash_value)}:{hash_value}{range_value}"

    def key_attributes(self, item: Mapping[str, dict]) -> Dict[str, dict]:
        names = [self.hash_name] if self.range_name is None else [self.hash_name, self.range_name]
        return {name: item[name] for name in names}

    # -- storage -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.keys)

    def get(self, key: Key) -> Optional[dict]:
        position = self.index.get(key)
        return None if position is None else _loads(self.blobs[position])

    def store(self, key: Key, item: dict, size: int) -> None:
        # Decoded to str: orjson's bytes keep a ~1 KB buffer, which is most of an item's cost.
        blob = _dumps(item).decode("utf-8")
        position = self.index.get(key)
        if position is None:
            self.index[key] = len(self.keys)
            self.keys.append(key)
            self.blobs.append(blob)
            self.sizes.append(size)
            _note_new_item()
        else:
            self.size_bytes -= self.sizes[position]
            self.blobs[position] = blob
            self.sizes[position] = size
        self.size_bytes += size

    def describe(self, status: str = "ACTIVE") -> Dict[str, Any]:
        return {
            "TableName": self.name,
            "TableStatus": status,
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "CreationDateTime": self.created,
            "ItemCount": len(self.keys),
            "TableSizeBytes": self.size_bytes,
            "TableArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.name}",
            "TableId": self.table_id,
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": self.read_units,
                "WriteCapacityUnits": self.write_units,
            },
            "BillingModeSummary": {"BillingMode": self.billing_mode},
            "DeletionProtectionEnabled": False,
        }


# --------------------------------------------------------------------------------------------
# Configuration and statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    """Injection settings. Immutable: a change swaps the whole object, so a request in flight
    sees one consistent configuration.

    Faults hit ``fault_ops`` (default: PutItem and BatchWriteItem) with probability
    ``fault_rate``, the kind drawn uniformly from ``faults`` with a ``seed``ed RNG:
    ``throttle`` (400 ThrottlingException) and ``server_error`` (500 InternalServerError) are
    answered without touching the table; ``drop`` closes the connection before the write is
    applied; ``slow`` applies the write and answers after ``slow_ms`` -- with a client
    read_timeout below that, it models "written, but the client never heard". ``outage``
    fails every ``fault_ops`` request with a 500 until switched off. ``write_capacity`` is a
    per-table token bucket (writes/s, ~1 s of burst; an item over 1 KB costs one unit per
    KB; a failed conditional write still costs its units, as in DynamoDB).
    """

    latency_ms: float = 0.0
    write_capacity: Optional[float] = None
    fault_rate: float = 0.0
    faults: Tuple[str, ...] = ()
    slow_ms: float = 2000.0
    seed: Optional[int] = 0
    outage: bool = False
    fault_ops: Optional[Tuple[str, ...]] = None  # None: write operations only

    def fault_operations(self) -> frozenset:
        return WRITE_OPERATIONS if self.fault_ops is None else frozenset(self.fault_ops)

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        data["faults"] = list(self.faults)
        data["fault_ops"] = None if self.fault_ops is None else list(self.fault_ops)
        return data

    def updated(self, settings: Mapping[str, Any]) -> ServerConfig:
        """A validated copy with ``settings`` applied; ValueError names the bad setting."""
        known = {f for f in self.__dataclass_fields__}
        unknown = set(settings) - known
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}; known: {sorted(known)}")
        changes: Dict[str, Any] = {}
        for name, value in settings.items():
            if name in ("latency_ms", "slow_ms"):
                changes[name] = _non_negative(name, value)
            elif name == "write_capacity":
                rate = None if value is None else _non_negative(name, value)
                changes[name] = rate or None
            elif name == "fault_rate":
                rate = _non_negative(name, value)
                if rate > 1:
                    raise ValueError("fault_rate must be between 0 and 1")
                changes[name] = rate
            elif name == "faults":
                kinds = _string_list(name, value)
                bad = [k for k in kinds if k not in FAULT_KINDS]
                if bad:
                    raise ValueError(f"unknown faults {bad}; choose from {list(FAULT_KINDS)}")
                changes[name] = tuple(kinds)
            elif name == "seed":
                if value is not None and (type(value) is not int):
                    raise ValueError("seed must be an integer or null")
                changes[name] = value
            elif name == "outage":
                if type(value) is not bool:
                    raise ValueError("outage must be true or false")
                changes[name] = value
            elif name == "fault_ops":
                if value is None:
                    changes[name] = None
                else:
                    ops = _string_list(name, value)
                    if ops in (["*"], ["all"]):
                        ops = sorted(FakeDynamoDBServer.OPERATIONS)
                    bad = [op for op in ops if op not in FakeDynamoDBServer.OPERATIONS]
                    if bad:
                        raise ValueError(f"unknown operations in fault_ops: {bad}")
                    changes[name] = tuple(ops)
        result = replace(self, **changes)
        if result.fault_rate > 0 and not result.faults:
            raise ValueError("fault_rate > 0 needs at least one fault kind in faults")
        return result


def _non_negative(name: str, value: Any) -> float:
    if type(value) not in (int, float) or value < 0 or value != value:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def _string_list(name: str, value: Any) -> List[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return list(value)


class Stats:
    """Counters kept by the server; ``snapshot`` is what ``GET /_control/stats`` returns."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self.times_started = os.times()
        self.requests = 0
        self.operations: Dict[str, Dict[str, int]] = {}
        self.outcomes: Dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        self.faults: Dict[str, int] = dict.fromkeys((*FAULT_KINDS, "outage"), 0)
        self.connections_opened = 0
        self.items_written = 0
        self.unprocessed_items = 0
        self.write_units = 0

    def operation(self, op: str) -> Dict[str, int]:
        counters = self.operations.get(op)
        if counters is None:
            counters = self.operations[op] = {"total": 0}
        counters["total"] += 1
        self.requests += 1
        return counters

    def snapshot(self, open_connections: int, tables: Mapping[str, Table]) -> Dict[str, Any]:
        times = os.times()
        return {
            "requests": self.requests,
            "operations": {op: dict(c) for op, c in sorted(self.operations.items())},
            "outcomes": dict(self.outcomes),
            "faults": dict(self.faults),
            "connections": {"opened": self.connections_opened, "open": open_connections},
            "items_written": self.items_written,
            "unprocessed_items": self.unprocessed_items,
            "write_units": self.write_units,
            "tables": {name: len(t) for name, t in sorted(tables.items())},
            "cpu_seconds": round(time.process_time() - self.cpu_started, 6),
            "cpu_user_seconds": round(times.user - self.times_started.user, 6),
            "cpu_system_seconds": round(times.system - self.times_started.system, 6),
            "uptime_seconds": round(time.monotonic() - self.started, 6),
            "pid": os.getpid(),
        }


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_REASONS = {
    100: "Continue",
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


def _asks_keep_alive(headers: Mapping[str, str]) -> bool:
    """HTTP/1.0 clients keep a connection only if the answer confirms ``Connection: keep-alive``."""
    return "keep-alive" in headers.get("connection", "").lower()


class _HttpError(Exception):
    """A malformed request: answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FakeDynamoDBServer:
    """The asyncio server. Use ``FakeDynamoDB`` from tests; this class is the in-loop engine."""

    OPERATIONS = frozenset(
        {
            "CreateTable",
            "DescribeTable",
            "DeleteTable",
            "ListTables",
            "UpdateTimeToLive",
            "DescribeTimeToLive",
            "PutItem",
            "GetItem",
            "BatchGetItem",
            "Scan",
            "BatchWriteItem",
        }
    )

    def __init__(self, config: Optional[ServerConfig] = None) -> None:
        self.config = config or ServerConfig()
        self._fault_ops = self.config.fault_operations()
        self.rng = random.Random(self.config.seed)
        self.tables: Dict[str, Table] = {}
        self.buckets: Dict[str, TokenBucket] = {}
        self.stats = Stats()
        self._connections: Dict[asyncio.Task, asyncio.StreamWriter] = {}
        self._server: Optional[asyncio.base_events.Server] = None
        self._request_prefix = f"{random.getrandbits(160):040X}"
        self._request_counter = 0
        self._date_second = -1
        self._date_header = b""
        self._handlers: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
            op: getattr(self, "_op_" + re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower())
            for op in self.OPERATIONS
        }

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_HEADER_BYTES, reuse_address=True
        )
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end every open connection (their tasks are cancelled)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    # -- configuration / control -------------------------------------------------------------
    def configure(self, settings: Mapping[str, Any]) -> ServerConfig:
        new = self.config.updated(settings)
        if "seed" in settings:
            self.rng.seed(new.seed)
        if new.write_capacity != self.config.write_capacity:
            self.buckets.clear()
        self.config = new
        self._fault_ops = new.fault_operations()
        return new

    def reset(self) -> None:
        self.tables.clear()
        self.buckets.clear()
        self.stats = Stats()
        self.rng.seed(self.config.seed)

    def _control(self, method: str, path: str, body: bytes) -> Tuple[int, Dict[str, Any]]:
        if path == "/_control/stats" and method == "GET":
            return 200, self.stats.snapshot(len(self._connections), self.tables)
        if path == "/_control/config" and method == "GET":
            return 200, {"config": self.config.to_json()}
        if path == "/_control/config" and method == "POST":
            try:
                settings = _loads(body) if body else {}
                if type(settings) is not dict:
                    raise ValueError("the body must be a JSON object of settings")
                return 200, {"config": self.configure(settings).to_json()}
            except ValueError as exc:
                return 400, {"error": str(exc)}
        if path == "/_control/reset" and method == "POST":
            self.reset()
            return 200, {"reset": True}
        return 404, {"error": f"no control endpoint {method} {path}"}

    # -- HTTP --------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one keep-alive connection: requests are answered in order (pipelining-safe)."""
        self.stats.connections_opened += 1
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # clean EOF between requests (or a truncated head)
                except asyncio.LimitOverrunError:
                    writer.write(self._plain(431, "request head too large", close=True))
                    return
                try:
                    method, path, headers, keep_alive = self._parse_head(head)
                    body = await self._read_body(reader, writer, headers)
                except _HttpError as exc:
                    writer.write(self._plain(exc.status, str(exc), close=True))
                    return
                if method == "HEAD":  # headers only, as RFC 9110 requires
                    ok = path.partition("?")[0] == "/"
                    response = self._plain(200 if ok else 404, "healthy: fake-dynamodb", True)
                    writer.write(response[: response.index(b"\r\n\r\n") + 4])
                    return
                if path.startswith("/_control/"):
                    status, payload = self._control(method, path, body)
                    writer.write(
                        self._response(
                            status,
                            _dumps(payload),
                            "application/json",
                            close=not keep_alive,
                            keep_alive_header=_asks_keep_alive(headers),
                        )
                    )
                elif not await self._api(method, path, headers, body, writer, keep_alive):
                    return
                if not keep_alive:
                    return
                if writer.transport.get_write_buffer_size() > 1 << 16:
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()

    @staticmethod
    def _parse_head(head: bytes) -> Tuple[str, str, Dict[str, str], bool]:
        lines = head.decode("latin-1").split("\r\n")
        while lines and not lines[0]:
            lines.pop(0)  # tolerate stray CRLFs between requests (RFC 9112 2.2)
        if not lines:
            raise _HttpError(400, "empty request")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha():
            raise _HttpError(400, "malformed request line")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _HttpError(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or line[0] in " \t":
                raise _HttpError(400, f"malformed header line {line[:80]!r}")
            name = name.lower()
            value = value.strip()
            if name in headers:
                if name == "content-length" and headers[name] != value:
                    raise _HttpError(400, "conflicting Content-Length headers")
                headers[name] = f"{headers[name]}, {value}"
                if name == "content-length":
                    headers[name] = value
            else:
                headers[name] = value
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.1":
            keep_alive = "close" not in connection
        else:
            keep_alive = "keep-alive" in connection
        return method, target, headers, keep_alive

    async def _read_body(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: Dict[str, str]
    ) -> bytes:
        encoding = headers.get("transfer-encoding")
        length_text = headers.get("content-length")
        if encoding is not None:
            if encoding.lower() != "chunked" or length_text is not None:
                raise _HttpError(501, f"unsupported Transfer-Encoding {encoding!r}")
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return await self._read_chunked(reader)
        if length_text is None:
            return b""
        if not length_text.isdigit():
            raise _HttpError(400, "invalid Content-Length")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise _HttpError(413, "request body too large")
        if length and headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        return await reader.readexactly(length) if length else b""

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: List[bytes] = []
        total = 0
        while True:
            try:
                line = await reader.readuntil(b"\r\n")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":
                        pass  # trailers are ignored
                    return b"".join(chunks)
            except (ValueError, asyncio.LimitOverrunError):
                raise _HttpError(400, "malformed chunk framing") from None
            total += size
            if total > MAX_BODY_BYTES:
                raise _HttpError(413, "request body too large")
            chunks.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise _HttpError(400, "malformed chunk")

    def _date(self) -> bytes:
        now = int(time.time())
        if now != self._date_second:
            self._date_second = now
            self._date_header = email.utils.formatdate(now, usegmt=True).encode("ascii")
        return self._date_header

    def _response(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/x-amz-json-1.0",
        close: bool = False,
        request_id: Optional[str] = None,
        keep_alive_header: bool = False,
    ) -> bytes:
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        if request_id is not None:
            head.append(f"x-amzn-RequestId: {request_id}")
            head.append(f"x-amz-crc32: {zlib.crc32(body) & 0xFFFFFFFF}")
        if close:
            head.append("Connection: close")
        elif keep_alive_header:
            head.append("Connection: keep-alive")
        return (
            "\r\n".join(head).encode("latin-1")
            + b"\r\nServer: fake-dynamodb\r\nDate: "
            + self._date()
            + b"\r\n\r\n"
            + body
        )

    def _plain(self, status: int, text: str, close: bool = False) -> bytes:
        return self._response(status, text.encode("utf-8"), "text/plain; charset=utf-8", close)

    def _next_request_id(self) -> str:
        self._request_counter += 1
        return f"{self._request_prefix}{self._request_counter:012d}"

    async def _api(
        self,
        method: str,
        path: str,
        headers: Dict[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
        keep_alive: bool,
    ) -> bool:
        """Answer one DynamoDB call, applying latency and faults; False = connection dropped."""
        close = not keep_alive
        if path.partition("?")[0] != "/":
            writer.write(self._plain(404, f"no such path {path}", close))
            return True
        if method != "POST":
            if method == "GET":  # DynamoDB's health check answer
                writer.write(self._plain(200, "healthy: fake-dynamodb", close))
            else:
                writer.write(self._plain(405, "DynamoDB accepts POST only", close))
            return True
        config = self.config
        if config.latency_ms:
            await asyncio.sleep(config.latency_ms / 1000.0)
            config = self.config  # may have changed while this request waited
        target = headers.get("x-amz-target", "")
        service, _, op = target.partition(".")
        counters = self.stats.operation(op or target or "(no X-Amz-Target)")
        request_id = self._next_request_id()
        delay = 0.0
        error: Optional[DynamoError] = None
        if op in self._fault_ops and service == API_VERSION:
            if config.outage:
                self.stats.faults["outage"] += 1
                error = _internal_error()
            elif config.fault_rate and self.rng.random() < config.fault_rate:
                kind = config.faults[self.rng.randrange(len(config.faults))]
                self.stats.faults[kind] += 1
                if kind == "throttle":
                    error = _throttling()
                elif kind == "server_error":
                    error = _internal_error()
                elif kind == "drop":
                    self._count(counters, "faulted")
                    writer.close()
                    return False
                else:
                    delay = config.slow_ms / 1000.0
        if error is None:
            status, payload, outcome = self._dispatch(service, op, body)
        else:
            status, payload, outcome = error.status, error.body(), error.outcome
        self._count(counters, outcome)
        if delay:
            await asyncio.sleep(delay)
        if writer.is_closing():
            return False
        writer.write(
            self._response(
                status,
                payload,
                close=close,
                request_id=request_id,
                keep_alive_header=_asks_keep_alive(headers),
            )
        )
        return True

    def _count(self, counters: Dict[str, int], outcome: str) -> None:
        counters[outcome] = counters.get(outcome, 0) + 1
        self.stats.outcomes[outcome] += 1

    def _dispatch(self, service: str, op: str, body: bytes) -> Tuple[int, bytes, str]:
        handler = self._handlers.get(op) if service == API_VERSION else None
        try:
            if handler is None:
                raise DynamoError(
                    "UnknownOperationException",
                    f"Unknown operation {service}.{op}",
                    prefix=_CORAL,
                )
            try:
                request = _loads(body) if body else {}
            except ValueError:
                raise _serialization("Malformed JSON request body") from None
            if type(request) is not dict:
                raise _serialization("The request body must be a JSON object")
            return 200, _dumps(handler(request)), "ok"
        except DynamoError as exc:
            return exc.status, exc.body(), exc.outcome
        except Exception:  # a bug in this fake: say so loudly, never pass it off as DynamoDB's
            traceback.print_exc(file=sys.stderr)
            error = _internal_error("internal_error")
            return error.status, error.body(), error.outcome

    # -- operations --------------------------------------------------------------------------
    def _table(self, req: Mapping[str, Any], missing: Optional[str] = None) -> Table:
        name = req.get("TableName")
        if type(name) is not str or not name:
            raise _validation(
                "1 validation error detected: Value null at 'tableName' failed to satisfy "
                "constraint: Member must not be null"
            )
        table = self.tables.get(name)
        if table is None:
            raise _not_found(missing.format(name=name) if missing else None)
        return table

    def _bucket(self, table: str) -> Optional[TokenBucket]:
        rate = self.config.write_capacity
        if not rate:
            return None
        bucket = self.buckets.get(table)
        if bucket is None:
            bucket = self.buckets[table] = TokenBucket(rate)
        return bucket

    def _op_create_table(self, req: Dict[str, Any]) -> Dict[str, Any]:
        name = req.get("TableName")
        if type(name) is not str or not _TABLE_NAME_RE.fullmatch(name):
            raise _validation(
                f"1 validation error detected: Value '{name}' at 'tableName' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ "
                "and have length between 3 and 255"
            )
        if req.get("GlobalSecondaryIndexes") or req.get("LocalSecondaryIndexes"):
            raise _validation("FakeDynamoDB does not support secondary indexes")
        key_schema = req.get("KeySchema")
        definitions = req.get("AttributeDefinitions")
        if type(key_schema) is not list or not 1 <= len(key_schema) <= 2:
            raise _validation(
                "1 validation error detected: Value at 'keySchema' failed to "
                "satisfy constraint: Member must have length between 1 and 2"
            )
        if type(definitions) is not list or not definitions:
            raise _validation(
                "1 validation error detected: Value at 'attributeDefinitions' "
                "failed to satisfy constraint: Member must not be empty"
            )
        types: Dict[str, str] = {}
        for definition in definitions:
            kind = definition.get("AttributeType") if type(definition) is dict else None
            if kind not in ("S", "N", "B"):
                raise _validation(
                    "1 validation error detected: Value at 'attributeDefinitions' failed to "
                    "satisfy constraint: AttributeType must be one of [S, N, B]"
                )
            types[definition.get("AttributeName")] = definition["AttributeType"]
        if any(type(e) is not dict for e in key_schema):
            raise _validation("Invalid KeySchema")
        if key_schema[0].get("KeyType") != "HASH":
            raise _validation(
                "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
            )
        if len(key_schema) == 2 and key_schema[1].get("KeyType") != "RANGE":
            raise _validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
            )
        key_names = [e.get("AttributeName") for e in key_schema]
        if len(set(key_names)) != len(key_names):
            raise _validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name"
            )
        missing = [n for n in key_names if n not in types]
        if missing:
            raise _validation(
                "One or more parameter values were invalid: Some index key attributes are not "
                f"defined in AttributeDefinitions. Keys: {key_names}, AttributeDefinitions: "
                f"{sorted(types)}"
            )
        if len(types) != len(key_names) or len(definitions) != len(key_names):
            raise _validation(
                "One or more parameter values were invalid: Number of attributes in KeySchema "
                "does not exactly match number of attributes defined in AttributeDefinitions"
            )
        billing = req.get("BillingMode", "PROVISIONED")
        throughput = req.get("ProvisionedThroughput")
        if billing == "PAY_PER_REQUEST":
            if throughput:
                raise _validation(
                    "One or more parameter values were invalid: Neither ReadCapacityUnits nor "
                    "WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
                )
            read_units = write_units = 0
        elif billing == "PROVISIONED":
            if type(throughput) is not dict or not all(
                type(throughput.get(k)) is int and throughput[k] >= 1
                for k in ("ReadCapacityUnits", "WriteCapacityUnits")
            ):
                raise _validation(
                    "One or more parameter values were invalid: ReadCapacityUnits and "
                    "WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
                )
            read_units = throughput["ReadCapacityUnits"]
            write_units = throughput["WriteCapacityUnits"]
        else:
            raise _validation(
                f"1 validation error detected: Value '{billing}' at 'billingMode' failed to "
                "satisfy constraint: Member must satisfy enum value set: "
                "[PROVISIONED, PAY_PER_REQUEST]"
            )
        if name in self.tables:
            raise DynamoError("ResourceInUseException", f"Table already exists: {name}")
        range_name = key_names[1] if len(key_names) == 2 else None
        table = Table(
            name=name,
            key_schema=[
                {"AttributeName": n, "KeyType": e["KeyType"]} for n, e in zip(key_names, key_schema)
            ],
            attribute_definitions=[
                {"AttributeName": n, "AttributeType": types[n]} for n in key_names
            ],
            hash_name=key_names[0],
            hash_type=types[key_names[0]],
            range_name=range_name,
            range_type=types[range_name] if range_name else None,
            billing_mode=billing,
            read_units=read_units,
            write_units=write_units,
        )
        self.tables[name] = table
        return {"TableDescription": table.describe()}

    def _op_describe_table(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self._table(req, "Requested resource not found: Table: {name} not found")
        return {"Table": table.describe()}

    def _op_delete_table(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self._table(req, "Requested resource not found: Table: {name} not found")
        del self.tables[table.name]
        self.buckets.pop(table.name, None)
        return {"TableDescription": table.describe("DELETING")}

    def _op_list_tables(self, req: Dict[str, Any]) -> Dict[str, Any]:
        limit = req.get("Limit", 100)
        if type(limit) is not int or not 1 <= limit <= 100:
            raise _validation(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: "
                "Member must have value between 1 and 100"
            )
        start = req.get("ExclusiveStartTableName")
        names = sorted(self.tables)
        if start is not None:
            names = [n for n in names if n > start]
        result: Dict[str, Any] = {"TableNames": names[:limit]}
        if len(names) > limit:
            result["LastEvaluatedTableName"] = names[limit - 1]
        return result

    def _op_update_time_to_live(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self._table(req)
        spec = req.get("TimeToLiveSpecification")
        if (
            type(spec) is not dict
            or type(spec.get("Enabled")) is not bool
            or type(spec.get("AttributeName")) is not str
            or not spec["AttributeName"]
        ):
            raise _validation(
                "1 validation error detected: TimeToLiveSpecification must contain Enabled and "
                "a non-empty AttributeName"
            )
        if spec["Enabled"]:
            if table.ttl_attribute is not None:
                raise _validation("TimeToLive is already enabled")
            table.ttl_attribute = spec["AttributeName"]
        else:
            if table.ttl_attribute is None:
                raise _validation("TimeToLive is already disabled")
            if table.ttl_attribute != spec["AttributeName"]:
                raise _validation(
                    "TimeToLive AttributeName is different than the current AttributeName"
                )
            table.ttl_attribute = None
        return {
            "TimeToLiveSpecification": {
                "Enabled": spec["Enabled"],
                "AttributeName": spec["AttributeName"],
            }
        }

    def _op_describe_time_to_live(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self._table(req, "Requested resource not found: Table: {name} not found")
        if table.ttl_attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {
            "TimeToLiveDescription": {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": table.ttl_attribute,
            }
        }

    @staticmethod
    def _capacity(req: Mapping[str, Any], table: str, units: float) -> Optional[Dict[str, Any]]:
        mode = req.get("ReturnConsumedCapacity", "NONE")
        if mode == "NONE":
            return None
        if mode == "TOTAL":
            return {"TableName": table, "CapacityUnits": float(units)}
        if mode == "INDEXES":
            return {
                "TableName": table,
                "CapacityUnits": float(units),
                "Table": {"CapacityUnits": float(units)},
            }
        raise _validation(
            f"1 validation error detected: Value '{mode}' at 'returnConsumedCapacity' failed to "
            "satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
        )

    def _op_put_item(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self._table(req)
        item = req.get("Item")
        if type(item) is not dict:
            raise _validation(
                "1 validation error detected: Value null at 'item' failed to satisfy "
                "constraint: Member must not be null"
            )
        if "Expected" in req or "ConditionalOperator" in req:
            raise _validation("FakeDynamoDB does not support the legacy Expected parameter")
        size = _item_size(item)
        if size > MAX_ITEM_BYTES:
            raise _validation("Item size has exceeded the maximum allowed size")
        key = table.item_key(item)
        return_values = req.get("ReturnValues", "NONE")
        if return_values not in ("NONE", "ALL_OLD"):
            raise _validation("Return values set to invalid value")
        on_failure = req.get("ReturnValuesOnConditionCheckFailure", "NONE")
        if on_failure not in ("NONE", "ALL_OLD"):
            raise _validation(
                "1 validation error detected: Value at 'returnValuesOnConditionCheckFailure' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[ALL_OLD, NONE]"
            )
        condition_text = req.get("ConditionExpression")
        condition = None if condition_text is None else compile_expression(condition_text)
        names, values = _placeholders(
            req,
            condition.names if condition else (),
            condition.values if condition else (),
            condition is not None,
        )
        units = max(1, -(-size // 1024))
        bucket = self._bucket(table.name)
        if bucket is not None and not bucket.take(units):
            raise _throughput_exceeded()
        self.stats.write_units += units  # a failed conditional write still consumes WCU
        old = table.get(key)
        if condition is not None and not condition.evaluate(old or {}, names, values):
            extra = {"Item": old} if on_failure == "ALL_OLD" and old is not None else None
            raise DynamoError(
                "ConditionalCheckFailedException",
                "The conditional request failed",
                outcome="conditional_failed",
                extra=extra,
            )
        table.store(key, item, size)
        self.stats.items_written += 1
        result: Dict[str, Any] = {}
        if return_values == "ALL_OLD" and old is not None:
            result["Attributes"] = old
        capacity = self._capacity(req, table.name, units)
        if capacity is not None:
            result["ConsumedCapacity"] = capacity
        return result

    def _read_projection(self, req: Mapping[str, Any]) -> Tuple[Optional[List[str]], frozenset]:
        if "ProjectionExpression" in req:
            if "AttributesToGet" in req:
                raise _validation(
                    "Can not use both expression and non-expression parameters in the same "
                    "request: Non-expression parameters: {AttributesToGet} Expression "
                    "parameters: {ProjectionExpression}"
                )
            return _projection(req["ProjectionExpression"])
        legacy = req.get("AttributesToGet")
        if legacy is not None:
            if type(legacy) is not list or not legacy:
                raise _validation("AttributesToGet must be a non-empty list")
            return list(legacy), frozenset()
        return None, frozenset()

    @staticmethod
    def _project(item: dict, projection: Optional[List[str]], names: Mapping[str, str]) -> dict:
        if projection is None:
            return item
        result = {}
        for raw in projection:
            name = names[raw] if raw.startswith("#") else raw
            if name in item:
                result[name] = item[name]
        return result

    def _op_get_item(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self._table(req)
        key = table.lookup_key(req.get("Key"))
        projection, used_names = self._read_projection(req)
        names, _ = _placeholders(req, used_names, (), projection is not None)
        item = table.get(key)
        result: Dict[str, Any] = {}
        if item is not None:
            result["Item"] = self._project(item, projection, names)
        capacity = self._capacity(req, table.name, 0.5 if not req.get("ConsistentRead") else 1)
        if capacity is not None:
            result["ConsumedCapacity"] = capacity
        return result

    def _op_batch_get_item(self, req: Dict[str, Any]) -> Dict[str, Any]:
        request_items = req.get("RequestItems")
        if type(request_items) is not dict or not request_items:
            raise _validation(
                "1 validation error detected: Value at 'requestItems' failed to satisfy "
                "constraint: Member must have length greater than or equal to 1"
            )
        plan = []
        total = 0
        for name, spec in request_items.items():
            table = self._table({"TableName": name})
            if type(spec) is not dict or type(spec.get("Keys")) is not list or not spec["Keys"]:
                raise _validation("1 validation error detected: Keys must be a non-empty list")
            keys = [table.lookup_key(k) for k in spec["Keys"]]
            if len(set(keys)) != len(keys):
                raise _validation("Provided list of item keys contains duplicates")
            total += len(keys)
            projection, used_names = self._read_projection(spec)
            names, _ = _placeholders(spec, used_names, (), projection is not None)
            plan.append((table, keys, projection, names))
        if total > 100:
            raise _validation("Too many items requested for the BatchGetItem call")
        responses = {
            table.name: [
                self._project(item, projection, names)
                for item in map(table.get, keys)
                if item is not None
            ]
            for table, keys, projection, names in plan
        }
        return {"Responses": responses, "UnprocessedKeys": {}}

    def _op_scan(self, req: Dict[str, Any]) -> Dict[str, Any]:
        table = self._table(req)
        limit = req.get("Limit")
        if limit is not None and (type(limit) is not int or limit < 1):
            raise _validation(
                f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy "
                "constraint: Member must have value greater than or equal to 1"
            )
        segment = req.get("Segment")
        total_segments = req.get("TotalSegments")
        if (segment is None) != (total_segments is None):
            raise _validation(
                "The TotalSegments parameter is required but was not present in the request "
                "when Segment parameter is present"
                if total_segments is None
                else "The Segment parameter is required but was not present in the request "
                "when parameter TotalSegments is present"
            )
        if total_segments is not None and (
            type(total_segments) is not int
            or type(segment) is not int
            or not 1 <= total_segments <= 1000000
            or not 0 <= segment < total_segments
        ):
            raise _validation(
                f"The Segment parameter is zero-based and must be less than parameter "
                f"TotalSegments: Segment: {segment} is out of bounds for TotalSegments: "
                f"{total_segments}"
            )
        select = req.get("Select", "ALL_ATTRIBUTES")
        if select not in ("ALL_ATTRIBUTES", "COUNT", "SPECIFIC_ATTRIBUTES"):
            raise _validation(f"FakeDynamoDB does not support Select={select}")
        filter_text = req.get("FilterExpression")
        if "ScanFilter" in req:
            raise _validation("FakeDynamoDB does not support the legacy ScanFilter parameter")
        scan_filter = (
            None if filter_text is None else compile_expression(filter_text, "FilterExpression")
        )
        projection, projected_names = self._read_projection(req)
        names, values = _placeholders(
            req,
            (scan_filter.names if scan_filter else frozenset()) | projected_names,
            scan_filter.values if scan_filter else (),
            scan_filter is not None or "ProjectionExpression" in req,
        )
        start = 0
        exclusive_start = req.get("ExclusiveStartKey")
        if exclusive_start is not None:
            position = table.index.get(table.lookup_key(exclusive_start))
            if position is None:
                raise _validation("The provided starting key is invalid")
            start = position + 1
        keys, blobs, sizes = table.keys, table.blobs, table.sizes
        found: List[dict] = []
        scanned = 0
        page_bytes = 0
        last_item: Optional[dict] = None
        for position in range(start, len(keys)):
            if total_segments is not None and (
                zlib.crc32(keys[position].encode("utf-8")) % total_segments != segment
            ):
                continue
            item = _loads(blobs[position])
            scanned += 1
            page_bytes += sizes[position]
            if scan_filter is None or scan_filter.evaluate(item, names, values):
                found.append(self._project(item, projection, names))
            if (limit is not None and scanned >= limit) or page_bytes >= SCAN_PAGE_BYTES:
                last_item = item
                break
        result: Dict[str, Any] = {"Count": len(found), "ScannedCount": scanned}
        if select != "COUNT":
            result["Items"] = found
        if last_item is not None:
            result["LastEvaluatedKey"] = table.key_attributes(last_item)
        capacity = self._capacity(req, table.name, max(1, -(-page_bytes // 4096)) / 2)
        if capacity is not None:
            result["ConsumedCapacity"] = capacity
        return result

    def _op_batch_write_item(self, req: Dict[str, Any]) -> Dict[str, Any]:
        request_items = req.get("RequestItems")
        if type(request_items) is not dict or not request_items:
            raise _validation(
                "1 validation error detected: Value at 'requestItems' failed to satisfy "
                "constraint: Member must have length greater than or equal to 1"
            )
        plan: List[Tuple[Table, dict, Key, int, dict]] = []
        for name, requests in request_items.items():
            table = self._table({"TableName": name})
            if type(requests) is not list or not requests:
                raise _validation(
                    "1 validation error detected: Value at 'requestItems' failed to satisfy "
                    "constraint: Map value must satisfy constraint: Member must have length "
                    "between 1 and 25"
                )
            seen: set = set()
            for request in requests:
                if type(request) is not dict or "PutRequest" not in request or len(request) != 1:
                    raise _validation(
                        "FakeDynamoDB supports only PutRequest entries in BatchWriteItem"
                    )
                put = request["PutRequest"]
                item = put.get("Item") if type(put) is dict else None
                if type(item) is not dict:
                    raise _validation("1 validation error detected: PutRequest.Item is required")
                size = _item_size(item)
                if size > MAX_ITEM_BYTES:
                    raise _validation("Item size has exceeded the maximum allowed size")
                key = table.item_key(item)
                if key in seen:
                    raise _validation("Provided list of item keys contains duplicates")
                seen.add(key)
                plan.append((table, item, key, size, request))
        if len(plan) > 25:
            raise _validation(
                "1 validation error detected: Value at 'requestItems' failed to satisfy "
                "constraint: Map value must satisfy constraint: Member must have length less "
                "than or equal to 25"
            )
        unprocessed: Dict[str, List[dict]] = {}
        consumed: Dict[str, float] = {}
        for table, item, key, size, request in plan:
            units = max(1, -(-size // 1024))
            bucket = self._bucket(table.name)
            if bucket is not None and not bucket.take(units):
                unprocessed.setdefault(table.name, []).append(request)
                continue
            table.store(key, item, size)
            consumed[table.name] = consumed.get(table.name, 0) + units
        if len(plan) == sum(len(v) for v in unprocessed.values()):
            raise _throughput_exceeded()
        written = len(plan) - sum(len(v) for v in unprocessed.values())
        self.stats.items_written += written
        self.stats.unprocessed_items += len(plan) - written
        self.stats.write_units += int(sum(consumed.values()))
        result: Dict[str, Any] = {"UnprocessedItems": unprocessed}
        if req.get("ReturnConsumedCapacity", "NONE") != "NONE":
            result["ConsumedCapacity"] = [
                self._capacity(req, name, units) for name, units in consumed.items()
            ]
        return result


# --------------------------------------------------------------------------------------------
# Python API: start/stop in a subprocess (default) or in a background thread
# --------------------------------------------------------------------------------------------


def _terminate(process: subprocess.Popen) -> None:
    """Stop the child for sure: SIGTERM, then SIGKILL; also runs from the weakref finalizer."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=3)
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


class FakeDynamoDB:
    """Handle on a fake DynamoDB endpoint; a context manager.

    By default the server runs in a child process (so its CPU is not the client's and a stuck
    test cannot wedge it); ``in_process=True`` runs it on a daemon thread instead (cheaper to
    start, but then ``stats()['cpu_seconds']`` is the whole process's). The child exits when
    stopped, at interpreter exit, on garbage collection, or when this process dies (it watches
    its stdin for EOF).
    """

    def __init__(
        self,
        latency_ms: float = 0,
        write_capacity: Optional[float] = None,
        fault_rate: float = 0.0,
        faults: Sequence[str] = (),
        seed: Optional[int] = 0,
        in_process: bool = False,
        *,
        slow_ms: float = 2000.0,
        outage: bool = False,
        fault_ops: Optional[Sequence[str]] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
    ) -> None:
        settings: Dict[str, Any] = {
            "latency_ms": latency_ms,
            "write_capacity": write_capacity,
            "fault_rate": fault_rate,
            "faults": list(faults),
            "seed": seed,
            "slow_ms": slow_ms,
            "outage": outage,
            "fault_ops": None if fault_ops is None else list(fault_ops),
        }
        self.initial_config = ServerConfig().updated(settings)  # fail fast on bad settings
        self.in_process = in_process
        self.host = host
        self.requested_port = port
        self.startup_timeout = startup_timeout
        self.port: Optional[int] = None
        self.process: Optional[subprocess.Popen] = None
        self._finalizer: Optional[weakref.finalize] = None
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._server: Optional[FakeDynamoDBServer] = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeDynamoDB is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> Optional[int]:
        return None if self.process is None else self.process.pid

    def start(self) -> FakeDynamoDB:
        if self.port is not None:
            return self
        if self.in_process:
            self._start_thread()
        else:
            self._start_process()
        return self

    def _start_process(self) -> None:
        command = [
            sys.executable,
            "-I",  # isolated: no cwd/script dir on sys.path, no PYTHON* env surprises
            str(Path(__file__).resolve()),
            "--host",
            self.host,
            "--port",
            str(self.requested_port),
            "--config-json",
            json.dumps(self.initial_config.to_json()),
            "--exit-on-stdin-eof",
        ]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.process = process
        self._finalizer = weakref.finalize(self, _terminate, process)
        line = self._first_line(process)
        match = re.fullmatch(r"listening on http://[^:]+:(\d+)\s*", line)
        if not match:
            self.stop()
            raise RuntimeError(f"fake DynamoDB did not start (first output: {line!r})")
        self.port = int(match.group(1))
        process.stdout.close()  # type: ignore[union-attr]  # the child prints nothing more

    def _first_line(self, process: subprocess.Popen) -> str:
        lines: List[bytes] = []
        reader = threading.Thread(
            target=lambda: lines.append(process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(self.startup_timeout)
        if not lines:
            _terminate(process)
            raise RuntimeError(f"fake DynamoDB did not start within {self.startup_timeout} s")
        return lines[0].decode("utf-8", "replace")

    def _start_thread(self) -> None:
        ready = threading.Event()
        failure: List[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = FakeDynamoDBServer(self.initial_config)
            self._server = server
            try:
                self.port = loop.run_until_complete(server.start(self.host, self.requested_port))
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(server.close())
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-dynamodb", daemon=True)
        self._thread.start()
        ready.wait(self.startup_timeout)
        if failure:
            raise RuntimeError("fake DynamoDB did not start") from failure[0]
        if self.port is None:
            raise RuntimeError(f"fake DynamoDB did not start within {self.startup_timeout} s")

    def stop(self) -> None:
        """Stop the server; idempotent. Afterwards no child process is left running."""
        if self.process is not None:
            if self._finalizer is not None:
                self._finalizer()  # runs _terminate once and detaches the finalizer
            else:
                _terminate(self.process)
        if self._thread is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._thread = None
            self._loop = None
        self.port = None

    def __enter__(self) -> FakeDynamoDB:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- control -----------------------------------------------------------------------------
    def _control(self, method: str, path: str, payload: Optional[Mapping[str, Any]] = None) -> Any:
        if self.port is None:
            raise RuntimeError("FakeDynamoDB is not running; call start() first")
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            body = None if payload is None else json.dumps(payload).encode("utf-8")
            headers = {} if body is None else {"Content-Type": "application/json"}
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = json.loads(response.read() or b"null")
        finally:
            connection.close()
        if response.status == 400:
            raise ValueError(data.get("error", data))
        if response.status != 200:
            raise RuntimeError(f"control call {method} {path} failed: {response.status} {data}")
        return data

    def configure(self, **settings: Any) -> Dict[str, Any]:
        """Change injection settings at runtime (only those given); returns the full config."""
        if "faults" in settings and not isinstance(settings["faults"], str):
            settings["faults"] = list(settings["faults"])
        if settings.get("fault_ops") is not None and not isinstance(settings["fault_ops"], str):
            settings["fault_ops"] = list(settings["fault_ops"])
        return self._control("POST", "/_control/config", settings)["config"]

    def config(self) -> Dict[str, Any]:
        return self._control("GET", "/_control/config")["config"]

    def stats(self) -> Dict[str, Any]:
        return self._control("GET", "/_control/stats")

    def reset(self) -> None:
        """Drop all tables and zero the stats (the configuration is kept)."""
        self._control("POST", "/_control/reset", {})

    def client(self, **config: Any) -> Any:
        """A boto3 DynamoDB client for this endpoint (botocore Config kwargs accepted)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(**config) if config else None,
        )


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def _exit_when_stdin_closes() -> None:
    """Parent-death watchdog: the parent holds our stdin; EOF means it is gone."""
    try:
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        os._exit(0)


async def _serve(host: str, port: int, config: ServerConfig) -> None:
    server = FakeDynamoDBServer(config)
    bound = await server.start(host, port)
    print(f"listening on http://{host}:{bound}", flush=True)
    try:
        await server.serve_forever()
    finally:
        await server.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devkit.fake_dynamodb",
        description="Fast loopback DynamoDB endpoint with fault/latency/capacity injection.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float)
    parser.add_argument("--write-capacity", type=float, help="writes/s per table; 0 = unlimited")
    parser.add_argument("--fault-rate", type=float)
    parser.add_argument("--faults", help=f"comma list of {','.join(FAULT_KINDS)}")
    parser.add_argument("--slow-ms", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--fault-ops", help="comma list of operations faults apply to, or 'all'")
    parser.add_argument("--outage", action="store_true")
    parser.add_argument("--config-json", help="full settings as a JSON object")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    settings: Dict[str, Any] = json.loads(args.config_json) if args.config_json else {}
    for name in (
        "latency_ms",
        "write_capacity",
        "fault_rate",
        "faults",
        "slow_ms",
        "seed",
        "fault_ops",
    ):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    if args.outage:
        settings["outage"] = True
    try:
        config = ServerConfig().updated(settings)
    except ValueError as exc:
        parser.error(str(exc))
    if args.exit_on_stdin_eof:
        threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
