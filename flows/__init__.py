"""Flows: the daily run book. `flows.steps` holds the steps as plain functions; `flows.daily` runs them as a
Prefect flow. Neither holds business logic: each step reads its input from the warehouse, calls its stage, and
writes the result back."""
