"""Errors the command line turns into exit codes (TF-free: the device runtime uses them too)."""


class UsageError(Exception):
    """Bad usage or bad input: nothing could be done. The CLI prints the message and exits 2.

    The message is one line naming the flag, file or host at fault.
    """


class PartialFailure(Exception):
    """Some items failed, the others were done. The CLI exits 1."""
