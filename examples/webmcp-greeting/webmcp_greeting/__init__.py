"""A sample webmcp plugin: the `greeting` tool kind (see kind.py)."""
