"""Cognitive agents: perceive, recall, plan, reason, act, reflect."""
