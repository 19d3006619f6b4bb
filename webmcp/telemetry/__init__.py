"""Telemetry: per-call observation (counters, histograms, spans, the targets window); status/ exports it."""
