"""slabot: the sales ↔ marketing SLA, run every day in Slack."""

__version__ = "0.1.0"
