// Razorpay mode: opens Razorpay Checkout for the order the wallet page just created, then posts
// what its handler returns (order id, payment id, signature) to /wallet/verify/, which credits
// the wallet through the same verify service as the API.

const order = document.getElementById("razorpay-order");
const verify = document.getElementById("razorpay-verify");

function open() {
  const checkout = new window.Razorpay({
    key: order.dataset.key,
    order_id: order.dataset.order,
    amount: Number(order.dataset.amount),
    currency: order.dataset.currency,
    name: order.dataset.name,
    prefill: { email: order.dataset.email, contact: order.dataset.contact },
    theme: { color: getComputedStyle(document.documentElement).getPropertyValue("--primary").trim() },
    handler(answer) {
      verify.elements.razorpay_order_id.value = answer.razorpay_order_id;
      verify.elements.razorpay_payment_id.value = answer.razorpay_payment_id;
      verify.elements.razorpay_signature.value = answer.razorpay_signature;
      verify.submit();
    },
  });
  checkout.open();
}

if (order && verify) {
  if (window.Razorpay) open();
  else window.addEventListener("load", open, { once: true });
}
