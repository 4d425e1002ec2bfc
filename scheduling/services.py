"""Shifts and appointments change statuses at their start and end (C1, C2).

Each start and end is applied once: the sweep claims it by stamping `*_applied_at` in the
same transaction as the status change, with the row locked `skip_locked`, so a second sweep
running at the same moment passes over it and a later one finds it done. A missed run
catches up: anything due and not yet stamped is applied on the next one.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from presence.errors import ApplicationError
from presence.models import AgentPresence, PresenceSettings, Source, StatusCategory
from presence.saving import save_or_refuse
from presence.services import presence_change_status, presence_request_status
from presence.services.status_change import Change, presence_change_statuses
from scheduling.models import Appointment, Shift, ShiftType, break_budget_errors

BATCH_SIZE = 200

logger = logging.getLogger(__name__)


def _due_batches(queryset, field: str, batch_size: int):
    """Ids of the due rows in (`field`, id) order, a list per batch, each batch a fresh read.

    That is the order of the partial index on what is not yet applied, so the read starts at the
    oldest due row and never passes through applied ones, however long the schedule's history.
    """
    after = None
    while True:
        page = queryset
        if after is not None:
            at, pk = after
            page = page.filter(Q(**{f"{field}__gt": at}) | Q(**{field: at, "pk__gt": pk}))
        rows = list(page.order_by(field, "pk").values_list(field, "pk")[:batch_size])
        if not rows:
            return
        yield [pk for _, pk in rows]
        after = rows[-1]


def _claim(model, pk: int, field: str, *related: str):
    """Lock one schedule row whose `field` is still empty, or None if taken or done; `related`
    rows come with it (they are read, not locked)."""
    rows = _claim_many(model, [pk], field, *related)
    return rows[0] if rows else None


def _claim_many(model, pks: list[int], field: str, *related: str) -> list:
    """Lock the schedule rows among `pks` whose `field` is still empty (passing over any another
    sweep holds), in the order of `pks`; `related` rows come with them (read, not locked)."""
    rows = {
        row.pk: row
        for row in model.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("agent", *related)
        .filter(pk__in=pks, **{f"{field}__isnull": True})
        .order_by("pk")
    }
    return [rows[pk] for pk in pks if pk in rows]


def _one_per_agent(rows: list) -> tuple[list, list]:
    """The rows a batch can change together (the first of each agent), and the rest."""
    seen, first, rest = set(), [], []
    for row in rows:
        (rest if row.agent_id in seen else first).append(row)
        seen.add(row.agent_id)
    return first, rest


def _apply_batch(model, pks: list[int], apply_many, apply_one, now, *args) -> int:
    """Apply a batch of due starts or ends together, in one transaction. Should that fail (a bad
    row among them, say), the batch is rolled back and applied row by row, where a bad row is
    skipped and marked (_apply_or_skip). Lost connections end the sweep; the next run retries."""
    try:
        with transaction.atomic():
            return apply_many(pks, now, *args)
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # noqa: BLE001 - retried row by row below, where the bad row is found
        logger.info("A batch of %s %s failed; applying them one by one", len(pks), model._meta.verbose_name_plural)
    return sum(_apply_or_skip(model, pk, apply_one, now, *args) for pk in pks)


def _stamp(model, pk: int, field: str, now) -> None:
    # A plain UPDATE: the stamp is bookkeeping, not a change anyone edits or audits.
    model.objects.filter(pk=pk).update(**{field: now})


def _apply_or_skip(model, pk: int, apply, *args) -> bool:
    """Apply one due start or end. A row that cannot be applied (its user is no longer an agent,
    say) would fail on every run and hold back every row after it: it is logged, marked done
    with the reason in `skipped_reason`, and the sweep goes on. Lost connections are not the
    row's fault: they end the sweep, and the next run retries."""
    try:
        return apply(pk, *args)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure is this row's: skip it, keep going
        reason = getattr(exc, "message", None) or "; ".join(getattr(exc, "messages", [])) or repr(exc)
        expected = isinstance(exc, ApplicationError | ValidationError)
        (logger.warning if expected else logger.exception)("Skipped %s %s: %s", model._meta.verbose_name, pk, reason)
        now = args[0]
        model.objects.filter(pk=pk).update(
            start_applied_at=Coalesce("start_applied_at", now),
            end_applied_at=Coalesce("end_applied_at", now),
            skipped_reason=str(reason)[:255],
        )
        return False


# --- shifts --------------------------------------------------------------------------------------


