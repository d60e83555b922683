"""Test doubles that ship with ladder (documented, never used on a production path)."""
