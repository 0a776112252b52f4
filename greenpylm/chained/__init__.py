"""Chained servers: each pulls, applies its step, pushes to the next; the
last one pushes to the `LoopClient`, which streams jobs in and results out."""
