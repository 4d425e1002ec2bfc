from django.urls import path

from presence import (
    converters,  # noqa: F401 - registers <id:...> and <decision:...>
    views,
)

app_name = "presence"

urlpatterns = [
    path("status/", views.status_change, name="status-change"),
    path("status/state/", views.status_state, name="status-state"),
    path("status/finishing/cancel/", views.finishing_cancel, name="finishing-cancel"),
    path("status/still-working/", views.still_working, name="still-working"),
    path("status/wrap-up/done/", views.wrap_up_done, name="wrap-up-done"),
    path("queues/<id:team_id>/join/", views.queue_join, name="queue-join"),
    path("queues/<id:team_id>/leave/", views.queue_leave, name="queue-leave"),
    path("notices/<id:notice_id>/dismiss/", views.notice_dismiss, name="notice-dismiss"),
    path("board/", views.board, name="board"),
    path("board/rows/", views.board_rows, name="board-rows"),
    path("board/agents/<id:agent_id>/", views.agent_card, name="agent-card"),
    path("board/requests/<id:request_id>/<decision:decision>/", views.request_decide, name="request-decide"),
]
