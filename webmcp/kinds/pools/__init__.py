"""Pool kinds: shared connection pools named by tools and upstreams (`pool: NAME`)."""
