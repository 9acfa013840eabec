"""Thin kopf glue: observe, ask the core, apply, write status."""
