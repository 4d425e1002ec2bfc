"""Past status changes for the demo (`manage.py demo_data`), written in bulk.

`presence_change_status` is the one way a status changes now: it stamps the change with the
current time, locks the row and sends `status_changed`, so tickets, schedules and webhooks react.
A demo's history is a week of changes that already happened: their times are in the past, and
nothing may react to them any more (no ticket moves, no notice, no webhook for last Tuesday's
lunch). So they are written here, directly and in bulk, as the log rows the service would have
written at those times, chained to the agent's existing log. Only the demo calls this; the
agents' current status is set through the services afterwards.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction

from presence.models import AgentPresence, PresenceSettings, Source, Status, StatusChangeLog
from presence.services.routing_columns import memberships_sync_presences


@dataclass(frozen=True)
class PastChange:
    """One status change that happened at `at`, as the service would have logged it."""

    at: datetime
    status: Status
    source: str
    actor_id: int | None = None
    reason: str = ""


def status_history_write(
    histories: dict[int, list[PastChange]], *, joined_by: dict[int, datetime] | None = None
) -> int:
    """Write each agent's past changes (by agent id, oldest first) into their status log.

    The log stays one chain per agent, without gaps or overlaps: each row starts from the status
    the row before it ended in. An agent's changes go either all before their first logged
    change, and then start from Offline (where every agent starts) and end in the status that
    change came from; or all after their last one (and after their current status began, unless
    they are Offline), and then start from their current status, and their presence follows the
    last change, status and since, as if it had just been applied; its routing columns with it.
    Anything else raises ValueError: a history that does not chain makes every report wrong.

    The reports count nothing before an agent joined: an agent who joined after
    `joined_by[agent]` is said to have joined then. Returns the number of log rows written.
    """
    histories = {agent_id: changes for agent_id, changes in histories.items() if changes}
    for agent_id, joined in (joined_by or {}).items():
        get_user_model().objects.filter(pk=agent_id, date_joined__gt=joined).update(date_joined=joined)
    if not histories:
        return 0
    offline = Status.objects.get(slug=Status.OFFLINE)
    logging = PresenceSettings.load().log_status_changes
    rows: list[StatusChangeLog] = []
    moved: dict[int, AgentPresence] = {}
    with transaction.atomic():
        # Locked in key order, as every writer of several presence rows does.
        presences = {
            p.agent_id: p
            for p in AgentPresence.objects.select_for_update(of=("self",))
            .select_related("status", "agent")
            .filter(agent_id__in=list(histories))
            .order_by("agent_id")
        }
        for agent_id, changes in sorted(histories.items()):
            presence = presences.get(agent_id)
            if presence is None:
                raise ValueError(f"User {agent_id} has no presence: only agents have a status history.")
            log = StatusChangeLog.objects.filter(agent_id=agent_id)
            first = log.order_by("at", "id").values("at", "from_status_id").first()
            last = log.order_by("-at", "-id").values("at").first()
            bounds = [last["at"]] if last else []
            if presence.status_id != offline.pk:
                bounds.append(presence.since)  # their current status began then, logged or not
            starts_after = max(bounds, default=None)
            if starts_after is None or changes[0].at > starts_after:
                current, must_end_in = presence.status, None
            elif first is not None and changes[-1].at < first["at"]:
                current, must_end_in = offline, first["from_status_id"]
            else:
                raise ValueError(f"The history of agent {agent_id} overlaps their logged changes.")
            previous_at = None
            for change in changes:
                if change.status.pk == current.pk or (previous_at is not None and change.at <= previous_at):
                    raise ValueError(f"Agent {agent_id}: a change at {change.at} does not follow the one before.")
                rows.append(
                    StatusChangeLog(
                        agent_id=agent_id,
                        from_status=current,
                        from_status_name=current.name,
                        to_status=change.status,
                        to_status_name=change.status.name,
                        actor_id=change.actor_id,
                        source=Source(change.source),
                        reason=change.reason[:255],
                        at=change.at,
                    )
                )
                current, previous_at = change.status, change.at
            if must_end_in is not None and current.pk != must_end_in:
                raise ValueError(f"The history of agent {agent_id} does not end where their log begins.")
            if must_end_in is None:
                presence.status, presence.since, presence.pending_status = current, previous_at, None
                moved[agent_id] = presence
        if logging:
            StatusChangeLog.objects.bulk_create(rows, batch_size=500)
        AgentPresence.objects.bulk_update(list(moved.values()), ["status", "since", "pending_status"])
        memberships_sync_presences(moved)
    return len(rows) if logging else 0
