"""Pure builders for the EMR requests `inv run_emr` sends (RunJobFlow, AddJobFlowSteps).

Like aws-cli's EMR customizations, every request is built as a plain dict from plain values,
so tests compare it field by field and `--dry-run` prints exactly what would be sent. Nothing
here talks to AWS. Secrets never enter a request: the job gets the storage config as an S3
URI of the uploaded (server-side encrypted) copy, never as keys or base64 of keys.

The job's arguments, the tags, the step name and the request digest are shared with EMR
Serverless (populator.launcher.targets.common.request): the digest is stored in a cluster tag
and in the step name, so a re-submitted identical request is recognised instead of starting a
second cluster.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from populator.launcher.targets.common.request import DEFAULT_RELEASE_LABEL

__all__ = [
    "ACTIVE_CLUSTER_STATES",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_INSTANCE_COUNT",
    "DEFAULT_INSTANCE_PROFILE",
    "DEFAULT_INSTANCE_TYPE",
    "DEFAULT_RELEASE_LABEL",
    "DEFAULT_SERVICE_ROLE",
    "ClusterSpec",
    "build_add_steps",
    "build_jar_step",
    "build_run_job_flow",
    "build_spark_step",
]

DEFAULT_INSTANCE_TYPE = "m5.xlarge"
DEFAULT_INSTANCE_COUNT = 3  # 1 master + 2 core
DEFAULT_SERVICE_ROLE = "EMR_DefaultRole"
DEFAULT_INSTANCE_PROFILE = "EMR_EC2_DefaultRole"
DEFAULT_IDLE_TIMEOUT = 3600  # seconds; a safety net: the cluster also ends with its step
ACTIVE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")

COMMAND_RUNNER = "command-runner.jar"
# One driver attempt: YARN's default second attempt would silently re-run the whole backfill
# and bury the first attempt's error. No speculation: a speculative copy of a write task runs
# beside its original, so the write budget would have to halve every task's share
# (core/write/budget.py).
SPARK_SUBMIT_PREFIX = (
    "spark-submit",
    "--deploy-mode",
    "cluster",
    "--conf",
    "spark.yarn.maxAppAttempts=1",
    "--conf",
    "spark.speculation=false",
)


def build_spark_step(
    name: str,
    script_uri: str,
    job_args: Sequence[str],
    py_files_uri: Optional[str] = None,
    action_on_failure: str = "TERMINATE_CLUSTER",
) -> Dict[str, Any]:
    """`spark-submit --deploy-mode cluster [--py-files ZIP] SCRIPT ARGS` via command-runner."""
    args = list(SPARK_SUBMIT_PREFIX)
    if py_files_uri is not None:
        args += ["--py-files", py_files_uri]
    args += [script_uri, *job_args]
    return {
        "Name": name,
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": COMMAND_RUNNER, "Args": args},
    }


def build_jar_step(
    name: str, jar_uri: str, job_args: Sequence[str], action_on_failure: str = "TERMINATE_CLUSTER"
) -> Dict[str, Any]:
    """A custom JAR artifact (`--jar s3://….jar`) run with the same job arguments."""
    return {
        "Name": name,
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": jar_uri, "Args": list(job_args)},
    }


@dataclass(frozen=True)
class ClusterSpec:
    """Everything about the transient cluster except its step."""

    name: str
    log_uri: str
    release_label: str = DEFAULT_RELEASE_LABEL
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = DEFAULT_INSTANCE_COUNT
    service_role: str = DEFAULT_SERVICE_ROLE
    instance_profile: str = DEFAULT_INSTANCE_PROFILE
    ec2_key_name: Optional[str] = None
    subnet_id: Optional[str] = None
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    bootstrap_uri: Optional[str] = None
    tags: Tuple[Tuple[str, str], ...] = field(default_factory=tuple)


def _instance_groups(spec: ClusterSpec) -> List[Dict[str, Any]]:
    groups: List[Dict[str, Any]] = [
        {
            "Name": "Master",
            "InstanceRole": "MASTER",
            "Market": "ON_DEMAND",
            "InstanceType": spec.instance_type,
            "InstanceCount": 1,
        }
    ]
    if spec.instance_count > 1:
        groups.append(
            {
                "Name": "Core",
                "InstanceRole": "CORE",
                "Market": "ON_DEMAND",
                "InstanceType": spec.instance_type,
                "InstanceCount": spec.instance_count - 1,
            }
        )
    return groups


def build_run_job_flow(spec: ClusterSpec, steps: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """A transient Spark cluster: it ends with its step (or after `idle_timeout` idle)."""
    instances: Dict[str, Any] = {
        "InstanceGroups": _instance_groups(spec),
        "KeepJobFlowAliveWhenNoSteps": False,
        "TerminationProtected": False,
    }
    if spec.ec2_key_name is not None:
        instances["Ec2KeyName"] = spec.ec2_key_name
    if spec.subnet_id is not None:
        instances["Ec2SubnetId"] = spec.subnet_id
    request: Dict[str, Any] = {
        "Name": spec.name,
        "LogUri": spec.log_uri,
        "ReleaseLabel": spec.release_label,
        "Applications": [{"Name": "Spark"}],
        "Instances": instances,
        "Steps": [copy.deepcopy(step) for step in steps],
        "JobFlowRole": spec.instance_profile,
        "ServiceRole": spec.service_role,
        "VisibleToAllUsers": True,
        "AutoTerminationPolicy": {"IdleTimeout": spec.idle_timeout},
        "Tags": [{"Key": key, "Value": value} for key, value in spec.tags],
    }
    if spec.bootstrap_uri is not None:
        request["BootstrapActions"] = [
            {
                "Name": "Install boto3 when missing",
                "ScriptBootstrapAction": {"Path": spec.bootstrap_uri, "Args": []},
            }
        ]
    return request


def build_add_steps(cluster_id: str, steps: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    return {"JobFlowId": cluster_id, "Steps": [copy.deepcopy(step) for step in steps]}


