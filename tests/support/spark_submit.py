"""For the acceptance tests that run what EMR or EMR Serverless was sent on a local master:
the sample backfill, its artifacts downloaded from moto's S3, and the run itself from an empty
working directory without PYTHONPATH (so every populator module comes from the uploaded zip)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from devkit.jobs import SECRET
from devkit.sample_archive import SampleArchive, realistic_archive, write_to_s3
from populator.launcher.redact import secret_forms


def split_s3(uri: str) -> Tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def spark_submit() -> str:
    """pyspark's own spark-submit (imported late: only the spark tests need pyspark)."""
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")


@dataclass(frozen=True)
class Replay:
    """A realistic sample archive in moto's S3, the table it should fill, and what a target was
    sent to fill it, run again here."""

    s3: Any
    setup: Dict[str, Any]  # conftest's: bucket, archive, storage and resolver paths, table
    sample: SampleArchive

    @classmethod
    def written(cls, s3: Any, setup: Dict[str, Any]) -> Replay:
        sample = realistic_archive(now=datetime.now(timezone.utc), runs=3, events_per_run=25)
        assert write_to_s3(sample, s3, setup["bucket"], "enriched/archive") == setup["archive"]
        return cls(s3, setup, sample)

    def download(self, uri: str, target: Path) -> str:
        bucket, key = split_s3(uri)
        target.write_bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return str(target)

    def read_json(self, uri: str) -> Dict[str, Any]:
        bucket, key = split_s3(uri)
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def run(
        self, command_for: Callable[[Path], List[str]], endpoint: str, tmp_path: Path
    ) -> subprocess.CompletedProcess:
        """Run ``command_for(workdir)`` in a fresh directory against moto; it must succeed."""
        workdir = tmp_path / "elsewhere"
        workdir.mkdir()
        command = command_for(workdir)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AWS_PROFILE")}
        env.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "PYSPARK_PYTHON": sys.executable,
                "PYSPARK_DRIVER_PYTHON": sys.executable,
                "SPARK_LOCAL_IP": "127.0.0.1",
            }
        )
        ran = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600
        )
        assert ran.returncode == 0, ran.stderr[-4000:]
        return ran


def assert_no_secret(*texts: str) -> None:
    """The storage config's secret key, in no form, in any of ``texts``."""
    for text in texts:
        assert not any(form in text for form in secret_forms(SECRET))
