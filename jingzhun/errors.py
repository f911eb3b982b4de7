"""The one exception type that means "the user asked for something that cannot be done".

The CLI turns it into a one-line reason on standard error and a non-zero exit; anything else is a bug.
"""


class UserError(Exception):
    """A run that cannot be done because of its inputs (missing reference table, unreadable inbox...)."""
