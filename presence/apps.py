from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"
    verbose_name = "Agent presence"
    # The role matrix (presence/roles.py): what supervisors may do with this app's models.
    supervisor_permissions = {
        "status": ("view", "add", "change", "delete"),
        "team": ("view", "add", "change", "delete"),
        "teammembership": ("view", "add", "change", "delete"),
        "teamopeninghours": ("view", "add", "change", "delete"),  # with the team's minimum (C7)
        "teamcoverage": (),  # kept by the coverage sweep
        "agentprofile": ("view", "add", "change", "delete"),
        "agentpresence": ("view", "change"),  # status changes go through the status service
        "statusrequest": ("view", "change"),  # decide: approve or reject
        "presencesettings": ("view", "change"),
        "statuschangelog": ("view",),  # append-only for everyone
        "agentsession": (),
        "stillworkingprompt": (),
        "call": ("view",),
        "notice": (),
        "apitokenuse": (),
        "agentload": (),
    }
    # What the role matrix in the README says beside the actions.
    role_notes = {
        "agentpresence": "change = set an agent's status through the status service (not while Offline)",
        "agentprofile": "not the user accounts: making a user an agent picks an existing user",
        "statusrequest": "change = approve or reject",
        "statuschangelog": "append-only for everyone, superusers included",
        "agentsession": "kept by sign-in and sign-out",
        "stillworkingprompt": "kept by the kick-out sweep",
        "call": "reported by the phone system (permission report_call_events, admins only)",
        "notice": "written by the status service, dismissed by the agent",
        "apitokenuse": "when each API token was last used, shown with the tokens (admins only)",
        "agentload": "open work per channel, kept by the tickets services",
        "teamopeninghours": "edited on the team, with its minimum of routable agents (coverage alarm)",
        "teamcoverage": "kept by the coverage sweep; shown on the board and at /api/v1/coverage/",
    }
    # The app's periodic tasks (config/periodic.py): beat name -> (task, every N seconds).
    periodic_tasks = {
        "presence-expire-timed-statuses": ("presence.tasks.expire_timed_statuses_task", 30),
        "presence-auto-offline": ("presence.tasks.auto_offline_task", 30),
        "presence-idle-timeout": ("presence.tasks.idle_timeout_task", 30),
        "presence-wrap-up-expire": ("presence.tasks.wrap_up_expire_task", 30),
        "presence-coverage-check": ("presence.tasks.coverage_check_task", 30),
    }

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in, user_logged_out
        from django.db.models.signals import post_save, pre_save

        from presence import (
            receivers,
            reports,  # noqa: F401 - registers time in status and the status log
        )

        user_logged_in.connect(receivers.on_login, dispatch_uid="presence.on_login")
        user_logged_in.connect(receivers.warm_language, dispatch_uid="presence.warm_language")
        user_logged_out.connect(receivers.on_logout, dispatch_uid="presence.on_logout")
        user_model = get_user_model()
        pre_save.connect(receivers.remember_account_before_save, sender=user_model, dispatch_uid="presence.user_pre")
        post_save.connect(receivers.account_saved, sender=user_model, dispatch_uid="presence.user_post")
