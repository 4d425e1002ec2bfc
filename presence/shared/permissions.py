from rest_framework import permissions

from presence.selectors import agent_profile_get, is_supervisor


class IsSupervisor(permissions.BasePermission):
    message = "Only supervisors can do this."

    def has_permission(self, request, view) -> bool:
        return is_supervisor(request.user)


class IsConfigAdmin(permissions.DjangoModelPermissions):
    """Configuration needs admin rights: staff with the model permission (superusers have all)."""

    message = "Only administrators can change the configuration."
    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff and super().has_permission(request, view))


class ReadAnyWriteConfigAdmin(IsConfigAdmin):
    """Any signed-in user reads; only configuration admins write."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)


class IsAgent(permissions.BasePermission):
    """Signed in and set up as an agent. A non-agent gets the NotAnAgent error (404, code
    "not_an_agent"), as the agent endpoints always answered; the profile read here is kept on the
    request (`request.agent_profile`) so the view does not read it again."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        # Token authentication read the profile with the token (presence.api.authentication);
        # else (a session, or no profile, which the read below turns into the error) read it now.
        read = getattr(request.auth, "agent_profile", None)
        request.agent_profile = read or agent_profile_get(request.user)  # raises NotAnAgent
        return True
