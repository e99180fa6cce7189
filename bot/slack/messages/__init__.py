"""Results → Block Kit. Each module lays out one kind of message; its sentences are macros in
a `.txt.j2` template (a team may override it), its action ids come from `bot.slack.ids`."""
