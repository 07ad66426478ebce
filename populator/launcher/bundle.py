"""The artifacts an EMR step needs, content-addressed so uploads are idempotent.

- the job script (spark_jobs/populate_manifest.py);
- a zip of the cluster wing, `populator/core/` and `populator/job/` whole (no import walk: the
  folders are the boundary, and tests/test_bundle.py proves that nothing in them imports the
  launcher or anything EMR lacks); the zip is deterministic (sorted entries, fixed timestamps
  and modes) so the same sources give the same digest;
- a bootstrap script that installs boto3 only where python3 lacks it (EMR 7's python3 is 3.9:
  the pin is the last boto3 release that supports 3.9; the launcher's own boto3 needs 3.10);
- the validated storage config as self-describing JSON, uploaded with server-side encryption.

Every key holds the SHA-256 of the body (`<stem>-<sha256><ext>`): an upload whose key already
exists is skipped (HeadObject), and a re-submitted identical backfill names identical URIs.
The storage config is the exception: its key holds the SHA-256 of the config with the secret
replaced by a placeholder, never a digest of the secret, because the key is shown in the EMR
console, in `--dry-run` and in the request digest, where an unsalted hash of the whole config
would let anyone test guesses of the secret offline. Whether the object already holds this
exact config is told by the body's SHA-256 in the object's metadata, which only someone who
may read the object (and so the secret) can see.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from populator.core import s3io
from populator.core.location import S3Uri
from populator.core.storage_config import StorageConfig

__all__ = [
    "ALLOWED_THIRD_PARTY",
    "BOTO3_FOR_EMR",
    "JOB_SCRIPT",
    "PROJECT_ROOT",
    "Artifact",
    "Bundle",
    "BundleError",
    "Upload",
    "bootstrap_script",
    "build_bundle",
    "cluster_modules",
    "content_name",
    "job_zip",
    "storage_config_json",
    "upload_artifacts",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JOB_SCRIPT = PROJECT_ROOT / "spark_jobs" / "populate_manifest.py"
PACKAGE = "populator"
BOTO3_FOR_EMR = "1.42.97"  # last boto3 release supporting Python 3.9 (EMR 7's python3)
ALLOWED_THIRD_PARTY = frozenset({"boto3", "botocore", "pyspark", "py4j"})
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build time leaks in
ZIP_MODE = 0o100644


class BundleError(Exception):
    """The job cannot be packaged (a missing module, or a dependency EMR lacks)."""


@dataclass(frozen=True)
class Artifact:
    """One object to upload; `secret` ones are server-side encrypted and never printed."""

    role: str  # job, py-files, bootstrap, storage-config
    filename: str
    body: bytes
    content_type: str
    secret: bool = False

    @property
    def sha256(self) -> str:
        """The body's digest; for a secret artifact, a digest of the secret: never print it."""
        return hashlib.sha256(self.body).hexdigest()

    @property
    def shown_sha256(self) -> Optional[str]:
        """What outputs may show: the body's digest, or None for a secret artifact."""
        return None if self.secret else self.sha256

    def uri(self, assets: S3Uri) -> str:
        return f"s3://{assets.bucket}/{assets.key(self.filename)}"


@dataclass(frozen=True)
class Bundle:
    storage_config: Artifact
    bootstrap: Artifact
    job: Optional[Artifact] = None  # None when a custom --jar artifact runs instead
    py_files: Optional[Artifact] = None
    modules: Tuple[str, ...] = ()

    def artifacts(self) -> List[Artifact]:
        found = [self.job, self.py_files, self.bootstrap, self.storage_config]
        return [artifact for artifact in found if artifact is not None]


def content_name(stem: str, suffix: str, body: bytes) -> str:
    return f"{stem}-{hashlib.sha256(body).hexdigest()}{suffix}"


# --- the cluster wing, by folder -------------------------------------------------------------

CLUSTER_WINGS = ("core", "job")  # populator/core/ and populator/job/ ship whole


