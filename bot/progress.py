"""Live progress messages (filled by the progress work)."""

import asyncio


async def progress_loop(bot) -> None:
    while True:
        await asyncio.sleep(3600)
