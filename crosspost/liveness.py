"""Worker liveness: a worker proves to itself that its consumer still receives messages.

Every ``WORKER_PROBE_INTERVAL_SECONDS`` the worker sends a probe message, through the broker, to a
queue only it consumes; its consumer records each arrival in memory and as the mtime of a file
under ``VAR_DIR/run/`` (read by ``manage.py worker_alive``, the container healthcheck). When the
broker has accepted a probe and the consumer has not received it (nor anything after it) within
``WORKER_STALE_SECONDS``, the worker no longer consumes — its main process is alive but stuck,
e.g. in a broker reconnection that never ends — so it exits with status ``EXIT_STALE`` and its
supervisor (scripts/supervise.sh, docker's restart policy) starts a fresh one. While the broker
itself is unreachable nothing is counted: a fresh worker could not consume either. A worker that
Celery itself gives up on ("Unrecoverable error") exits with status 1 and is restarted the same way.

The probe is consumed by the main process on its own channel, beside the task consumer: a pool
busy with long publishes or renders does not delay it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from celery import bootsteps
from django.conf import settings
from kombu import Consumer, Exchange, Queue

logger = logging.getLogger(__name__)

EXIT_STALE = 70  # EX_SOFTWARE: the worker stopped consuming and exited to be restarted
PROBE_EXCHANGE = Exchange("crosspost.probe", type="direct", durable=False)
# Publishing a probe must never hang the watchdog on a broker that accepts connections but does
# not answer; these bound it (transport options a transport does not know are ignored).
PROBE_TRANSPORT_OPTIONS = {"socket_timeout": 5, "socket_connect_timeout": 5}


def probe_queue(nodename: str) -> Queue:
    """The queue only the worker ``nodename`` consumes, for its own probes."""
    return Queue(f"crosspost.probe.{nodename}", PROBE_EXCHANGE, routing_key=nodename, durable=False)


def probe_path(nodename: str) -> Path:
    return Path(settings.VAR_DIR) / "run" / f"consumer-{nodename}.alive"


def probe_age(nodename: str) -> float | None:
    """Seconds since the worker ``nodename`` (on this machine) last consumed a probe; None if it never did."""
    try:
        return max(0.0, time.time() - probe_path(nodename).stat().st_mtime)
    except FileNotFoundError:
        return None


def send_probe(app, nodename: str) -> None:
    """Publish one probe for ``nodename`` on a connection of its own (raises when the broker is unreachable)."""
    queue = probe_queue(nodename)
    with app.connection_for_write(transport_options=PROBE_TRANSPORT_OPTIONS) as connection:
        connection.ensure_connection(max_retries=1)
        connection.Producer().publish(
            {"node": nodename, "sent_at": time.time()},
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
            serializer="json",
            retry=False,
        )


class ProbeState:
    """When the worker's consumer last received a probe."""

    def __init__(self, nodename: str) -> None:
        self.nodename = nodename
        self.path = probe_path(nodename)
        self.seen = 0.0  # time.monotonic() of the last probe received

    def received(self) -> None:
        self.seen = time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()


class ConsumerWatchdog(bootsteps.StartStopStep):
    """Worker bootstep: sends the probes and exits the process when none has arrived for too long.

    A thread, not a timer on the worker's event loop: the loop is what may be stuck.
    """

    label = "Consumer watchdog"
    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.enabled = settings.WORKER_STALE_SECONDS > 0
        worker.consumer_probe = ProbeState(worker.hostname) if self.enabled else None
        self._stopping = threading.Event()

    def start(self, worker) -> None:
        threading.Thread(target=self._watch, args=(worker,), name="consumer-watchdog", daemon=True).start()

    def stop(self, worker) -> None:
        # A shutdown (warm or cold) stops consuming on purpose, and may wait minutes for tasks.
        self._stopping.set()

    terminate = shutdown = stop

    def _watch(self, worker) -> None:
        state: ProbeState = worker.consumer_probe
        unanswered_since = None  # when the oldest probe the broker accepted and the consumer has not received was sent
        unreachable = False
        while not self._stopping.is_set():
            if unanswered_since is not None and state.seen >= unanswered_since:
                unanswered_since = None
            if unanswered_since is not None and time.monotonic() - unanswered_since > settings.WORKER_STALE_SECONDS:
                self._exit(time.monotonic() - unanswered_since, state)
            sending = time.monotonic()
            try:
                send_probe(worker.app, state.nodename)
            except Exception as exc:  # every broker failure is the same to us: log once, keep watching
                if not unreachable:
                    logger.warning("Cannot send the consumer probe to the broker: %r", exc)
                unreachable = True
                unanswered_since = None  # an outage is no fault of this worker; count again once it is over
            else:
                if unreachable:
                    logger.info("The consumer probe reaches the broker again.")
                unreachable = False
                unanswered_since = unanswered_since or sending
            self._stopping.wait(settings.WORKER_PROBE_INTERVAL_SECONDS)

    def _exit(self, waited: float, state: ProbeState) -> None:
        if self._stopping.is_set():
            return
        logger.critical(
            "The worker %s has not received its own probe, sent through the broker %.0f s ago: it no longer "
            "consumes. Exiting with status %d so that its supervisor starts a fresh one.",
            state.nodename,
            waited,
            EXIT_STALE,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        # The main thread is stuck, so nothing graceful can run. The pool processes die with this one
        # (Celery sets SIGKILL as their parent-death signal): a publish one was running is reconciled like
        # any crashed publish (its lease runs out, then lookup), the way a supervisor's kill would.
        os._exit(EXIT_STALE)


class ProbeConsumer(bootsteps.ConsumerStep):
    """Consumer bootstep: consumes the worker's probes on the consumer's connection.

    Restarted with the consumer on every reconnection, so a probe arrives only while the consumer
    really receives messages from the broker.
    """

    label = "Consumer probe"

    def __init__(self, c, **kwargs) -> None:
        super().__init__(c, **kwargs)
        self.state: ProbeState | None = getattr(c.controller, "consumer_probe", None)
        self.enabled = self.state is not None

    def get_consumers(self, channel) -> list[Consumer]:
        return [Consumer(channel, queues=[probe_queue(self.state.nodename)], callbacks=[self.on_probe], accept=["json"])]

    def stop(self, c) -> None:
        if c.connection is None:
            # After a connection error Celery has already closed the connection, and every channel
            # on it; there is nothing left to cancel (and ConsumerStep would fail trying).
            self.consumers = None
            return
        super().stop(c)

    def shutdown(self, c) -> None:
        if c.connection is None:
            self.consumers = None
            return
        super().shutdown(c)

    def on_probe(self, body, message) -> None:
        message.ack()
        self.state.received()
