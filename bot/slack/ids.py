"""Action and callback ids: the messages that carry a button and the listener registered for
it spell the id once, here."""

from __future__ import annotations

CONTACTED = "sla_contacted"
SNOOZE = "sla_snooze"
RECYCLE = "sla_recycle"  # the button, and the modal it opens (its callback_id)
OPEN_HOME = "sla_open_home"
PAGE = "sla_page"
DIGEST_DETAILS = "digest_details"
QUOTA_SHARE = "quota_share"
SETUP_OWNER = "setup_owner"  # an admin's Home: the Slack user an unmatched CRM owner is
SETUP_AWAY = "setup_away"  # an admin's Home: a rep's out-of-office (the block's id)
SETUP_AWAY_REP, SETUP_AWAY_FROM, SETUP_AWAY_UNTIL = "away_rep", "away_from", "away_until"
SETUP_AWAY_SAVE = "away_save"
SETUP_TEAM = "team:"  # an admin's Home: one row per team (the block's id: team:<name>)
TEAM_CHANNEL, TEAM_STANDUP, TEAM_SAVE = "team_channel", "team_standup", "team_save"
SETUP_REP = "setup_rep"  # an admin's Home: add a rep, or move one to a team and manager
REP_USER, REP_TEAM, REP_MANAGER, REP_SAVE = "rep_user", "rep_team", "rep_manager", "rep_save"
REASSIGN = "route_reassign"  # a manager's picker: the rep a lead goes to
COVER = "route_cover"  # the button, and the modal it opens (its callback_id)
COVER_REP, COVER_UNTIL = "cover_rep", "cover_until"  # the cover modal's inputs
HAND_BACK = "route_hand_back"
HISTORY = "lead_history"
RECYCLE_REASON = "reason"  # the modal's inputs: block and action ids
RECYCLE_NOTE = "note"
PROPOSE = "sla_propose"  # the proposal modal (its callback_id)
RECALIBRATE = "sla_recalibrate"  # the modal's button: its fields from last quarter's actuals
APPROVE = "proposal_approve"  # a proposal card's buttons
REQUEST_CHANGES = "proposal_changes"  # the button, and the reason's modal (its callback_id)
CHANGES_REASON = "changes_reason"  # that modal's input
ACTION_ADD = "action_add"  # the digest's button, and the modal it opens (its callback_id)
ACTION_DONE = "action_done"  # an action item's button in the digest
ACTION_TEXT, ACTION_OWNER, ACTION_DUE = "action_text", "action_owner", "action_due"
CHECKIN_REASON = "checkin_reason"  # a breached lead's pick in the check-in DM
CHECKIN_BLOCKER = "checkin_blocker"  # the check-in's "anything blocking you?" line
CHECKIN_OTHER = "checkin_other"  # the modal asking what "other" is (its callback_id)
