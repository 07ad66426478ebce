"""Where a remote backfill runs and keeps its files: the archive bucket's region, and the
default S3 folders for logs and uploads (the same for EMR and EMR Serverless)."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from populator.core import s3io
from populator.core.errors import UserError
from populator.core.location import S3Uri
from populator.core.retry import error_code

__all__ = ["bucket_region", "locations"]


def bucket_region(s3: Any, bucket: str) -> str:
    """The archive bucket's region (GetBucketLocation: None means us-east-1, EU eu-west-1)."""
    try:
        return s3io.bucket_region(s3, bucket)
    except Exception as error:
        code = error_code(error)
        if code == "NoSuchBucket":
            raise UserError(f"ENRICHED_ARCHIVE: bucket '{bucket}' does not exist") from None
        if code in ("AccessDenied", "AllAccessDisabled"):
            raise UserError(
                f"cannot read the region of bucket '{bucket}' ({code}): give --region"
            ) from None
        raise


def locations(
    archive: S3Uri, log_path: Optional[S3Uri], assets: Optional[S3Uri]
) -> Tuple[S3Uri, S3Uri]:
    """(log URI, assets): defaults under `populator/` in the archive bucket; --assets defaults
    to a `populator-assets/` folder beside --log-path when that is given."""
    if log_path is None:
        return S3Uri(archive.bucket, "populator/logs/"), assets or S3Uri(
            archive.bucket, "populator/assets/"
        )
    parent = log_path.prefix.rstrip("/").rpartition("/")[0]
    beside = S3Uri(log_path.bucket, (parent + "/" if parent else "") + "populator-assets/")
    return log_path, assets or beside
