"""The tickets app's domain signals: how other apps (webhooks) learn of assignments without
`tickets` importing them."""

from django.dispatch import Signal

# Sent inside the transaction that gives tickets to an agent: a bulk move (routing, re-assign
# mappings: tickets.services.moves.move_tickets), a hand assignment or a take. Not sent for a
# move to the Unassigned queue. Keyword arguments: ticket_ids (the moved tickets), assignee_id,
# actor (None for the system), reason (a short text such as "routing" or "taken").
tickets_assigned = Signal()
