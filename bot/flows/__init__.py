"""Flows: queue what a feature says and deliver it. The CLI, the clock and the listeners call
the same flow; a flow calls the feature's data (bot.services) and messages
(bot.slack.messages) and never builds a figure or a block itself."""
