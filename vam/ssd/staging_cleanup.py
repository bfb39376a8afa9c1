"""`ssd.archive --cleanup-s3`: which of a project's S3 staging objects may go once its SSD copy
is verified (only those whose content the SSD copy is proven to hold), and deleting exactly those
versions. The versions vam kept under `.vam/backups/` in S3 stay: no SSD copy holds them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vam.aws.bucketcaps import conditions_for
from vam.core.config import Config
from vam.core.errors import SafetyError
from vam.core.projects import Project, settings_for_brand
from vam.s3sync.remote import RemoteObject
from vam.s3sync.s3guard import CHANGED, delete_version, is_backup_key
from vam.s3sync.samecontent import Answer, OnDisk, Proof, same_content
from vam.s3sync.staging_read import StagingRead, quick_s3_client, read_staging
from vam.ssd.archive_plan import ArchivePlan


def staging_state(config: Config, root: Path, project: Project) -> StagingRead:
    settings = settings_for_brand(config, root, project.brand)
    prefix = config.storage.prefix_for(project.brand.key)
    return read_staging(config, settings, prefix, project=project.id)


@dataclass(frozen=True)
class CleanupDecision:
    obj: RemoteObject
    delete: bool
    reason: str


def plan_cleanup(plan: ArchivePlan, staging: StagingRead) -> list[CleanupDecision]:
    """Which staging objects may go: only those whose content is on the SSD copy, proven
    (samecontent) by size plus MD5 (single-part ETag) or the CRC32 vam's index holds for exactly
    that version."""
    pid = plan.project.id
    index = staging.indexes.get(pid)
    entries = index.entries if index is not None else {}
    out = []
    for obj in staging.projects.get(pid, []):
        ssd_file = plan.ssd_dir.joinpath("s3-staging", *obj.rel.split("/"))
        if not ssd_file.is_file():
            out.append(CleanupDecision(obj, False, "not on the SSD copy"))
            continue
        entry = entries.get(obj.rel)
        crc = entry.crc32 if entry and (entry.etag, entry.size) == (obj.etag, obj.size) else None
        proof = same_content(OnDisk(ssd_file), size=obj.size, etag=obj.etag, crc32=crc)
        out.append(CleanupDecision(obj, proof.same, _reason(proof)))
    return out


def _reason(proof: Proof) -> str:
    if proof.answer is Answer.CANNOT_TELL:
        return "multipart upload with no known checksum: cannot prove the SSD has it"
    verb = "matches" if proof.same else "differs from"
    return f"{proof.by} {verb} the SSD copy"


def execute_cleanup(
    config: Config,
    root: Path,
    plan: ArchivePlan,
    decisions: list[CleanupDecision],
    staging: StagingRead,
) -> list[str]:
    """Delete the provable objects, each only as the version that was compared with the SSD copy
    (DeleteObject with If-Match where the bucket honours it, else a HEAD right before), then
    vam's own index and handoff objects when nothing else is left. The .vam/backups/ objects
    stay: they are versions vam kept in S3 before replacing or deleting them, and no SSD copy
    holds them (see `kept_backups`). An object that changed since is kept: SafetyError."""
    proven = [d.obj for d in decisions if d.delete]
    if not proven:
        return []
    settings = settings_for_brand(config, root, plan.project.brand)
    s3 = quick_s3_client(config, settings)
    bucket = config.storage.bucket
    conditions = conditions_for(s3, bucket, staging.prefix)
    deleted, changed = [], []
    for obj in proven:
        if delete_version(s3, bucket, obj.key, obj.etag, conditions) == CHANGED:
            changed.append(obj.rel)
        else:
            deleted.append(obj.key)
    if not changed and len(proven) == len(decisions):
        for obj in staging.state_objects.get(plan.project.id, []):
            if not is_backup_key(obj.rel):
                delete_version(s3, bucket, obj.key, obj.etag, conditions)
                deleted.append(obj.key)
    if changed:
        raise SafetyError(
            f"S3 staging: deleted {len(deleted)} file(s) proven on the SSD, but "
            f"{', '.join(changed[:5])} changed in S3 since it was compared with the SSD copy "
            f"(someone uploaded a new version): kept; the SSD copy is fine — check with "
            f"`vam s3.status --brand {plan.project.brand.key} --project {plan.project.id}`"
        )
    return deleted


def kept_backups(staging: StagingRead, project_id: str) -> list[RemoteObject]:
    """The project's .vam/backups/ objects in S3, which `execute_cleanup` never deletes."""
    return [o for o in staging.state_objects.get(project_id, []) if is_backup_key(o.rel)]
