from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import healthz
from presence.admin_reports import reports_view

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/reports/", admin.site.admin_view(reports_view), name="reports"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("presence.api.urls")),
    path("api/v1/", include("tickets.api.urls")),
    path("api/v1/", include("scheduling.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("tickets.urls")),
    path("", include("presence.urls")),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
