"""Handing a project over (SPEC §5, `vam handoff`, `vam receive`): the note stored in S3, the
webhook notification, and the flow that decides when a note may be left and what the receiver sees.
"""
