"""The buttons: each press is acknowledged at once and its work answers through the response
URL or the message it redraws (`answering.pressed`)."""
