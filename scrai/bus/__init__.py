"""The event bus: publishing, the consumer-group loop, and retention."""

from scrai.bus.consumer import Consumer, Delivery, Handler
from scrai.bus.publisher import publish, publish_many
from scrai.bus.retention import safe_trim_point, trim

__all__ = ["Consumer", "Delivery", "Handler", "publish", "publish_many", "safe_trim_point", "trim"]
