"""LLM providers: the ``Provider`` seam, the built-ins and their registry."""
