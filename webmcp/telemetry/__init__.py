"""Telemetry: per-call observation (metrics, spans, targets), /metrics, and the status snapshot."""
