"""The analytics system: the social graph tables, their metrics and narrative insights.

``python -m analytics`` runs :class:`analytics.system.AnalyticsSystem`; the API
mounts :data:`analytics.api.router`.
"""
