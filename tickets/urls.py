from django.urls import path

from tickets import views

app_name = "tickets"

urlpatterns = [path("", views.agent_panel, name="panel")]
