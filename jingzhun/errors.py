"""The one exception type that means "the user asked for something that cannot be done".

The CLI turns it into a one-line reason on standard error and a non-zero exit; anything else is a bug.
"""


class UserError(Exception):
    """A run that cannot be done because of its inputs (missing reference table, unreadable inbox...)."""


class ReconciliationError(Exception):
    """The run's own account does not add up (a row read without an outcome, a result without its row): a bug,
    never the user's; the run fails rather than pass for a good day."""
