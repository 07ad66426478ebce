"""What the fault proxy offers however it runs (devkit.fault_proxy.FaultProxy in this process,
devkit.proxy_process.ProxyProcess in a child): the records it keeps of each request, and one
control surface, so a test or benchmark takes either.
Dev-only; `populator/` never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, TypeVar


@dataclass(frozen=True)
class Arrival:
    """One request as the proxy saw it; `outcome` is an HTTP status or the fault injected."""

    at: float  # time.monotonic() of this process (the proxy's)
    operation: str
    table: str
    agent: str
    outcome: str


_P = TypeVar("_P", bound="ProxyControl")


class ProxyControl:
    """The control surface both ways of running the proxy share (FaultProxy here, ProxyProcess
    in a child): `with` around start()/stop(), settings, arrivals, and a DynamoDB client."""

    endpoint_url: str

    def start(self: _P) -> _P:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _P) -> _P:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def client(self, **config: Any) -> Any:
        """A boto3 DynamoDB client for this proxy (botocore Config keywords)."""
        return proxy_client(self.endpoint_url, **config)

    def configure(self, **changes: Any) -> Dict[str, Any]:
        raise NotImplementedError

    def arrivals(self) -> List[Arrival]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError


def proxy_client(endpoint_url: str, **config: Any) -> Any:
    """A boto3 DynamoDB client for a running proxy (botocore Config keywords; moto's keys)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config) if config else None,
    )
