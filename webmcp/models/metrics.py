"""Micro-batcher metrics on prometheus-client's default REGISTRY, labelled by model name.

Mean batch size and padded tokens per batch are what calibration tunes `max_batch_size` and
`max_batch_tokens` with (TEI exports the same); queue depth shows load before `max_queue` rejects.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BATCH_SIZE = Histogram("webmcp_model_batch_size", "Inputs per batch given to the model.", ["model"],
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
BATCH_TOKENS = Histogram("webmcp_model_batch_padded_tokens",
                         "Padded tokens per batch: longest input (capped at the model's length) x inputs.", ["model"],
                         buckets=(16, 64, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768))
BATCH_SECONDS = Histogram("webmcp_model_batch_seconds", "Time the model took per batch.", ["model"],
                          buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
QUEUE_INPUTS = Gauge("webmcp_model_queue_inputs", "Inputs waiting for the model (not yet in a batch).", ["model"])
INPUTS = Counter("webmcp_model_inputs_embedded_total", "Inputs the model embedded.", ["model"])
LOAD_SECONDS = Gauge("webmcp_model_load_seconds", "How long the model's last load took.", ["model"])
LOAD_MEMORY = Gauge("webmcp_model_load_memory_bytes", "How much the process's peak resident memory grew while the "
                    "model loaded.", ["model"])
