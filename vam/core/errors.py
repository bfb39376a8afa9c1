"""Failures a user can cause or fix. Each carries one line: what, where, what to do."""


class VamError(Exception):
    """A failure the user can act on; the message is shown as-is, without a traceback."""

    exit_code = 1


class ConfigError(VamError):
    """brands.toml, the user settings file or an env override is malformed or incomplete."""

    exit_code = 2


class UsageError(VamError):
    """The command line or the current directory does not say what to work on."""

    exit_code = 2


class NotFoundError(VamError):
    """A brand, project, file or bucket that was asked for does not exist."""


class AwsError(VamError):
    """AWS (or the S3-compatible endpoint) refused or could not be reached."""


class SafetyError(VamError):
    """vam refused to do something that could lose or clobber data."""
