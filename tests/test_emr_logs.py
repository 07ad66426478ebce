"""Finding the cause of a failed step in EMR's logs (pure parsers, and the S3 fetch on moto)."""

from __future__ import annotations

import gzip

from populator.launcher.targets.common.logs import (
    Cause,
    LogText,
    decode_log,
    last_job_error,
    last_python_traceback,
    last_spark_error,
    probable_cause,
)
from populator.launcher.targets.emr.logs import (
    application_id,
    driver_container,
    fetch_step_logs,
    step_log_prefix,
)

APP = "application_1732248000000_0007"
STEP_STDERR = f"""\
25/11/22 04:00:02 INFO Client: Submitting application {APP} to ResourceManager
25/11/22 04:00:03 INFO YarnClientImpl: Submitted application {APP}
25/11/22 04:00:10 INFO Client: Application report for {APP} (state: RUNNING)
25/11/22 04:05:10 INFO Client:
\t client token: N/A
\t diagnostics: User application exited with status 1
Exception in thread "main" org.apache.spark.SparkException: Application {APP} finished with \
failed status
\tat org.apache.spark.deploy.yarn.Client.run(Client.scala:1335)
\tat org.apache.spark.deploy.SparkSubmit.main(SparkSubmit.scala)
"""
DRIVER_STDERR = """\
25/11/22 04:00:20 INFO SparkContext: Running Spark version 3.5.2-amzn-1
Traceback (most recent call last):
  File "/mnt/tmp/first.py", line 1, in <module>
    import nothing
ModuleNotFoundError: No module named 'nothing'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/mnt/yarn/container_01_000001/populate_manifest-abc.py", line 40, in <module>
    sys.exit(main())
  File "populator.zip/populator/job/driver.py", line 100, in run_job
    manifest.put(event)
botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling the \
PutItem operation: not authorized to perform: dynamodb:PutItem
25/11/22 04:05:00 ERROR ApplicationMaster: User application exited with status 1
"""
CAUSE = (
    "botocore.exceptions.ClientError: An error occurred (AccessDeniedException) when calling "
    "the PutItem operation: not authorized to perform: dynamodb:PutItem"
)


def test_last_traceback_with_its_frames_and_message() -> None:
    assert last_python_traceback(DRIVER_STDERR) == "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "/mnt/yarn/container_01_000001/populate_manifest-abc.py", line 40, in <module>',
            "    sys.exit(main())",
            '  File "populator.zip/populator/job/driver.py", line 100, in run_job',
            "    manifest.put(event)",
            CAUSE,
        ]
    )


def test_deep_tracebacks_keep_the_innermost_frames() -> None:
    frames = "".join(f'  File "f{i}.py", line {i}, in g{i}\n    call{i}()\n' for i in range(20))
    found = last_python_traceback(f"Traceback (most recent call last):\n{frames}KeyError: 'x'\n")
    assert found is not None
    lines = found.splitlines()
    assert lines[1] == "  ..." and lines[2] == '  File "f14.py", line 14, in g14'
    assert lines[-1] == "KeyError: 'x'" and len(lines) == 2 + 12 + 1


def test_executor_traceback_inside_a_java_exception() -> None:
    text = (
        "py4j.protocol.Py4JJavaError: An error occurred while calling o42.collect.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 failed\n"
        "org.apache.spark.api.python.PythonException: Traceback (most recent call last):\n"
        '  File "/mnt/worker.py", line 9, in process\n'
        "    parse(line)\n"
        "ValueError: bad line\n"
        "\tat org.apache.spark.api.python.BasePythonRunner.handle(PythonRunner.scala:572)\n"
    )
    assert last_python_traceback(text) == (
        "Traceback (most recent call last):\n"
        '  File "/mnt/worker.py", line 9, in process\n'
        "    parse(line)\n"
        "ValueError: bad line"
    )


