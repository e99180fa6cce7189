"""Use cases that join storage, domain rules and delivery."""
