import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from presence.models import Channel, Status, Team, agent_error


class RoutingMethod(models.TextChoices):
    MANUAL = "manual", "Manual"
    ROUND_ROBIN = "round_robin", "Round robin"
    LOAD_BALANCE = "load_balance", "Load balance (fewest open tickets)"


class TicketChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    CHAT = "chat", _("Chat")
    VIDEO = "video", _("Video")
    PORTAL = "portal", _("Portal")


# The agent capability (and so the capacity) a ticket of each channel needs: portal tickets
# are written work, handled like email.
CAPABILITY_FOR_CHANNEL = {
    TicketChannel.EMAIL: Channel.EMAIL,
    TicketChannel.PORTAL: Channel.EMAIL,
    TicketChannel.PHONE: Channel.PHONE,
    TicketChannel.CHAT: Channel.CHAT,
    TicketChannel.VIDEO: Channel.VIDEO,
}


def channels_for_capability(capability: str) -> list[str]:
    return [channel for channel, needs in CAPABILITY_FOR_CHANNEL.items() if needs == capability]


class TicketState(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    CLOSED = "closed", _("Closed")


# Tickets an agent holds: open and pending both count as work (capacity, finishing, workload).
HELD_STATES = (TicketState.OPEN, TicketState.PENDING)


class TeamRouting(models.Model):
    """How a team's tickets are routed (T2)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, primary_key=True, related_name="routing")
    method = models.CharField(max_length=16, choices=RoutingMethod.choices, default=RoutingMethod.MANUAL)
    # Round robin needs no cursor here: each membership remembers when it was last given a
    # ticket (presence.TeamMembership.last_assigned_at), and routing takes the longest waiting.
    history = HistoricalRecords()

    class Meta:
        verbose_name = "team routing"

    def __str__(self) -> str:
        return f"{self.team}: {self.get_method_display()}"


class TicketQuerySet(models.QuerySet):
    def held(self):
        return self.filter(state__in=HELD_STATES)

    def unassigned(self):
        return self.held().filter(assignee__isnull=True)


class Ticket(models.Model):
    subject = models.CharField(max_length=255)
    channel = models.CharField(max_length=8, choices=TicketChannel.choices, default=TicketChannel.EMAIL)
    # No single-column indexes on the two keys: the composite indexes in Meta lead with them, and
    # every routed ticket changes its assignee, so each index is one more entry written per pick.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_tickets",
        db_index=False,
    )  # fmt: skip
    state = models.CharField(max_length=8, choices=TicketState.choices, default=TicketState.OPEN)
    linked_to_chat = models.BooleanField("linked to a chat", default=False)
    pinned = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    # Set when the assignee first opens the ticket after it was assigned (C6 kick-out).
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Bulk moves write thousands of history rows in one statement; a database-level foreign key
    # from each to the acting user would be checked row by row at commit, about a quarter of the
    # move's time. Django still keeps the link (deleting a user sets it to NULL). History is read
    # by ticket, by assignee and by time (reports), never by team: no index on that one.
    history = HistoricalRecords(user_db_constraint=False, no_db_index=["team"])

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-pinned", "created_at", "id"]
        indexes = [
            models.Index(fields=["assignee", "state"], name="ticket_assignee_state"),
            models.Index(fields=["team", "state", "assignee"], name="ticket_team_queue"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def clean(self) -> None:
        error = agent_error(self.assignee_id)
        if error:
            raise ValidationError({"assignee": error})

    @property
    def capability(self) -> str:
        return CAPABILITY_FOR_CHANNEL[TicketChannel(self.channel)]

    @property
    def is_held(self) -> bool:
        return self.state in HELD_STATES


class RoutingDecision(models.Model):
    """Why an automatic assignment went where it went (T11): written with every routed ticket,
    kept ROUTING_DECISIONS_KEEP_DAYS, shown on the ticket page, in admin and the API."""

    class Method(models.TextChoices):
        ROUND_ROBIN = "round_robin", "round robin"
        LOAD_BALANCE = "load_balance", "load balance"
        OVERFLOW = "overflow", "overflow (tentative)"
        MAPPING = "mapping", "re-assign mapping"

    class PassedOver(models.TextChoices):
        """Why a member ahead of the chosen one in the team's order did not get the ticket."""

        AT_CAPACITY = "at_capacity", "at capacity"
        LOCKED = "locked", "locked (another router or status change had them)"
        NOT_ELIGIBLE = "not_eligible", "not eligible (status)"
        NO_CAPABILITY = "no_capability", "lacking the capability"
        EXCLUDED = "excluded", "the agent the ticket came from"

    # Written once per routed ticket, in the routing statement: without database-level foreign
    # keys, whose checks at commit were most of what the decisions cost routing. Django still
    # keeps the links (deleting a ticket deletes its decisions, deleting a user empties `agent`).
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="routing_decisions", db_constraint=False)
    agent = models.ForeignKey(  # never looked up by agent: no index to keep up either
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False,
        db_index=False,
    )  # fmt: skip
    method = models.CharField(max_length=16, choices=Method.choices)
    candidates = models.IntegerField(help_text="Members considered: read for the pick, and passed over ahead of it.")
    load = models.IntegerField(null=True, help_text="The chosen agent's open tickets of the channel, before this one.")
    capacity = models.IntegerField(null=True)
    # [{"agent": id, "reason": PassedOver value}, ...] in the team's order. The usernames are
    # read with the decisions (tickets.selectors.routing_decisions_of), not written by routing.
    passed_over = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=100, blank=True)  # what started the routing
    at = models.DateTimeField(default=timezone.now)  # no index: see decisions_purge

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"#{self.ticket_id} -> {self.agent_id} ({self.method})"

    def passed_over_labels(self) -> list[tuple[str, str]]:
        """(username, reason in words) for each member passed over."""
        return [(row.get("username") or f"#{row.get('agent')}", self.PassedOver(row["reason"]).label)
                for row in self.passed_over]  # fmt: skip


