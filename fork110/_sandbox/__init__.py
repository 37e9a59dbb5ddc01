"""The sandbox's private modules; the public API is :mod:`fork110.sandbox`.

The caller's side is here (:mod:`.live` starts and follows a run, :mod:`.result` holds what it
produced); :mod:`.inside` is what the supervisor and the run's processes load under ``python -S``.
This file imports nothing: the supervisor executes it.
"""
