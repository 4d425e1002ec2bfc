from django.urls import include, path
from rest_framework.routers import DefaultRouter

from presence import converters  # noqa: F401 - registers the <id:...> converter
from presence.api import coverage, telephony, views
from presence.api.reports import ReportView

router = DefaultRouter()
router.register("statuses", views.StatusViewSet, basename="status")
router.register("agents", views.AgentViewSet, basename="agent")
router.register("status-log", views.StatusLogViewSet, basename="status-log")
router.register("status-requests", views.StatusRequestViewSet, basename="status-request")

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("auth/token/rotate/", views.TokenRotateView.as_view(), name="api-token-rotate"),
    path("presence/me/", views.PresenceMeView.as_view(), name="presence-me"),
    path("presence/me/status/", views.PresenceMeStatusView.as_view(), name="presence-me-status"),
    path("presence/me/heartbeat/", views.PresenceMeHeartbeatView.as_view(), name="presence-me-heartbeat"),
    path("presence/me/activity/", views.PresenceMeActivityView.as_view(), name="presence-me-activity"),
    path("presence/me/still-working/", views.PresenceMeStillWorkingView.as_view(), name="presence-me-still-working"),
    path("presence/me/queues/<id:team>/join/", views.PresenceMeQueueJoinView.as_view(), name="presence-me-queue-join"),
    path(
        "presence/me/queues/<id:team>/leave/", views.PresenceMeQueueLeaveView.as_view(), name="presence-me-queue-leave"
    ),
    path(
        "presence/me/notices/<id:id>/dismiss/",
        views.PresenceMeNoticeDismissView.as_view(),
        name="presence-me-notice-dismiss",
    ),
    path("presence/me/wrap-up/done/", telephony.PresenceMeWrapUpDoneView.as_view(), name="presence-me-wrap-up-done"),
    path("telephony/events/", telephony.TelephonyEventView.as_view(), name="telephony-events"),
    path("telephony/agents/", telephony.TelephonyAgentsView.as_view(), name="telephony-agents"),
    path("presence-settings/", views.PresenceSettingsView.as_view(), name="presence-settings"),
    path("coverage/", coverage.CoverageView.as_view(), name="coverage"),
    path("reports/<slug:slug>/", ReportView.as_view(), name="report"),
    path("", include(router.urls)),
]
