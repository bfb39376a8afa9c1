"""AWS and S3-compatible servers (SPEC §6, `vam aws.*`): the client and botocore's data cache, the
bucket's settings and what it honours, least-privilege policies, IAM users and key files,
`aws.check`.
"""
