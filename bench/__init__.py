"""Benchmarks: ``python -m bench NAME [NAME...]`` or ``python -m bench all``.

Each ``bench/<name>.py`` exposes ``async def run(args) -> list[Figure]`` (see
:mod:`bench.common`) and may define ``add_arguments(parser)`` for its own flags.
Benchmarks are measurements, not tests: nothing here asserts a number.
"""
