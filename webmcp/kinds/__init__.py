"""Kinds: one module per kind of component, registered by name. See registry.py and imports.py."""
