"""Scenario files: the model, loading and validation, and template expansion."""
