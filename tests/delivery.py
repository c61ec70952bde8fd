"""Fill delivery as production does it, driven from a test.

The suite runs with the production delivery (``SIM_FILL_DELIVERY=stream``): an order call returns
at the broker's acknowledgement and the executions reach the ledger later, from the simulated
exchange's outbox. :func:`stream_deliver` runs one pass of the trade-stream process's loop
(:class:`orders.stream.OutboxStreamRunner`); :func:`sim_tick` runs the beat's ``orders.sim_tick``
task body (the exchange evaluates open orders, then delivers). Tests call these where the running
platform's processes would have acted, instead of expecting fills inside the order call.
"""

from __future__ import annotations

from orders.brokers import get_broker
from orders.stream import OutboxStreamRunner
from orders.tasks import sim_tick as _sim_tick_task


def stream_deliver(broker=None) -> int:
    """One delivery pass of the trade-stream process; returns how many updates reached the ledger."""
    return OutboxStreamRunner(broker or get_broker()).process()


def sim_tick() -> int:
    """The beat's simulated-exchange tick (evaluate open orders, deliver their updates)."""
    return _sim_tick_task.run()
