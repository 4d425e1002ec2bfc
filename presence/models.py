import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from presence.constraints import CaseInsensitiveUnique
from presence.errors import StatusInUse, StatusProtected


class StatusCategory(models.TextChoices):
    ONLINE = "online", "Online"
    # Receives only as overflow, when no other eligible team member can take the ticket (S6).
    TENTATIVE = "tentative", "Tentative"
    # In a conference or meeting on the phone: shown as busy (S6).
    CONFERENCE = "conference", "Conference"
    NOT_READY = "not_ready", "Not ready"
    INACTIVE = "inactive", "Inactive"
    OFFLINE = "offline", "Offline"


class Channel(models.TextChoices):
    """What an agent can handle (P1 capabilities); each has its own capacity."""

    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"
    VIDEO = "video", "Video"


class LicenceType(models.TextChoices):
    NAMED = "named", "Named"
    CONCURRENT = "concurrent", "Concurrent"


class Source(models.TextChoices):
    """Every path that can change a status (P2)."""

    DROPDOWN = "dropdown", _("Header dropdown")
    API = "api", _("API")
    ADMIN = "admin", _("Admin")
    SUPERVISOR = "supervisor", _("Supervisor")
    APPROVAL = "approval", _("Approval")
    SHIFT = "shift", _("Shift")
    APPOINTMENT = "appointment", _("Appointment")
    IDLE_TIMEOUT = "idle_timeout", _("Idle timeout")
    AUTO_OFFLINE = "auto_offline", _("Auto-offline")
    KICKED_OUT = "kicked_out", _("Kicked out")
    EXPIRY = "expiry", _("Timed status expiry")
    DRAIN = "drain", _("Finishing done")
    LOGIN = "login", _("Login")
    LOGOUT = "logout", _("Logout")
    TELEPHONY = "telephony", _("Phone system")
    SYSTEM = "system", _("System")


# Sources by which a person picks a status; the rest are automatic or system paths.
PERSON_SOURCES = frozenset({Source.DROPDOWN, Source.API, Source.ADMIN, Source.SUPERVISOR})


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: a name too long for a file
        raise ValidationError(f'"{value}" is not a time zone name such as Europe/Berlin.') from exc


def agent_error(user_id) -> str | None:
    """Why this user cannot be picked where an agent is needed (None: they are an agent)."""
    if not user_id or AgentProfile.objects.filter(user_id=user_id).exists():
        return None
    from django.contrib.auth import get_user_model

    username = get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first()
    return f'"{username or user_id}" is not an agent: only users with an agent profile can be picked.'


color_validator = RegexValidator(r"^#[0-9A-Fa-f]{6}$", "Enter a colour as #RRGGBB, e.g. #2E7D32.")


