"""Serializer fields shared by the apps' APIs."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

from presence.limits import as_id, is_whole_number


class IdRelatedField(serializers.PrimaryKeyRelatedField):
    """A related object by id, strictly: a whole number from 1 to 2^63 - 1, or its digits as a
    string (form posts send strings). DRF's own field hands the value to the lookup, which
    coerces: 1.5 picks object 1. Here a non-integer is 400 naming the field, and an id out of
    range "does not exist" without a query. Every ModelSerializer sets it as
    `serializer_related_field`."""

    default_error_messages = {
        "incorrect_type": "Expected an id (a whole number), received {data_type}.",
    }

    def to_internal_value(self, data):
        if self.pk_field is None:
            pk = as_id(data)
            if pk is None:
                if is_whole_number(data):  # zero, negative or beyond 64 bits: no such object
                    self.fail("does_not_exist", pk_value=data)
                self.fail("incorrect_type", data_type=type(data).__name__)
            data = pk
        return super().to_internal_value(data)


class AgentField(IdRelatedField):
    """An agent by user id: users without an agent profile are refused, naming why."""

    default_error_messages = {
        "does_not_exist": "User {pk_value} is not an agent: only users with an agent profile can be picked.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", get_user_model().objects.filter(agent_profile__isnull=False))
        super().__init__(**kwargs)
