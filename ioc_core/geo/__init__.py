"""Geometry storage and spatial helpers shared by every plugin."""
