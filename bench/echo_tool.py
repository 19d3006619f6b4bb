"""The benchmark tool: returns its argument unchanged (the same `echo` the peerbench peers expose)."""


async def echo(text: str) -> str:
    """Return the text unchanged."""
    return text
