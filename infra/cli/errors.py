"""The CLI's one error type: a clear message for the person at the terminal."""


class CliError(Exception):
    """Printed as `clinic: <message>` with exit status 2; never a traceback."""
