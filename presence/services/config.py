from django.db import transaction

from presence.models import PresenceSettings


def presence_settings_update(*, actor, data: dict) -> PresenceSettings:
    """Change the presence settings singleton (P9); a ValidationError names any bad field."""
    with transaction.atomic():
        config = PresenceSettings.objects.select_for_update().get(pk=PresenceSettings.load().pk)
        for field, value in data.items():
            setattr(config, field, value)
        config.full_clean()
        config._history_user = actor
        config.save()
    return config
