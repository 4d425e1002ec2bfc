from .env import env_str

# How long a webhook receiver has to answer, connecting and reading together (seconds): a slow
# receiver holds a worker this long at most, and the delivery is retried later.
WEBHOOK_TIMEOUT_SECONDS = float(env_str("WEBHOOK_TIMEOUT_SECONDS", "5"))
