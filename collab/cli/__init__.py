"""The ``collab`` command: a thin skin over the library (argparse + rich)."""
