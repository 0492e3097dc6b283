"""The example agents (``collab run NAME``) under collab's own namespace.

Their source is the project's top-level ``examples/`` folder. A wheel installs that folder as
this package (``[tool.setuptools.package-dir]`` in pyproject.toml) and does not ship this file;
in a source checkout, this file points the package at the folder.
"""

from pathlib import Path

__path__ = [str(Path(__file__).resolve().parents[2] / "examples")]
