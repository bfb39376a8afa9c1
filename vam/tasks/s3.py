"""S3 staging: unfinished uploads (s3.uploads)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from invoke import Collection

from vam.awsclient import connect
from vam.config import load_config
from vam.errors import AwsError, UsageError
from vam.projects import select_brand
from vam.tasks.base import say, vam_task
from vam.uploads import abort, describe, list_incomplete, older_than, parse_age


@vam_task(
    help={
        "brand": "brand whose staging area to look at (default: from the current folder)",
        "abort_older_than": "abort the uploads started longer ago than this, e.g. 7d, 12h, 2w",
        "dry_run": "with --abort-older-than: show what would be aborted, abort nothing",
        "yes": "abort without asking",
    }
)
def uploads(c, brand=None, abort_older_than=None, dry_run=False, yes=False):
    """List a brand's unfinished uploads (who, when, bytes sent); abort old ones."""
    config = load_config()
    chosen = select_brand(config, brand)
    age = parse_age(abort_older_than) if abort_older_than else None
    storage = config.storage
    settings = config.settings
    team_user = config.team.user(settings.user or "")
    aws = connect(settings, storage, team_default=team_user.aws_profile if team_user else None)
    s3 = aws.client("s3")
    prefix = storage.prefix_for(chosen.key)
    people = {u.iam_user: u.name for u in config.team.users if u.iam_user}
    now = datetime.now(UTC)

    found = list_incomplete(s3, storage.bucket, prefix, people)
    if not found:
        say(f"no unfinished uploads under s3://{storage.bucket}/{prefix}")
        return
    say(f"{len(found)} unfinished upload(s) under s3://{storage.bucket}/{prefix}:")
    for upload in found:
        say(f"  {describe(upload, prefix, now)}")
    if age is None:
        say("an interrupted `vam s3.up` resumes these by itself; to clean up old ones: "
            f"vam s3.uploads --brand {chosen.key} --abort-older-than 7d")  # fmt: skip
        return

    doomed = older_than(found, age, now)
    if not doomed:
        say(f"none is older than {abort_older_than}: nothing to abort")
        return
    verb = "would abort" if dry_run else "to abort"
    say(f"{verb} ({len(doomed)}, older than {abort_older_than}):")
    for upload in doomed:
        say(f"  {describe(upload, prefix, now)}")
    if dry_run:
        say("dry run: nothing aborted")
        return
    if not yes and not sys.stdin.isatty():
        raise UsageError("not a terminal, so vam cannot ask: add --yes to abort them")
    if not yes and input(f"abort these {len(doomed)} upload(s)? [y/N] ").strip().lower() != "y":
        say("nothing aborted")
        return
    aborted = abort(s3, storage.bucket, doomed)
    left = {u.upload_id for u in list_incomplete(s3, storage.bucket, prefix, people)}
    still = [u for u in aborted if u.upload_id in left]
    if still:  # re-check: S3 must no longer list them
        raise AwsError(
            f"{len(still)} upload(s) are still listed after aborting; run the same command again"
        )
    say(f"aborted {len(aborted)} upload(s); {len(found) - len(aborted)} left")


ns = Collection("s3")
ns.add_task(uploads)
