"""Prompt-injection and jailbreak detection: normalization, rules, learned classifier."""
