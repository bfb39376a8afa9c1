"""botocore sessions and clients from the standard AWS chain, and AWS failures in one clear line.

The same code path serves real AWS, any S3-compatible endpoint and the local demo server: only
the endpoint and credentials differ. Endpoint order: $AWS_ENDPOINT_URL_S3 / $AWS_ENDPOINT_URL
(botocore reads them itself), then `endpoint_url` in brands.toml.

botocore directly, not boto3: vam uses clients only (no resources, no s3transfer), and boto3's
import and session cost about 40 ms of every command, a tenth of a re-sync that has nothing to do.
The credential chain, profiles, SSO and config files are botocore's either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions as bce
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.utils import parse_timestamp as botocore_parse_timestamp

from vam.aws import botocache
from vam.core.config import Config
from vam.core.errors import AwsError, VamError
from vam.core.settings import Settings
from vam.core.team import Storage


@dataclass(frozen=True)
class Aws:
    """A session plus where it points; clients are made on demand."""

    session: botocore.session.Session
    storage: Storage
    profile: str | None

    def endpoint(self, service: str = "s3") -> str | None:
        if service == "s3" and not (
            os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        ):
            return self.storage.endpoint_url
        return None  # botocore applies AWS_ENDPOINT_URL[_SERVICE] itself

    @property
    def accelerated(self) -> bool:
        """Transfers go through S3 Transfer Acceleration's endpoint: asked for in brands.toml
        (`accelerate = true`, refused there with a non-AWS endpoint_url) and no endpoint of
        another server set in the environment ($AWS_ENDPOINT_URL wins, as for every client)."""
        return self.storage.accelerate and not _env_endpoint()

    def client(
        self, service: str = "s3", *, max_pool: int = 80, transfers: bool = False, **kwargs: Any
    ):
        """A botocore client. `transfers`: the S3 client that moves a project's objects, which
        uses the accelerate endpoint when `accelerated` (bucket settings never do: AWS answers
        them only on the bucket's regional endpoint)."""
        # max_pool: connections kept per host; vam's transfers open up to 64 at once on a long
        # link (vam/s3sync/transfer/concurrency.py), and a connection the pool cannot keep is
        # closed after its request, so the next one pays the handshake again
        endpoint = self.endpoint(service)
        s3_options: dict[str, Any] | None = {"addressing_style": "path"} if endpoint else None
        if service == "s3" and transfers and self.accelerated:
            # <bucket>.s3-accelerate.amazonaws.com, whatever AWS endpoint brands.toml names
            endpoint, s3_options = None, {"use_accelerate_endpoint": True}
        config = BotoConfig(
            region_name=self.storage.region,
            retries={"max_attempts": 8, "mode": "adaptive"},
            max_pool_connections=max_pool,
            connect_timeout=20,
            read_timeout=120,
            # never send a checksum S3 didn't ask for on plain requests; we set our own on uploads
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3=s3_options,
            # SigV4 everywhere: presigned links of up to 7 days work in every region
            signature_version="s3v4" if service == "s3" else None,
        )
        client = self.session.create_client(service, endpoint_url=endpoint, config=config, **kwargs)
        if service == "s3":
            client.meta.events.register(
                "before-send.s3", send_small_bodies_at_once, unique_id="vam-no-continue"
            )
        return client


# botocore asks for "Expect: 100-continue" on every PUT with a body (PutObject, UploadPart),
# and then waits for the server's "100 Continue" before it sends a byte: one more round trip,
# 150 ms on Jan's link, which on a small file (a note, the project's index) doubles its cost.
# For a body this small, being refused after sending it costs less than that wait; larger
# bodies (every part: at least 5 MiB) keep the header, so a refused part is not sent for
# nothing. (aws-sdk-go draws the same line at 2 MiB.)
SMALL_BODY = 2 * 1024 * 1024


def send_small_bodies_at_once(request: Any, **_: Any) -> None:
    """A `before-send` handler: no 100-continue wait for a body of at most SMALL_BODY. The
    header is not signed (SigV4 leaves Expect out), so dropping it here changes nothing else."""
    headers = request.headers
    if "Expect" not in headers:
        return
    length = headers.get("Content-Length")
    if length is not None and int(length) <= SMALL_BODY:
        del headers["Expect"]


def _env_endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""


def new_session(
    profile: str | None = None,
    region: str | None = None,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> botocore.session.Session:
    """A botocore session for `profile` (None: the default chain) or for an explicit key.
    An unknown profile raises ProfileNotFound here, not at the first request."""
    session = botocore.session.Session(profile=profile)
    if region:
        session.set_config_variable("region", region)
    if access_key_id and secret_access_key:
        session.set_credentials(access_key_id, secret_access_key)
    session.get_scoped_config()  # reads the config files: an unknown profile fails now
    botocache.install(session)
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp
    )
    return session


def parse_timestamp(value: str | int | float) -> datetime:
    """botocore's timestamp parser, with a fast path for the ISO 8601 times of S3's listings.

    botocore hands every timestamp to dateutil's general parser: 0.1 ms each, 20 ms for a
    project of 200 files, on every listing. `datetime.fromisoformat` reads S3's
    `2026-11-24T02:10:00.000Z` directly; anything else (HTTP dates in headers, epoch numbers)
    goes to botocore's own parser."""
    if isinstance(value, str) and len(value) >= 20 and value[10:11] == "T":
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    return botocore_parse_timestamp(value)


def connect(
    settings: Settings,
    storage: Storage,
    profile: str | None = None,
    team_default: str | None = None,
) -> Aws:
    """A session for `profile`, else the person's settings/AWS_PROFILE, else the team's default
    profile for this user (brands.toml) when this machine has it, else the default chain."""
    chosen = profile or settings.aws_profile
    if (
        not chosen
        and team_default
        and team_default in botocore.session.Session().available_profiles
    ):
        chosen = team_default
    try:
        session = new_session(chosen, storage.region)
    except bce.ProfileNotFound:
        raise AwsError(
            f"AWS profile {chosen!r} not found in ~/.aws/config or ~/.aws/credentials; "
            f"create it (`aws configure --profile {chosen}`) or import your key with "
            "`vam aws.import-key`"
        ) from None
    return Aws(session=session, storage=storage, profile=chosen)


def connect_as(config: Config, settings: Settings | None = None, profile: str | None = None) -> Aws:
    """`connect` for the person in `settings` (default: config.settings): `profile`, else their
    own, else the profile brands.toml names for them."""
    settings = settings or config.settings
    me = config.team.user(settings.user or "")
    return connect(settings, config.storage, profile, team_default=me.aws_profile if me else None)


def no_credentials(profile: str | None = None) -> AwsError:
    where = f" for profile {profile!r}" if profile else ""
    return AwsError(
        f"no AWS credentials found{where}; set aws_profile in your vam settings, "
        "run `aws configure`, or `aws sso login`"
    )


def _endpoint_of(exc: BaseException) -> str:
    """scheme://host:port of a failed request, not its full URL with bucket, key and query."""
    url = urlsplit(str(getattr(exc, "kwargs", {}).get("endpoint_url", "")))
    return f"{url.scheme}://{url.netloc}" if url.netloc else "the S3 endpoint"


def explain(
    exc: BaseException, *, action: str = "", key: str = "", profile: str | None = None
) -> VamError | None:
    """A botocore/boto3 exception as one line saying what failed and what to do, or None."""
    who = f"profile {profile!r}" if profile else "the default AWS credentials"
    target = f" on {key}" if key else ""
    if isinstance(exc, bce.NoCredentialsError):
        return no_credentials(profile)
    if isinstance(
        exc, (bce.SSOTokenLoadError, bce.UnauthorizedSSOTokenError, bce.TokenRetrievalError)
    ):
        return AwsError(
            f"the AWS SSO session for {who} has expired; run `aws sso login"
            + (f" --profile {profile}`" if profile else "`")
        )
    if isinstance(exc, bce.ProfileNotFound):
        return AwsError(f"{exc}; check aws_profile in your vam settings or AWS_PROFILE")
    if isinstance(exc, (bce.EndpointConnectionError, bce.ConnectTimeoutError)):
        from_env = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        setting = "$AWS_ENDPOINT_URL" if from_env else "endpoint_url in brands.toml"
        return AwsError(
            f"cannot reach S3 at {_endpoint_of(exc)}; check the network or {setting}, "
            "then run the same command again"
        )
    if isinstance(exc, bce.ReadTimeoutError):
        return AwsError("S3 stopped answering (read timeout); run the same command again to resume")
    if isinstance(exc, bce.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        op = action or exc.operation_name
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        bucket = exc.response.get("Error", {}).get("BucketName", "")
        if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and op in ("HeadBucket",)):
            return AwsError(
                f"bucket {bucket or 'in brands.toml'} does not exist; create it with "
                "`vam aws.setup-bucket` (or fix storage.bucket in brands.toml)"
            )
        if (
            code
            in ("AccessDenied", "AccessDeniedException", "403", "Forbidden", "AllAccessDisabled")
            or status == 403
        ):
            # IAM and STS name the missing action: "... is not authorized to perform: iam:X ..."
            named = str(err.get("Message", "")).partition("not authorized to perform: ")[2]
            if named:
                op = named.split()[0].rstrip(".,")
            if op.startswith(("iam:", "sts:")):
                return AwsError(
                    f"access denied: {op}{target} with {who}; use an administrator's profile "
                    f"(--aws-profile NAME) or ask your AWS admin to allow {op}"
                )
            return AwsError(
                f"access denied: {op}{target} with {who}; ask the bucket owner to grant it "
                "(`vam aws.setup-policy`) or use another profile"
            )
        if code in (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
        ):
            return AwsError(
                f"AWS rejected the access key of {who} ({code}); it may be deleted or mistyped: "
                "re-import it with `vam aws.import-key` or fix ~/.aws/credentials"
            )
        if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
            return AwsError(
                f"the AWS session token of {who} has expired; run `aws sso login"
                + (f" --profile {profile}`" if profile else "`")
                + " or refresh your credentials"
            )
        if code in ("SlowDown", "ServiceUnavailable", "InternalError", "503", "500"):
            return AwsError(f"S3 is busy ({code}) during {op}{target}; run the same command again")
        message = err.get("Message") or code
        return AwsError(f"S3 refused {op}{target}: {message} ({code})")
    if isinstance(exc, bce.BotoCoreError):
        # botocore's own texts can span lines (parameter validation): keep the one line
        return AwsError(f"AWS client error: {' '.join(str(exc).split())}")
    return None
