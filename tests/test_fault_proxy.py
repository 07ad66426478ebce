"""The fault proxy in front of moto: moto's answers pass through untouched, faults are DynamoDB's.

What a test needs from it: the same answers as moto itself when no fault is set (conditions
moto accepts stay accepted: the proxy has no expression grammar), throttles, 5xx, dropped
connections, latency, outages on and off or for a window, a WCU budget per table, arrivals
recorded per request, and no process left behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any, Callable, Iterator, Optional

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from devkit.fault_proxy import FaultProxy
from devkit.proxy_process import ProxyProcess
from populator.core.manifest import EventsManifest, build_put_request

NO_RETRIES = {"retries": {"total_max_attempts": 1}}
EVENT = "c6ef3124-b53a-4b13-a233-0088f79dcbcb"


@pytest.fixture
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_endpoint, seed=7) as running:
        yield running


@pytest.fixture
def table(proxy: FaultProxy, unique_name: Callable[[str], str]) -> str:
    name = unique_name("manifest")
    EventsManifest(proxy.client(), name).create()
    return name


def put(client: Any, table: str, n: int, etl: int = 1485388885) -> Optional[str]:
    """The error code of one manifest PutItem, or None when it succeeded."""
    try:
        client.put_item(**build_put_request(table, f"{EVENT}-{n}", "FP", etl))
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return None


def test_answers_are_motos_own(proxy: FaultProxy, table: str, dynamodb: Any) -> None:
    client = proxy.client(**NO_RETRIES)
    assert put(client, table, 1) is None
    assert put(client, table, 1) is None  # a re-run of the same batch
    assert put(client, table, 1, etl=1485388999) == "ConditionalCheckFailedException"
    # A condition the manifest never uses still reaches moto unchanged.
    client.put_item(
        TableName=table,
        Item={"eventId": {"S": "x"}, "fingerprint": {"S": "y"}, "n": {"N": "5"}},
        ConditionExpression="attribute_not_exists(#e) OR size(#e) < :big",
        ExpressionAttributeNames={"#e": "eventId"},
        ExpressionAttributeValues={":big": {"N": "3"}},
    )
    direct = dynamodb.scan(TableName=table, ConsistentRead=True)["Count"]
    assert direct == client.scan(TableName=table)["Count"] == 2
    assert proxy.stats()["operations"]["PutItem"] == 4


def test_throttle_server_error_drop_and_slow(proxy: FaultProxy, table: str) -> None:
    client = proxy.client(**NO_RETRIES)
    proxy.configure(fault_rate=1.0, faults=["throttle"])
    with pytest.raises(ClientError) as raised:
        client.put_item(**build_put_request(table, EVENT, "FP", 1))
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert client.describe_table(TableName=table)["Table"]["ItemCount"] == 0  # reads pass
    proxy.configure(faults=["throughput"])
    assert put(client, table, 1) == "ProvisionedThroughputExceededException"
    proxy.configure(faults=["server_error"])
    with pytest.raises(ClientError) as raised:
        client.put_item(**build_put_request(table, EVENT, "FP", 1))
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert raised.value.response["Error"]["Code"] == "InternalServerError"
    proxy.configure(faults=["drop"])
    with pytest.raises(ConnectionClosedError):
        client.put_item(**build_put_request(table, EVENT, "FP", 1))
    proxy.configure(faults=["slow"], slow_ms=300)
    started = time.perf_counter()
    assert put(client, table, 2) is None
    assert time.perf_counter() - started >= 0.3
    with pytest.raises(ReadTimeoutError):
        proxy.client(read_timeout=0.1, **NO_RETRIES).put_item(
            **build_put_request(table, EVENT, "FP", 1)
        )
    faults = proxy.stats()["faults"]
    assert (faults["throttle"], faults["throughput"], faults["server_error"]) == (1, 1, 1)
    assert faults["drop"] == 1
    assert faults["slow"] == 2


def test_fault_rate_is_reproducible_and_outages_open_and_close(
    moto_endpoint: str, unique_name: Callable[[str], str]
) -> None:
    def codes() -> list:
        with FaultProxy(
            moto_endpoint, seed=3, fault_rate=0.5, faults=["throttle", "server_error"]
        ) as p:
            name = unique_name("manifest")
            EventsManifest(p.client(), name).create()
            client = p.client(**NO_RETRIES)
            return [put(client, name, n) for n in range(30)]

    first, second = codes(), codes()
    assert first == second
    assert set(first) == {None, "ThrottlingException", "InternalServerError"}

    with FaultProxy(moto_endpoint) as p:
        name = unique_name("manifest")
        EventsManifest(p.client(), name).create()
        client = p.client(**NO_RETRIES)
        p.configure(outage=True)
        assert [put(client, name, n) for n in range(3)] == ["InternalServerError"] * 3
        p.configure(outage=False, outage_seconds=0.3)  # a window
        assert put(client, name, 4) == "InternalServerError"
        time.sleep(0.35)
        assert put(client, name, 5) is None
        assert p.stats()["faults"]["outage"] == 4


def test_write_capacity_throttles_above_the_rate_and_arrivals_are_recorded(
    proxy: FaultProxy, table: str
) -> None:
    client = proxy.client(**NO_RETRIES, user_agent_extra="tester")
    proxy.configure(write_capacity=3)
    codes = [put(client, table, n) for n in range(30)]
    assert set(codes) == {None, "ProvisionedThroughputExceededException"}
    accepted = codes.count(None)
    arrivals = [a for a in proxy.arrivals() if a.operation == "PutItem"]
    span = arrivals[-1].at - arrivals[0].at
    assert 3 <= accepted <= 3 + 3 * span + 1  # one second of burst, then the rate
    assert len(arrivals) == 30 and all(a.table == table for a in arrivals)
    assert all("tester" in a.agent for a in arrivals)
    assert {a.outcome for a in arrivals} == {"forward", "wcu"}
    # A failed conditional write still consumes capacity (the budget is taken before moto).
    proxy.configure(write_capacity=2)  # a fresh bucket of two
    failed = [put(client, table, 0, etl=2) for _ in range(15)]
    assert failed.count("ConditionalCheckFailedException") >= 2
    assert "ProvisionedThroughputExceededException" in failed


def test_configure_rejects_bad_settings(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown faults"):
        proxy.configure(fault_rate=0.1, faults=["explode"])
    with pytest.raises(ValueError, match="needs at least one fault"):
        proxy.configure(fault_rate=0.1)
    with pytest.raises(ValueError, match="unknown settings"):
        proxy.configure(latencyms=3)
    assert proxy.settings.fault_rate == 0.0  # rejected changes left nothing behind


def test_the_child_process_proxy_has_its_own_moto_and_leaves_nothing() -> None:
    with ProxyProcess(write_capacity=5) as child:
        pid = child.pid
        client = child.client(**NO_RETRIES)
        EventsManifest(client, "manifest").create()
        assert put(client, "manifest", 1) is None
        assert child.stats()["operations"]["PutItem"] == 1
        with pytest.raises(ValueError, match="unknown settings"):
            child.configure(nope=1)
        assert [a.operation for a in child.arrivals()].count("PutItem") == 1
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_arrival_times_are_the_kernels_not_when_a_stalled_proxy_read_them() -> None:
    """The proxy's process is stopped while two PutItems are sent (one on a warm keep-alive
    connection, one on a new one), then resumed half a second later. Both are recorded as
    arriving when they were sent: a handler's own clock said half a second later, which on
    a loaded machine bunched a write budget's 2 s windows."""
    with ProxyProcess() as child:
        assert child.pid is not None
        warm, fresh = child.client(**NO_RETRIES), child.client(**NO_RETRIES)
        EventsManifest(warm, "manifest").create()
        assert put(warm, "manifest", 0) is None
        child.reset()
        os.kill(child.pid, signal.SIGSTOP)
        try:
            sent = time.monotonic()
            writers = [
                threading.Thread(target=put, args=(client, "manifest", n))
                for n, client in enumerate((warm, fresh), start=1)
            ]
            for writer in writers:
                writer.start()
            time.sleep(0.5)
        finally:
            os.kill(child.pid, signal.SIGCONT)
        for writer in writers:
            writer.join(30)
        answered = time.monotonic()
        puts = [a for a in child.arrivals() if a.operation == "PutItem"]
    assert answered - sent >= 0.5 and len(puts) == 2
    assert all(a.at - sent < 0.25 for a in puts), [a.at - sent for a in puts]
