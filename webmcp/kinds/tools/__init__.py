"""Tool kinds: python, command, http, static."""
