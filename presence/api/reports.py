"""GET /api/v1/reports/<slug>/?since=&until=&agent=&source=&format=csv (supervisors)."""

import csv
import io
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from presence.limits import TIME_ZONE_MAX_LENGTH, time_out_of_range, time_zone_or_none
from presence.models import Source
from presence.shared.permissions import IsSupervisor
from presence.shared.reports import REPORTS, Period

MAX_DAYS = 93


class PeriodForm(forms.Form):
    """The period of a report: default the last seven days, at most about a quarter."""

    since = forms.DateTimeField(required=False)
    until = forms.DateTimeField(required=False)
    agent = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(agent_profile__isnull=False), required=False
    )
    source = forms.ChoiceField(choices=[("", "any"), *Source.choices], required=False)
    tz = forms.CharField(required=False, max_length=TIME_ZONE_MAX_LENGTH)

    def _in_range(self, name: str):
        value = self.cleaned_data.get(name)
        problem = time_out_of_range(value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean_since(self):
        return self._in_range("since")

    def clean_until(self):
        return self._in_range("until")

    def clean_tz(self):
        zone = time_zone_or_none(self.cleaned_data.get("tz") or settings.TIME_ZONE)
        if zone is None:
            raise forms.ValidationError("Unknown time zone: use a name such as Europe/Berlin.")
        return zone

    def clean(self):
        data = super().clean()
        if self.errors:  # a field was refused: no period to check
            return data
        until = data.get("until") or timezone.now()
        since = data.get("since") or until - timedelta(days=7)
        if time_out_of_range(since):  # the default week before an early `until`
            raise forms.ValidationError({"since": time_out_of_range(since)})
        if since >= until:
            raise forms.ValidationError("'since' must be before 'until'.")
        if until - since > timedelta(days=MAX_DAYS):
            raise forms.ValidationError(f"A report covers at most {MAX_DAYS} days.")
        agent = data.get("agent")
        data["period"] = Period(since, until, agent.pk if agent else None, data["tz"], data.get("source") or None)
        return data


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A value as a CSV cell a spreadsheet shows as text: a string that would start a formula
    (a reason, a name, a subject) gets a leading apostrophe. Only strings: numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CSVRenderer(renderers.BaseRenderer):
    """The one place a CSV is written: every report's download goes through it."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=data["columns"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in data["rows"])
        return out.getvalue()


class ReportSerializer(serializers.Serializer):
    report = serializers.CharField()
    title = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    columns = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.DictField(), help_text="One object per row, keyed by column.")


class ReportView(APIView):
    """Reports (R1, R2): time-in-status, status-log, workload, schedule-compliance."""

    serializer_class = ReportSerializer  # for the schema and the browsable API
    permission_classes = [IsSupervisor]
    renderer_classes = [renderers.JSONRenderer, CSVRenderer, renderers.BrowsableAPIRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # Only a report is CSV: errors and OPTIONS stay JSON whatever format was asked for.
        if response.status_code >= 400 or request.method != "GET":
            request.accepted_renderer, request.accepted_media_type = renderers.JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter("since", str, description="ISO 8601; default 7 days before until"),
            OpenApiParameter("until", str, description="ISO 8601; default now"),
            OpenApiParameter("agent", int),
            OpenApiParameter("source", str, description="status-log only: one source"),
            OpenApiParameter("tz", str, description="time zone of the days; default the server's"),
        ],
        responses={(200, "application/json"): ReportSerializer, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request, slug: str):
        report = REPORTS.get(slug)
        if report is None:
            raise NotFound(f"No report named {slug!r}. Reports: {', '.join(sorted(REPORTS))}.")
        form = PeriodForm(request.query_params)
        if not form.is_valid():
            raise ValidationError(
                form.errors.get_json_data()
                and {k: [e["message"] for e in v] for k, v in form.errors.get_json_data().items()}
            )
        period = form.cleaned_data["period"]
        rows = report.compute(period)
        response = Response(
            {"report": slug, "title": report.title, "since": period.since, "until": period.until,
             "columns": report.columns, "rows": rows}
        )  # fmt: skip
        if getattr(request, "accepted_renderer", None) and request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="{slug}.csv"'
        return response
