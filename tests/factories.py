import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from presence.models import (
    AgentLoad,
    AgentPresence,
    AgentProfile,
    Status,
    StatusCategory,
    Team,
    TeamMembership,
)

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class SupervisorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"supervisor{n}")

    @factory.post_generation
    def supervisors_group(obj, create, extracted, **kwargs):
        if create:
            obj.groups.add(Group.objects.get_or_create(name="supervisors")[0])


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class StatusFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Status

    name = factory.Sequence(lambda n: f"Status {n}")
    slug = factory.Sequence(lambda n: f"status-{n}")
    category = StatusCategory.INACTIVE
    color = "#123456"


class AgentFactory(UserFactory):
    """A user with an agent profile and a presence row (Offline unless `status` is given)."""

    username = factory.Sequence(lambda n: f"agent{n}")

    @factory.post_generation
    def profile(obj, create, extracted, **kwargs):
        if create:
            AgentProfile.objects.create(user=obj, **(extracted or {}), **kwargs)

    @factory.post_generation
    def status(obj, create, extracted, **kwargs):
        if create:
            AgentPresence.objects.create(agent=obj, status=extracted or Status.objects.get(slug=Status.OFFLINE))
            AgentLoad.objects.get_or_create(agent=obj)

    @factory.post_generation
    def teams(obj, create, extracted, **kwargs):
        if create and extracted:
            TeamMembership.objects.bulk_create([TeamMembership(agent=obj, team=team) for team in extracted])
        if create:
            sync_routing(obj)


def sync_routing(*agents) -> None:
    """Tests that write presence rows or memberships directly (not through the services) call this
    afterwards, as the services do, so routing's columns on the memberships match."""
    from presence.services.routing_columns import memberships_sync, memberships_sync_load

    ids = [agent.pk for agent in agents]
    memberships_sync(ids)
    memberships_sync_load(ids)


def bulk_members(team, n: int, status) -> list:
    """n agents in `status`, members of `team`, written in bulk (a large team for a plan test),
    with routing's columns synced as the services would."""
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"m{i}") for i in range(n)])
    AgentProfile.objects.bulk_create([AgentProfile(user=u) for u in users])
    AgentPresence.objects.bulk_create([AgentPresence(agent=u, status=status) for u in users])
    AgentLoad.objects.bulk_create([AgentLoad(agent=u) for u in users])
    TeamMembership.objects.bulk_create([TeamMembership(team=team, agent=u) for u in users])
    sync_routing(*users)
    return users


class TicketFactory(factory.django.DjangoModelFactory):
    """A ticket written directly, with the load counters of its assignee kept as the services do."""

    class Meta:
        model = "tickets.Ticket"
        skip_postgeneration_save = True

    subject = factory.Sequence(lambda n: f"Ticket {n}")
    channel = "email"

    @factory.post_generation
    def _load(obj, create, extracted, **kwargs):
        if create and obj.assignee_id and obj.is_held:
            from tickets.services.load import delta, load_apply

            load_apply(delta(obj.assignee_id, obj.channel, +1))


def recount_load() -> None:
    """Tests that write tickets in bulk (bulk_create, update) rebuild the load counters after,
    as `manage.py recount_load` would."""
    from tickets.services.load import load_recount

    load_recount(repair=True)
