"""The marker class of the intake form's one-line fields (phone, name, town, address).

A module of its own, small, so the intake screen can tell its fields apart before the modules of the town and
address fields (their finders) are imported: the console draws its first frame without them.
"""

from __future__ import annotations

from .literal import LiteralInput


class FormInput(LiteralInput):
    """A one-line field of the intake form: Enter in it is the screen's priority ``advance_field`` binding, which
    moves the focus before the next key is read, so keys typed right after Enter (a fast typist, a paste) go to
    the next field and not the one being left."""
