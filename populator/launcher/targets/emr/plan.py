"""The EMR request for a backfill, computed without a network call (`--dry-run` prints it).

The request digest names the backfill: it is in the cluster's tags and the step's name (the
duplicate guard) and in the report's key.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from populator.core.location import parse_s3_uri
from populator.launcher.bundle import Bundle
from populator.launcher.inputs import Inputs
from populator.launcher.targets.common.plan import (
    backfill_tags,
    job_argv,
    locations,
    report_location,
)
from populator.launcher.targets.common.request import TOOL_NAME, step_name, with_digest
from populator.launcher.targets.emr.options import Checked, EmrOptions
from populator.launcher.targets.emr.request import (
    ClusterSpec,
    build_add_steps,
    build_jar_step,
    build_run_job_flow,
    build_spark_step,
)

# --- the request (pure) ----------------------------------------------------------------------


def plan_request(
    inputs: Inputs,
    options: EmrOptions,
    checked: Checked,
    bundle: Bundle,
) -> Tuple[str, Dict[str, Any], str, str, str]:
    """(operation, request, digest, log URI, report URI) for these inputs; sends nothing."""
    archive = parse_s3_uri(inputs.archive)
    log_uri, assets = locations(archive, checked)
    storage = inputs.storage
    on_existing = options.cluster_id is not None
    action = "CONTINUE" if on_existing else "TERMINATE_CLUSTER"

    def build(digest: str) -> Dict[str, Any]:
        config = bundle.storage_config.uri(assets)
        args = job_argv(inputs, options, checked, config, report_location(assets, digest))
        name = step_name(storage.table, digest)
        if options.jar is not None and options.jar.endswith(".jar"):
            step = build_jar_step(name, options.jar, args, action)
        elif options.jar is not None:
            step = build_spark_step(name, options.jar, args, None, action)
        else:
            assert bundle.job is not None and bundle.py_files is not None
            step = build_spark_step(
                name, bundle.job.uri(assets), args, bundle.py_files.uri(assets), action
            )
        if on_existing:
            return build_add_steps(str(options.cluster_id), [step])
        spec = ClusterSpec(
            name=f"{TOOL_NAME}: {storage.table}",
            log_uri=log_uri.uri,
            release_label=options.release_label,
            instance_type=options.instance_type,
            instance_count=checked.instance_count,
            service_role=options.service_role,
            instance_profile=options.instance_profile,
            ec2_key_name=options.ec2_keyname,
            subnet_id=options.subnet_id,
            idle_timeout=checked.idle_timeout,
            bootstrap_uri=bundle.bootstrap.uri(assets),
            tags=backfill_tags(inputs, digest, checked.tags),
        )
        return build_run_job_flow(spec, [step])

    request, digest = with_digest(build)
    operation = "AddJobFlowSteps" if on_existing else "RunJobFlow"
    return operation, request, digest, log_uri.uri, report_location(assets, digest)
