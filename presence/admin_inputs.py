"""Admin pages refuse what a URL or a query string cannot mean, instead of a 500.

Django's admin computes the day after a date-hierarchy pick, which overflows at 9999-12-31, and
SQLite cannot bind an id beyond 64 bits or move a time near year 1 to UTC. A list answers these
as it does any bad filter (it reloads with ?e=1), a change page as a missing object.
"""

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList

from presence.limits import as_id


class BoundedChangeList(ChangeList):
    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except (OverflowError, ValueError) as exc:  # the day or year after 9999-12-31
            raise IncorrectLookupParameters(exc) from exc

    def get_results(self, request):
        try:
            super().get_results(request)
        except OverflowError as exc:  # a filter's id or time that SQLite cannot bind
            raise IncorrectLookupParameters(exc) from exc


class BoundedInputsAdminMixin:
    """For a ModelAdmin with an integer primary key: out-of-range ids and dates are refused."""

    def get_changelist(self, request, **kwargs):
        changelist = super().get_changelist(request, **kwargs)
        if issubclass(changelist, BoundedChangeList):
            return changelist
        return type(f"Bounded{changelist.__name__}", (BoundedChangeList, changelist), {})

    def get_object(self, request, object_id, from_field=None):
        if from_field is None and as_id(object_id) is None:
            return None  # the admin says "doesn't exist", as for any unknown id
        return super().get_object(request, object_id, from_field)
