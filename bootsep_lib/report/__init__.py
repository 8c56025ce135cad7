"""Generated findings and tables, and the papers' published numbers (see the submodules).

* :mod:`.spatial` -- findings of the spatial stage (notebook 02).
"""

from .spatial import spatial_findings

__all__ = ["spatial_findings"]
