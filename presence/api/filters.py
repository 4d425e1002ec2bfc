"""Filter fields shared by the apps' APIs."""

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField

from presence.limits import MAX_ID, as_id, time_out_of_range


class IdFormField(forms.Field):
    """An id in a query string, strictly: digits from 1 to 2^63 - 1. A lenient number field takes
    1.5 or 1e3, and on SQLite an id beyond 64 bits is a 500; here they are 400 naming the filter."""

    default_error_messages = {"invalid": f"Enter an id: a whole number from 1 to {MAX_ID}."}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        pk = as_id(value.strip() if isinstance(value, str) else value)
        if pk is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return pk


class IdFilter(django_filters.NumberFilter):
    """For a filter on an id column that is not a ModelChoiceFilter (say, `team` through a join):
    `IdFilter(field_name="user__team_memberships__team_id", distinct=True)`."""

    field_class = IdFormField

    def get_max_validator(self):
        return None  # IdFormField bounds the value itself


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time in a query string, within presence.limits' years: SQLite's adapter moves
    every time to UTC, which overflows near year 1 or 9999 (a 500)."""

    def to_python(self, value):
        parsed = super().to_python(value)
        problem = time_out_of_range(parsed)
        if problem:
            raise forms.ValidationError(problem, code="out_of_range")
        return parsed


class TimeFilter(django_filters.IsoDateTimeFilter):
    """IsoDateTimeFilter within presence.limits' years: `TimeFilter(field_name="at", lookup_expr="gte")`."""

    field_class = BoundedIsoDateTimeField
