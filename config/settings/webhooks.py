from .env import env_str

# How long a webhook receiver has to answer, connecting and reading together (seconds): a slow
# receiver holds a worker this long at most, and the delivery is retried later.
WEBHOOK_TIMEOUT_SECONDS = float(env_str("WEBHOOK_TIMEOUT_SECONDS", "5"))

# How long a process trusts that no active webhook wants an event, before it reads the webhooks
# again (seconds; 0: read every time). A webhook created or given a new event is sent that
# event by every process within this time; one deleted or deactivated gets nothing from then on.
WEBHOOK_SUBSCRIPTIONS_SECONDS = float(env_str("WEBHOOK_SUBSCRIPTIONS_SECONDS", "5"))
