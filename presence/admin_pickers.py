"""Agent pickers in the admin: every field that names an agent lists agents only, by search.

Django's autocomplete asks the admin of the *picked* model (users) for permission, which would
hand supervisors the user accounts, or nothing. Here a picker needs permission on the form it
sits in (a shift, a ticket, a team), and it only ever lists agents, by username and name.
The one exception is the profile's own user: making someone an agent picks among users who are
not agents yet.
"""

from django import forms
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_permission_codename, get_user_model

User = get_user_model()


def agent_users():
    return User.objects.filter(agent_profile__isnull=False).order_by("username")


def future_agent_users():
    """Who can be given an agent profile: active users who have none yet."""
    return User.objects.filter(agent_profile__isnull=True, is_active=True).order_by("username")


def user_label(user) -> str:
    full_name = user.get_full_name()
    return f"{user.get_username()} ({full_name})" if full_name else user.get_username()


class AgentChoiceField(forms.ModelChoiceField):
    default_error_messages = {
        "invalid_choice": "Choose an agent from the list: only users with an agent profile can be picked."
    }

    def label_from_instance(self, obj) -> str:
        return user_label(obj)


class FutureAgentChoiceField(AgentChoiceField):
    default_error_messages = {"invalid_choice": "Choose an active user who is not an agent yet."}


class AgentSelect(AutocompleteSelect):
    url_name = "%s:presence_agent_autocomplete"


def _is_profile_user(field) -> bool:
    return field.model._meta.label_lower == "presence.agentprofile" and field.name == "user"


class AgentAutocompleteView(AutocompleteJsonView):
    """The JSON behind AgentSelect: Django's autocomplete protocol, agents only."""

    def has_perm(self, request, obj=None) -> bool:
        field = self.source_field
        if field.remote_field.model is not User:
            return False
        opts = field.model._meta
        actions = ("add",) if _is_profile_user(field) else ("view", "add", "change")
        return any(request.user.has_perm(f"{opts.app_label}.{get_permission_codename(a, opts)}") for a in actions)

    def get_queryset(self):
        people = future_agent_users() if _is_profile_user(self.source_field) else agent_users()
        found, distinct = self.model_admin.get_search_results(self.request, people, self.term)
        return (found.distinct() if distinct else found).order_by("username")

    def serialize_result(self, obj, to_field_name) -> dict:
        return {"id": str(obj.pk), "text": user_label(obj)}


def agent_formfield(db_field, admin_site, **kwargs):
    """A form field for a foreign key to users that picks agents (or future agents) by search."""
    future = _is_profile_user(db_field)
    kwargs.update(
        queryset=future_agent_users() if future else agent_users(),
        widget=AgentSelect(db_field, admin_site),
        form_class=FutureAgentChoiceField if future else AgentChoiceField,
    )
    return db_field.formfield(**kwargs)


class AgentPickerMixin:
    """For a ModelAdmin or inline: the foreign keys named in `agent_fields` pick agents only."""

    agent_fields: tuple[str, ...] = ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.agent_fields:
            return agent_formfield(db_field, self.admin_site, **kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # The user admin's "add" and "change" links next to a picker belong to admins; keep them
        # off the agent pickers so they do not suggest that any user can be picked.
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in self.agent_fields and hasattr(formfield, "widget"):
            widget = formfield.widget
            for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
                if hasattr(widget, flag):
                    setattr(widget, flag, False)
        return formfield
