"""Run every benchmark and print their tables: ``python -m bench``."""

from __future__ import annotations

from bench import foundation

if __name__ == "__main__":
    foundation.run()
