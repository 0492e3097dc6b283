"""Run every benchmark and print their tables: ``python -m bench``."""

from __future__ import annotations

from bench import foundation, load, metering

if __name__ == "__main__":
    foundation.run()
    metering.run()
    load.run()
    __import__("bench.speculative").speculative.run()
    __import__("bench.constrained").constrained.run()
    __import__("bench.prefix_states").prefix_states.run()
