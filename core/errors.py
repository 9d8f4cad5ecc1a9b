"""Errors whose message is meant for the user, in a module that imports nothing, so the
command line can catch them without loading the database driver for commands that never
open the database (`analyze`)."""


class StoreError(Exception):
    """A database problem the user can fix; the message says how."""
