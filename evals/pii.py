"""The PII scan of every answer, through the guardrails' detector when it is installed.

Only structured identifiers are scanned (e-mail, phone, card numbers): person
names are left out, because blueprint answers legitimately name roles and
people-like titles, and a name detector would count them as leaks.
"""

from __future__ import annotations

import importlib
import logging

from evals.metrics.safety import PiiScanner

log = logging.getLogger(__name__)

DETECTOR_MODULE = "guardrails.pii.detector"
SCANNED_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD")


def load_pii_scanner() -> PiiScanner | None:
    """``text -> ["EMAIL", ...]`` via ``guardrails.pii.detector.detect_pii``; None if absent."""
    try:
        module = importlib.import_module(DETECTOR_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name and DETECTOR_MODULE.startswith(exc.name):
            log.info("PII detector %s not installed; only the pii slice is scanned", DETECTOR_MODULE)
            return None
        raise
    detect = getattr(module, "detect_pii", None)
    if detect is None:
        log.warning("%s has no detect_pii(); only the pii slice is scanned", DETECTOR_MODULE)
        return None

    def scan(text: str) -> list[str]:
        return [span.type for span in detect(text, SCANNED_TYPES)]

    return scan
