"""Saving rows whose uniqueness a concurrent request can take first."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction


def save_or_refuse(obj, **save_kwargs) -> None:
    """Save `obj`, refusing a duplicate the way validation does, even when a concurrent save won.

    Services validate before saving, but two requests can both pass validation and then insert
    the same name: the database refuses the second with an IntegrityError, a server error. Here
    the save runs in a savepoint, and on that error the row is validated again, which now sees
    the winner and raises the ValidationError naming the field (a 400 in the API, a form error
    in the admin). An IntegrityError that validation cannot explain is raised as it is.
    """
    try:
        with transaction.atomic():
            obj.save(**save_kwargs)
    except IntegrityError:
        errors: dict = {}
        # Constraints first: a duplicate name is the news, not the slug derived from it.
        for check in (obj.validate_constraints, obj.validate_unique):
            try:
                check()
            except ValidationError as exc:
                errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors) from None
        raise
