"""Who may do what: the roles of the service's users, ordered viewer < curator < admin.

A viewer reads; a curator also labels and reviews candidates; an admin also manages API
keys and reads the audit log. The roles are named here once: the catalog constrains API
keys to them, the settings, the API's schemas and the web page's forms accept them.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ROLES", "Role", "role_allows"]

Role = Literal["viewer", "curator", "admin"]
#: Every role, least privileged first.
ROLES: tuple[str, ...] = get_args(Role)
_RANK = {role: rank for rank, role in enumerate(ROLES)}


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` may do what ``needed`` may (an unknown ``role`` may do nothing)."""
    return _RANK.get(role, -1) >= _RANK[needed]
