"""A provider's portal inbox: the contact channel of a provider that takes its referrals
in Casework's provider portal rather than at a webhook of its own (an organisation
imported from the community's directory without one, docs/providers.md).

Pure: the address is `<public_url>/portal/providers/<provider_id>/inbox`, where
`public_url` is Casework's address as people reach it (`CASEWORK_PUBLIC_URL`). The
referral activities recognise it by its path and post nothing there
(activities/referrals.py `is_portal_channel`).
"""

from __future__ import annotations

__all__ = ["portal_channel"]


def portal_channel(public_url: str, provider_id: str) -> str:
    """`provider_id`'s portal inbox under `public_url` (an `Identifier` needs no escaping
    in a path)."""
    return f"{public_url.rstrip('/')}/portal/providers/{provider_id}/inbox"
