"""Salesforce's record ids: 15 characters (case-sensitive) or 18 (with a checksum)."""

from __future__ import annotations

import re

_SALESFORCE_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id18(raw: str) -> str:
    """A Salesforce id in its 18-character form: a 15-character (case-sensitive) id gets the
    checksum Salesforce itself appends, so report ids and API ids of one record agree."""
    text = raw.strip()
    if len(text) != 15 or not text.isalnum():
        return text
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(text[start : start + 5]) if "A" <= char <= "Z")
        suffix += _CHECKSUM[bits]
    return text + suffix


def is_salesforce_id(text: str) -> bool:
    return bool(_SALESFORCE_ID.match(text.strip()))
