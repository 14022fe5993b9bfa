"""The brand's member card in WeChat's card wallet (微信会员卡): its definition, sending it to
WeChat, WeChat's review, adding it to a member's wallet and the wallet's events."""

from handlers.wallet_card.adding import wechat_card
from handlers.wallet_card.definition import (
    LOGO_MAX_BYTES,
    CardDefinition,
    WalletCardBody,
    current_definition,
    save_definition,
    upload_logo,
)
from handlers.wallet_card.events import WALLET_EVENTS, WalletPush, record_wallet_event
from handlers.wallet_card.sync import record_review, sync_card

__all__ = [
    "LOGO_MAX_BYTES",
    "WALLET_EVENTS",
    "CardDefinition",
    "WalletCardBody",
    "WalletPush",
    "current_definition",
    "record_review",
    "record_wallet_event",
    "save_definition",
    "sync_card",
    "upload_logo",
    "wechat_card",
]
