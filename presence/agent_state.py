"""What the board, the API and the admin show of an agent now: their presence, their open work
and the availability derived from both (P1, P7), assembled in one place.

`agent_states(presences)` takes presence rows the caller has read (status loaded) and asks the
workload provider once for all of them, so a page of any size costs one query more.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from presence.availability import Availability, availability_of
from presence.models import AgentPresence
from presence.workload import NO_WORK, Workload, workloads


@dataclass(frozen=True)
class AgentState:
    presence: AgentPresence
    workload: Workload = NO_WORK

    @property
    def availability(self) -> Availability:
        return availability_of(self.presence, self.workload)


def agent_states(presences: Iterable[AgentPresence | None]) -> dict[int, AgentState]:
    """Agent id -> state, for these presence rows (None, for an agent without one, is left out)."""
    rows = [presence for presence in presences if presence is not None]
    loads = workloads(presence.agent_id for presence in rows)
    return {presence.agent_id: AgentState(presence, loads.get(presence.agent_id, NO_WORK)) for presence in rows}


def state_of(presence: AgentPresence, states: dict[int, AgentState]) -> AgentState:
    """This presence's state from `states`, or the state of no open work when it is not there."""
    return states.get(presence.agent_id) or AgentState(presence)
