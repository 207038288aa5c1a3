"""Built-in plugin `notifications`: the in-app bell, e-mail and other channels."""