class Team(models.Model):
    """A queue group. Agents are members; a status with teams sets which memberships are active."""

    name = models.CharField(max_length=100)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TeamMembership", related_name="presence_teams")
    # The coverage alarm (C7): during the team's opening hours (TeamOpeningHours, read in this
    # time zone) at least this many members must be routable; 0 turns the alarm off.
    coverage_minimum = models.PositiveSmallIntegerField(
        _("minimum routable agents"),
        default=0,
        help_text=_(
            "During opening hours, the coverage alarm goes off when fewer members than this get work "
            "automatically. 0: no alarm."
        ),
    )
    coverage_time_zone = models.CharField(
        _("opening hours' time zone"),
        max_length=64,
        blank=True,
        default="",
        validators=[validate_time_zone],
        help_text=_("The time zone of the opening hours, such as Europe/Berlin. Empty: the site's time zone."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            CaseInsensitiveUnique(
                field="name",
                name="team_name_unique_ci",
                violation_error_message="A team with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name


# Round robin's order on PostgreSQL, as its pick index has it (migration 0014): the cursor, with
# members never given a ticket first. `{}`: the cursor's column, say m.last_assigned_at.
ROUND_ROBIN_CURSOR_SQL = "COALESCE({}, '-infinity'::timestamptz)"


class TeamMembership(models.Model):
    # The team's own index would repeat unique_team_membership's leading column, and every
    # assignment rewrites the member's row (its load): one index entry fewer per pick.
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    # An inactive member keeps the membership but takes no work from the team's queue.
    active = models.BooleanField(default=True)
    # What routing reads, kept in step by the services, so a pick walks an index of one team's
    # routable members in order and never reads the whole team (T3): whether the member gets work
    # automatically now (the one routing rule on an active membership) for any ticket, or at
    # least for chat-linked ones; whether only as overflow (tentative); their open load (the
    # total of AgentLoad); and when this team last gave them a ticket (the round-robin cursor).
    routable = models.BooleanField(default=False, editable=False)
    routable_chat = models.BooleanField(default=False, editable=False)
    overflow = models.BooleanField(default=False, editable=False)
    load = models.IntegerField(default=0, editable=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "agent"], name="unique_team_membership")]
        indexes = [
            models.Index(
                fields=["team", "overflow", "load", "agent"],
                condition=models.Q(routable_chat=True),
                name="membership_pick_by_load",
            ),
            # Round robin's index (membership_pick_round_robin: team, overflow, last_assigned_at
            # with never-assigned members first, agent) is made by migrations in SQL: on
            # PostgreSQL on COALESCE(last_assigned_at, '-infinity') (0014), which a row
            # comparison can bound; SQLite, which sorts NULLs first, on the plain columns (0009).
        ]

    def __str__(self) -> str:
        return f"{self.agent} in {self.team}"

    def clean(self) -> None:
        error = agent_error(self.agent_id)
        if error:
            raise ValidationError({"agent": error})


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class TeamOpeningHours(models.Model):
    """When a team is open (C7): on `weekday` from `opens` to `closes`, wall-clock times in the
    team's coverage time zone. `closes` at or before `opens` runs past midnight into the next
    day (22:00-06:00; 08:00-08:00 is 24 hours). A team without rows is never open."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"), help_text=_("At or before the opening time: closes the next day."))

    class Meta:
        ordering = ["team", "weekday", "opens"]
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weekday__gte=0, weekday__lte=6), name="opening_hours_weekday_0_6"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class TeamCoverage(models.Model):
    """A team's coverage as the last sweep saw it (C7; presence.services.coverage): kept by
    `coverage_check` only, read by the board, the API and nobody else.

    `required` is the minimum in force (0 while the team is closed or has no alarm), `routable`
    its members who get work automatically, `deficit` what is missing, and `since` when the
    current deficit began (empty while covered)."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, primary_key=True, related_name="coverage")
    open = models.BooleanField(default=False)
    required = models.PositiveSmallIntegerField(default=0)
    routable = models.PositiveIntegerField(default=0)
    deficit = models.PositiveSmallIntegerField(default=0)
    since = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("team coverage")
        verbose_name_plural = _("team coverage")

    def __str__(self) -> str:
        return f"{self.team_id}: {self.routable} of {self.required}"


class StatusQuerySet(models.QuerySet):
    def enabled(self):
        return self.filter(enabled=True)

    def delete(self):
        # Bulk deletes (admin "delete selected", shell) obey the same guard as one delete.
        system = list(self.filter(is_system=True).values_list("name", flat=True))
        if system:
            raise StatusProtected(f"Built-in system statuses cannot be deleted: {', '.join(system)}.")
        for status in self:
            reason = status.protection(deleting=True)
            if reason:
                raise StatusProtected(reason)
        try:
            return super().delete()
        except (ProtectedError, RestrictedError) as exc:
            raise StatusInUse.from_protected(exc) from exc


# Settings that need their status to stay pickable (S5): it cannot be disabled or deleted.
PROTECTING_SETTINGS = {"login_status": "login status", "auto_offline_status": "auto-offline status"}
# Settings whose status may be disabled (automatic paths apply any status) but not deleted.
USING_SETTINGS = {**PROTECTING_SETTINGS, "appointment_default_status": "appointment default status"}


class Status(models.Model):
    # Slugs of the built-in statuses the code relies on (S2); system slugs cannot change.
    AVAILABLE = "available"
    OFFLINE = "offline"
    KICKED_OUT = "kicked-out"
    ON_A_CALL = "on-a-call"
    AFTER_CALL_WORK = "after-call-work"
    # Set by the system only: never offered to agents, never picked by a person.
    SYSTEM_ONLY = frozenset({KICKED_OUT, ON_A_CALL, AFTER_CALL_WORK})

    name = models.CharField(max_length=64, help_text="What agents and supervisors see, such as Lunch.")
    slug = models.SlugField(max_length=64, unique=True, help_text="A stable short name for integrations and URLs.")
    category = models.CharField(
        max_length=16,
        choices=StatusCategory.choices,
        help_text="Online, tentative (overflow only, shown as away), conference (shown as busy), not ready, inactive "
        "or offline: decides the availability shown (away, busy, offline, ...).",
    )
    color = models.CharField(
        max_length=7, default="#9E9E9E", validators=[color_validator], help_text="The swatch shown next to the name."
    )
    emoji = models.CharField(max_length=16, blank=True, help_text="Shown before the name in the dropdown and board.")
    sort_order = models.PositiveIntegerField("order", default=100, help_text="Lower numbers come first in every list.")
    enabled = models.BooleanField(
        default=True, help_text="Disabled statuses are hidden from agents' choices; nobody in one is moved."
    )
    is_system = models.BooleanField(
        default=False,
        editable=False,
        help_text="A built-in status the code relies on: it cannot be disabled or deleted, nor its slug or "
        "category changed.",
    )

    can_receive = models.BooleanField(
        "can receive", default=False, help_text="Agents in it can be given new tickets and chats."
    )
    online_for_live_chat = models.BooleanField(
        "online for live chat", default=False, help_text="Agents in it count as online in the live-chat widget."
    )
    in_load_balance = models.BooleanField(
        "in load balance",
        default=False,
        help_text="Agents in it get work automatically by round robin or load balance.",
    )
    in_load_balance_for_chat = models.BooleanField(
        "in load balance for chat",
        default=False,
        help_text="Agents in it get only chat-linked tickets automatically (only with 'in load balance' off).",
    )
    warn_on_assign = models.BooleanField(
        "warn on assign", default=False, help_text="Assigning a ticket to an agent in it asks for confirmation first."
    )
    warn_on_mention = models.BooleanField(
        "warn on mention", default=False, help_text="Mentioning an agent in it in a note asks for confirmation first."
    )
    count_time_after_dialogs_closed = models.BooleanField(
        "count time after dialogs closed",
        default=False,
        help_text="Reports count time in it only once the agent has no open dialogs (not with 'can receive').",
    )
    max_duration = models.PositiveIntegerField(
        "max duration (minutes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="A timed status returns the agent to the return status after this many minutes.",
    )
    return_status = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returning_statuses",
        help_text="Where a timed status sends the agent when its max duration runs out.",
    )
    requires_approval = models.BooleanField(
        "requires approval", default=False, help_text="An agent's own switch to it waits for a supervisor's approval."
    )
    teams = models.ManyToManyField(
        Team,
        blank=True,
        related_name="statuses",
        help_text="Queue group: choosing this status makes the agent's active teams exactly these.",
    )
    drain = models.BooleanField(
        "finish open tickets first",
        default=False,
        help_text="Agents with open tickets finish them, taking nothing new, before the switch takes effect.",
    )
    idle_timeout = models.PositiveIntegerField(
        "idle timeout (minutes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(5)],
        help_text="Overrides the idle timeout of the presence settings for agents in this status (minimum 5).",
    )
    forward_to_phone = models.BooleanField(
        "forward calls to phone",
        default=False,
        help_text="Calls for agents in it go to the phone number on their profile instead of the softphone.",
    )

    history = HistoricalRecords()
    objects = StatusQuerySet.as_manager()
    usage_kind = "statuses that return to it"

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "statuses"
        constraints = [
            CaseInsensitiveUnique(
                field="name",
                name="status_name_unique_ci",
                violation_error_message="A status with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.in_load_balance_for_chat and self.in_load_balance:
            errors["in_load_balance_for_chat"] = (
                "'In load balance for chat' can only be set when 'in load balance' is off."
            )
        if not self.can_receive:
            for flag in ("in_load_balance", "in_load_balance_for_chat"):
                if getattr(self, flag):
                    label = self._meta.get_field(flag).verbose_name
                    errors[flag] = (
                        f"'{label.capitalize()}' needs 'can receive': agents in a status that cannot receive "
                        "get no work automatically."
                    )
        if self.count_time_after_dialogs_closed and self.can_receive:
            errors["count_time_after_dialogs_closed"] = (
                "'Count time after dialogs closed' cannot be on together with 'can receive'."
            )
        if self.return_status_id and not self.max_duration:
            errors["return_status"] = "A return status needs a max duration."
        if self.max_duration and not self.return_status_id:
            errors["max_duration"] = "A timed status needs a return status to go back to."
        if self.pk and self.return_status_id == self.pk:
            errors["return_status"] = "A status cannot return to itself."
        if self.pk and self.is_system:
            stored = Status.objects.filter(pk=self.pk).values("category", "slug").first()
            if stored and stored["category"] != self.category:
                errors["category"] = "The category of a built-in system status cannot change."
            if stored and stored["slug"] != self.slug:
                errors["slug"] = "The slug of a built-in system status cannot change."
        if not self.enabled:
            reason = self.protection(deleting=False)
            if reason:
                errors["enabled"] = reason
        if errors:
            raise ValidationError(errors)

    def protection(self, *, deleting: bool) -> str | None:
        """Why this status may not be disabled (or deleted), naming what needs it (S5); None if nothing does."""
        verb = "deleted" if deleting else "disabled"
        if self.is_system:
            return f'"{self.name}" is a built-in system status and cannot be {verb}.'
        if self.pk is None:
            return None
        settings_fields = USING_SETTINGS if deleting else PROTECTING_SETTINGS
        used = (
            PresenceSettings.objects.filter(pk=PresenceSettings.SINGLETON_PK)
            .values(*(f"{name}_id" for name in settings_fields))
            .first()
            or {}
        )
        names = [label for name, label in settings_fields.items() if used.get(f"{name}_id") == self.pk]
        if not names:
            return None
        return (
            f'"{self.name}" is the {" and the ".join(names)} in the presence settings, so it cannot be {verb}: '
            "choose another status there first."
        )

    def delete(self, *args, **kwargs):
        reason = self.protection(deleting=True)
        if reason:
            raise StatusProtected(reason)
        try:
            return super().delete(*args, **kwargs)
        except (ProtectedError, RestrictedError) as exc:
            raise StatusInUse.from_protected(exc, status=self) from exc

    @property
    def is_timed(self) -> bool:
        return bool(self.max_duration and self.return_status_id)


class AgentProfile(models.Model):
    """What makes a user an agent (P1). Its primary key is the user's id."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="agent_profile"
    )
    licence_type = models.CharField(max_length=16, choices=LicenceType.choices, default=LicenceType.NAMED)
    can_email = models.BooleanField("email", default=True)
    can_chat = models.BooleanField("chat", default=True)
    can_phone = models.BooleanField("phone", default=False)
    can_video = models.BooleanField("video", default=False)
    # Per-channel concurrency, as contact-centre products do: open items at once per channel.
    capacity_email = models.PositiveIntegerField("email capacity", default=10)
    capacity_chat = models.PositiveIntegerField("chat capacity", default=3)
    capacity_phone = models.PositiveIntegerField("phone capacity", default=1)
    capacity_video = models.PositiveIntegerField("video capacity", default=1)
    time_zone = models.CharField(
        max_length=64,
        default=settings.TIME_ZONE,
        validators=[validate_time_zone],
        help_text="Where the agent works: shifts given without a zone are read in it.",
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delegating_agents",
        help_text="Receives this agent's tickets when a mapping delegates them.",
    )
    phone_number = models.CharField(
        "phone number",
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^\+?[0-9 ()./-]{3,31}$", "Enter a phone number such as +49 30 1234567.")],
        help_text="Where calls go while the agent is in a status that forwards calls to the phone.",
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        help_text=_("The language of the agent's pages. Empty: follow the browser's language."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.get_username()

    def clean(self) -> None:
        if self.delegate_id and self.delegate_id == self.user_id:
            raise ValidationError({"delegate": "An agent cannot be their own delegate."})
        error = agent_error(self.delegate_id)
        if error:
            raise ValidationError({"delegate": error})

    @property
    def capabilities(self) -> list[str]:
        return [channel.value for channel in Channel if getattr(self, f"can_{channel.value}")]

    @property
    def capacity(self) -> dict[str, int]:
        return {channel.value: getattr(self, f"capacity_{channel.value}") for channel in Channel}

    def has_capability(self, channel: str) -> bool:
        return bool(getattr(self, f"can_{channel}", False))


class AgentPresence(models.Model):
    """The live state of one agent (P1). Written only by presence services."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="presence"
    )
    status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="agents")
    since = models.DateTimeField(default=timezone.now)
    pending_status = models.ForeignKey(
        Status,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="pending_agents",
        help_text="While finishing: the status applied when the last open ticket closes.",
    )
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField(null=True, blank=True)

    usage_kind = "agents"

    class Meta:
        verbose_name_plural = "agent presences"
        indexes = [
            models.Index(fields=["status", "since"], name="presence_status_since"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} ({self.status})"

    def usage_label(self) -> str:
        return self.agent.get_username()

    @property
    def is_finishing(self) -> bool:
        return self.pending_status_id is not None

    def seconds_in_status(self, now=None) -> int:
        return max(0, int(((now or timezone.now()) - self.since).total_seconds()))


class StatusChangeLog(models.Model):
    """One row per status transition while logging is on (P8). Survives status deletion."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="status_log")
    from_status = models.ForeignKey(Status, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_status = models.ForeignKey(Status, null=True, on_delete=models.SET_NULL, related_name="+")
    # Names kept so the log still reads right after a status is renamed or deleted.
    from_status_name = models.CharField(max_length=64, blank=True)
    to_status_name = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    reason = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["agent", "at"], name="statuslog_agent_at")]

    def __str__(self) -> str:
        return f"{self.agent}: {self.from_status_name or '-'} -> {self.to_status_name} ({self.source})"


class StatusRequest(models.Model):
    """An agent's request to switch to a status that requires approval (P6)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="status_requests")
    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="requests")
    reason = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open request per agent: a new one replaces the old (see presence_request_status).
            models.UniqueConstraint(
                fields=["agent"], condition=models.Q(state="pending"), name="one_pending_request_per_agent"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent} -> {self.status} ({self.state})"


