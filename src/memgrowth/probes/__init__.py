"""Probes only measure: one module per kind of target, the OS probe for every target."""
