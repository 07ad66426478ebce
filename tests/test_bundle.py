"""The job bundle: exactly the modules the job imports, deterministic, content-addressed."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import List, Tuple

import pytest

from populator.core.location import S3Uri
from populator.core.storage_config import Credentials, StorageConfig, parse_storage_config_text
from populator.launcher.bundle import (
    BOTO3_FOR_EMR,
    JOB_SCRIPT,
    BundleError,
    bootstrap_script,
    build_bundle,
    cluster_modules,
    content_name,
    job_zip,
    upload_artifacts,
)

ROOT = Path(__file__).resolve().parent.parent
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY/="
STORAGE = StorageConfig(
    name="m",
    region="us-east-1",
    table="manifest",
    credentials=Credentials("AKIAIOSFODNN7EXAMPLE", SECRET),
    schema_version="2-0-0",
    id=str(uuid.UUID(int=7)),
    purpose="EVENTS_MANIFEST",
)


def make_package(root: Path, files: dict) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_bundle_is_the_cluster_wing_by_folder(tmp_path: Path) -> None:
    make_package(
        tmp_path,
        {
            "populator/__init__.py": "",
            "populator/core/__init__.py": "",
            "populator/core/a.py": "",
            "populator/core/write/__init__.py": "",
            "populator/core/write/w.py": "",
            "populator/job/__init__.py": "",
            "populator/job/d.py": "",
            "populator/launcher/__init__.py": "",
            "populator/launcher/l.py": "",
            "populator/cli/c.py": "",
        },
    )
    assert cluster_modules(tmp_path) == [
        "populator",
        "populator.core",
        "populator.core.a",
        "populator.core.write",
        "populator.core.write.w",
        "populator.job",
        "populator.job.d",
    ]
    (tmp_path / "populator/job/__init__.py").unlink()
    with pytest.raises(BundleError, match=r"job/__init__\.py is missing"):
        cluster_modules(tmp_path)


STDLIB = set(sys.stdlib_module_names)
CLUSTER_OK = {"boto3", "botocore"}
SPARK = {"pyspark", "py4j"}


def _imports(path: Path) -> List[Tuple[str, int]]:
    """(absolute module, line) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = rel[:-1]  # the package of a module and of an __init__ alike
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((module, node.lineno))
    return found


def test_the_cluster_wing_imports_only_itself_the_stdlib_and_boto3() -> None:
    """Nothing in core/ or job/ (or the entry point) imports launcher/, cli/, devkit/ or a
    library EMR's python3 lacks; pyspark only where Spark runs (job/, the entry point)."""
    files = [JOB_SCRIPT]
    for wing in ("core", "job"):
        files += sorted((ROOT / "populator" / wing).rglob("*.py"))
    bad = []
    for path in files:
        in_core = "core" in path.relative_to(ROOT).parts[:2]
        for module, line in _imports(path):
            top = module.split(".")[0]
            if top == "populator":
                ok = module == "populator" or module.startswith(("populator.core", "populator.job"))
                if in_core and module.startswith("populator.job"):
                    ok = False  # the job uses core, never the other way round
            elif top == "__future__" or top in STDLIB or top in CLUSTER_OK:
                ok = True
            else:
                ok = top in SPARK and not in_core
            if not ok:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert bad == []
    assert cluster_modules() == sorted(cluster_modules())
    assert "populator.core.storage_config" in cluster_modules()


