"""Member tags: labels operators put on members by hand or in bulk from a CSV of card numbers.

- `catalogue`: the tags themselves (create, rename, delete, list with member counts);
- `members`: tagging and untagging one member, a member's tags, the members of a tag;
- `imports`: bulk tagging (or untagging) from a CSV of card numbers, with its report.

A member carries a tag at most once: the database's unique (member, tag) pair decides, and
tagging inserts with "do nothing on a taken key", so two operators tagging the same member at
once leave one row and neither sees an error. Every change is audited; a call that changes
nothing (tagging a member who has the tag) writes nothing, not even an audit row.
"""

from handlers.tags.catalogue import (
    TagCreate,
    TagPatch,
    create_tag,
    delete_tag,
    get_tag,
    list_tags,
    normalise_name,
    tag_view,
    update_tag,
)
from handlers.tags.members import member_tags, members_with_tag, tag_member, untag_member

__all__ = [
    "TagCreate",
    "TagPatch",
    "create_tag",
    "delete_tag",
    "get_tag",
    "list_tags",
    "member_tags",
    "members_with_tag",
    "normalise_name",
    "tag_member",
    "tag_view",
    "untag_member",
    "update_tag",
]
