"""The IOC platform core: settings, plugins, storage, tasks and the web app."""

__version__ = "0.1.0"
