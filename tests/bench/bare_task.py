"""The baseline of the engine benchmark: the least a publish must do, as a bare Celery task on the
same broker, database and worker options as the engine — one conditional UPDATE to claim, one HTTP
POST to a loopback server, one UPDATE to record. ``engine_vs_bare_ratio`` compares the engine with it.

Loaded by the benchmark's worker with ``--include bare_task`` (``tests/bench`` on PYTHONPATH).
"""

import requests
from celery import shared_task
from django.db import connection

TABLE = "bench_bare_publish"
CREATE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id integer PRIMARY KEY, status varchar(16) NOT NULL, token varchar(32) NOT NULL,
    remote_id varchar(200) NOT NULL DEFAULT '', started_at timestamptz, finished_at timestamptz
)"""


@shared_task(name="bench.bare_publish", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def bare_publish(row_id: int, token: str, url: str, chat_id: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET status = 'posting', started_at = now() WHERE id = %s AND status = 'queued' AND token = %s",  # noqa: S608
            [row_id, token],
        )
        if not cursor.rowcount:
            return "stale"
    # A new connection per publish, as the platform adapters open one per account (its own proxy).
    answer = requests.post(url, json={"chat_id": chat_id, "text": f"Bare {row_id}"}, timeout=30).json()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET status = 'success', remote_id = %s, finished_at = now() WHERE id = %s AND token = %s",  # noqa: S608
            [str(answer["result"]["message_id"]), row_id, token],
        )
    return "success"
