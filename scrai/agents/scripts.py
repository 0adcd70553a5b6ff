"""The server-side script that turns a whole tick of a worker's writes into one command.

redis-py answers each reply of a pipeline with its own awaited read; for a
thousand agents that per-command cost dwarfs the work. This script carries every
hosted agent's writes in one call and one reply (the reads have their own, in
``scrai.memory.store``). A script runs atomically, so an action and the mind that
chose it are stored together.
"""

from __future__ import annotations

from collections.abc import Sequence

# KEYS[1]: the action stream; KEYS[1+i]: agent i's mind hash.
# ARGV per agent: n, n action fields/values, m, m mind fields/values (m may be 0).
PUBLISH = """
local stream, pos = KEYS[1], 1
for i = 2, #KEYS do
  local n = tonumber(ARGV[pos])
  redis.call('XADD', stream, '*', unpack(ARGV, pos + 1, pos + n))
  pos = pos + n + 1
  local m = tonumber(ARGV[pos])
  if m > 0 then redis.call('HSET', KEYS[i], unpack(ARGV, pos + 1, pos + m)) end
  pos = pos + m + 1
end
return #KEYS - 1
"""


def publish_args(batch: Sequence[tuple[dict[str, str], dict[str, str]]]) -> list[str]:
    """ARGV of :data:`PUBLISH` for (action fields, mind fields) per agent."""
    args: list[str] = []
    for fields, mind in batch:
        args.append(str(2 * len(fields)))
        for item in fields.items():
            args.extend(item)
        args.append(str(2 * len(mind)))
        for item in mind.items():
            args.extend(item)
    return args
