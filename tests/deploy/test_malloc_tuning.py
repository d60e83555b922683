"""The serve command caps glibc malloc arenas; worker processes inherit it through the env."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway.malloc_tuning import limit_arenas


def test_rejects_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="arenas must be >= 1"):
        limit_arenas(0)


def test_sets_the_env_for_children_and_keeps_an_operators_value() -> None:
    # In a child process: mallopt and os.environ changes must not leak into this test run.
    code = (
        "import os\n"
        "from gateway.malloc_tuning import limit_arenas\n"
        "accepted = limit_arenas(3)\n"
        "print(accepted, os.environ['MALLOC_ARENA_MAX'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    accepted, value = out.stdout.split()
    assert value == "3"
    if sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION"):
        assert accepted == "True"  # glibc accepts M_ARENA_MAX
    env["MALLOC_ARENA_MAX"] = "5"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[1] == "5"
