from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from presence.errors import ApplicationError
from presence.models import AgentLoad, AgentPresence, AgentProfile, Status, StatusCategory, TeamMembership
from presence.selectors import is_supervisor
from presence.services import presence_answer_still_working, presence_complete_finishing
from tickets.models import (
    HELD_STATES,
    NOTE_MAX_LENGTH,
    Ticket,
    TicketNote,
    TicketState,
    mentioned_usernames,
)
from tickets.selectors import ticket_receivers, ticket_teammates
from tickets.services.load import delta, load_apply
from tickets.services.routing import team_queue_route, tickets_route

User = get_user_model()


class AssignmentRefused(ApplicationError):
    code = "assignment_refused"


class TakeRefused(ApplicationError):
    """An agent may not take a ticket from the queue; 409 `taken` when someone else got it first."""

    code = "take_refused"


class TicketTaken(TakeRefused):
    """Someone else took the ticket first."""

    code = "taken"
    http_status = 409


def status_warning(agent, status: Status, *, mention: bool = False) -> str | None:
    """The warning a status asks for when assigning to (or mentioning) an agent in it (T5)."""
    if (status.warn_on_mention if mention else status.warn_on_assign) is False:
        return None
    action = "mentioned" if mention else "assigned to"
    return f"{agent.get_username()} is {status.name}: they may not see what they are {action} for a while."


def _after_commit_route_queue(team_id: int | None) -> None:
    if team_id is not None:
        transaction.on_commit(lambda: team_queue_route(team_id))


def _after_commit_finish(agent_id: int | None) -> None:
    """An agent who was finishing may have just closed or handed over their last ticket (P4)."""
    if agent_id is not None:
        transaction.on_commit(lambda: presence_complete_finishing(User(pk=agent_id)))


def ticket_create(*, actor, subject: str, channel: str = "email", team=None, linked_to_chat: bool = False,
                  pinned: bool = False, state: str = TicketState.OPEN) -> Ticket:  # fmt: skip
    """Open a ticket (open or pending); in a round-robin or load-balance team it is routed at once."""
    if state not in HELD_STATES:
        raise ApplicationError("A new ticket is open or pending, not closed.", code="invalid_state")
    with transaction.atomic():
        ticket = Ticket(
            subject=subject, channel=channel, team=team, linked_to_chat=linked_to_chat, pinned=pinned, state=state
        )
        ticket.full_clean()
        ticket._history_user = actor
        ticket.save()
        if team is not None:
            tickets_route([ticket.pk], actor=actor)
            ticket.refresh_from_db()
    return ticket


def assignment_refusal(ticket: Ticket, agent, *, by_supervisor: bool = True) -> str | None:
    """Why `agent` may not be given `ticket` by hand (None: they may): a closed ticket, someone who
    is not an agent, an agent who is Offline or lacks the channel's capability, and, when an agent
    (not a supervisor) assigns, a status that cannot receive work (T7; supervisors get a warning
    instead). The admin's form asks before saving anything; ticket_assign asks again under the
    ticket's lock."""
    if ticket.state == TicketState.CLOSED:
        return f"Ticket #{ticket.pk} is closed." if ticket.pk else "A closed ticket cannot be assigned."
    profile = AgentProfile.objects.filter(user_id=agent.pk).first()
    presence = AgentPresence.objects.select_related("status").filter(agent_id=agent.pk).first()
    if profile is None or presence is None:
        return f"{agent.get_username()} is not an agent."
    if presence.status.category == StatusCategory.OFFLINE:
        return f"{agent.get_username()} is offline and cannot be assigned tickets."
    if not by_supervisor and not presence.status.can_receive:
        return f"{agent.get_username()} is {presence.status.name}: that status cannot receive work."
    if not profile.has_capability(ticket.capability):
        return (
            f"{agent.get_username()} cannot handle {ticket.get_channel_display().lower()} tickets "
            f"(no {ticket.capability} capability)."
        )
    return None