def shift_apply_due(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """Apply every due shift end, then every due start of a shift still running."""
    now = now or timezone.now()
    applied = 0
    ends = Shift.objects.filter(end__lte=now, end_applied_at__isnull=True)
    for pks in _due_batches(ends, "end", batch_size):
        applied += _apply_batch(Shift, pks, _shift_ends, _shift_end, now)
    starts = Shift.objects.filter(start__lte=now, end__gt=now, start_applied_at__isnull=True)
    for pks in _due_batches(starts, "start", batch_size):
        applied += _apply_batch(Shift, pks, _shift_starts, _shift_start, now)
    return applied


def _signed_in_for(status):
    def signed_in_for_work(presence) -> str | None:
        # A receiving status is not given to someone who is not signed in: work would be
        # routed to an empty chair. They get the login status when they sign in.
        if presence.status.category == StatusCategory.OFFLINE and status.can_receive:
            return "not signed in"
        return None

    return signed_in_for_work


def _shift_starts(pks: list[int], now) -> int:
    """Claim and stamp a batch of due shift starts, and change their agents together."""
    shifts = _claim_many(Shift, pks, "start_applied_at", "shift_type__default_status")
    shifts, later = _one_per_agent(shifts)
    Shift.objects.filter(pk__in=[s.pk for s in shifts]).update(start_applied_at=now)
    changes = [
        Change(s.agent, s.shift_type.default_status, f"{s.shift_type.name} shift starts",
               precondition=_signed_in_for(s.shift_type.default_status))
        for s in shifts
    ]  # fmt: skip
    presence_change_statuses(changes, source=Source.SHIFT)
    return len(shifts) + sum(_shift_start(s.pk, now) for s in later)


def _shift_ends(pks: list[int], now) -> int:
    """Claim and stamp a batch of due shift ends, and change their agents together."""
    shifts = _claim_many(Shift, pks, "end_applied_at", "shift_type__end_status")
    shifts, later = _one_per_agent(shifts)
    # A shift missed entirely has its start stamped too: its start is moot now.
    Shift.objects.filter(pk__in=[s.pk for s in shifts]).update(
        end_applied_at=now, start_applied_at=Coalesce("start_applied_at", now)
    )
    changes = [
        Change(s.agent, s.shift_type.end_status, f"{s.shift_type.name} shift ends")
        for s in shifts
        if s.shift_type.end_status is not None
    ]
    presence_change_statuses(changes, source=Source.SHIFT)
    return len(shifts) + sum(_shift_end(s.pk, now) for s in later)


def _shift_start(pk: int, now) -> bool:
    with transaction.atomic():
        shift = _claim(Shift, pk, "start_applied_at", "shift_type__default_status")
        if shift is None:
            return False
        _stamp(Shift, pk, "start_applied_at", now)
        shift_type = shift.shift_type
        status = shift_type.default_status
        presence_change_status(
            shift.agent, status, actor=None, source=Source.SHIFT, reason=f"{shift_type.name} shift starts",
            precondition=_signed_in_for(status),
        )  # fmt: skip
    return True


def _shift_end(pk: int, now) -> bool:
    with transaction.atomic():
        shift = _claim(Shift, pk, "end_applied_at", "shift_type__end_status")
        if shift is None:
            return False
        _stamp(Shift, pk, "end_applied_at", now)
        if shift.start_applied_at is None:
            _stamp(Shift, pk, "start_applied_at", now)  # missed entirely: its start is moot now
        shift_type = shift.shift_type
        if shift_type.end_status is not None:
            presence_change_status(
                shift.agent, shift_type.end_status, actor=None, source=Source.SHIFT,
                reason=f"{shift_type.name} shift ends",
            )  # fmt: skip
    return True


# --- appointments ----------------------------------------------------------------------------------


def appointment_apply_due(*, now=None, batch_size: int = BATCH_SIZE) -> int:
    """Apply every due appointment end, then every due start of one still running."""
    now = now or timezone.now()
    applied = 0
    ends = Appointment.objects.filter(end__lte=now, end_applied_at__isnull=True)
    for pks in _due_batches(ends, "end", batch_size):
        applied += _apply_batch(Appointment, pks, _appointment_ends, _appointment_end, now)
    default = PresenceSettings.load().appointment_default_status
    starts = Appointment.objects.filter(start__lte=now, end__gt=now, start_applied_at__isnull=True)
    for pks in _due_batches(starts, "start", batch_size):
        applied += _apply_batch(Appointment, pks, _appointment_starts, _appointment_start, now, default)
    return applied


def _appointment_starts(pks: list[int], now, default_status) -> int:
    """Claim and stamp a batch of due appointment starts, and change their agents together; a
    self-booked status that needs approval files its request as _appointment_start does."""
    appointments = _claim_many(Appointment, pks, "start_applied_at", "agent_status")
    appointments, later = _one_per_agent(appointments)
    Appointment.objects.filter(pk__in=[a.pk for a in appointments]).update(start_applied_at=now)
    changes, made_for = [], {}
    for appointment in appointments:
        status = appointment.agent_status or default_status
        if status is None:
            continue
        agent = appointment.agent
        if status.requires_approval and appointment.booked_by_id == agent.pk:
            presence_request_status(agent, status, actor=agent, source=Source.APPOINTMENT, reason=appointment.subject)
            continue
        changes.append(Change(agent, status, appointment.subject))
        made_for[agent.pk] = appointment
    results = presence_change_statuses(changes, source=Source.APPOINTMENT)
    given = []  # what the end gives back: only what was applied
    for agent_id, appointment in made_for.items():
        change = results[agent_id]
        if change.applied:
            appointment.applied_status = change.presence.status
            appointment.applied_since = change.presence.since
            appointment.previous_status = change.old_status
            given.append(appointment)
    Appointment.objects.bulk_update(given, ["applied_status", "applied_since", "previous_status"])
    return len(appointments) + sum(_appointment_start(a.pk, now, default_status) for a in later)


def _appointment_ends(pks: list[int], now) -> int:
    """Claim and stamp a batch of due appointment ends, and give their agents' previous statuses
    back together (unless somebody changed the status during the appointment)."""
    appointments = _claim_many(Appointment, pks, "end_applied_at", "previous_status", "applied_status")
    appointments, later = _one_per_agent(appointments)
    Appointment.objects.filter(pk__in=[a.pk for a in appointments]).update(
        end_applied_at=now, start_applied_at=Coalesce("start_applied_at", now)
    )
    changes = [
        Change(a.agent, a.previous_status, f"{a.subject} ended", if_status=a.applied_status, if_since=a.applied_since)
        for a in appointments
        if a.previous_status_id and a.applied_status_id
    ]
    presence_change_statuses(changes, source=Source.APPOINTMENT)
    return len(appointments) + sum(_appointment_end(a.pk, now) for a in later)


def _appointment_start(pk: int, now, default_status) -> bool:
    """Put the agent in the appointment's status. An agent who booked their own appointment into
    a status that needs approval gets a request for it (P6), as if they had picked it then: a
    booking must not skip the approval a pick needs. The end gives back only what was applied."""
    with transaction.atomic():
        appointment = _claim(Appointment, pk, "start_applied_at", "agent_status")
        if appointment is None:
            return False
        _stamp(Appointment, pk, "start_applied_at", now)
        status = appointment.agent_status or default_status
        if status is None:
            return True
        agent = appointment.agent
        if status.requires_approval and appointment.booked_by_id == agent.pk:
            presence_request_status(agent, status, actor=agent, source=Source.APPOINTMENT, reason=appointment.subject)
            return True
        change = presence_change_status(
            appointment.agent, status, actor=None, source=Source.APPOINTMENT, reason=appointment.subject
        )
        if change.applied:  # already there, or finishing first: nothing to give back at the end
            Appointment.objects.filter(pk=pk).update(
                applied_status=status, applied_since=change.presence.since, previous_status=change.old_status
            )
    return True


def _appointment_end(pk: int, now) -> bool:
    """Give the previous status back, unless somebody changed the status during the appointment."""
    with transaction.atomic():
        appointment = _claim(Appointment, pk, "end_applied_at", "previous_status", "applied_status")
        if appointment is None:
            return False
        _stamp(Appointment, pk, "end_applied_at", now)
        if appointment.start_applied_at is None:
            _stamp(Appointment, pk, "start_applied_at", now)
        if appointment.previous_status_id and appointment.applied_status_id:
            presence_change_status(
                appointment.agent, appointment.previous_status, actor=None, source=Source.APPOINTMENT,
                reason=f"{appointment.subject} ended",
                if_status=appointment.applied_status, if_since=appointment.applied_since,
            )  # fmt: skip
    return True


# --- editing ------------------------------------------------------------------------------------------


def schedule_save(obj: Shift | Appointment, *, actor) -> Shift | Appointment:
    """Create or change a shift or appointment after its checks (end after start, no overlap).

    The agent's row lock serialises saves for one agent, so two overlapping shifts cannot both
    pass the overlap check at once.

    An appointment records who booked it (`booked_by`): the actor who creates it, and the agent
    whenever they change it themselves, so an agent cannot have a supervisor's booking put them
    in a status that needs approval by editing it afterwards (see _appointment_start).
    """
    with transaction.atomic():
        AgentPresence.objects.select_for_update().filter(agent_id=obj.agent_id).first()
        if isinstance(obj, Appointment) and (obj.pk is None or getattr(actor, "pk", None) == obj.agent_id):
            obj.booked_by = actor
        obj.full_clean()
        obj._history_user = actor
        obj.save()
    return obj


def schedule_delete(obj: Shift | Appointment, *, actor) -> None:
    obj._history_user = actor
    obj.delete()


def shift_type_save(shift_type: ShiftType, *, actor, break_statuses=None) -> ShiftType:
    """Save a shift type after its checks. `break_statuses` replaces its break statuses (C8);
    None keeps them, and the budget is checked against the ones it keeps."""
    with transaction.atomic():
        errors = {}
        try:
            shift_type.full_clean()
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if break_statuses is None:
            break_statuses = list(shift_type.break_statuses.all()) if shift_type.pk else []
        for field, message in break_budget_errors(shift_type, break_statuses).items():
            errors.setdefault(field, []).append(message)
        if errors:
            raise ValidationError(errors)
        shift_type._history_user = actor
        save_or_refuse(shift_type)
        shift_type.break_statuses.set(break_statuses)
    return shift_type


def shift_type_delete(shift_type: ShiftType, *, actor) -> None:
    """Delete a shift type no shift uses; otherwise say how many do."""
    used = shift_type.shifts.count()
    if used:
        raise ApplicationError(
            f'Shift type "{shift_type.name}" is used by {used} shift(s) and cannot be deleted.', code="in_use"
        )
    shift_type._history_user = actor
    shift_type.delete()
