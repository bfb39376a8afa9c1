"""The SSD archive (SPEC §7, `vam ssd.*`): the SSD's layout, `ssd.archive` (copy, verify, keep the
light files) and the light-file sync.
"""
