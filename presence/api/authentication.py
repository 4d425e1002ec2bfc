"""Token authentication with an optional lifetime, recording when each token was last used."""

from datetime import timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from presence.models import AgentProfile
from presence.services.bookkeeping import api_token_record_use
from presence.shared.sql import prepared_cursor


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`. With API_TOKEN_TTL_HOURS set, a token older than that is
    deleted and refused (401): sign in again for a new one."""

    def authenticate_credentials(self, key):
        token = token_read(key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        ttl = settings.API_TOKEN_TTL_HOURS
        if ttl and token.created < timezone.now() - timedelta(hours=ttl):
            token.delete()
            raise AuthenticationFailed("The token has expired: sign in again for a new one.")
        api_token_record_use(token)
        return token.user, token


def token_read(key: str) -> Token | None:
    """The token with its user, and the user's agent profile as `token.agent_profile` (None if
    not an agent), in one statement: the agent endpoints (IsAgent) then read nothing more.

    Every API call runs this, and a heartbeat does little else, so on PostgreSQL it is a
    prepared statement built once (presence/shared/sql.py): the ORM spends about 0.5 ms of CPU
    compiling this three-table select on each call, five times what running it costs."""
    if connection.vendor != "postgresql":
        token = Token.objects.select_related("user", "user__agent_profile").filter(key=key).first()
        if token is not None:
            token.agent_profile = getattr(token.user, "agent_profile", None)
        return token
    with prepared_cursor() as cursor:
        cursor.execute(_token_sql(), [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = iter(row)
    token, user, profile = (_instance(model, values) for model in (Token, get_user_model(), AgentProfile))
    token.user = user
    token.agent_profile = None
    if profile.pk is not None:
        profile.user, token.agent_profile = user, profile
    return token


def _instance(model, values):
    """The next columns of a row, as `model`, converted as the ORM would."""
    fields = model._meta.concrete_fields
    row = []
    for field, value in zip(fields, values, strict=False):
        for converter in field.get_db_converters(connection):
            value = converter(value, field, connection)
        row.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], row)


@cache
def _token_sql() -> str:
    quote = connection.ops.quote_name

    def columns(model, alias):
        return [f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields]

    User = get_user_model()
    selected = ", ".join(columns(Token, "t") + columns(User, "u") + columns(AgentProfile, "p"))
    user_id, profile_id = quote(User._meta.pk.column), quote(AgentProfile._meta.pk.column)
    return (
        f"SELECT {selected} FROM {quote(Token._meta.db_table)} t "
        f"JOIN {quote(User._meta.db_table)} u ON u.{user_id} = t.{quote('user_id')} "
        f"LEFT JOIN {quote(AgentProfile._meta.db_table)} p ON p.{profile_id} = u.{user_id} "
        f"WHERE t.{quote('key')} = %s"
    )
