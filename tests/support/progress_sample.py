"""One mid-write progress object the tests publish and expect to see rendered
(60% of 1,000 keys, batch 2 of 3, 4 throttles)."""

from populator.core.progress import Counts, Progress


def writing_progress() -> Progress:
    """What a job publishes in its second of three write batches."""
    return Progress(
        phase="writing", batch=Counts(2, 3), keys_done=600, keys_expected=1000, percent=60.0,
        eta_seconds=40.0, writes_per_second=25.0, throttles=4, sequence=5,
    )  # fmt: skip
