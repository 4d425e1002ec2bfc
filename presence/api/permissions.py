from django.conf import settings
from rest_framework import permissions


def is_supervisor(user) -> bool:
    """Staff, or members of the supervisors group, act on any agent (SPEC "A")."""
    if not (user and user.is_authenticated):
        return False
    if user.is_staff:
        return True
    cached = getattr(user, "_presence_is_supervisor", None)
    if cached is None:
        cached = user.groups.filter(name=settings.PRESENCE_SUPERVISORS_GROUP).exists()
        user._presence_is_supervisor = cached
    return cached


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
