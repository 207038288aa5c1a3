"""Authentication and authorisation: users, sessions, roles, permissions, API keys."""
