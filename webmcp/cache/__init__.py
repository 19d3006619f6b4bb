"""Caches: policies declared under `caches:`, memory and Redis tiers, invalidation, single-flight."""
