"""Modal submissions: the recycle reason."""
