"""What messages show: the data a feature computes for people to read (a digest's figures, a
queue's lines), computed by `bot.services`, laid out by `bot.slack.messages`."""
