"""Widgets: they receive values and emit requests; they never import a controller."""
