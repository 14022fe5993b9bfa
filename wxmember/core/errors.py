"""Domain errors: what a business operation refuses, with an HTTP status and a stable code.

Handlers raise these; each channel renders them its own way (the JSON APIs as
`{"error": {"code", "message"}}` with the status, the Official Account bot as a friendly reply).

    DomainError (400, bad_request)
    ├── ValidationFailed (400, invalid_<field> or validation_failed)
    │   ├── CardNumberNotAccepted (card_number_not_accepted): the till takes the dynamic code
    │   └── StoreRequired (store_required): a cashier of several stores names the store
    ├── Unauthorized (401, unauthorized)
    ├── Forbidden (403, forbidden)
    │   └── StoreNotAllowed (store_not_allowed): a cashier acts for its own stores only
    ├── NotFound (404, <thing>_not_found)
    │   ├── MemberNotFound (member_not_found)
    │   ├── TierNotFound (tier_not_found)
    │   ├── TemplateNotFound (template_not_found): a coupon template
    │   ├── ItemNotFound (item_not_found): a mall item
    │   ├── OrderNotFound (order_not_found): a mall order
    │   ├── ReminderRuleNotFound (reminder_rule_not_found)
    │   ├── TagNotFound (tag_not_found)
    │   ├── SegmentNotFound (segment_not_found): a saved segment (会员分群)
    │   ├── CampaignNotFound (campaign_not_found)
    │   ├── TagImportNotFound (tag_import_not_found): a bulk tagging from CSV
    │   ├── MemberImportNotFound (member_import_not_found): an import of members
    │   ├── ReferralNotFound (referral_not_found)
    │   └── StoreNotFound (store_not_found): no store has this id or code
    ├── Conflict (409, conflict)
    │   ├── CardRequired (card_required): the member has not opened a card
    │   ├── InsufficientPoints (insufficient_points, details: balance, needed)
    │   ├── IdempotencyKeyReused (idempotency_key_reused): the key named another change
    │   ├── SoldOut (sold_out)
    │   ├── NotEligible (not_eligible): the member's tier may not have it
    │   ├── AlreadyCheckedIn (already_checked_in)
    │   ├── TagNameTaken (tag_name_taken): another tag has that name, whatever its case
    │   ├── SegmentNameTaken (segment_name_taken): another saved segment has that name
    │   ├── CampaignWrongState (campaign_wrong_state, details: state, allowed): not now
    │   ├── StoreCodeTaken (store_code_taken): another store has that code
    │   ├── StoreInactive (store_inactive): a deactivated store records nothing new
    │   ├── StoreInUse (store_in_use): a store on record is deactivated, not deleted
    │   └── NotACashier (not_a_cashier): only cashiers are bound to stores
    ├── TooLarge (413, too_large)
    │   └── CsvTooLarge (csv_too_large): an uploaded CSV beyond its size or row limit
    ├── TooManyRequests (429, too_many_requests)
    └── UpstreamUnavailable (503, upstream_unavailable): WeChat or another dependency failed

A named error carries its status, code and a default message, and is raised from one place:
`MemberNotFound` by `wxmember.core.kernel` (`get_member`, `lock_member`), `CardRequired` by
`Member.require_card`, `InsufficientPoints` by the ledger (`handlers.points.entries`).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base of every expected refusal. `code` is stable: clients switch on it."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"
    default_message: ClassVar[str] = "The request cannot be done."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        message = message or self.default_message
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(DomainError):
    status = 400
    default_code = "validation_failed"


class CardNumberNotAccepted(ValidationFailed):
    default_code = "card_number_not_accepted"
    default_message = (
        "The till takes the dynamic member code from the mini-program, not the card number."
    )


class Unauthorized(DomainError):
    status = 401
    default_code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    default_code = "forbidden"


class StoreRequired(ValidationFailed):
    default_code = "store_required"
    default_message = "This cashier works at several stores: say which one."


class StoreNotAllowed(Forbidden):
    default_code = "store_not_allowed"
    default_message = "This cashier is not bound to that store."


class NotFound(DomainError):
    status = 404
    default_code = "not_found"


class Conflict(DomainError):
    status = 409
    default_code = "conflict"


class TooLarge(DomainError):
    status = 413
    default_code = "too_large"


class TooManyRequests(DomainError):
    status = 429
    default_code = "too_many_requests"


class UpstreamUnavailable(DomainError):
    status = 503
    default_code = "upstream_unavailable"


class MemberNotFound(NotFound):
    default_code = "member_not_found"
    default_message = "No such member."


class TierNotFound(NotFound):
    default_code = "tier_not_found"
    default_message = "No such tier."


class TemplateNotFound(NotFound):
    default_code = "template_not_found"
    default_message = "No such coupon."


class ItemNotFound(NotFound):
    default_code = "item_not_found"
    default_message = "No such mall item."


class OrderNotFound(NotFound):
    default_code = "order_not_found"
    default_message = "No such order."


class ReminderRuleNotFound(NotFound):
    default_code = "reminder_rule_not_found"
    default_message = "No such reminder rule."


class TagNotFound(NotFound):
    default_code = "tag_not_found"
    default_message = "No such tag."


class SegmentNotFound(NotFound):
    default_code = "segment_not_found"
    default_message = "No such saved segment."


class CampaignNotFound(NotFound):
    default_code = "campaign_not_found"
    default_message = "No such campaign."


class TagImportNotFound(NotFound):
    default_code = "tag_import_not_found"
    default_message = "No such tag import."


class MemberImportNotFound(NotFound):
    default_code = "member_import_not_found"
    default_message = "No such member import."


class ReferralNotFound(NotFound):
    default_code = "referral_not_found"
    default_message = "No such referral."


class StoreNotFound(NotFound):
    default_code = "store_not_found"
    default_message = "No such store."


class CardRequired(Conflict):
    default_code = "card_required"
    default_message = "Open the member card first."


class InsufficientPoints(Conflict):
    default_code = "insufficient_points"
    default_message = "Not enough points."

    def __init__(self, *, balance: int, needed: int) -> None:
        super().__init__(details={"balance": balance, "needed": needed})


class IdempotencyKeyReused(Conflict):
    default_code = "idempotency_key_reused"
    default_message = "This idempotency key was used for a different request."


class SoldOut(Conflict):
    default_code = "sold_out"
    default_message = "Sold out."


class NotEligible(Conflict):
    default_code = "not_eligible"
    default_message = "This is for members of other tiers."


class AlreadyCheckedIn(Conflict):
    default_code = "already_checked_in"
    default_message = "Checked in already."


class TagNameTaken(Conflict):
    default_code = "tag_name_taken"
    default_message = "Another tag has this name."


class SegmentNameTaken(Conflict):
    default_code = "segment_name_taken"
    default_message = "Another saved segment has this name."


class CampaignWrongState(Conflict):
    """What was asked does not fit the campaign's state (a launched campaign is not edited,
    a finished one is not paused)."""

    default_code = "campaign_wrong_state"
    default_message = "The campaign's state does not allow this."


class StoreCodeTaken(Conflict):
    default_code = "store_code_taken"
    default_message = "Another store has this code."


class StoreInactive(Conflict):
    default_code = "store_inactive"
    default_message = "This store is deactivated."


class StoreInUse(Conflict):
    default_code = "store_in_use"
    default_message = "This store is on record: deactivate it instead of deleting it."


class NotACashier(Conflict):
    default_code = "not_a_cashier"
    default_message = "Only cashiers are bound to stores."


class CsvTooLarge(TooLarge):
    default_code = "csv_too_large"
    default_message = "The file is too large."