def receive_warning(agent, status: Status) -> str | None:
    """What a supervisor is told when assigning by hand to an agent whose status cannot receive
    (T7), unless the status already warns on assign (one warning per status)."""
    if status.can_receive or status.warn_on_assign:
        return None
    return f"{agent.get_username()} is {status.name}, which cannot receive work."


# What an agent is told when the target is not a teammate they may hand the ticket to: one
# sentence whoever it is, so a refusal tells nothing about the presence of people beyond the
# agent's panel (offline, out of office, not an agent at all).
HANDOVER_REFUSED = (
    "You can hand tickets only to a teammate on the ticket's team who can receive work and has room for it."
)


def _check_agent_handover(ticket: Ticket, agent, *, actor) -> None:
    """An agent (not a supervisor) gives a ticket only to whom the ticket page offers: a teammate
    on its team who can receive it now (selectors.ticket_receivers, the one definition). Called
    with the ticket locked; the target's presence row is locked next (routing's and ticket_take's
    order) and their held tickets counted under it, so two hand-overs cannot both fill their last
    place."""
    unchanged = ticket.assignee_id == agent.pk  # the agent sees whose ticket it is: nothing to hide
    if not unchanged and not ticket_teammates(ticket, actor).filter(pk=agent.pk).exists():
        raise AssignmentRefused(HANDOVER_REFUSED)
    refusal = assignment_refusal(ticket, agent, by_supervisor=False)
    if refusal:  # about a teammate, whose status the agent's panel shows anyway
        raise AssignmentRefused(refusal)
    if unchanged:
        return
    presence = (
        AgentPresence.objects.select_for_update(of=("self",)).select_related("pending_status").get(agent_id=agent.pk)
    )
    if ticket_receivers(ticket, actor).filter(pk=agent.pk).exists():
        return
    name = agent.get_username()
    if presence.pending_status_id:
        raise AssignmentRefused(f"{name} is finishing their open tickets before {presence.pending_status.name}.")
    raise AssignmentRefused(f"{name} has no room for another {ticket.capability} ticket: they are at their capacity.")


def ticket_assign(ticket: Ticket, agent, *, actor) -> tuple[Ticket, list[str]]:
    """Assign by hand (admin, API, the ticket page's hand-over). Refuses an agent who is Offline,
    lacks the channel's capability or is not an agent. When the actor is an agent (neither a
    supervisor nor the system, `actor=None`), also anyone but a teammate on the ticket's team whose
    status can receive (T7) and who has room for it (_check_agent_handover). Returns the warnings
    the agent's status asks for (they do not block)."""
    by_supervisor = actor is None or is_supervisor(actor)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if by_supervisor:
            refusal = assignment_refusal(ticket, agent, by_supervisor=True)
            if refusal:
                raise AssignmentRefused(refusal)
        else:
            _check_agent_handover(ticket, agent, actor=actor)
        presence = AgentPresence.objects.select_related("status").get(agent_id=agent.pk)
        warnings = [w for w in [status_warning(agent, presence.status), receive_warning(agent, presence.status)] if w]
        previous = ticket.assignee_id
        if previous == agent.pk:
            return ticket, warnings
        now = timezone.now()
        ticket.assignee = agent
        ticket.assigned_at = now
        ticket.opened_at = None
        ticket._history_user = actor
        ticket.save(update_fields=["assignee", "assigned_at", "opened_at", "updated_at"])
        if ticket.is_held:
            load_apply(delta(agent.pk, ticket.channel, +1, delta(previous, ticket.channel, -1)))
        if previous is not None:
            _after_commit_finish(previous)
            _after_commit_route_queue(ticket.team_id)
    return ticket, warnings


def tickets_assign_many(tickets, agent, *, actor) -> tuple[list[Ticket], list[str], list[str]]:
    """Assign several tickets by hand (admin's bulk action), each through ticket_assign: returns
    the assigned tickets, the warnings (once each) and a sentence for each refused ticket."""
    assigned, warnings, refused = [], [], []
    for ticket in tickets:
        try:
            ticket, ticket_warnings = ticket_assign(ticket, agent, actor=actor)
        except ApplicationError as exc:
            refused.append(f"#{ticket.pk}: {exc.message}")
            continue
        assigned.append(ticket)
        warnings += [w for w in ticket_warnings if w not in warnings]
    return assigned, warnings, refused


