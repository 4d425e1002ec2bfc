"""Database constraints shared by the apps' models."""

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, models
from django.db.models.functions import Lower


class CaseInsensitiveUnique(models.UniqueConstraint):
    """A name unique without regard to case ("support" beside "Support" is refused), enforced by
    the database (so a race cannot pass it) and reported on the field it is about."""

    def __init__(self, *, field: str, name: str, violation_error_message=None):
        self.field = field
        super().__init__(Lower(field), name=name, violation_error_message=violation_error_message)

    def deconstruct(self):
        path, _, kwargs = super().deconstruct()
        kwargs = {"field": self.field, "name": self.name}
        if self.violation_error_message != self.default_violation_error_message:
            kwargs["violation_error_message"] = self.violation_error_message
        return path, (), kwargs

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        if exclude and self.field in exclude:
            return
        try:
            super().validate(model, instance, exclude=exclude, using=using)
        except ValidationError as exc:
            raise ValidationError({self.field: exc.messages}) from exc
