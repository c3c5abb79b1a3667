"""Reusable, DVC-free logic of the pipeline stages."""
