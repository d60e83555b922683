"""PII detection and typed, consistent redaction."""
