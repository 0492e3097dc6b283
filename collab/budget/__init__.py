"""The budget: what a call may cost, what it did cost, and the one seam that meters it.

- ``limits``: ``Budget``, the caps (USD, tokens, calls, seconds) per run, node or role
- ``prices``: remote models' per-token prices (user prices, then LiteLLM's map)
- ``local_costs``: what a local call costs (free, CPU seconds, energy)
- ``call_cost``: ``Costing``, one call's worst case and actual cost from the two above
- ``policies``: what happens when a reservation does not fit (raise, degrade, interrupt)
- ``meter``: ``Meter``, reserve -> settle under one lock, into the ledger
- ``ledger``: ``CallRecord`` and ``Ledger``, one record per call
- ``run``: ``Run``, the active budget, ledger and meter of one invocation
- ``metered``: ``MeteredModel``, the wrapper around any ``Model`` that calls the meter
"""
