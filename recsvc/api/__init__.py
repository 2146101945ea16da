"""The HTTP layer: app factory, schemas, dependencies, routes."""
