"""scripts/services.sh: the TEST_DATABASE_URL it prints names a database that exists."""

import os
import re
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _start(env: dict) -> dict[str, str]:
    result = subprocess.run(
        [str(ROOT / "scripts" / "services.sh"), "start"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return dict(re.findall(r"^export (\w+)=(\S+)$", result.stdout, re.MULTILINE))


@pytest.mark.postgres
def test_services_start_creates_the_database_it_prints_idempotently():
    # A database of its own, so the check never touches the one the other tests use. The servers
    # are the ones scripts/test.sh started (same CROSSPOST_SERVICES_DIR / PG_PORT): start reuses them.
    name = f"services_check_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PG_DB": name}
    url = _start(env)["TEST_DATABASE_URL"]
    assert url.endswith(f"/{name}")
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (name,)
        assert _start(env)["TEST_DATABASE_URL"] == url  # a second start finds it and prints the same URL
        with psycopg.connect(url, connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
