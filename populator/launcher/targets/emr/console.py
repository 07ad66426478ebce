"""Where a person looks at a cluster: the EMR console URL and the commands that follow it."""

from __future__ import annotations

from typing import Optional

__all__ = ["console_host", "console_url", "describe_step_command", "reattach_command"]


def console_host(region: str) -> str:
    """The console host of the region's partition (China and GovCloud have their own)."""
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    return f"{region}.console.aws.amazon.com"


def console_url(cluster_id: str, region: str) -> str:
    """The cluster's page in the EMR console (steps, logs and state change reasons)."""
    return f"https://{console_host(region)}/emr/home?region={region}#/clusterDetails/{cluster_id}"


def describe_step_command(cluster_id: str, step_id: str, region: str) -> str:
    return f"aws emr describe-step --region {region} --cluster-id {cluster_id} --step-id {step_id}"


def reattach_command(
    cluster_id: str, step_id: str, region: str, timeout: Optional[float] = None
) -> str:
    """The `inv run_emr` line that waits on an already submitted step again."""
    line = f"inv run_emr --region {region} --cluster-id {cluster_id} --step-id {step_id} --wait"
    if timeout is not None:
        line += f" --timeout {int(timeout)}"
    return line