def test_real_job_closure_is_complete_and_launcher_free(tmp_path: Path) -> None:
    modules = cluster_modules()
    assert "populator" in modules and "populator.core.storage_config" in modules
    for launcher_only in (
        "populator.launcher.configs",
        "populator.launcher.iglu",
        "populator.launcher.bundle",
        "populator.launcher.redact",
    ):
        assert launcher_only not in modules
    launcher = ("populator.cli", "populator.launcher")
    assert not any(m.startswith(launcher) for m in modules)
    # Everything the script imports when loaded must come from the zip alone.
    zipped = tmp_path / "populator.zip"
    zipped.write_bytes(job_zip(modules))
    script = tmp_path / "job.py"
    shutil.copy(JOB_SCRIPT, script)
    probe = (
        "import runpy, sys\n"
        f"runpy.run_path({str(script)!r}, run_name='not_main')\n"
        "import json\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'populator')))\n"
        "print(sys.modules['populator'].__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(zipped)}
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    loaded, origin = run.stdout.splitlines()
    assert set(json.loads(loaded)) <= set(modules)
    assert origin.startswith(str(zipped))


def test_zip_is_deterministic_and_sorted() -> None:
    modules = ["populator.core.since", "populator", "populator.core.location"]
    first, second = job_zip(modules), job_zip(list(reversed(modules)))
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == [
            "populator/__init__.py",
            "populator/core/location.py",
            "populator/core/since.py",
        ]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        since = "populator/core/since.py"
        assert archive.read(since) == Path(since).read_bytes()


def test_bootstrap_installs_boto3_only_when_missing() -> None:
    assert bootstrap_script("1.42.97").decode() == (
        "#!/bin/bash\n"
        "# Bootstrap action of the event manifest populator: the job needs boto3 on every node.\n"
        "set -euo pipefail\n"
        "python3 -c 'import boto3' 2>/dev/null || sudo python3 -m pip install --quiet "
        "'boto3==1.42.97'\n"
    )
    assert BOTO3_FOR_EMR.startswith("1.42.")  # 1.43 needs Python 3.10; EMR 7 has 3.9


def test_bundle_names_are_content_addressed() -> None:
    bundle = build_bundle(STORAGE)
    roles = [a.role for a in bundle.artifacts()]
    assert roles == ["job", "py-files", "bootstrap", "storage-config"]
    for artifact in bundle.artifacts():
        digest = hashlib.sha256(artifact.body).hexdigest()
        assert artifact.sha256 == digest
        assert (digest in artifact.filename) is not artifact.secret
    assert bundle.job is not None and bundle.job.body == JOB_SCRIPT.read_bytes()
    assert bundle.job.filename == f"populate_manifest-{bundle.job.sha256}.py"
    assert bundle.storage_config.secret and not bundle.bootstrap.secret
    assert parse_storage_config_text(bundle.storage_config.body.decode()) == STORAGE
    assert build_bundle(STORAGE) == bundle
    assert content_name("x", ".json", b"{}") == f"x-{hashlib.sha256(b'{}').hexdigest()}.json"
    custom = build_bundle(STORAGE, include_job=False)
    assert [a.role for a in custom.artifacts()] == ["bootstrap", "storage-config"]


def _with_secret(secret: str, table: str = "manifest") -> StorageConfig:
    return dataclasses.replace(
        STORAGE, table=table, credentials=Credentials("AKIAIOSFODNN7EXAMPLE", secret)
    )


def test_the_config_name_is_no_digest_of_the_secret() -> None:
    """Issue 10.8: the key (shown in the EMR console and --dry-run) must not be an offline
    oracle for guesses of the secret: it is the same whatever the secret, and no digest of
    anything holding the secret appears in it or in the shown upload digests."""
    names = {build_bundle(_with_secret(s), include_job=False).storage_config.filename
             for s in (SECRET, "another-secret-of-40-characters-xxxxxxxxx")}
    assert len(names) == 1
    assert build_bundle(_with_secret(SECRET, "other"), include_job=False).storage_config.filename \
        not in names
    config = build_bundle(STORAGE, include_job=False).storage_config
    assert config.sha256 not in config.filename and config.shown_sha256 is None
    redacted = config.body.decode().replace(SECRET, "<secret>")
    assert hashlib.sha256(redacted.encode()).hexdigest() in config.filename


def test_a_rotated_secret_replaces_the_uploaded_config(s3, bucket) -> None:
    assets = S3Uri(bucket, "populator/rotated/")
    old = build_bundle(_with_secret(SECRET), include_job=False).storage_config
    new = build_bundle(_with_secret("rotated-secret-0123456789abcdefghijKLMN"), include_job=False)
    assert [u.uploaded for u in upload_artifacts(s3, assets, [old])] == [True]
    assert [u.uploaded for u in upload_artifacts(s3, assets, [old])] == [False]
    assert [u.uploaded for u in upload_artifacts(s3, assets, [new.storage_config])] == [True]
    body = s3.get_object(Bucket=bucket, Key=assets.key(old.filename))["Body"].read()
    assert body == new.storage_config.body


def test_upload_skips_present_objects_and_encrypts_the_config(s3, bucket) -> None:
    bundle = build_bundle(STORAGE, include_job=False)
    assets = S3Uri(bucket, "populator/assets/")
    said: list = []
    first = upload_artifacts(s3, assets, bundle.artifacts(), log=said.append)
    assert [u.uploaded for u in first] == [True, True]
    config_key = f"populator/assets/{bundle.storage_config.filename}"
    assert first[1].uri == f"s3://{bucket}/{config_key}"
    head = s3.head_object(Bucket=bucket, Key=config_key)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/json"
    body = s3.get_object(Bucket=bucket, Key=config_key)["Body"].read()
    assert body == bundle.storage_config.body
    boot = s3.head_object(Bucket=bucket, Key=f"populator/assets/{bundle.bootstrap.filename}")
    assert "ServerSideEncryption" not in boot or boot["ServerSideEncryption"] == "AES256"

    again = upload_artifacts(s3, assets, bundle.artifacts(), log=said.append)
    assert [u.uploaded for u in again] == [False, False]
    assert any("already uploaded" in line for line in said)
    assert not any(SECRET in line for line in said)

    # Asking for KMS re-puts the config (same key, same content, now aws:kms).
    kms = upload_artifacts(s3, assets, bundle.artifacts(), kms_key_id="alias/backfill")
    assert [u.uploaded for u in kms] == [False, True]
    head = s3.head_object(Bucket=bucket, Key=config_key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert [
        u.uploaded for u in upload_artifacts(s3, assets, bundle.artifacts(), "alias/backfill")
    ] == [
        False,
        False,
    ]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="populator/assets/")["KeyCount"]
    assert listed == 2
    assert json.loads(body)["data"]["dynamodbTable"] == "manifest"
