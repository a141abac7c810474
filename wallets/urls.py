from django.urls import path

from wallets import api

urlpatterns = [
    path("wallet", api.WalletView.as_view(), name="wallet"),
    path("wallet/balance", api.WalletBalanceView.as_view(), name="wallet-balance"),
    path("wallet/recharge", api.RechargeView.as_view(), name="wallet-recharge"),
    path("wallet/recharge/verify", api.VerifyView.as_view(), name="wallet-recharge-verify"),
    path("wallet/transactions", api.TransactionListView.as_view(), name="wallet-transactions"),
    path("payments", api.PaymentListView.as_view(), name="payments"),
    path(
        "wallets/<str:user_id>/freeze",
        api.WalletStatusView.as_view(change="freeze"),
        name="wallet-freeze",
    ),
    path(
        "wallets/<str:user_id>/unfreeze",
        api.WalletStatusView.as_view(change="unfreeze"),
        name="wallet-unfreeze",
    ),
    path("payments/razorpay/webhook", api.WebhookView.as_view(), name="razorpay-webhook"),
    path("payments/stripe/webhook", api.StripeWebhookView.as_view(), name="stripe-webhook"),
    path("payments/<str:payment_id>/refund", api.RefundView.as_view(), name="payment-refund"),
    path(
        "payments/<str:payment_id>/refunds",
        api.PaymentRefundListView.as_view(),
        name="payment-refunds",
    ),
]