def test_spark_error_prefers_the_deepest_specific_cause() -> None:
    assert last_python_traceback(STEP_STDERR) is None
    generic_only = last_spark_error(STEP_STDERR)
    assert generic_only is not None and generic_only.startswith('Exception in thread "main"')
    with_cause = (
        STEP_STDERR + "Caused by: java.io.FileNotFoundException: s3://b/x.py (No such file)\n"
    )
    assert last_spark_error(with_cause) == (
        "Caused by: java.io.FileNotFoundException: s3://b/x.py (No such file)"
    )
    oom = (
        "25/11/22 04:00:00 ERROR Executor: Exception in task 0.0\n"
        "java.lang.OutOfMemoryError: Java heap space\n"
    )
    assert last_spark_error(oom) == "java.lang.OutOfMemoryError: Java heap space"
    assert last_spark_error("all fine\n") is None


def test_job_error_line() -> None:
    text = "populator: batch 1 done\nerror: 12 writes failed after retries (see the report)\n"
    assert last_job_error(text) == "error: 12 writes failed after retries (see the report)"
    assert last_job_error("no errors\n") is None


def test_probable_cause_priority_driver_traceback_first() -> None:
    logs = [
        LogText("s3://l/driver/stderr.gz", DRIVER_STDERR),
        LogText("s3://l/step/stderr.gz", STEP_STDERR),
    ]
    cause = probable_cause(logs)
    assert cause is not None
    assert (cause.kind, cause.source) == ("python-traceback", "s3://l/driver/stderr.gz")
    assert cause.text.endswith(CAUSE)
    assert cause.render().startswith(
        "probable cause (python-traceback, from s3://l/driver/stderr.gz):\n"
    )
    job = [LogText("d", "error: the storage config is unreadable\n"), LogText("s", STEP_STDERR)]
    assert probable_cause(job) == Cause("job-error", "d", "error: the storage config is unreadable")
    assert probable_cause([LogText("s", STEP_STDERR)]).kind == "spark-error"  # type: ignore[union-attr]
    assert probable_cause([LogText("s", "nothing here\n")]) is None


def test_application_and_driver_container() -> None:
    assert application_id(STEP_STDERR) == APP
    assert application_id("no app") is None
    root = f"logs/j-1/containers/{APP}/"
    keys = [
        f"{root}container_1732248000000_0007_01_000001/stderr.gz",
        f"{root}container_1732248000000_0007_01_000002/stderr.gz",
        f"{root}container_e05_1732248000000_0007_02_000001/stderr.gz",
        f"{root}container_e05_1732248000000_0007_02_000003/stdout.gz",
    ]
    assert driver_container(keys) == f"{root}container_e05_1732248000000_0007_02_000001/"
    assert driver_container(keys[:2]) == f"{root}container_1732248000000_0007_01_000001/"
    assert driver_container([]) is None


def test_decode_and_prefix() -> None:
    assert decode_log(gzip.compress(b"hello\n")) == "hello\n"
    assert decode_log(gzip.compress(b"hello world\n" * 100)[:60]).startswith("hello world")
    assert decode_log(b"plain") == "plain"
    assert step_log_prefix("s3n://bkt/emr/logs", "j-1", "s-2") == ("bkt", "emr/logs/j-1/steps/s-2/")


def test_fetch_step_logs_from_s3(s3, bucket) -> None:
    base = "emr-logs/j-ABC/"
    put = lambda key, text: s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text.encode()))  # noqa: E731
    assert fetch_step_logs(s3, f"s3://{bucket}/emr-logs/", "j-ABC", "s-1") == []
    put(base + "steps/s-1/stderr.gz", STEP_STDERR)
    put(base + f"containers/{APP}/container_1732248000000_0007_01_000001/stderr.gz", DRIVER_STDERR)
    put(base + f"containers/{APP}/container_1732248000000_0007_01_000001/stdout.gz", "out\n")
    put(
        base + f"containers/{APP}/container_1732248000000_0007_01_000002/stderr.gz",
        "error: not me\n",
    )
    logs = fetch_step_logs(s3, f"s3://{bucket}/emr-logs/", "j-ABC", "s-1")
    driver = f"s3://{bucket}/{base}containers/{APP}/container_1732248000000_0007_01_000001/"
    assert [log.source for log in logs] == [
        driver + "stderr.gz",
        driver + "stdout.gz",
        f"s3://{bucket}/{base}steps/s-1/stderr.gz",
    ]
    assert logs[0].text == DRIVER_STDERR
    cause = probable_cause(logs)
    assert cause is not None and cause.text.endswith(CAUSE)
