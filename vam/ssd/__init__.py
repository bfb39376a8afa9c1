"""The SSD archive (SPEC §7, `vam ssd.*`): the SSD's layout, `ssd.archive` (its plan, the copy and
its verification, the removal of the local project, the S3 staging cleanup after it) and the
light-file sync.
"""
