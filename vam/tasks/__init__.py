"""vam's task namespace, assembled in one visible place (used by `invoke` and by `vam`).

One collection module per domain; root tasks are promoted here. A collection appears when its first
real task exists.
"""

from invoke import Collection

from vam.tasks import bench as _bench
from vam.tasks import doctor as _doctor

ns = Collection()
ns.add_task(_doctor.doctor)
ns.add_task(_bench.bench)
