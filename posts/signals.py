"""What posts tells the layers above it, without importing them.

Receivers must never raise: these are sent from inside state changes (within a transaction)
that a failing listener must not undo. publishing connects its notifications to them
(publishing/apps.py).
"""

from django.dispatch import Signal

# Editing an approved post's content sent it back to waiting for approval (posts.services).
# Arguments: post_id (int).
approval_withdrawn = Signal()
