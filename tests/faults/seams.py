"""Fault-run seam, imported by the fault run's workers only (``--include tests.faults.seams``).

The publisher retries a transient failure after 1 m → 5 m → 15 m → 1 h; the fault run injects
enough of them that some executions are retried twice or three times, so each pool process
shortens those waits to seconds. Everything else about a retry (the state it waits in, the queue
it goes to, the attempt count) stays what production does.
"""

from celery.signals import worker_process_init

BACKOFF_SECONDS = (2, 4, 8, 16)


@worker_process_init.connect
def _compress_backoff(**kwargs) -> None:
    from publishing import publisher

    if not hasattr(publisher, "BACKOFF_SECONDS"):
        raise RuntimeError("publishing.publisher.BACKOFF_SECONDS is gone: update tests/faults/seams.py")
    publisher.BACKOFF_SECONDS = BACKOFF_SECONDS
