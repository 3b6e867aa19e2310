"""Where state lives, chosen by URL: conversations (SESSION_SERVICE_URI) and runs (RUN_STORE_URL).

Each store is a small module behind an interface whose in-process version is the single-process
code; the networked versions (PostgreSQL through ADK's DatabaseSessionService, Redis) let many
workers share one conversation and one run.
"""
