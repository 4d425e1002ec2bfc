"""How the webhooks app hears of changes: the domain signals of presence and tickets (the
dependency points from webhooks to them only). Each receiver runs inside the change's
transaction and costs one query when no active webhook wants its events."""

from django.db import transaction

from webhooks import events, selectors, services
from webhooks.models import Event


def on_statuses_changed(sender, *, changes, actor, source, **kwargs) -> None:
    """`status.changed` for each change now; the changed agents' teams' live chat once the changes
    have committed (the count must see them). One lookup of the subscriptions serves a whole
    batch of changes (a sweep's), so it costs one query however many agents changed."""
    subscribed = selectors.subscriptions([Event.STATUS_CHANGED, Event.LIVE_CHAT_AVAILABILITY_CHANGED])
    if subscribed.get(Event.STATUS_CHANGED):
        for change in changes:
            data = events.status_changed_data(
                agent=change.agent, presence=change.presence, old_status=change.old_status,
                new_status=change.new_status, actor=actor, source=source, reason=change.reason,
            )  # fmt: skip
            services.webhooks_emit(Event.STATUS_CHANGED, data, webhook_ids=subscribed[Event.STATUS_CHANGED])
    if subscribed.get(Event.LIVE_CHAT_AVAILABILITY_CHANGED):
        agent_ids = [change.agent.pk for change in changes]
        # robust: the status change has committed; a failed check must not turn it into an error.
        transaction.on_commit(
            lambda: services.live_chat_states_update(team_ids=selectors.agents_team_ids(agent_ids)), robust=True
        )


def on_tickets_assigned(sender, *, ticket_ids, assignee_id, actor, reason, **kwargs) -> None:
    services.webhooks_emit_many(
        Event.TICKET_ASSIGNED,
        lambda: events.tickets_assigned_data(ticket_ids, assignee_id=assignee_id, actor=actor, reason=reason),
    )


def on_status_request_decided(sender, *, request, decision, actor, reason, **kwargs) -> None:
    services.webhooks_emit(
        Event.STATUS_REQUEST_DECIDED,
        lambda: events.status_request_decided_data(request=request, decision=decision, actor=actor, reason=reason),
    )


def on_coverage_changed(sender, *, changes, **kwargs) -> None:
    """`coverage.changed` for each team whose deficit started, changed or cleared in one sweep:
    one lookup of the subscriptions, one INSERT of deliveries, whatever the number of teams."""
    services.webhooks_emit_many(
        Event.COVERAGE_CHANGED, lambda: [events.coverage_changed_data(change) for change in changes]
    )
