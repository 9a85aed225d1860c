"""Startup checks: a wrong encryption key stops the process loudly."""

from django.core.checks import Error, register


@register()
def encryption_key_check(app_configs, **kwargs):
    from .encryption import check_encryption_canary

    problem = check_encryption_canary()
    if problem:
        return [
            Error(
                problem,
                hint="Set FIELD_ENCRYPTION_KEYS to include the key the data was written with.",
                id="crosspost.E001",
            )
        ]
    return []
