"""The core's domain: incidents, their timeline, areas, and the outbox of domain events."""
