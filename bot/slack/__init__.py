"""Everything that talks to Slack: rendering and delivery."""
