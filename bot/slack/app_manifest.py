"""The app manifest `slabot init` prints, made ready to paste: for slabot's own public URL, or
for Socket Mode. The shipped `manifest.yml` is edited as text, so its comments stay."""

from __future__ import annotations

import re

PLACEHOLDER = "https://slabot.example.com"


def for_url(manifest: str, url: str) -> str:
    """Every request URL (slash commands, events, interactivity) at `url`'s /slack/events."""
    return manifest.replace(PLACEHOLDER, url.rstrip("/"))


def for_socket_mode(manifest: str) -> str:
    """Socket Mode on and no request URLs: Slack sends everything over the app's connection."""
    text = re.sub(r"(?m)^\s*(request_)?url: " + re.escape(PLACEHOLDER) + r"\S*\n", "", manifest)
    return text.replace("socket_mode_enabled: false", "socket_mode_enabled: true")
