"""vam's task namespace, assembled in one visible place (used by `invoke` and by `vam`).

One collection module per domain; root tasks are promoted here. A collection appears when its first
real task exists.
"""

from invoke import Collection

from vam.tasks import doctor as _doctor
from vam.tasks import s3 as _s3

ns = Collection()
ns.add_task(_doctor.doctor)
ns.add_collection(Collection.from_module(_s3))
