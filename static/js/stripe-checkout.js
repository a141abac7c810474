// Stripe mode: mounts Stripe.js's Payment Element for a PaymentIntent (the wallet's recharge, or
// a pending booking's payment on its page: templates/wallets/_stripe_pay.html), confirms it,
// then posts the payment's id to /wallet/verify/, where the platform asks Stripe whether it
// succeeded and credits the wallet once (which confirms a booking paid by it), then goes on to
// `next`. A payment method that needs another page (a bank, a UPI app) comes back to
// /wallet/return/<payment id>/, which asks the same way.

const form = document.getElementById("stripe-pay");

function start() {
  const stripe = window.Stripe(form.dataset.key);
  const elements = stripe.elements({ clientSecret: form.dataset.secret });
  elements.create("payment").mount("#stripe-element");
  const button = form.querySelector("button[type=submit]");
  const error = document.getElementById("stripe-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.hidden = true;
    const answer = await stripe.confirmPayment({
      elements,
      redirect: "if_required",
      confirmParams: { return_url: new URL(form.dataset.return, window.location.href).href },
    });
    if (answer.error) {
      error.textContent = answer.error.message;
      error.hidden = false;
      button.disabled = false;
      return;
    }
    form.submit();
  });
}

if (form) {
  if (window.Stripe) start();
  else window.addEventListener("load", start, { once: true });
}
