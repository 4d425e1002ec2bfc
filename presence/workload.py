"""What presence needs to know of an agent's work, without importing the tickets app.

`tickets` registers a provider in its AppConfig.ready(); with none registered every agent has
no open work. The provider answers for many agents at once so lists stay at a constant number
of queries.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Workload:
    open_tickets: int = 0
    pinned_tickets: int = 0
    at_capacity: bool = False
    # Held work per capability (email, chat, phone, video), for per-channel capacity checks.
    by_capability: dict[str, int] = field(default_factory=dict)


NO_WORK = Workload()

WorkloadProvider = Callable[[list[int]], dict[int, Workload]]
_provider: WorkloadProvider | None = None


def register_workload_provider(provider: WorkloadProvider | None) -> None:
    global _provider
    _provider = provider


def workloads(agent_ids: Iterable[int]) -> dict[int, Workload]:
    ids = list(agent_ids)
    if _provider is None or not ids:
        return {}
    return _provider(ids)


def workload_of(agent_id: int) -> Workload:
    return workloads([agent_id]).get(agent_id, NO_WORK)
