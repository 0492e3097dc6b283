"""Run every benchmark and print their tables: ``python -m bench``."""

from __future__ import annotations

from bench import foundation, metering

if __name__ == "__main__":
    foundation.run()
    metering.run()
    __import__("bench.speculative").speculative.run()
    __import__("bench.constrained").constrained.run()
