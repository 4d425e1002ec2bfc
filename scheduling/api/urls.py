from django.urls import include, path
from rest_framework.routers import DefaultRouter

from scheduling.api import views

router = DefaultRouter()
router.include_root_view = False
router.register("shift-types", views.ShiftTypeViewSet, basename="shift-type")
router.register("shifts", views.ShiftViewSet, basename="shift")
router.register("appointments", views.AppointmentViewSet, basename="appointment")

urlpatterns = [path("", include(router.urls))]
