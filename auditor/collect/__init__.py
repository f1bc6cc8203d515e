"""One module per source; each AWS collector registers itself in ``COLLECTORS`` when imported.

The modules are imported here, in the order the manifest lists their
sources, so the registry is complete (and ordered) whoever imports
``auditor.collect``: the pipeline and the policy generator alike.
"""

# isort: off
from auditor.collect import organizations  # noqa: F401 - registers
from auditor.collect import identity_center  # noqa: F401 - registers
from auditor.collect import iam  # noqa: F401 - registers
from auditor.collect import access_advisor  # noqa: F401 - registers
from auditor.collect import cloudtrail  # noqa: F401 - registers
# isort: on

from auditor.collect.registry import COLLECTORS, Collector, collector, collector_permissions

__all__ = ["COLLECTORS", "Collector", "collector", "collector_permissions"]
