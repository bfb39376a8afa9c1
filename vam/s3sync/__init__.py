"""S3 staging sync (SPEC §4, `vam s3.*`): the values, the pure three-way plan, key and name rules,
the scans of both sides, the sync record and the S3 index, the up/down pipeline, status, cleanup,
unfinished uploads and share links.
"""
