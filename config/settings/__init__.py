"""Settings, split by topic. Every production difference comes from the environment (SPEC O2)."""

from .api import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .database import *  # noqa: F401,F403
from .routing import *  # noqa: F401,F403
from .security import *  # noqa: F401,F403
from .tasks import *  # noqa: F401,F403
from .webhooks import *  # noqa: F401,F403
