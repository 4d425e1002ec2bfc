from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from simple_history.models import HistoricalRecords

from presence.constraints import CaseInsensitiveUnique
from presence.limits import time_out_of_range
from presence.models import Status, StatusCategory, agent_error


def schedulable_status_error(status: Status | None) -> str | None:
    """Why a schedule may not set `status` (None: it may). System statuses are the system's own
    (Offline, Kicked out, the phone's On a call), and a disabled status is not in use: a shift or
    an appointment that set one would do what no person may."""
    if status is None:
        return None
    if status.is_system:
        return f'"{status.name}" is a system status: only the system sets it, a schedule cannot.'
    if not status.enabled:
        return f'"{status.name}" is disabled: enable it first, or choose another status.'
    return None


def _status_errors(obj, *fields: str) -> dict[str, str]:
    return {
        name: error
        for name in fields
        if getattr(obj, f"{name}_id") is not None and (error := schedulable_status_error(getattr(obj, name)))
    }


# Bounds no real shift reaches (a shift lasts a day at most), so a typo is refused rather than stored.
BREAK_MINUTES_MAX = 24 * 60
BREAK_COUNT_MAX = 100


def break_status_error(status: Status) -> str | None:
    """Why `status` may not be a break status (None: it may). Offline and the system's statuses are
    not breaks: Offline during a working shift is flagged as such, and nobody picks the others."""
    if status.is_system:
        return _('"%(status)s" is a system status: it cannot be a break.') % {"status": status.name}
    if status.category == StatusCategory.OFFLINE:
        return _('"%(status)s" is an offline status: it cannot be a break.') % {"status": status.name}
    return None


def break_budget_errors(shift_type: "ShiftType", break_statuses) -> dict[str, str]:
    """What is wrong with a shift type's break budget, by field, given the break statuses it is to
    have (they are a many-to-many, so the caller passes them: the form's or the API's choice)."""
    errors = {}
    break_statuses = list(break_statuses)
    problems = [error for status in break_statuses if (error := break_status_error(status))]
    if problems:
        errors["break_statuses"] = " ".join(problems)
    budget = shift_type.break_minutes is not None or shift_type.break_count is not None
    if shift_type.off_duty and (budget or break_statuses):
        errors["off_duty"] = _("An off-duty shift has no work, so it has no breaks: leave the break fields empty.")
    elif budget and not break_statuses:
        errors["break_statuses"] = _("Choose the break statuses the budget counts.")
    return errors


