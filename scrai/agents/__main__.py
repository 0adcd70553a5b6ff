"""``python -m scrai.agents``: the agent worker (same as ``run_agent_worker.py``)."""

from scrai.agents.entry import main

main()
