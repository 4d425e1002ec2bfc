from .env import env_bool, env_str

# Why-this-agent (T11): every automatic assignment writes a routing decision, kept this many days;
# a daily task deletes older ones. ROUTING_DECISIONS=0 stops writing them (the benchmark's baseline).
ROUTING_DECISIONS = env_bool("ROUTING_DECISIONS", True)
ROUTING_DECISIONS_KEEP_DAYS = int(env_str("ROUTING_DECISIONS_KEEP_DAYS", "30"))
# How many members just ahead of the chosen one, in the team's order, a decision lists as passed over.
ROUTING_DECISIONS_PASSED_OVER = 5
