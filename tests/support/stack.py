"""Real Celery worker and beat processes for tests and benchmarks, pointed at the
test database and a real broker."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlunsplit

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
CELERY = [sys.executable, "-m", "celery", "-A", "crosspost"]
SUPERVISE = ROOT / "scripts" / "supervise.sh"


def database_url_for_subprocesses() -> str:
    """The URL of the database this test process uses (the test database)."""
    s = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("worker processes need the PostgreSQL test database")
    netloc = f"{s['USER']}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}"
    return urlunsplit(("postgres", netloc, f"/{s['NAME']}", "", ""))


def stack_env(broker_url: str, var_dir: Path, **overrides) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocesses(),
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": "",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "SECRET_KEY": settings.SECRET_KEY,
        "CROSSPOST_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DB_CONN_MAX_AGE": "0",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return env


@contextmanager
def tasks_sent_to(broker_url: str):
    """Tasks this (test) process sends go to ``broker_url``, where the stack's workers listen.

    Services enqueue work on commit (``render_asset.delay`` after ``post_publish``), as the web
    process does in production; without this they would land in the test settings' filesystem
    broker (the checkout's var/broker), where no test worker looks.
    """
    from crosspost.celery import app

    saved = app.conf.broker_url, app.conf.broker_transport_options
    app.conf.broker_url, app.conf.broker_transport_options = broker_url, {"visibility_timeout": 3600}
    _reset_connections(app)
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.broker_transport_options = saved
        _reset_connections(app)


def _reset_connections(app) -> None:
    """Close this process's broker connections and forget the app's pools, made for the previous URL
    (what Celery does after a fork)."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@contextmanager
def celery(args: Sequence[str], env: dict, log: Path | None = None, supervised: bool = False):
    """A Celery process (``celery -A crosspost <args>``) in its own process group, stopped on exit.

    ``supervised``: run it under scripts/supervise.sh, as ``make run`` does, which starts it again
    whenever it exits; the supervisor is then the process yielded."""
    command = [*CELERY, *args]
    if supervised:
        command = [str(SUPERVISE), args[0], *command]
    with open(log or os.devnull, "ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            kill_group(proc, signal.SIGTERM)


def worker(
    env: dict,
    concurrency: int = 4,
    log: Path | None = None,
    include: Sequence[str] = (),
    name: str | None = None,
    supervised: bool = False,
):
    """A Celery worker (prefork, ``concurrency`` processes) on every queue, node ``name`` (default: a new one).

    ``include``: extra modules the worker imports at start (test seams, see worker_seams.py)."""
    args = ["worker", "-Q", "high,normal,low,media", "-c", str(concurrency), "--pool", "prefork"]
    args += ["--without-gossip", "--without-mingle", "--loglevel", "INFO", "-n", name or f"test{time.monotonic_ns()}@%h"]
    if include:
        args += ["--include", ",".join(include)]
    return celery(args, env, log, supervised)


def beat(env: dict, log: Path | None = None, supervised: bool = False):
    """Celery beat with the DatabaseScheduler, its state file in the stack's var dir."""
    schedule = str(Path(env["CROSSPOST_VAR_DIR"]) / "beat-schedule")
    return celery(["beat", "--loglevel", "INFO", "-s", schedule], env, log, supervised)


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid …" — comm may contain spaces and parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry.name))
    return children


def kill_supervised(supervisor: subprocess.Popen) -> int:
    """SIGKILL the process a supervisor runs, with its own children (a worker's pool), but not the
    supervisor, which then starts it again. Returns how many processes were killed."""
    victims = []
    for pid in child_pids(supervisor.pid):
        victims += [pid, *child_pids(pid)]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(victims)


class RedisServer:
    """A throw-away redis-server on a free loopback port, without persistence, that a test may stop,
    start again and freeze — never the shared test server."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        from .net import unused_port

        self.directory = directory
        self.port = port or unused_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.directory)]
        with open(self.directory / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.ping, timeout=10, interval=0.05, message=f"redis-server on port {self.port}")
        return self

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=5)

    def ping(self) -> bool:
        import redis

        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """What a Redis restart does to its clients: every connection is closed, the data is gone."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # in case it is frozen
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def freeze(self) -> None:
        """Connections stay open but nothing is answered (a hung server, a network partition)."""
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def wait_for(predicate, timeout: float, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")