def cluster_modules(root: Path = PROJECT_ROOT) -> List[str]:
    """Every module of the cluster wing (`populator`, `populator/core/**`, `populator/job/**`),
    sorted. The folders are the boundary; tests/test_bundle.py proves that nothing in them
    imports the launcher or anything EMR lacks."""
    package = root / PACKAGE
    if not (package / "__init__.py").is_file():
        raise BundleError(f"{package}/__init__.py is missing")
    names = {PACKAGE}
    for wing in CLUSTER_WINGS:
        folder = package / wing
        if not (folder / "__init__.py").is_file():
            raise BundleError(f"{folder}/__init__.py is missing")
        for path in folder.rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def _module_file(name: str, root: Path) -> Optional[Path]:
    base = root.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def job_zip(modules: Iterable[str], root: Path = PROJECT_ROOT) -> bytes:
    """A deterministic zip of the modules' sources (sorted, fixed timestamps and modes)."""
    files = sorted(
        str(path.relative_to(root).as_posix())
        for path in (_module_file(name, root) for name in modules)
        if path is not None
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname in files:
            info = zipfile.ZipInfo(arcname, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ZIP_MODE << 16
            info.create_system = 3
            archive.writestr(info, (root / arcname).read_bytes(), compresslevel=9)
    return buffer.getvalue()


def bootstrap_script(boto3_version: str = BOTO3_FOR_EMR) -> bytes:
    """Runs on every node before Spark: install boto3 for python3 only when it is missing."""
    return (
        "#!/bin/bash\n"
        "# Bootstrap action of the event manifest populator: the job needs boto3 on every node.\n"
        "set -euo pipefail\n"
        f"python3 -c 'import boto3' 2>/dev/null || sudo python3 -m pip install --quiet "
        f"'boto3=={boto3_version}'\n"
    ).encode()


SECRET_PLACEHOLDER = "<secret>"
CONTENT_DIGEST = "populator-content-sha256"  # object metadata of the uploaded storage config


def storage_config_json(storage: StorageConfig) -> bytes:
    """The validated config as the job reads it (secrets inside: encrypt, never print)."""
    return (json.dumps(storage.to_self_describing(), indent=2) + "\n").encode("utf-8")


def storage_config_name(storage: StorageConfig) -> str:
    """The config's content-addressed name, computed without the secret (see the module doc)."""
    text = storage_config_json(storage).decode("utf-8")
    for secret in storage.secrets():
        text = text.replace(json.dumps(secret)[1:-1], SECRET_PLACEHOLDER)
    return content_name("storage-config", ".json", text.encode("utf-8"))


def build_bundle(
    storage: StorageConfig,
    include_job: bool = True,
    script: Path = JOB_SCRIPT,
    root: Path = PROJECT_ROOT,
) -> Bundle:
    """All artifacts, built locally (nothing is sent)."""
    config = storage_config_json(storage)
    boot = bootstrap_script()
    bundle = Bundle(
        storage_config=Artifact(
            "storage-config",
            storage_config_name(storage),
            config,
            "application/json",
            secret=True,
        ),
        bootstrap=Artifact(
            "bootstrap", content_name("bootstrap-boto3", ".sh", boot), boot, "text/x-shellscript"
        ),
    )
    if not include_job:
        return bundle
    if not script.is_file():
        raise BundleError(f"job script {script} is missing")
    modules = tuple(cluster_modules(root))
    archive = job_zip(modules, root)
    source = script.read_bytes()
    return Bundle(
        storage_config=bundle.storage_config,
        bootstrap=bundle.bootstrap,
        job=Artifact(
            "job", content_name(script.stem, script.suffix, source), source, "text/x-python"
        ),
        py_files=Artifact(
            "py-files", content_name(PACKAGE, ".zip", archive), archive, "application/zip"
        ),
        modules=modules,
    )


# --- the S3 edge ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    artifact: Artifact
    uri: str
    uploaded: bool  # False: the same content was already there


def _encryption(kms_key_id: Optional[str]) -> Dict[str, Any]:
    if kms_key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    return {"ServerSideEncryption": "AES256"}


def _same_secret_object(head: Dict[str, Any], wanted: Dict[str, Any]) -> bool:
    """The same config (a rotated secret keeps the name but changes the body) and encryption."""
    stored = (head.get("Metadata") or {}).get(CONTENT_DIGEST)
    return stored == wanted["Metadata"][CONTENT_DIGEST] and _same_encryption(head, wanted)


def _same_encryption(head: Dict[str, Any], wanted: Dict[str, Any]) -> bool:
    if head.get("ServerSideEncryption") != wanted["ServerSideEncryption"]:
        return False
    key = wanted.get("SSEKMSKeyId")
    return key is None or str(head.get("SSEKMSKeyId", "")).endswith(key.split("/")[-1])


def upload_artifacts(
    s3_client: Any,
    assets: S3Uri,
    artifacts: Iterable[Artifact],
    kms_key_id: Optional[str] = None,
    log: Callable[[str], None] = lambda message: None,
) -> List[Upload]:
    """Put each artifact unless its content-addressed key exists (re-put a secret object whose
    encryption differs from what is asked)."""
    done: List[Upload] = []
    for artifact in artifacts:
        key = assets.key(artifact.filename)
        uri = artifact.uri(assets)
        extra = _encryption(kms_key_id) if artifact.secret else {}
        if artifact.secret:
            extra["Metadata"] = {CONTENT_DIGEST: artifact.sha256}
        head = s3io.head_object(s3_client, assets.bucket, key)
        if head is not None and (not artifact.secret or _same_secret_object(head, extra)):
            log(f"{artifact.role}: {uri} already uploaded")
            done.append(Upload(artifact, uri, uploaded=False))
            continue
        s3io.put_bytes(
            s3_client, assets.bucket, key, artifact.body, ContentType=artifact.content_type, **extra
        )
        log(f"{artifact.role}: uploaded {uri} ({len(artifact.body):,} bytes)")
        done.append(Upload(artifact, uri, uploaded=True))
    return done
