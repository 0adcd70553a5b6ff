"""Agent worker entry point: ``python run_agent_worker.py --agent-id ID``.

Hosts one agent (``--agent-id``), a list (``--agents A,B,C``) or a shard of the
cast (``--shard i/n``) in one asyncio process; see ``scrai/agents/entry.py``.
"""

from scrai.agents.entry import main

if __name__ == "__main__":
    main()
