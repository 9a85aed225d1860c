"""Test seam: a worker that imports this module (``worker(env, include=["tests.support.stall_seam"])``)
blocks its main thread for good on SIGUSR2. Its event loop, and with it the consumer, stops while the
process stays alive — what a consumer stuck in a broker reconnection looks like from outside.

Production workers never import this module.
"""

import signal
import threading

from celery.signals import worker_ready


@worker_ready.connect
def _install(**kwargs) -> None:
    # worker_ready is sent from the main thread, the only one that may install a signal handler.
    signal.signal(signal.SIGUSR2, lambda signum, frame: threading.Event().wait())