class ShiftType(models.Model):
    """A kind of shift (C1): the status an agent gets when it starts and, optionally, when it ends,
    and the breaks it allows (C8)."""

    name = models.CharField(max_length=100)
    default_status = models.ForeignKey(
        Status, on_delete=models.PROTECT, related_name="shift_types_starting", help_text="Applied at the start."
    )
    end_status = models.ForeignKey(
        Status,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shift_types_ending",
        help_text="Applied at the end; empty leaves the status as it is.",
    )
    off_duty = models.BooleanField(
        "off duty",
        default=False,
        help_text="A day off, leave or a holiday: no work is due, so schedule compliance leaves these shifts out.",
    )
    # The break budget (C8): time in these statuses during a shift counts as break time. Through a
    # model of our own so that a status a budget names cannot be deleted from under it (S3).
    break_statuses = models.ManyToManyField(
        Status,
        through="ShiftTypeBreakStatus",
        blank=True,
        related_name="+",
        verbose_name=gettext_lazy("break statuses"),
        help_text=gettext_lazy("Statuses that count as a break during these shifts; empty allows no breaks."),
    )
    break_minutes = models.PositiveSmallIntegerField(
        gettext_lazy("break minutes"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(BREAK_MINUTES_MAX)],
        help_text=gettext_lazy("Minutes of break in all per shift; empty sets no limit."),
    )
    break_count = models.PositiveSmallIntegerField(
        gettext_lazy("number of breaks"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(BREAK_COUNT_MAX)],
        help_text=gettext_lazy("How many breaks a shift allows; empty sets no limit."),
    )
    history = HistoricalRecords()
    usage_kind = "shift types"

    class Meta:
        ordering = ["name"]
        constraints = [
            CaseInsensitiveUnique(
                field="name",
                name="shift_type_name_unique_ci",
                violation_error_message="A shift type with this name already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = _status_errors(self, "default_status", "end_status")
        if errors:
            raise ValidationError(errors)


class ShiftTypeBreakStatus(models.Model):
    """One break status of a shift type. The status is protected: deleting it names the shift type."""

    shift_type = models.ForeignKey(ShiftType, on_delete=models.CASCADE, related_name="+")
    status = models.ForeignKey(Status, on_delete=models.PROTECT, related_name="shift_type_breaks")
    usage_kind = "shift types' breaks"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shift_type", "status"], name="shift_type_break_status_unique")]

    def __str__(self) -> str:
        return f"{self.shift_type_id}: {self.status_id}"

    def usage_label(self) -> str:
        return self.shift_type.name


class ScheduledQuerySet(models.QuerySet):
    def overlapping(self, agent_id, start, end, exclude_pk=None):
        qs = self.filter(agent_id=agent_id, start__lt=end, end__gt=start)
        return qs.exclude(pk=exclude_pk) if exclude_pk else qs


class Scheduled(models.Model):
    """Shared by shifts and appointments: one agent, a time span, and when each end was applied.

    The *_applied_at stamps make the sweeps state-based and idempotent: a start is applied once,
    whenever the sweep first sees it due, and a second sweep at the same time finds it done.
    """

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField(db_index=True)
    start_applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    end_applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when a sweep could not apply this row (say, its user is no longer an agent): the
    # row is marked done so it never holds back the others, and this says why.
    skipped_reason = models.CharField("skipped because", max_length=255, blank=True, editable=False)

    objects = ScheduledQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["start", "id"]

    @classmethod
    def pending_indexes(cls, prefix: str) -> list[models.Index]:
        """What the sweeps read, in the order they read it: starts and ends not yet applied.
        Partial, so they hold only what is still to come, and a sweep with nothing due never
        reads through months of past ones."""
        return [
            models.Index(
                fields=["start", "id"], condition=Q(start_applied_at__isnull=True), name=f"{prefix}_start_pending"
            ),
            models.Index(fields=["end", "id"], condition=Q(end_applied_at__isnull=True), name=f"{prefix}_end_pending"),
        ]

    def max_length(self) -> tuple[timedelta, str]:
        """The longest this entry may last, and how to say it."""
        raise NotImplementedError

    def clean(self) -> None:
        error = agent_error(self.agent_id)
        if error:
            raise ValidationError({"agent": error})
        # Near year 1 or 9999 a time overflows as soon as it moves to another zone (the agent's, a
        # report's) or a sweep adds to it.
        errors = {name: error for name in ("start", "end") if (error := time_out_of_range(getattr(self, name)))}
        if errors:
            raise ValidationError(errors)
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})
        longest, described = self.max_length()
        if self.start and self.end and self.end - self.start > longest:
            raise ValidationError({"end": f"{described}: end it sooner, or split it."})


class Shift(Scheduled):
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts")
    shift_type = models.ForeignKey(ShiftType, on_delete=models.PROTECT, related_name="shifts")
    history = HistoricalRecords()

    class Meta(Scheduled.Meta):
        indexes = [
            models.Index(fields=["agent", "start"], name="shift_agent_start"),
            *Scheduled.pending_indexes("shift"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.shift_type} {self.start:%Y-%m-%d %H:%M}"

    def max_length(self) -> tuple[timedelta, str]:
        hours = getattr(settings, "SHIFT_MAX_HOURS", 24)
        return timedelta(hours=hours), f"A shift lasts at most {hours} hours"

    def clean(self) -> None:
        super().clean()
        if self.agent_id and self.start and self.end:
            clash = Shift.objects.overlapping(self.agent_id, self.start, self.end, exclude_pk=self.pk).first()
            if clash is not None:
                raise ValidationError(
                    f"This shift overlaps {clash.shift_type} from {clash.start:%Y-%m-%d %H:%M} "
                    f"to {clash.end:%Y-%m-%d %H:%M} (UTC) of the same agent."
                )


class Appointment(Scheduled):
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="appointments")
    subject = models.CharField(max_length=200)
    agent_status = models.ForeignKey(
        Status,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
        help_text="Status during the appointment; empty uses the presence settings' default.",
    )
    # What the start replaced, to give it back at the end if nobody changed the status meanwhile.
    applied_status = models.ForeignKey(
        Status, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    applied_since = models.DateTimeField(null=True, blank=True, editable=False)
    previous_status = models.ForeignKey(
        Status, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Who created it. An agent who books their own appointment into a status that needs approval
    # gets a request at its start, not the status (P6); a supervisor's booking applies it.
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    history = HistoricalRecords()
    usage_kind = "appointments"

    class Meta(Scheduled.Meta):
        indexes = [
            models.Index(fields=["agent", "start"], name="appointment_agent_start"),
            *Scheduled.pending_indexes("appointment"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} ({self.agent}, {self.start:%Y-%m-%d %H:%M})"

    def max_length(self) -> tuple[timedelta, str]:
        days = getattr(settings, "APPOINTMENT_MAX_DAYS", 31)
        return timedelta(days=days), f"An appointment lasts at most {days} days"

    def clean(self) -> None:
        super().clean()
        errors = _status_errors(self, "agent_status")
        if errors:
            raise ValidationError(errors)
