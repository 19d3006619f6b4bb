"""Upstreams: groups of endpoints (replicas) of one backend, with balancing, health, breakers and retries."""
