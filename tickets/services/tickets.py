from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from presence.eligibility import is_eligible, is_overflow
from presence.errors import ApplicationError
from presence.models import AgentLoad, AgentPresence, AgentProfile, Status, StatusCategory, TeamMembership
from presence.selectors import is_supervisor
from presence.services import presence_answer_still_working, presence_complete_finishing
from tickets.models import (
    HELD_STATES,
    NOTE_MAX_LENGTH,
    RoutingMethod,
    Ticket,
    TicketNote,
    TicketState,
    mentioned_usernames,
)
from tickets.selectors import ticket_receivers, ticket_teammates
from tickets.services.load import delta, load_apply
from tickets.services.routing import lock_unassigned, route_locked, team_queue_route, tickets_route
from tickets.signals import tickets_assigned

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
    names = {"agent": agent.get_username(), "status": status.name}
    if mention:
        return _("%(agent)s is %(status)s: they may not see what they are mentioned for a while.") % names
    return _("%(agent)s is %(status)s: they may not see what they are assigned to for a while.") % names


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
        if ticket.pk:
            return _("Ticket #%(ticket)s is closed.") % {"ticket": ticket.pk}
        return _("A closed ticket cannot be assigned.")
    profile = AgentProfile.objects.filter(user_id=agent.pk).first()
    presence = AgentPresence.objects.select_related("status").filter(agent_id=agent.pk).first()
    names = {"agent": agent.get_username()}
    if profile is None or presence is None:
        return _("%(agent)s is not an agent.") % names
    if presence.status.category == StatusCategory.OFFLINE:
        return _("%(agent)s is offline and cannot be assigned tickets.") % names
    if not by_supervisor and not presence.status.can_receive:
        return _("%(agent)s is %(status)s: that status cannot receive work.") % {
            **names,
            "status": presence.status.name,
        }
    if not profile.has_capability(ticket.capability):
        return _("%(agent)s cannot handle %(channel)s tickets (no %(capability)s capability).") % {
            **names,
            "channel": ticket.get_channel_display().lower(),
            "capability": ticket.capability,
        }
    return None


def receive_warning(agent, status: Status) -> str | None:
    """What a supervisor is told when assigning by hand to an agent whose status cannot receive
    (T7), unless the status already warns on assign (one warning per status)."""
    if status.can_receive or status.warn_on_assign:
        return None
    return _("%(agent)s is %(status)s, which cannot receive work.") % {
        "agent": agent.get_username(),
        "status": status.name,
    }


