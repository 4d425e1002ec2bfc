from django.urls import path

from presence import views

app_name = "presence"

urlpatterns = [
    path("status/", views.status_change, name="status-change"),
    path("status/state/", views.status_state, name="status-state"),
    path("status/finishing/cancel/", views.finishing_cancel, name="finishing-cancel"),
    path("status/still-working/", views.still_working, name="still-working"),
    path("board/", views.board, name="board"),
    path("board/rows/", views.board_rows, name="board-rows"),
    path("board/agents/<int:agent_id>/", views.agent_card, name="agent-card"),
    path("board/requests/<int:request_id>/<str:decision>/", views.request_decide, name="request-decide"),
]
