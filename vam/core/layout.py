"""The names vam gives things on disk, in one small module that everything may import.

A project folder holds `s3-staging/` (what syncs with S3) and `.vam/` (vam's own state: sync
records, the checksum cache, resume records, backups); `*.vam-part` files are downloads and
copies in flight. `.vam` and `*.vam-part` are never synced or archived as project files.
"""

STATE_DIR = ".vam"
PARTIAL_SUFFIX = ".vam-part"
STAGING = "s3-staging"  # a project's folder of files that sync with S3
ARCHIVED = "archived"  # a brand repo's folder of archived projects' light files
BACKUPS = "backups"  # under STATE_DIR: versions vam kept before replacing or removing them
LEGACY_ENV_FILE = ".video-tools.env"  # a brand repo's settings from before vam
