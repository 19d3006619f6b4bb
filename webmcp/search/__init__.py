"""Semantic search over a corpus of files: chunking, reading the corpus, the on-disk index and its exact
cosine search. Used by `kind: semantic_search` (kinds/tools/semantic_search.py) and `webmcp index`; numpy is
imported by `store` and `index` only, which those load when a config uses the kind."""
