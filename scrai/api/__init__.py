"""The ScrAI API server: REST, the live stream, metrics, health and the dashboard."""

from scrai.api.app import create_app

__all__ = ["create_app"]