# What an agent is told when the target is not a teammate they may hand the ticket to: one
# sentence whoever it is, so a refusal tells nothing about the presence of people beyond the
# agent's panel (offline, out of office, not an agent at all).
HANDOVER_REFUSED = gettext_noop(
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
        raise AssignmentRefused(_(HANDOVER_REFUSED))
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
        raise AssignmentRefused(
            _("%(agent)s is finishing their open tickets before %(status)s.")
            % {"agent": name, "status": presence.pending_status.name}
        )
    raise AssignmentRefused(
        _("%(agent)s has no room for another %(capability)s ticket: they are at their capacity.")
        % {"agent": name, "capability": ticket.capability}
    )


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
        tickets_assigned.send(
            sender=Ticket, ticket_ids=[ticket.pk], assignee_id=agent.pk, actor=actor, reason="assigned"
        )
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
        raise TakeRefused(
            _("%(agent)s is not an agent: only agents take tickets from a queue.") % {"agent": agent.get_username()}
        )
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(of=("self",)).select_related("team").get(pk=ticket.pk)
        if not ticket.is_held:
            raise TakeRefused(_("Ticket #%(ticket)s is closed.") % {"ticket": ticket.pk})
        if ticket.assignee_id == agent.pk:
            return ticket
        if ticket.assignee_id is not None:
            taker = User.objects.filter(pk=ticket.assignee_id).values_list("username", flat=True).first()
            raise TicketTaken(_("%(agent)s took ticket #%(ticket)s first.") % {"agent": taker, "ticket": ticket.pk})
        if ticket.team_id is None:
            raise TakeRefused(
                _("Ticket #%(ticket)s is in no team's queue: a supervisor assigns it.") % {"ticket": ticket.pk}
            )
        if not TeamMembership.objects.filter(agent_id=agent.pk, team_id=ticket.team_id, active=True).exists():
            raise TakeRefused(
                _("Ticket #%(ticket)s is in the %(team)s queue, and you are not an active member of %(team)s.")
                % {"ticket": ticket.pk, "team": ticket.team}
            )
        presence = (
            AgentPresence.objects.select_for_update(of=("self",))
            .select_related("status", "pending_status")
            .get(agent_id=agent.pk)
        )
        if not presence.status.can_receive:
            raise TakeRefused(
                _("You are %(status)s: that status cannot receive work.") % {"status": presence.status.name}
            )
        if presence.pending_status_id:
            raise TakeRefused(
                _("You are finishing your open tickets before %(status)s: cancel finishing to take new work.")
                % {"status": presence.pending_status.name}
            )
        capability = ticket.capability
        channel = ticket.get_channel_display().lower()
        if not profile.has_capability(capability):
            raise TakeRefused(
                _("You cannot handle %(channel)s tickets (no %(capability)s capability).")
                % {"channel": channel, "capability": capability}
            )
        held = AgentLoad.objects.filter(agent_id=agent.pk).values_list(capability, flat=True).first() or 0
        capacity = profile.capacity[capability]
        if held >= capacity:
            raise TakeRefused(
                _("You are at your %(capability)s capacity (%(capacity)s open): close or hand over one first.")
                % {"capability": capability, "capacity": capacity}
            )
        now = timezone.now()
        ticket.assignee = agent
        ticket.assigned_at = now
        ticket.opened_at = now  # taking it from the queue is opening it (C6)
        ticket._history_user = agent
        ticket.save(update_fields=["assignee", "assigned_at", "opened_at", "updated_at"])
        load_apply(delta(agent.pk, ticket.channel, +1))
        presence_answer_still_working(agent, now=now)
        tickets_assigned.send(sender=Ticket, ticket_ids=[ticket.pk], assignee_id=agent.pk, actor=agent, reason="taken")
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
    """Edit a ticket's fields; closing goes through ticket_close, reopening through ticket_reopen,
    assignment through ticket_assign."""
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        raise TypeError(f"ticket_update() got unexpected fields: {', '.join(sorted(unknown))}")
    if fields.get("state") == TicketState.CLOSED:
        fields.pop("state")
        ticket = ticket_update(ticket, actor=actor, **fields) if fields else ticket
        return ticket_close(ticket, actor=actor)
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.state == TicketState.CLOSED and fields.get("state") in HELD_STATES:
            # Reopening decides who gets the ticket (ticket_reopen), once its other fields are in.
            state = fields.pop("state")
            ticket = ticket_update(ticket, actor=actor, **fields) if fields else ticket
            return ticket_reopen(ticket, actor=actor, state=state)
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
        ticket.full_clean()
        ticket._history_user = actor
        ticket.save()
        # A held ticket whose channel changed moves its assignee's counters (closing and reopening
        # are their own services).
        load_apply(
            delta(ticket.assignee_id, ticket.channel, +ticket.is_held,
                  delta(ticket.assignee_id, channel_before, -held_before))
        )  # fmt: skip
        if ticket.assignee_id is None and ticket.team_id is not None and ticket.is_held:
            transaction.on_commit(lambda: tickets_route([ticket.pk], actor=actor))
    return ticket


def _return_refusal(ticket: Ticket) -> str | None:
    """Why a reopened ticket may not go back to its last assignee now (None: it may): the words
    of its note. They may when their account is active, they pass the routing rule for it
    (presence.eligibility: can receive, not finishing; not only as overflow) and have the
    channel's capability and room under its capacity.

    Locks the assignee's presence row, after the ticket (the order routing and ticket_take keep):
    a status change waits for the reopen, or the reopen for it, so the ticket never returns to
    someone who has just gone Away; routers and takes skip or wait for them meanwhile."""
    presence = (
        AgentPresence.objects.select_for_update(of=("self",))
        .select_related("status", "pending_status", "agent__agent_profile", "agent__load")
        .filter(agent_id=ticket.assignee_id)
        .first()
    )
    if presence is None:
        return f"{ticket.assignee.get_username()} is no longer an agent"
    agent = presence.agent
    name, profile = agent.get_username(), getattr(agent, "agent_profile", None)
    if not agent.is_active:
        return f"{name}'s account is deactivated"
    if profile is None:
        return f"{name} is no longer an agent"
    if presence.pending_status_id:
        return f"{name} is finishing their open tickets before {presence.pending_status.name}"
    status = presence.status
    if not is_eligible(presence, chat=ticket.linked_to_chat):
        return f"{name} is {status.name} ({'gets no work automatically' if status.can_receive else 'cannot receive'})"
    if is_overflow(presence):
        return f"{name} is {status.name} (receives only when nobody else in the team can)"
    capability = ticket.capability
    if not profile.has_capability(capability):
        return f"{name} cannot handle {ticket.get_channel_display().lower()} tickets (no {capability} capability)"
    held = getattr(agent, "load", None)
    held, capacity = (held.held(capability) if held else 0), profile.capacity[capability]
    if held >= capacity:
        return f"{name} is at capacity for {capability} ({held} of {capacity})"
    return None


def _route_reopened(ticket: Ticket, *, actor) -> str:
    """Route a reopened, unassigned (and locked) ticket through its team's routing, in the
    reopen's transaction; returns where it went, in words."""
    if ticket.team_id is None:
        return "the ticket waits unassigned for a supervisor (it is in no team)"
    locked = lock_unassigned([ticket.pk])  # already ours: the lock is taken again, not skipped
    route_locked(locked, actor=actor, reason="routed")
    ticket.refresh_from_db(fields=["assignee", "assigned_at", "opened_at", "updated_at"])
    team = ticket.team.name
    if ticket.assignee_id is not None:
        return f"the ticket went to {team}'s routing, which gave it to {ticket.assignee.get_username()}"
    if locked and locked[0].routing_method in (None, RoutingMethod.MANUAL):
        return f"the ticket waits in {team}'s queue (manual routing)"
    return f"the ticket went to {team}'s routing; nobody can take it now, so it waits in the queue"


def ticket_reopen(ticket: Ticket, *, actor, state: str = TicketState.OPEN) -> Ticket:
    """Reopen a closed ticket as open or pending (T10).

    It goes back to its last assignee only if they can take it now (_return_refusal, checked
    under their presence lock), and counts on their load again. Otherwise it leaves them for its
    team's routing (tickets in a manual team, or that nobody can take, wait in the team's queue),
    and a note by the actor says why. A ticket closed while unassigned is simply routed. A ticket
    that is not closed is returned unchanged. ticket_update calls this when the state goes from
    closed to open or pending."""
    if state not in HELD_STATES:
        raise ApplicationError("A reopened ticket is open or pending.", code="invalid_state")
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update(of=("self",)).select_related("team").get(pk=ticket.pk)
        if ticket.is_held:
            return ticket
        refusal = _return_refusal(ticket) if ticket.assignee_id is not None else None
        ticket.state, ticket.closed_at = state, None
        fields = ["state", "closed_at", "updated_at"]
        if refusal:
            ticket.assignee, ticket.assigned_at, ticket.opened_at = None, None, None
            fields += ["assignee", "assigned_at", "opened_at"]
        ticket._history_user = actor
        ticket.save(update_fields=fields)
        if ticket.assignee_id is not None:
            load_apply(delta(ticket.assignee_id, ticket.channel, +1))
            # Back with its owner: an assignment as far as chat widgets and phone systems know.
            tickets_assigned.send(sender=Ticket, ticket_ids=[ticket.pk], assignee_id=ticket.assignee_id, actor=actor,
                                  reason="reopened")  # fmt: skip
            return ticket
        where = _route_reopened(ticket, actor=actor)
        if refusal:
            TicketNote.objects.create(ticket=ticket, author=actor, body=f"Reopened: {refusal}, so {where}.")
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
        raise ApplicationError(_("A note needs some text."))
    if len(body) > NOTE_MAX_LENGTH:
        raise ApplicationError(
            _("A note is at most %(limit)s characters (this one has %(length)s).")
            % {"limit": f"{NOTE_MAX_LENGTH:,}", "length": f"{len(body):,}"},
            code="note_too_long",
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
