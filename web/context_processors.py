from django.conf import settings


def site(request) -> dict:
    """What the layout needs on every page. The header's wallet figure is read only when a
    client's page renders it (a callable: one query, none for anyone else)."""
    user = getattr(request, "user", None)
    signed_in = user if user is not None and user.is_authenticated else None
    is_client = signed_in is not None and signed_in.is_client

    def nav_balance() -> int | None:
        from wallets.services import wallet_for

        if not is_client:
            return None
        # A page that read the wallet already (request.wallet) shows the same figure.
        account = getattr(request, "wallet", None) or wallet_for(user=user)
        return account.balance

    return {
        "payment_gateway": settings.PAYMENT_GATEWAY,
        "is_client": is_client,
        "is_consultant": signed_in is not None and signed_in.is_consultant,
        "nav_balance": nav_balance,
    }
