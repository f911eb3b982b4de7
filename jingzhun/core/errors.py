"""The one exception type that means "the user asked for something that cannot be done".

The CLI turns it into a one-line reason on standard error and exit status 2; anything else is a bug (one line
too, exit status 1, and the traceback with `--debug`). A message is one line that says what is wrong and with
which file, in English and then in Chinese in parentheses, e.g.
`the output folder is a file: out (输出目录是一个文件，请指定文件夹)`.
"""


class UserError(Exception):
    """A run that cannot be done because of its inputs (missing reference table, unreadable inbox...)."""


class ReconciliationError(Exception):
    """The run's own account does not add up (a row read without an outcome, a result without its row): a bug,
    never the user's; the run fails rather than pass for a good day."""
