"""The tool `bench_mcp` serves with ``python -m aether mcp serve benchmarks/_mcp_tools.py``."""

from aether import register_tool


@register_tool
async def noop(x: int) -> int:
    """Return x."""
    return x
