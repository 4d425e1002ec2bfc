from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.health import healthz
from presence.admin_reports import reports_view

# Django's account pages; the password-reset ones only when a mail server is configured
# (EMAIL_HOST): without one, a reset mail could never arrive.
account_urls = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
if settings.PASSWORD_RESET_ENABLED:
    account_urls += [
        path("password_reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
        path("password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
        path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
        path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    ]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/reports/", admin.site.admin_view(reports_view), name="reports"),
    path("admin/", admin.site.urls),
    path("accounts/", include(account_urls)),
    path("api/v1/", include("presence.api.urls")),
    path("api/v1/", include("tickets.api.urls")),
    path("api/v1/", include("scheduling.api.urls")),
    path("api/v1/", include("webhooks.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script as a file: our pages run no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("tickets.urls")),
    path("", include("presence.urls")),
]

handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
