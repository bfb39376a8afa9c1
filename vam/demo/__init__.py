"""The embedded demo (SPEC §5, `vam demo`): the sample projects root, the local S3 server on
loopback and the story of David and Jan.
"""
