"""Built-in plugin `admin`: plugins and phases, users, departments, roles, API keys, audit."""
