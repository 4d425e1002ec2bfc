"""Serializer fields shared by the apps' APIs."""

from django.contrib.auth import get_user_model
from rest_framework import serializers


class AgentField(serializers.PrimaryKeyRelatedField):
    """An agent by user id: users without an agent profile are refused, naming why."""

    default_error_messages = {
        "does_not_exist": "User {pk_value} is not an agent: only users with an agent profile can be picked.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", get_user_model().objects.filter(agent_profile__isnull=False))
        super().__init__(**kwargs)
