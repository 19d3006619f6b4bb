"""Transports: byte streams in and out of a protocol Session."""
