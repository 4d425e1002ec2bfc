"""Every write in the presence app goes through a function here (SPEC P2)."""

from presence.services.agents import (
    agent_create,
    agent_profile_save,
    agent_set_teams,
    agent_update,
    team_set_members,
)
from presence.services.approvals import (
    presence_change_status_by_supervisor,
    status_request_approve,
    status_request_reject,
)
from presence.services.automation import (
    agent_session_forget,
    agent_session_track,
    agent_sessions_end,
    presence_answer_still_working,
    presence_ask_still_working,
    presence_auto_offline,
    presence_expire_timed_statuses,
    presence_idle_deadline,
    presence_idle_timeout,
    presence_kick_out_unanswered,
    presence_record_activity,
)
from presence.services.catalogue import status_delete, status_save
from presence.services.config import presence_settings_update
from presence.services.status_change import (
    presence_cancel_finishing,
    presence_change_status,
    presence_complete_finishing,
    presence_ensure,
    presence_record_heartbeat,
    presence_request_status,
)

__all__ = [
    "agent_create",
    "agent_profile_save",
    "agent_session_forget",
    "agent_session_track",
    "agent_sessions_end",
    "agent_set_teams",
    "agent_update",
    "presence_answer_still_working",
    "presence_ask_still_working",
    "presence_auto_offline",
    "presence_cancel_finishing",
    "presence_change_status",
    "presence_change_status_by_supervisor",
    "presence_complete_finishing",
    "presence_ensure",
    "presence_expire_timed_statuses",
    "presence_idle_deadline",
    "presence_idle_timeout",
    "presence_kick_out_unanswered",
    "presence_record_activity",
    "presence_record_heartbeat",
    "presence_request_status",
    "presence_settings_update",
    "status_delete",
    "status_request_approve",
    "status_request_reject",
    "status_save",
    "team_set_members",
]
