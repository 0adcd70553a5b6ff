"""ScrAI: a narrative laboratory of cognitive agents on Redis Streams."""

__version__ = "0.4.0"
