"""/api/schema/ asked by several threads at once in a fresh process (a new gunicorn worker with
--threads): every answer is the schema. drf-spectacular's generator is not thread-safe on first
use (its issues #1122, #1368) — without crosspost.schema_view's lock 7 of 8 such requests were 500s,
and the API fuzzer's two processes hit it in CI."""

import subprocess
import sys

from .support.stack import ROOT

SCRIPT = """
import threading
import django
django.setup()
from django.test import Client

statuses, barrier = [], threading.Barrier(8)

def ask():
    client = Client(raise_request_exception=False)
    barrier.wait()
    statuses.append(client.get("/api/schema/").status_code)

threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(statuses))
"""


def test_the_schema_is_served_to_parallel_first_requests(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "crosspost.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CROSSPOST_VAR_DIR": str(tmp_path),
        "ALLOWED_HOSTS": "testserver",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "memory://",
        "LOG_LEVEL": "CRITICAL",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == str([200] * 8)
