from django.urls import path

from presence import views

app_name = "presence"

urlpatterns = [
    path("", views.agent_home, name="home"),
    path("status/", views.status_change, name="status-change"),
]