def ticket_take(ticket: Ticket, *, agent) -> Ticket:
    """An agent takes a ticket from their team's Unassigned queue, and so has opened it.

    Refused (TakeRefused) unless the ticket is still open or pending and unassigned (409 `taken`
    when someone else got it first; taking one's own ticket again changes nothing), it is in a
    team the agent is an active member of, the agent's status can receive and they are not
    finishing (P4), and they have the channel's capability and room under its capacity.

    Locks the ticket, then the agent's presence row: the order routing uses (routing.py). Held
    tickets are counted under the presence lock, which routing and other takes also take before
    giving this agent work, so two takes at once cannot fill the agent past capacity.
    """
    profile = AgentProfile.objects.filter(user_id=agent.pk).first()
    if profile is None:
        raise TakeRefused(f"{agent.get_username()} is not an agent: only agents take tickets from a queue.")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(of=("self",)).select_related("team").get(pk=ticket.pk)
        if not ticket.is_held:
            raise TakeRefused(f"Ticket #{ticket.pk} is closed.")
        if ticket.assignee_id == agent.pk:
            return ticket
        if ticket.assignee_id is not None:
            taker = User.objects.filter(pk=ticket.assignee_id).values_list("username", flat=True).first()
            raise TicketTaken(f"{taker} took ticket #{ticket.pk} first.")
        if ticket.team_id is None:
            raise TakeRefused(f"Ticket #{ticket.pk} is in no team's queue: a supervisor assigns it.")
        if not TeamMembership.objects.filter(agent_id=agent.pk, team_id=ticket.team_id, active=True).exists():
            raise TakeRefused(
                f"Ticket #{ticket.pk} is in the {ticket.team} queue, and you are not an active member of {ticket.team}."
            )
        presence = (
            AgentPresence.objects.select_for_update(of=("self",))
            .select_related("status", "pending_status")
            .get(agent_id=agent.pk)
        )
        if not presence.status.can_receive:
            raise TakeRefused(f"You are {presence.status.name}: that status cannot receive work.")
        if presence.pending_status_id:
            raise TakeRefused(
                f"You are finishing your open tickets before {presence.pending_status.name}: "
                "cancel finishing to take new work."
            )
        capability = ticket.capability
        channel = ticket.get_channel_display().lower()
        if not profile.has_capability(capability):
            raise TakeRefused(f"You cannot handle {channel} tickets (no {capability} capability).")
        held = AgentLoad.objects.filter(agent_id=agent.pk).values_list(capability, flat=True).first() or 0
        capacity = profile.capacity[capability]
        if held >= capacity:
            raise TakeRefused(f"You are at your {capability} capacity ({capacity} open): close or hand over one first.")
        now = timezone.now()
        ticket.assignee = agent
        ticket.assigned_at = now
        ticket.opened_at = now  # taking it from the queue is opening it (C6)
        ticket._history_user = agent
        ticket.save(update_fields=["assignee", "assigned_at", "opened_at", "updated_at"])
        load_apply(delta(agent.pk, ticket.channel, +1))
        presence_answer_still_working(agent, now=now)
    return ticket


def ticket_unassign(ticket: Ticket, *, actor) -> Ticket:
    """Put a ticket back in the Unassigned queue of its team (and route it again)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        previous = ticket.assignee_id
        if previous is None:
            return ticket
        ticket.assignee = None
        ticket.assigned_at = None
        ticket.opened_at = None
        ticket._history_user = actor
        ticket.save(update_fields=["assignee", "assigned_at", "opened_at", "updated_at"])
        if ticket.is_held:
            load_apply(delta(previous, ticket.channel, -1))
        _after_commit_finish(previous)
        _after_commit_route_queue(ticket.team_id)
    return ticket


def ticket_close(ticket: Ticket, *, actor) -> Ticket:
    """Close a ticket: its agent's capacity frees up, and a finishing agent may be done (P4)."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.state == TicketState.CLOSED:
            return ticket
        ticket.state = TicketState.CLOSED
        ticket.closed_at = timezone.now()
        ticket._history_user = actor
        ticket.save(update_fields=["state", "closed_at", "updated_at"])
        load_apply(delta(ticket.assignee_id, ticket.channel, -1))
        _after_commit_finish(ticket.assignee_id)
        _after_commit_route_queue(ticket.team_id)
    return ticket


