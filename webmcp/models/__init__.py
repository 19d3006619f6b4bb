"""Models: embedding models served to tools, behind one micro-batcher per model."""
