"""Sync work from the bot's async handlers.

Django's ORM may not run in async code, so handlers call services through ``sync_to_async``. The
default (thread-sensitive) runs every call in ONE shared thread: right for quick reads and writes,
wrong for work that waits on the network (a platform check, translations and AI captions during a
plan) — one member's slow platform would hold every other member's screens. ``network`` runs such
work in a pooled thread instead and closes that thread's database connection afterwards."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def network(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(function)
    def closing(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()  # this thread's connections only

    return sync_to_async(closing, thread_sensitive=False)
