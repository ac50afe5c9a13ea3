"""Readers and writers of formats from outside memgrowth (pprof, gctrace…)."""