class AgentSession(models.Model):
    """A signed-in browser session of an agent, so idle timeout can end exactly those (C4)."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.agent} session"


class StillWorkingPrompt(models.Model):
    """'Still working?' asked of an agent who leaves assigned work unopened (C6)."""

    class State(models.TextChoices):
        OPEN = "open", "Waiting for an answer"
        ANSWERED = "answered", "Answered"
        KICKED_OUT = "kicked_out", "Not answered: kicked out"
        WITHDRAWN = "withdrawn", "Withdrawn"

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="still_working_prompts")
    asked_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-asked_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent"], condition=models.Q(state="open"), name="one_open_prompt_per_agent"
            )
        ]
        indexes = [models.Index(fields=["state", "asked_at"], name="prompt_state_asked")]

    def __str__(self) -> str:
        return f"Still working? {self.agent} ({self.state})"


class PresenceSettings(models.Model):
    """The one row of presence configuration (P9), edited as a single admin page."""

    SINGLETON_PK = 1

    log_status_changes = models.BooleanField(
        "log status changes", default=True, help_text="Write every status change to the status log for the reports."
    )
    reassign_on_status_change = models.BooleanField(
        "reassign on status change",
        default=False,
        help_text="Move an agent's tickets by the re-assign mappings when their status changes.",
    )
    apply_mappings_to_schedules = models.BooleanField(
        "apply mappings to shift and appointment changes",
        default=False,
        help_text="Also move tickets by the mappings when a shift or appointment changes the status.",
    )
    login_status = models.ForeignKey(
        Status,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The status an agent gets on signing in; it cannot be disabled or deleted.",
    )
    idle_timeout_minutes = models.PositiveIntegerField(
        "idle timeout (minutes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(5, "The idle timeout is at least 5 minutes.")],
        help_text="Sign agents out after this many minutes without activity (at least 5; empty turns it off).",
    )
    idle_timeout_named = models.BooleanField(
        "idle timeout for named licences", default=True, help_text="Apply the idle timeout to named-licence agents."
    )
    idle_timeout_concurrent = models.BooleanField(
        "idle timeout for concurrent licences",
        default=True,
        help_text="Apply the idle timeout to concurrent-licence agents.",
    )
    idle_warning_seconds = models.PositiveIntegerField(
        "idle warning lead time (seconds)",
        default=60,
        validators=[MinValueValidator(10)],
        help_text="How long before the idle sign-out the agent's panel warns them (at least 10).",
    )
    auto_offline_minutes = models.PositiveIntegerField(
        "auto-offline after (minutes)",
        null=True,
        blank=True,
        default=10,
        validators=[MinValueValidator(1)],
        help_text="Give the auto-offline status to a receiving agent with no heartbeat this long (empty: off).",
    )
    auto_offline_status = models.ForeignKey(
        Status,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The status given on a lost connection; it cannot receive work, be disabled or be deleted.",
    )
    kick_out_minutes = models.PositiveIntegerField(
        "kick-out timeout (minutes)",
        default=15,
        validators=[MinValueValidator(1)],
        help_text="An assigned ticket left unopened this long asks 'still working?'.",
    )
    wrap_up_max_minutes = models.PositiveIntegerField(
        "after call work at most (minutes)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="End after call work by itself after this many minutes (empty: only the agent's Done ends it).",
    )
    appointment_default_status = models.ForeignKey(
        Status,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The status for appointments that name none; empty leaves the status alone.",
    )
    history = HistoricalRecords()
    usage_kind = "presence settings"

    class Meta:
        verbose_name = "presence settings"
        verbose_name_plural = "presence settings"

    def __str__(self) -> str:
        return "Presence settings"

    def save(self, *args, **kwargs):
        self.pk = self.SINGLETON_PK
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("The presence settings cannot be deleted.")

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.auto_offline_status_id and self.auto_offline_status.can_receive:
            errors["auto_offline_status"] = "The auto-offline status must be one that does not receive work."
        if self.login_status_id and self.login_status.category == StatusCategory.OFFLINE:
            errors["login_status"] = "The login status cannot be an offline status."
        for name, label in PROTECTING_SETTINGS.items():
            status = getattr(self, name) if getattr(self, f"{name}_id") else None
            if status is not None and not status.enabled and name not in errors:
                errors[name] = f'"{status.name}" is disabled: the {label} must be an enabled status.'

        if errors:
            raise ValidationError(errors)

    @classmethod
    def load(cls) -> "PresenceSettings":
        """The settings row; the data migration creates it, this recreates it if someone removed it."""
        obj = cls.objects.filter(pk=cls.SINGLETON_PK).first()
        if obj is None:
            offline = Status.objects.get(slug=Status.OFFLINE)
            available = Status.objects.filter(slug=Status.AVAILABLE).first() or offline
            obj, _created = cls.objects.get_or_create(
                pk=cls.SINGLETON_PK,
                defaults={"login_status": available, "auto_offline_status": offline},
            )
        return obj


class Notice(models.Model):
    """Something the agent should know about their status, shown in the panel until dismissed (P11)."""

    class Kind(models.TextChoices):
        REQUEST_APPROVED = "request_approved", "Request approved"
        REQUEST_REJECTED = "request_rejected", "Request rejected"
        CHANGED_BY_SUPERVISOR = "changed_by_supervisor", "Changed by a supervisor"
        CHANGED_BY_SCHEDULE = "changed_by_schedule", "Changed by a shift or appointment"

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    text = models.CharField(max_length=400)
    created_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["agent", "created_at"], condition=models.Q(dismissed_at__isnull=True), name="notice_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent}: {self.text}"


class Call(models.Model):
    """A phone call of an agent as the phone system reports it (P12): On a call while it runs,
    After call work after it, then back to the status the agent had before."""

    class State(models.TextChoices):
        ACTIVE = "active", "On the call"
        WRAP_UP = "wrap_up", "After call work"
        DONE = "done", "Done"

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calls")
    call_id = models.CharField(max_length=128, unique=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # The status to return to after the call, and the After call work it is conditional on.
    status_before = models.ForeignKey(Status, null=True, on_delete=models.SET_NULL, related_name="+")
    wrap_up_since = models.DateTimeField(null=True, blank=True)
    wrap_up_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("report_call_events", "Can report phone call events (a phone system)")]
        indexes = [
            models.Index(fields=["agent", "state"], name="call_agent_state"),
            models.Index(fields=["wrap_up_until"], condition=models.Q(state="wrap_up"), name="call_wrap_up_due"),
        ]

    def __str__(self) -> str:
        return f"Call {self.call_id} of {self.agent} ({self.state})"


class ApiTokenUse(models.Model):
    """When an API token was last used, for the token admin (A3). Written at most once a minute
    per token, like heartbeats."""

    token = models.OneToOneField("authtoken.Token", on_delete=models.CASCADE, primary_key=True, related_name="use")
    last_used_at = models.DateTimeField()

    class Meta:
        verbose_name = "API token use"

    def __str__(self) -> str:
        return f"{self.token_id[:8]}… last used {self.last_used_at:%Y-%m-%d %H:%M}"


class AgentLoad(models.Model):
    """The open work an agent holds, per channel (capacity P1): counters kept by the tickets
    services in the same statements that move tickets, so routing and availability never count
    tickets. `manage.py recount_load` rebuilds them; a periodic self-check repairs any drift."""

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="load"
    )
    # Plain integers: a drifted counter is repaired by the self-check, never refused mid-move.
    email = models.IntegerField(default=0)
    chat = models.IntegerField(default=0)
    phone = models.IntegerField(default=0)
    video = models.IntegerField(default=0)

    class Meta:
        verbose_name = "agent load"

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.total} open"

    @property
    def total(self) -> int:
        return sum(getattr(self, channel) for channel in Channel.values)

    def held(self, channel: str) -> int:
        return getattr(self, channel)
