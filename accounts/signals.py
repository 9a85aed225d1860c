"""What accounts tells the layers above it, without importing them.

Receivers must never raise: these are sent from inside state changes (often
within a transaction) that a failing listener must not undo. publishing
connects its admin notifications to them (publishing/apps.py).
"""

from django.dispatch import Signal

# An account's status changed (sent only when it really changed).
# Arguments: account (SocialAccount), status (the new one), reason (str).
account_status_changed = Signal()

# A proxy was just marked failed by the check that saw it fail first. Arguments: proxy (Proxy).
proxy_went_down = Signal()
