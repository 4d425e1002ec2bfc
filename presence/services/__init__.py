"""Every write in the presence app goes through a function here (SPEC P2)."""

from presence.services.agents import (
    agent_create,
    agent_deactivate,
    agent_profile_delete,
    agent_profile_save,
    agent_set_teams,
    agent_update,
    team_membership_delete,
    team_membership_save,
    team_save,
    team_set_members,
)
from presence.services.approvals import (
    BulkStatusResult,
    presence_change_status_by_supervisor,
    presences_change_status_by_supervisor,
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
)
from presence.services.bookkeeping import (
    api_token_record_use,
    bookkeeping_flush,
    presence_record_activity,
    presence_record_heartbeat,
)
from presence.services.catalogue import status_delete, status_save, status_set_enabled
from presence.services.config import presence_settings_update
from presence.services.coverage import (
    CoverageChange,
    coverage_check,
    team_opening_hours_delete,
    team_opening_hours_save,
)
from presence.services.notices import NoticeNotFound, presence_notice_dismiss
from presence.services.queues import NotATeamMember, presence_queue_join, presence_queue_leave
from presence.services.sign_in import sign_in_unlock
from presence.services.status_change import (
    Outcome,
    StatusChange,
    presence_cancel_finishing,
    presence_change_status,
    presence_complete_finishing,
    presence_ensure,
    presence_request_status,
)
from presence.services.telephony import (
    CallEventRefused,
    call_ended,
    call_started,
    presence_wrap_up_done,
    presence_wrap_up_expire,
)
from presence.services.tokens import api_token_get_or_create, api_token_rotate, api_tokens_revoke

__all__ = [
    "api_token_get_or_create",
    "api_token_record_use",
    "api_token_rotate",
    "api_tokens_revoke",
    "sign_in_unlock",
    "CallEventRefused",
    "call_ended",
    "call_started",
    "presence_wrap_up_done",
    "presence_wrap_up_expire",
    "Outcome",
    "StatusChange",
    "BulkStatusResult",
    "CoverageChange",
    "coverage_check",
    "team_opening_hours_delete",
    "team_opening_hours_save",
    "agent_create",
    "agent_deactivate",
    "agent_profile_delete",
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
    "NoticeNotFound",
    "NotATeamMember",
    "presence_kick_out_unanswered",
    "presence_notice_dismiss",
    "presence_queue_join",
    "presence_queue_leave",
    "bookkeeping_flush",
    "presence_record_activity",
    "presence_record_heartbeat",
    "presence_request_status",
    "presence_settings_update",
    "presences_change_status_by_supervisor",
    "status_delete",
    "status_request_approve",
    "status_request_reject",
    "status_save",
    "status_set_enabled",
    "team_membership_delete",
    "team_membership_save",
    "team_save",
    "team_set_members",
]
