"""aiogram FSM storage in the database: each transition is written at once (no flush interval), so a
bot process killed mid-conversation resumes where the member was."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from asgiref.sync import sync_to_async

from .models import ConversationState


class DatabaseStorage(BaseStorage):
    def __init__(self) -> None:
        self.key_builder = DefaultKeyBuilder(with_bot_id=True)

    def _key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await sync_to_async(_write)(self._key(key), state=value or "")

    async def get_state(self, key: StorageKey) -> str | None:
        row = await sync_to_async(_read)(self._key(key))
        return (row.state or None) if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await sync_to_async(_write)(self._key(key), data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await sync_to_async(_read)(self._key(key))
        return dict(row.data) if row else {}

    async def close(self) -> None:
        pass


def _read(key: str) -> ConversationState | None:
    return ConversationState.objects.filter(key=key).first()


def _write(key: str, **fields) -> None:
    ConversationState.objects.update_or_create(key=key, defaults=fields)
