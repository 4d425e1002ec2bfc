"""API tokens (A3): one per user, rotated, revoked, and gone with the password or the account."""

from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from presence.models import ApiTokenUse
from presence.services.status_change import bookkeeping_transaction, first_in_interval


def api_token_get_or_create(user) -> Token:
    """The user's token, made on first sign-in through the API."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def api_token_rotate(user) -> Token:
    """A new key; the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


def api_tokens_revoke(user) -> int:
    """Sign the user out of the API everywhere (a password change, a deactivation, sign-out)."""
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    return deleted


def api_token_record_use(token: Token, *, now=None) -> None:
    """When the token was last used, for the token admin: at most one write a minute per token."""
    if first_in_interval(f"presence:token-use:{token.key}"):
        with bookkeeping_transaction():  # one upsert, not waiting for the disk
            ApiTokenUse.objects.bulk_create(
                [ApiTokenUse(token=token, last_used_at=now or timezone.now())],
                update_conflicts=True, unique_fields=["token"], update_fields=["last_used_at"],
            )  # fmt: skip
