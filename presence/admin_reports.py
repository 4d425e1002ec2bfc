"""The reports page in the admin (U4, R1-R3): a table per report, the chart, CSV links."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe

from presence.api.reports import PeriodForm
from presence.reports import time_in_status_svg
from presence.selectors import is_supervisor
from presence.shared.reports import REPORTS


def reports_view(request: HttpRequest) -> HttpResponse:
    if not is_supervisor(request.user):
        return admin.site.login(request)
    slug = request.GET.get("report") or "time-in-status"
    report = REPORTS.get(slug) or REPORTS["time-in-status"]
    form = PeriodForm(request.GET or None)
    rows, chart, period, summary = [], None, None, None
    if form.is_valid() or not request.GET:
        form = form if request.GET else PeriodForm({})
        form.is_valid()
        period = form.cleaned_data["period"]
        rows = report.compute(period)
        if report.slug == "time-in-status":
            chart = mark_safe(time_in_status_svg(rows))  # built from escaped values only
        if report.summarize is not None and rows:
            summary = report.summarize(rows)
    query = request.GET.copy()
    query["format"] = "csv"
    context = {
        **admin.site.each_context(request),
        "title": "Reports",
        "reports": sorted(REPORTS.values(), key=lambda r: r.title),
        "report": report,
        "form": form,
        "headers": [report.label(column) for column in report.shown],
        "rows": [[row.get(column) for column in report.shown] for row in rows],
        "summary": summary,
        "chart": chart,
        "period": period,
        "csv_url": f"/api/v1/reports/{report.slug}/?{query.urlencode()}",
    }
    return TemplateResponse(request, "admin/reports.html", context)
