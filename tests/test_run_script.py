"""`make run` (scripts/run.sh) end to end: a quiet terminal, a clean Ctrl-C, a clean checkout.

Runs the real script on a free port with its own var dir (CROSSPOST_VAR_DIR), requests a few
pages, presses "Ctrl-C" (SIGINT to its process group, as a terminal does) and reads what the
operator would have seen. The first run has a Telegram bot token (the bot polls a loopback Telegram
emulator), the second none: the bot runs only when configured, and the terminal says which."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from .emulators.telegram import TelegramEmulator
from .support.bot import BOT_TOKEN

ROOT = Path(__file__).resolve().parent.parent
BANNER = "Crosspost is running."

pytestmark = pytest.mark.slow

# Settings that would point the run away from its embedded defaults (a PostgreSQL test pass, say).
_ENV_OVERRIDES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "STATIC_ROOT",
    "MEDIA_ROOT",
    "S3_BUCKET",
    "TELEGRAM_BOT_TOKEN",
    "BOT_WEBHOOK_URL",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def _stop(proc: subprocess.Popen) -> None:
    """After a failure: TERM lets run.sh stop its processes (each in a session of its own, out of
    reach of a signal to its process group); KILL only if it does not."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def telegram():
    with TelegramEmulator() as tg:
        tg.add_bot(BOT_TOKEN, username="crosspost_ops_bot")
        yield tg


def test_make_run_is_quiet_stops_cleanly_and_leaves_the_checkout_clean(tmp_path, telegram):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in _ENV_OVERRIDES}
    # A busy machine (the suite runs on 2 cores beside this) can take minutes to start three
    # processes: the bounds here are for a hung script, not a measure of speed.
    env.update(
        HOST="127.0.0.1", PORT=str(port), CROSSPOST_VAR_DIR=str(tmp_path / "var"), DEBUG="true", RUN_HEALTH_WAIT_SECONDS="240"
    )
    env.update(TELEGRAM_BOT_TOKEN=BOT_TOKEN, TELEGRAM_API_BASE_URL=telegram.url)
    before = _git_status()
    output = tmp_path / "terminal.txt"
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while BANNER not in output.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, f"run.sh exited early:\n{output.read_text()}"
            time.sleep(0.25)
        assert BANNER in output.read_text(), output.read_text()

        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/health/") == 200  # the bot's heartbeat included: it is configured
        assert "==> Telegram bot: long polling" in output.read_text()
        methods = {request.path.rsplit("/", 1)[-1] for request in telegram.requests}
        assert {"setMyCommands", "getUpdates"} <= methods, methods  # the bot is up and polling
        assert _get(f"{base}/admin/login/") == 200
        assert _get(f"{base}/api/docs/") in (200, 302)
        assert _get(f"{base}/no-such-page/") == 404
        time.sleep(0.5)

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        code = proc.wait(timeout=120)
    finally:
        _stop(proc)

    text = output.read_text()
    assert code == 0, text
    assert BANNER in text
    assert "ERROR" not in text, text
    assert "WARNING" not in text, text
    assert "Traceback" not in text, text
    assert "Service Unavailable" not in text, text
    assert text.count("==> stopping") == 1, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert [line for line, n in Counter(lines).items() if n > 1] == [], text
    # Every process is gone: nothing is left listening on the port.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0

    # The logs went to the var dir: one access-log line per request, no startup 503 logged as an
    # error, no root or broker-hostname warnings.
    logs = tmp_path / "var" / "log"
    web = (logs / "web.log").read_text()
    assert "ERROR" not in web and "Service Unavailable" not in web and "Not Found" not in web, web
    access = (logs / "web-access.log").read_text()
    assert len(re.findall(r'"GET /no-such-page/ ', access)) == 1, access
    for name in ("worker.log", "beat.log"):
        log = (logs / name).read_text()
        assert "superuser privileges" not in log, log
        assert "No hostname was supplied" not in log, log
        assert "restarting" not in log, log
    bot = (logs / "bot.log").read_text()
    assert "restarting" not in bot and "Traceback" not in bot and BOT_TOKEN not in bot, bot

    # Nothing was written into the checkout (kombu's control/ folder used to land there).
    assert _git_status() == before
    assert not (ROOT / "control").exists()


def test_make_run_reports_a_process_that_exits_and_stops_the_others(tmp_path):
    # Something else holds the port: gunicorn cannot bind and exits; run.sh says so and stops.
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k not in _ENV_OVERRIDES}
        env.update(HOST="127.0.0.1", PORT=str(port), CROSSPOST_VAR_DIR=str(tmp_path / "var"), DEBUG="true")
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            text, _ = proc.communicate(timeout=90)
        finally:
            _stop(proc)

    assert proc.returncode == 1, text
    assert f"ERROR: web exited with status 1; see {tmp_path / 'var' / 'log' / 'web.log'}" in text
    assert "==> Telegram bot: not started (TELEGRAM_BOT_TOKEN is not set" in text  # no token, no bot
    assert not (tmp_path / "var" / "log" / "bot.log").exists()
    assert BANNER not in text and "WARNING" not in text
    assert text.count("==> stopping") == 1
    assert "Connection in use" in (tmp_path / "var" / "log" / "web.log").read_text()
    # The worker and beat were stopped with it, and not restarted.
    for name in ("worker.log", "beat.log"):
        assert "restarting" not in (tmp_path / "var" / "log" / name).read_text()
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout.split()
    assert leftovers == [], leftovers