MENTION = re.compile(r"(?<![\w@.])@([\w.@+-]+)")


def mentioned_usernames(body: str) -> set[str]:
    """The @usernames a note mentions (a trailing full stop ends the sentence, not the name)."""
    return {name.rstrip(".") for name in MENTION.findall(body)}


# The longest note anyone may add: a forms' and serializers' max_length, and ticket_note_add refuses more.
NOTE_MAX_LENGTH = 10_000


class TicketNote(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField(max_length=NOTE_MAX_LENGTH)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in_notes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Note on {self.ticket_id} by {self.author}"


class MappingAction(models.TextChoices):
    UNASSIGN = "unassign", "Unassign (to the Unassigned queue)"
    REROUTE = "reroute", "Re-route through the team's routing"
    DELEGATE = "delegate", "Delegate to the agent's out-of-office delegate"


class ReassignMapping(models.Model):
    """When an agent moves from `from_status` (empty: any) to `to_status`, move their tickets (T4)."""

    from_status = models.ForeignKey(
        Status,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mappings_from",
        help_text="Empty: from any status.",
    )
    to_status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="mappings_to")
    action = models.CharField(max_length=16, choices=MappingAction.choices, default=MappingAction.UNASSIGN)
    history = HistoricalRecords()
    usage_kind = "re-assign mappings"

    class Meta:
        verbose_name = "re-assign mapping"
        constraints = [
            models.UniqueConstraint(fields=["from_status", "to_status"], name="unique_mapping_from_to"),
            models.UniqueConstraint(
                fields=["to_status"], condition=models.Q(from_status__isnull=True), name="unique_mapping_any_to"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or 'Any'} -> {self.to_status}: {self.get_action_display()}"

    def clean(self) -> None:
        if self.from_status_id and self.from_status_id == self.to_status_id:
            raise ValidationError({"to_status": "A mapping needs two different statuses."})
