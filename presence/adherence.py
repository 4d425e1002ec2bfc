"""What presence needs to know of an agent's shift (C8), without importing the scheduling app.

`scheduling` registers a provider in its AppConfig.ready(); with none registered nobody has a
shift, a break budget or a status that does not fit one. The provider answers for many agents
at once, in a constant number of queries, so the board stays flat whatever its page holds.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Why an agent's status does not fit their shift; "" when it fits (or there is nothing to say).
OFFLINE_IN_SHIFT = "offline_in_shift"
BREAK_NOT_ALLOWED = "break_not_allowed"
ONLINE_OUTSIDE_SHIFT = "online_outside_shift"
MISFITS = {
    OFFLINE_IN_SHIFT: _("Offline during a shift"),
    BREAK_NOT_ALLOWED: _("On a break the shift does not allow"),
    ONLINE_OUTSIDE_SHIFT: _("Online outside a shift"),
}


@dataclass(frozen=True)
class BreakUsage:
    """Break time and breaks taken in the agent's running shift, against its budget (None: the
    shift type sets no limit of that kind)."""

    used_seconds: int
    breaks_taken: int
    minutes_allowed: int | None = None
    breaks_allowed: int | None = None
    on_break: bool = False  # in one of the shift type's break statuses now

    @property
    def has_budget(self) -> bool:
        return self.minutes_allowed is not None or self.breaks_allowed is not None

    @property
    def used_minutes(self) -> int:
        return self.used_seconds // 60

    @property
    def minutes_left(self) -> int | None:
        """Whole minutes of break left, never below 0; None without a limit on minutes."""
        if self.minutes_allowed is None:
            return None
        return max(0, (self.minutes_allowed * 60 - self.used_seconds) // 60)

    @property
    def minutes_over(self) -> int:
        """Minutes past the budget, a minute begun counting as a minute over."""
        if self.minutes_allowed is None:
            return 0
        return max(0, -(-(self.used_seconds - self.minutes_allowed * 60) // 60))

    @property
    def over_budget(self) -> bool:
        over_time = self.minutes_allowed is not None and self.used_seconds > self.minutes_allowed * 60
        return over_time or (self.breaks_allowed is not None and self.breaks_taken > self.breaks_allowed)


@dataclass(frozen=True)
class Adherence:
    """An agent's shift now: whether their status fits it, and their break use if it allows breaks."""

    in_shift: bool = False  # a working (not off-duty) shift is running
    misfit: str = ""  # a key of MISFITS
    breaks: BreakUsage | None = None

    @property
    def misfit_text(self) -> str:
        return str(MISFITS.get(self.misfit, ""))

    @property
    def over_budget(self) -> bool:
        return self.breaks is not None and self.breaks.over_budget


NOTHING = Adherence()

AdherenceProvider = Callable[[list[int], datetime], dict[int, Adherence]]
_provider: AdherenceProvider | None = None


def register_adherence_provider(provider: AdherenceProvider | None) -> None:
    global _provider
    _provider = provider


def adherence(agent_ids: Iterable[int], now: datetime | None = None) -> dict[int, Adherence]:
    """{agent id: Adherence} for the agents with something to say; the rest are NOTHING."""
    ids = list(agent_ids)
    if _provider is None or not ids:
        return {}
    return _provider(ids, now or timezone.now())


def adherence_of(agent_id: int, now: datetime | None = None) -> Adherence:
    return adherence([agent_id], now).get(agent_id, NOTHING)
