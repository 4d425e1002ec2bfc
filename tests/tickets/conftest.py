from presence.models import AgentPresence


def status_of(agent):
    return AgentPresence.objects.select_related("status", "pending_status").get(agent=agent)
