
import { clock, formatRupees } from "../money.js";

const RAZORPAY_CHECKOUT = "https://checkout.razorpay.com/v1/checkout.js";
const STRIPE_JS = "https://js.stripe.com/v3/";

export class Recharge {
  constructor(root, { config, t, http, announce, onCredited }) {
    this.config = config;
    this.t = t;
    this.http = http;
    this.announce = announce;
    this.onCredited = onCredited;
    this.dialog = root.querySelector("[data-recharge-dialog]");
    this.form = this.dialog.querySelector("[data-recharge-form]");
    this.amount = this.form.elements.amount;
    this.error = this.dialog.querySelector("[data-recharge-error]");
    this.pay = this.dialog.querySelector("[data-recharge-pay]");
    this.stripeBox = this.dialog.querySelector("[data-recharge-stripe]");
    this.payLabel = this.pay.textContent;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.dialog
      .querySelector("[data-recharge-close]")
      .addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      if (this.stripeIntent && !this.busy) this.resetStripe();
    });
  }

  open() {
    this.showError("");
    if (!this.dialog.open) this.dialog.showModal();
    this.amount.focus();
    this.amount.select();
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
    this.amount.setAttribute("aria-invalid", String(Boolean(text)));
    this.error.id = this.error.id || "recharge-error";
    if (text) this.amount.setAttribute("aria-describedby", this.error.id);
    else this.amount.removeAttribute("aria-describedby");
  }

  async submit() {
    if (this.busy) return;
    this.busy = true;
    this.showError("");
    this.pay.disabled = true;
    this.pay.textContent = this.t("paying");
    try {
      let result;
      if (this.stripeIntent) {
        result = await this.confirmStripe();
        this.dialog.close();
        this.resetStripe();
      } else {
        const order = await this.http.post(this.config.urls.recharge, {
          amount: this.amount.value,
        });
        if (order.gateway === "stripe") {
          await this.mountStripe(order); // the card or UPI fields, then Pay again confirms
          return;
        }
        result = await this.payOrder(order);
      }
      this.onCredited(result);
      const left = result.meter.remaining_seconds;
      this.announce(
        this.t("recharged", { amount: formatRupees(result.amount), time: clock(left ?? 0) }),
      );
    } catch (error) {
      const field = error && error.fields && error.fields.amount;
      const reason = (field && field[0]) || (error && error.detail) || this.t("error_generic");
      if (!this.dialog.open) this.dialog.showModal();
      this.showError(field ? reason : this.t("recharge_failed", { reason }));
    } finally {
      this.busy = false;
      this.pay.disabled = false;
      this.pay.textContent = this.payLabel;
    }
  }

  async payOrder(order) {
    if (order.pay_url) {
      const result = await this.http.post(order.pay_url);
      this.dialog.close();
      return result;
    }
    this.dialog.close(); // Razorpay's own window goes on top of the page, not of a dialog
    return this.razorpay(order);
  }

  async mountStripe(order) {
    await loadScript(STRIPE_JS, () => window.Stripe);
    const stripe = window.Stripe(order.publishable_key);
    const elements = stripe.elements({ clientSecret: order.client_secret });
    this.stripeBox.hidden = false;
    elements.create("payment").mount(this.stripeBox);
    this.amount.readOnly = true;
    this.stripeIntent = { stripe, elements, order };
  }

  async confirmStripe() {
    const { stripe, elements, order } = this.stripeIntent;
    const answer = await stripe.confirmPayment({
      elements,
      redirect: "if_required",
      confirmParams: {
        return_url: new URL(`/wallet/return/${order.payment_id}/`, window.location.href).href,
      },
    });
    if (answer.error) throw { detail: answer.error.message };
    return this.http.post(this.config.urls.verify, { payment_id: order.payment_id });
  }

  resetStripe() {
    this.stripeIntent = null;
    this.stripeBox.hidden = true;
    this.stripeBox.replaceChildren();
    this.amount.readOnly = false;
  }

  async razorpay(order) {
    await loadScript(RAZORPAY_CHECKOUT, () => window.Razorpay);
    return new Promise((resolve, reject) => {
      const checkout = new window.Razorpay({
        key: order.key_id,
        order_id: order.gateway_order_id,
        amount: order.amount,
        currency: order.currency,
        name: document.title,
        prefill: { name: order.name, email: order.email },
        handler: (answer) => this.http.post(this.config.urls.verify, answer).then(resolve, reject),
        modal: { ondismiss: () => reject({ code: "dismissed", detail: this.t("error_generic") }) },
      });
      checkout.open();
    });
  }
}

const loading = {};
function loadScript(src, loaded) {
  if (loaded()) return Promise.resolve();
  loading[src] =
    loading[src] ||
    new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = () => {
        delete loading[src];
        reject({ code: "gateway_unavailable", detail: "" });
      };
      document.head.append(script);
    });
  return loading[src];
}
