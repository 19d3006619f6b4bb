"""Embedding models: a backend that encodes texts, and a micro-batcher per model."""
