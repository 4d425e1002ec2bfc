from django.urls import include, path
from rest_framework.routers import DefaultRouter

from webhooks.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("webhooks", views.WebhookViewSet, basename="webhook")

urlpatterns = [path("", include(router.urls))]
