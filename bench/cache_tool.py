"""The cache benchmark's backend: a lookup that costs 1 ms of waiting (a database or an API)."""

import asyncio


async def lookup(key: int) -> dict[str, object]:
    """Fetch record `key` (simulated: 1 ms)."""
    await asyncio.sleep(0.001)
    return {"key": key, "value": f"record {key}"}
