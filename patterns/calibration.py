"""The threshold sweep, re-exported from its home, ``collab.evaluation.calibration``.

Kept so that ``from patterns.calibration import ...`` goes on working; new code imports from
``collab.evaluation.calibration``.
"""

from __future__ import annotations

from collab.evaluation.calibration import *  # noqa: F403
from collab.evaluation.calibration import __all__ as __all__
