"""Example agents, one module each: ``collab run NAME`` runs ``NAME.main``."""
