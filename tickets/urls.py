from django.urls import path

from presence import converters  # noqa: F401 - registers <id:...>
from tickets import views

app_name = "tickets"

urlpatterns = [
    path("", views.agent_panel, name="panel"),
    path("tickets/<id:ticket_id>/", views.ticket_page, name="ticket"),
    path("tickets/<id:ticket_id>/notes/", views.ticket_note, name="ticket-note"),
    path("tickets/<id:ticket_id>/close/", views.ticket_close, name="ticket-close"),
    path("tickets/<id:ticket_id>/pin/", views.ticket_pin, name="ticket-pin"),
    path("tickets/<id:ticket_id>/hand-over/", views.ticket_hand_over, name="ticket-hand-over"),
    path("tickets/<id:ticket_id>/take/", views.ticket_take, name="ticket-take"),
]
