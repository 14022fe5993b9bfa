"""Typed errors for WeChat server API calls.

WeChat answers almost every failure with HTTP 200 and ``{"errcode": N, "errmsg": "..."}``.
:func:`error_for` turns such a pair into one of the classes below through a single table
(:data:`ERROR_CLASSES`); codes missing from the table become a plain :class:`WeChatError`.

Exception tree::

    WeChatError                     errcode, errmsg, endpoint; unknown codes land here
    ├── WeChatTokenError            40001 40014 42001 41001: access token invalid/expired/missing
    ├── WeChatCodeError             40029 invalid code, 40163 code used, 40226 login blocked
    ├── WeChatRateLimited           45009 daily quota, 45011 per-minute limit,
    │                               45047 customer-service message count used up
    ├── WeChatConsentError          the user has not agreed to receive this message
    │   ├── WeChatSubscribeRefused      43101 no one-time subscription left for the template
    │   └── WeChatRecipientUnavailable  43004 not following, 45015 outside the 48 h window
    ├── WeChatInvalidArgument       47003 47001 40003 40037 41030 and media/message/card codes:
    │                               the request itself is wrong; retrying cannot help
    ├── WeChatBusy                  -1 system busy (transient)
    ├── WeChatConfigError           40013 40125 40164 61004 40243 48001: appid, secret,
    │                               IP whitelist or permission problems of the deployment
    └── WeChatNetworkError          no usable answer: timeout, connection error, HTTP 5xx,
                                    a body that is not JSON (errcode is NETWORK_ERRCODE)

``transient`` on each class says whether the same call may succeed later without any change
(busy, rate limits, network); callers that queue work use it to decide between "retry later"
and "give up".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

NETWORK_ERRCODE = -2
"""Pseudo errcode for calls that got no WeChat answer (also passed to ``on_call``)."""


class WeChatError(Exception):
    """A WeChat API call failed with ``errcode``; ``endpoint`` is the API path."""

    transient: ClassVar[bool] = False

    def __init__(self, errcode: int, errmsg: str, endpoint: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        self.endpoint = endpoint
        super().__init__(errcode, errmsg, endpoint)

    def __str__(self) -> str:
        where = f"{self.endpoint}: " if self.endpoint else ""
        return f"{where}errcode {self.errcode}: {self.errmsg}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(errcode={self.errcode!r}, errmsg={self.errmsg!r}, "
            f"endpoint={self.endpoint!r})"
        )


class WeChatTokenError(WeChatError):
    """The access token was rejected: invalid, not the latest, expired or missing."""


class WeChatCodeError(WeChatError):
    """A login or phone-number code is unknown, expired, already used or blocked."""


class WeChatRateLimited(WeChatError):
    """A quota or frequency limit was hit; try again later, not immediately."""

    transient = True


class WeChatConsentError(WeChatError):
    """The user has not agreed (or no longer agrees) to receive this message."""


class WeChatSubscribeRefused(WeChatConsentError):
    """43101: no one-time subscription grant is left for this user and template."""


class WeChatRecipientUnavailable(WeChatConsentError):
    """43004 / 45015: the user does not follow the account or the reply window is closed."""


class WeChatInvalidArgument(WeChatError):
    """The request is malformed or refers to something that does not exist."""


class WeChatBusy(WeChatError):
    """-1: WeChat is busy; the call may be repeated after a pause."""

    transient = True


class WeChatConfigError(WeChatError):
    """The deployment is misconfigured: appid, secret, IP whitelist or API permission."""


class WeChatNetworkError(WeChatError):
    """No usable answer: timeout, connection failure, HTTP error status or a non-JSON body."""

    transient = True

    def __init__(self, errmsg: str, endpoint: str = "", status: int | None = None) -> None:
        self.status = status
        super().__init__(NETWORK_ERRCODE, errmsg, endpoint)
        self.args = (errmsg, endpoint, status)  # what __init__ takes, so copies rebuild it


_TABLE: dict[int, type[WeChatError]] = {
    # access token
    40001: WeChatTokenError,
    40014: WeChatTokenError,
    42001: WeChatTokenError,
    41001: WeChatTokenError,
    # login / phone codes
    40029: WeChatCodeError,
    40163: WeChatCodeError,
    40226: WeChatCodeError,
    # limits
    45009: WeChatRateLimited,
    45011: WeChatRateLimited,
    45047: WeChatRateLimited,
    # consent
    43101: WeChatSubscribeRefused,
    43004: WeChatRecipientUnavailable,
    45015: WeChatRecipientUnavailable,
    # bad requests
    47003: WeChatInvalidArgument,
    47001: WeChatInvalidArgument,
    40003: WeChatInvalidArgument,
    40037: WeChatInvalidArgument,
    41030: WeChatInvalidArgument,
    40004: WeChatInvalidArgument,  # invalid media type
    40005: WeChatInvalidArgument,  # invalid file type
    40006: WeChatInvalidArgument,  # invalid file size
    40007: WeChatInvalidArgument,  # invalid media_id
    40008: WeChatInvalidArgument,  # invalid message type
    40009: WeChatInvalidArgument,  # invalid image size
    41005: WeChatInvalidArgument,  # media data missing
    44004: WeChatInvalidArgument,  # empty text content
    45001: WeChatInvalidArgument,  # media size over limit
    40056: WeChatInvalidArgument,  # invalid card id or code
    40071: WeChatInvalidArgument,  # invalid card type
    40078: WeChatInvalidArgument,  # invalid card status (not approved; code's state)
    40116: WeChatInvalidArgument,  # invalid code
    40127: WeChatInvalidArgument,  # the user deleted the card, or is giving it away
    40097: WeChatInvalidArgument,  # invalid argument (a card field's value)
    41011: WeChatInvalidArgument,  # a required card field is missing
    45021: WeChatInvalidArgument,  # a card field is too long
    # transient
    -1: WeChatBusy,
    # deployment
    40013: WeChatConfigError,
    40125: WeChatConfigError,
    40164: WeChatConfigError,
    61004: WeChatConfigError,
    40243: WeChatConfigError,
    48001: WeChatConfigError,
}

ERROR_CLASSES: Mapping[int, type[WeChatError]] = MappingProxyType(_TABLE)
"""errcode -> exception class; the one place codes are classified."""

TOKEN_REFRESH_ERRCODES = frozenset({40001, 40014, 42001})
"""Token errors after which a fresh token is fetched and the call repeated once."""


def error_for(errcode: int, errmsg: str, endpoint: str = "") -> WeChatError:
    """Build the exception for a WeChat ``errcode`` (unknown codes give ``WeChatError``)."""
    cls = ERROR_CLASSES.get(errcode, WeChatError)
    return cls(errcode, errmsg, endpoint)