def ticket_delete(ticket: Ticket, *, actor) -> None:
    """Delete a ticket and its notes; its agent's capacity frees up, and a finishing agent may be done."""
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        assignee_id = ticket.assignee_id if ticket.is_held else None
        ticket._history_user = actor
        ticket.delete()
        load_apply(delta(assignee_id, ticket.channel, -1))
        _after_commit_finish(assignee_id)


UPDATABLE_FIELDS = {"subject", "channel", "team", "state", "linked_to_chat", "pinned"}


def ticket_update(ticket: Ticket, *, actor, **fields) -> Ticket:
    """Edit a ticket's fields; closing goes through ticket_close, assignment through ticket_assign."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"ticket_update() got unexpected fields: {', '.join(sorted(unknown))}")
    if fields.get("state") == TicketState.CLOSED:
        fields.pop("state")
        ticket = ticket_update(ticket, actor=actor, **fields) if fields else ticket
        return ticket_close(ticket, actor=actor)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        reopened = ticket.state == TicketState.CLOSED and fields.get("state") in HELD_STATES
        if ticket.assignee_id and "channel" in fields:
            profile = AgentProfile.objects.filter(user_id=ticket.assignee_id).first()
            probe = Ticket(channel=fields["channel"])
            if profile is not None and not profile.has_capability(probe.capability):
                raise AssignmentRefused(
                    f"The assignee cannot handle {probe.get_channel_display().lower()} tickets; reassign it first."
                )
        held_before, channel_before = ticket.is_held, ticket.channel
        for name, value in fields.items():
            setattr(ticket, name, value)
        if reopened:
            ticket.closed_at = None
        ticket.full_clean()
        ticket._history_user = actor
        ticket.save()
        # A reopened ticket, or one whose channel changed, moves its assignee's counters.
        load_apply(
            delta(ticket.assignee_id, ticket.channel, +ticket.is_held,
                  delta(ticket.assignee_id, channel_before, -held_before))
        )  # fmt: skip
        if ticket.assignee_id is None and ticket.team_id is not None and ticket.is_held:
            transaction.on_commit(lambda: tickets_route([ticket.pk], actor=actor))
    return ticket


def ticket_mark_opened(ticket: Ticket, *, agent) -> Ticket:
    """The assignee opened the ticket (C6 counts unopened assigned tickets); opening their
    work also answers a pending "still working?"."""
    if ticket.assignee_id != agent.pk or ticket.opened_at is not None:
        return ticket
    now = timezone.now()
    if Ticket.objects.filter(pk=ticket.pk, assignee_id=agent.pk, opened_at__isnull=True).update(opened_at=now):
        ticket.opened_at = now
        presence_answer_still_working(agent, now=now)
    return ticket


def ticket_note_add(ticket: Ticket, *, author, body: str) -> tuple[TicketNote, list[str]]:
    """Add a note; @username mentions are recorded, and warn when the status asks for it (T5)."""
    if not body.strip():
        raise ApplicationError("A note needs some text.")
    if len(body) > NOTE_MAX_LENGTH:
        raise ApplicationError(
            f"A note is at most {NOTE_MAX_LENGTH:,} characters (this one has {len(body):,}).", code="note_too_long"
        )
    usernames = mentioned_usernames(body)
    mentioned = list(
        User.objects.filter(username__in=usernames).select_related("presence__status").order_by("username")
    )
    with transaction.atomic():
        note = TicketNote.objects.create(ticket=ticket, author=author, body=body)
        note.mentions.set(mentioned)
    warnings = []
    for user in mentioned:
        presence = getattr(user, "presence", None)
        warning = presence and status_warning(user, presence.status, mention=True)
        if warning:
            warnings.append(warning)
    return note, warnings
