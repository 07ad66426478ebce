"""Errors that end a command with a message and an exit code instead of a traceback."""

from __future__ import annotations

from typing import Optional, Tuple

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_STILL_RUNNING = 3
EXIT_CANCELLED = 130


class UserError(Exception):
    """Bad input: the message is one paragraph naming what, where and what was expected."""

    exit_code = EXIT_BAD_INPUT


class JobFailed(Exception):
    """The backfill ran and failed; the message says why and what to do."""

    exit_code = EXIT_JOB_FAILED


class StillRunning(Exception):
    exit_code = EXIT_STILL_RUNNING


class Cancelled(Exception):
    exit_code = EXIT_CANCELLED


# --- the one place where AWS errors become user errors ---------------------------------------
# Matched by class name along the MRO so this module needs no botocore import.

CREDENTIAL_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "MissingAuthenticationToken",
    }
)
_UNREACHABLE = (
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyConnectionError",
    "ConnectionClosedError",
    "SSLError",
    "HTTPClientError",
)
_NO_CREDENTIALS = ("NoCredentialsError", "PartialCredentialsError", "ProfileNotFound")
CREDENTIALS_HINT = (
    "the AWS credentials were refused or lack a permission: check the access key in the "
    "storage config, --profile / AWS_PROFILE, the AWS_* variables and the IAM policy "
    "(docs/security.md)"
)


def _names(error: BaseException) -> Tuple[str, ...]:
    return tuple(cls.__name__ for cls in type(error).__mro__)


def aws_user_error(error: BaseException) -> Optional[Exception]:
    """UserError (exit 2) or JobFailed (exit 1, an AWS server error) for any AWS failure, with
    the operation's name; None when `error` is not an AWS error."""
    names = _names(error)
    if "ClientError" in names:
        info = (getattr(error, "response", None) or {}).get("Error", {}) or {}
        status = ((getattr(error, "response", None) or {}).get("ResponseMetadata") or {}).get(
            "HTTPStatusCode"
        )
        operation = getattr(error, "operation_name", None) or "an AWS call"
        code = info.get("Code") or "Unknown"
        message = " ".join(str(info.get("Message") or "no message").split())
        text = f"AWS refused {operation}: {code}: {message}"
        if code in CREDENTIAL_CODES:
            return UserError(f"{text}. {CREDENTIALS_HINT}")
        if isinstance(status, int) and status >= 500:
            return JobFailed(f"{text} (an AWS server error, HTTP {status}: try again later)")
        return UserError(text)
    if any(name in _UNREACHABLE for name in names):
        return UserError(
            f"cannot reach AWS: {error} (check --endpoint-url / AWS_ENDPOINT_URL, HTTPS_PROXY "
            "and the network)"
        )
    if any(name in _NO_CREDENTIALS for name in names):
        return UserError(f"AWS credentials: {error} (use --profile or the standard variables)")
    if "ParamValidationError" in names:
        return UserError(f"AWS would reject the request: {error}")
    return None
