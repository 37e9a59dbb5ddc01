"""What runs inside a contained run: the supervisor, the run's first process, the fork hooks.

These modules are loaded under ``python -S`` by the supervisor (and inherited by every process
of the run), so they import only builtin modules, ``os`` and each other (and the equally small
:mod:`fork110._layouts`); nothing here may import the caller's side. This file imports nothing.
"""
