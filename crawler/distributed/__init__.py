"""Distributed mode: workers on many machines share Redis queues and one database.
See ``queues`` for the design."""

from crawler.distributed.queues import (
    DEFAULT_PREFIX,
    ExpiringSeenFilter,
    Scheduler,
    SharedQueueScheduler,
    distributed_settings,
)

__all__ = [
    "DEFAULT_PREFIX",
    "ExpiringSeenFilter",
    "Scheduler",
    "SharedQueueScheduler",
    "distributed_settings",
]
