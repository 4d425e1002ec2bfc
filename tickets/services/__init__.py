"""Every write in the tickets app goes through a function here."""

from tickets.services.kickout import tickets_ask_still_working
from tickets.services.mappings import (
    mapping_delete,
    mapping_for_change,
    mapping_save,
    tickets_move_for_status_change,
)
from tickets.services.routing import team_queue_route, tickets_route, tickets_route_queues
from tickets.services.teams import team_routing_save, team_save
from tickets.services.tickets import (
    AssignmentRefused,
    TakeRefused,
    TicketTaken,
    assignment_refusal,
    ticket_assign,
    ticket_close,
    ticket_create,
    ticket_delete,
    ticket_mark_opened,
    ticket_note_add,
    ticket_reopen,
    ticket_take,
    ticket_unassign,
    ticket_update,
    tickets_assign_many,
)

__all__ = [
    "AssignmentRefused",
    "TakeRefused",
    "TicketTaken",
    "assignment_refusal",
    "mapping_delete",
    "mapping_for_change",
    "mapping_save",
    "team_queue_route",
    "team_routing_save",
    "team_save",
    "ticket_assign",
    "ticket_close",
    "ticket_create",
    "ticket_delete",
    "ticket_mark_opened",
    "ticket_note_add",
    "ticket_reopen",
    "ticket_take",
    "ticket_unassign",
    "ticket_update",
    "tickets_ask_still_working",
    "tickets_assign_many",
    "tickets_move_for_status_change",
    "tickets_route",
    "tickets_route_queues",
]
