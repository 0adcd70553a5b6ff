"""Agents' memories: written by the consolidator from committed events, read by recall."""

from scrai.memory.model import Memory
from scrai.memory.store import MemoryStore

__all__ = ["Memory", "MemoryStore"]
