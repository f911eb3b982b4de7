"""Flows: the daily run book. `jingzhun.flows.steps` holds the steps as plain functions; `jingzhun.flows.daily` runs
them as a Prefect flow. Neither holds business logic: each step reads its input from the warehouse, calls its stage, and
writes the result back.

Prefect reads its settings when it is first imported, so the ones the product needs are set here, before any
flow module imports it. A user's own environment still wins (`setdefault`).
"""

import os

PREFECT_DEFAULTS = {
    # Prefect waits 20 s for its temporary server; on a cold 2-core machine with no Prefect state the server
    # also creates and migrates its database, which takes longer. Wait long enough for that first start.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}
for _name, _value in PREFECT_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
