"""vam's task namespace, assembled in one visible place (used by `invoke` and by `vam`).

One collection module per domain; root tasks are promoted here. A collection appears when its first
real task exists.
"""

from invoke import Collection

from vam.tasks import aws as _aws
from vam.tasks import bench as _bench
from vam.tasks import dashboard as _dashboard
from vam.tasks import demo as _demo
from vam.tasks import doctor as _doctor
from vam.tasks import handoff as _handoff
from vam.tasks import manifest as _manifest
from vam.tasks import repo as _repo
from vam.tasks import s3 as _s3
from vam.tasks import ssd as _ssd

ns = Collection()
ns.add_task(_doctor.doctor)
ns.add_task(_dashboard.dashboard)
ns.add_task(_bench.bench)
ns.add_task(_demo.demo)
ns.add_task(_handoff.handoff)
ns.add_task(_handoff.receive)
ns.add_collection(Collection.from_module(_s3, name="s3"))
ns.add_collection(Collection.from_module(_aws, name="aws"))
ns.add_collection(Collection.from_module(_manifest, name="manifest"))
ns.add_collection(Collection.from_module(_ssd, name="ssd"))
ns.add_collection(Collection.from_module(_repo, name="repo"))
