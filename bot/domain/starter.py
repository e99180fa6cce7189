"""The starter agreement `slabot init` writes, made to match a CRM: its MQL split and per-source
overrides named as the CRM's own source values arrive (HubSpot's Original Source, Salesforce's
Lead Source), so the first digest's split is not "other sources" for every lead."""

from __future__ import annotations

import re


def for_crm(starter: str, split: str, override: str) -> str:
    """`starter` (examples/sla.toml) with a CRM's split (`[marketing.sources]` lines over its
    standard sources) and its per-source override of `override` in place of the example's
    website/outbound."""
    text = re.sub(
        r"(?ms)^(\[marketing\.sources\][^\n]*\n).*?(?=^\n)", lambda m: m.group(1) + split, starter
    )
    return text.replace("[funnel.sources.outbound]", f"[funnel.sources.{override}]")
