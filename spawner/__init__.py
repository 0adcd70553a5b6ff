"""The agent spawner: keeps exactly one worker per scenario agent alive.

``python -m spawner [--backend process|docker|swarm] [--scenario PATH]``; the
service is :class:`spawner.service.Spawner`, the backends live in
:mod:`spawner.backends`. Nothing is imported here so that the container
healthcheck (``python -m spawner.healthcheck``) starts fast.
"""
