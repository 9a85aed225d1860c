"""The bot's handlers. Each module declares its handlers on a ``Routes`` and every dispatcher gets
fresh routers from it (an aiogram router belongs to one dispatcher; a restarted bot builds anew).
Order matters: start comes before everything that has no state of its own, so /cancel and the
Cancel button work in every state; compose comes before start only for its own states' cancel,
which also deletes the draft its preview made."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Router


class Routes:
    """Handler declarations, like an aiogram Router's decorators, turned into a new Router per call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.entries: list[tuple[str, tuple, Callable]] = []

    def _on(self, observer: str, *filters) -> Callable[[Callable], Callable]:
        def declare(handler: Callable) -> Callable:
            self.entries.append((observer, filters, handler))
            return handler

        return declare

    def message(self, *filters) -> Callable[[Callable], Callable]:
        return self._on("message", *filters)

    def callback_query(self, *filters) -> Callable[[Callable], Callable]:
        return self._on("callback_query", *filters)

    def router(self) -> Router:
        router = Router(name=self.name)
        for observer, filters, handler in self.entries:
            getattr(router, observer).register(handler, *filters)
        return router


def routers() -> list[Router]:
    from . import accounts, admin_section, campaigns, compose, posts, review, settings, start, studio

    # compose first: its /cancel and Cancel act only inside its own states (and delete the draft a
    # preview made); then start (menu, help, cancel anywhere), then the sections.
    sections = (compose, start, campaigns, studio, posts, review, accounts, settings, admin_section)
    return [module.routes.router() for module in sections] + [start.fallback.router()]
