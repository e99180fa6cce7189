"""The slash commands: the answer is the acknowledgement when it is ready within 2 s
(`answering.answer_command`)."""
