"""The off-site archive (SPEC §10, `vam archive.*`): finished projects in S3 in an archive storage
class (Deep Archive by default) under `archive/v-{brand}/{project}/`, verified, never expired,
deletable only by the owner, and restorable even when the local folder is gone.

    classes      the storage classes as dated data: cost a month, restore tiers, waits, minimums
    target       one project's archive prefix and keys; the index and restore-record names
    listing      one listing per brand or project, with classes and restore states; HEAD parsing
    index        the archive index object (files, sizes, CRC32s, class, who, when)
    plan         archive.cloud's decision per file, by content (pure)
    scan         reading both sides before archive.cloud plans
    cloud        archive.cloud carried out: uploads in the class, the index, the re-check
    record       the restore record: who asked for a restore, which tier, expected when
    restore      archive.restore's plan and its restore requests
    fetch        downloading what is readable, verified, never over a file that differs
    restoreview  what archive.restore prints
    summary      a brand's archive at a glance (archive.status, the manifest)

It sits above the S3 sync (it reuses the transfer engine, the checksum cache, the proof of same
content and the never-overwrite publishing) and below the SSD package (`ssd.archive --cloud`).
"""
