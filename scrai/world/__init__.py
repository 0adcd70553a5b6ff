"""The world: its state in Redis, its rules, its clock, and the process that runs them."""

from scrai.world.clock import Clock
from scrai.world.entities import AgentState, ObjectState
from scrai.world.rules import Accepted, Rejected, WorldMap, WorldState
from scrai.world.state import Nearby, ObjectView, PlaceView, WorldReader

__all__ = [
    "Accepted",
    "AgentState",
    "Clock",
    "Nearby",
    "ObjectState",
    "ObjectView",
    "PlaceView",
    "Rejected",
    "WorldMap",
    "WorldReader",
    "WorldState",
]
