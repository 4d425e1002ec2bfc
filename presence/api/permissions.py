from rest_framework import permissions

from presence.selectors import is_supervisor


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
