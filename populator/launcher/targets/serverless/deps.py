"""What the job needs on EMR Serverless besides our code, and how it gets there.

There are no bootstrap actions. Our own code (populator/core + job, the same deterministic,
content-addressed zip EMR uses) rides in `--py-files`. The job also imports boto3/botocore:
they are taken from the application's image (the emr-7.x Serverless images run Python 3.9;
if an image lacks them the driver fails with `No module named 'boto3'` and the failure says
so). botocore reads its data files from disk, so it cannot travel in a zip; the two ways to
bring it are a custom image (`--image-uri`, an image FROM the release's public image with
`pip install boto3`) or a packed environment (`--environment-archive s3://…/env.tar.gz`, made
with venv-pack on Amazon Linux 2023 / Python 3.9), unpacked as `./environment` on the driver
and every executor through `spark.archives`.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

__all__ = ["ENVIRONMENT_PYTHON", "environment_conf", "spark_conf"]

ENVIRONMENT_PYTHON = "./environment/bin/python"


def environment_conf(archive_uri: str) -> List[Tuple[str, str]]:
    """Spark settings that unpack a venv-pack archive and run Python from it everywhere."""
    return [
        ("spark.archives", f"{archive_uri}#environment"),
        ("spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON", ENVIRONMENT_PYTHON),
        ("spark.emr-serverless.driverEnv.PYSPARK_PYTHON", ENVIRONMENT_PYTHON),
        ("spark.executorEnv.PYSPARK_PYTHON", ENVIRONMENT_PYTHON),
    ]


def spark_conf(environment_archive: Optional[str] = None) -> Tuple[Tuple[str, str], ...]:
    """The job run's `--conf` settings: speculation off (the write budget counts on one attempt
    of each write task at a time), plus the environment archive's when one is shipped."""
    speculation = (("spark.speculation", "false"),)
    if environment_archive is None:
        return speculation
    return speculation + tuple(environment_conf(environment_archive))
