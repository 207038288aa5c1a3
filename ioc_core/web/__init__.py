"""The Litestar web application: factory, health and plugin routing."""
