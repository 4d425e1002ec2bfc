from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = "Agent presence"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out

        from presence import receivers

        user_logged_in.connect(receivers.on_login, dispatch_uid="presence.on_login")
        user_logged_out.connect(receivers.on_logout, dispatch_uid="presence.on_logout")
