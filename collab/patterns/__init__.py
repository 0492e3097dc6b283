"""The ready-made patterns under collab's own namespace: ``from collab.patterns import cascade``.

Their source is the project's top-level ``patterns/`` folder. A wheel installs that folder as
this package (``[tool.setuptools.package-dir]`` in pyproject.toml) and does not ship this file;
in a source checkout, this file points the package at the folder. In a checkout ``patterns.X``
and ``collab.patterns.X`` are the same file loaded as two modules: use one name per program
(the examples, and installed users, use ``collab.patterns``).
"""

from pathlib import Path

__path__ = [str(Path(__file__).resolve().parents[2] / "patterns")]
