"""The one exception type that reaches the user as a single clear line."""


class UserError(Exception):
    """Bad input or an environment problem: printed as one line, exit status 2."""

    exit_code = 2
