"""Shared benchmark plumbing: a throw-away database, JSON-lines output."""

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crosspost.settings")


def report(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"name": name, "value": round(value, 3), "unit": unit, **extra}), flush=True)


@contextmanager
def scratch_database():
    """A freshly migrated database (DATABASE_URL's server, a test_ name), dropped afterwards."""
    import django

    django.setup()
    from django.db import connection

    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


def unpaced_policy(workspace, platform: str):
    """A publishing policy that lets every account post at once: the runs measure the engine, not pacing."""
    from publishing.models import PublishingPolicy

    return PublishingPolicy.objects.create(
        workspace=workspace,
        platform=platform,
        min_interval_s=1,
        stagger_min_s=0,
        stagger_max_s=0,
        daily_limit=1000,
        warmup_curve=[1000],
        warmup_ramp_days=0,
    )
