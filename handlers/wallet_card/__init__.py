"""The brand's member card in WeChat's card wallet (微信会员卡): its definition, sending it to
WeChat, and WeChat's review."""

from handlers.wallet_card.definition import (
    LOGO_MAX_BYTES,
    CardDefinition,
    WalletCardBody,
    current_definition,
    save_definition,
    upload_logo,
)
from handlers.wallet_card.sync import record_review, sync_card

__all__ = [
    "LOGO_MAX_BYTES",
    "CardDefinition",
    "WalletCardBody",
    "current_definition",
    "record_review",
    "save_definition",
    "sync_card",
    "upload_logo",
]
