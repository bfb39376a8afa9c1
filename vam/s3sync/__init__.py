"""S3 staging sync (SPEC §4, `vam s3.*`).

values       model (a file's three sides, its state, the plan), target (a project on both sides),
             report (what a run or a status returns)
deciding     plan (pure: both sides and the base -> states and actions), keys (names and keys)
reading      remote (listings), remoteindex (vam's index in S3), syncrecord (the base), fingerprint
             (checksums and their cache), samecontent (proven the same in S3), scan (-> the plan)
acting       pipeline (scan -> plan -> bookkeeping -> transfers -> record -> deletions ->
             re-check), up and down (its two directions), parallel (several files at once),
             overwrite (the last check before a local file is replaced), s3guard (S3 versions
             kept before they are replaced or deleted), transfer/ (the engine that moves bytes)
showing      describe (a file's state in words), syncview (lines and --json), status
around it    session (who, which brand, which client), cleanup and cleanup_apply, uploads
             (unfinished multipart uploads), share (presigned links), staging_read (reports)
"""
