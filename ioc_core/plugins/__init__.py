"""Plugins: declaration, discovery, state and lifecycle."""
