"""The presence app's domain signals: how `tickets` and `scheduling` react without being imported."""

from django.dispatch import Signal

# Sent inside the transaction of every status change, after the presence row is written.
# Keyword arguments: agent, presence, old_status, new_status, actor, source, reason, and
# config (the PresenceSettings the change was made under, so receivers need not read them again).
# A receiver that raises rolls the whole change back.
status_changed = Signal()

# Sent once after the `status_changed` signals of one or more changes made together (a sweep's
# batch, or a single change), in the same transaction. Keyword arguments: changes (a list of
# presence.services.status_change.Applied: agent, presence, old_status, new_status, reason),
# actor, source, config. Receivers that can act on many agents at once listen here (`tickets`
# moves their tickets in a few statements) rather than to `status_changed`.
statuses_changed = Signal()

# Sent inside the transaction of presence_queue_join when an agent's membership becomes active
# again (P10). Keyword arguments: agent, team_ids (the teams joined), actor. `tickets` routes
# those teams' waiting queues once the transaction commits.
queues_joined = Signal()

# Sent inside the transaction that deactivates an agent (their user unticked "active", or their
# agent profile deleted), after they were put Offline (whose mappings moved what they map).
# Keyword arguments: agent, actor. `tickets` puts whatever they still hold in its team's queue.
agent_deactivated = Signal()

# Sent inside the transaction that approves or rejects a status request (P6), after the decision
# is written. Keyword arguments: request (the StatusRequest, with agent and status), decision
# ("approved" or "rejected"), actor (who decided), reason (theirs, may be empty).
status_request_decided = Signal()

# Sent by the coverage sweep (presence.services.coverage.coverage_check, C7) inside its
# transaction, once per sweep that saw a team's deficit start, change or clear. Keyword
# arguments: changes (a list of presence.services.coverage.CoverageChange: team, open, required,
# routable, deficit, previous_deficit, since, changed_at). `webhooks` sends `coverage.changed`.
coverage_changed = Signal()
