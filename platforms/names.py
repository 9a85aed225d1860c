"""Platform and account-status names as plain strings.

They equal the values of the Platform and AccountStatus choices of accounts; the
adapters are a library and do not import the apps that store accounts.
"""


class Platform:
    INSTAGRAM = "instagram"
    VK = "vk"
    TELEGRAM = "telegram"
    TIKTOK = "tiktok"
    YOUTUBE = "youtube"
    PINTEREST = "pinterest"
    SANDBOX = "sandbox"


class AccountStatus:
    ACTIVE = "active"
    COOLDOWN = "cooldown"
    LOGIN_REQUIRED = "login_required"
    PROXY_ERROR = "proxy_error"
    NO_ACCESS = "no_access"
    BANNED = "banned"
    DISABLED = "disabled"
