"""Handing a project over (SPEC §5, `vam handoff`, `vam receive`): the note stored in S3 and the
webhook notification.
"""
