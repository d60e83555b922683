"""Tracing, metrics and logs: a small facade the pipeline talks to."""
