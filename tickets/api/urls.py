from django.urls import include, path
from rest_framework.routers import DefaultRouter

from tickets.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("teams", views.TeamViewSet, basename="team")
router.register("reassign-mappings", views.ReassignMappingViewSet, basename="reassign-mapping")

urlpatterns = [
    path("live-chat/availability/", views.LiveChatAvailabilityView.as_view(), name="live-chat-availability"),
    path("", include(router.urls)),
]
