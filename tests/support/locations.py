"""Locations with and without an S3 scheme, for both predicates that route a location to S3
(``has_s3_scheme`` and the archive's ``archive_is_s3``): they must agree on every one."""

S3_SCHEME_CASES = [
    ("s3://b-1/x", True),
    ("s3a://b-1/x", True),
    ("s3n://b-1/x", True),
    ("s3://Bad_Bucket/x", True),  # routed to S3, then refused by parse_s3_uri
    ("s3a://bucket", True),
    ("S3N://bucket", True),
    ("file:///tmp/x", False),
    ("/tmp/x", False),
    ("relative/dir", False),
    ("file:///tmp/archive", False),
    ("/tmp/archive", False),
    ("s3-archive/run=x", False),
    ("hdfs://namenode/archive", False),
]
