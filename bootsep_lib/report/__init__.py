"""Words and tables on disk: generated findings, readable tables, the papers' published numbers.

* :mod:`.published` -- every number the two papers publish (the one place for them).
* :mod:`.tables` -- CSV + Markdown table writer shared by every notebook.
* :mod:`.spatial` -- findings of the spatial stage (notebook 02).
* :mod:`.bootstrap` -- findings and readable Table 1 of the bootstrapping paper (notebooks 04-05).
* :mod:`.mdc` -- findings, differences from the paper and the readable table of the M-DC study.
* :mod:`.cards` -- a report card (JSON + per-mixture CSV) for every trained model.
* :mod:`.teachers` -- tables and findings of the teacher study (notebook 07).

Only the light modules are imported here (``published`` is read by the studies themselves);
import :mod:`.bootstrap`, :mod:`.cards`, :mod:`.mdc` and :mod:`.spatial` by name.
"""

from . import published
from .tables import markdown_table, write_table

__all__ = ["published", "markdown_table", "write_table"]
