import pytest

from presence.models import Status


@pytest.mark.sqlite
def test_builtin_statuses_exist(statuses):
    assert statuses["available"].can_receive
    assert [s.slug for s in Status.objects.filter(can_receive=True)] == ["available"]
