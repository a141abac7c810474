// The meter: what the server says, shown. Billed seconds, amount and balance change on each
// `billing_tick` (and on a re-read of the room's state); the talk time left (or a booked
// session's time until its end) counts down by itself between them. No arithmetic on money.

import { clock, formatRupees } from "../money.js";

const SECOND = 1000;

export class Meter {
  constructor(root, { t, announce, onRecharge }) {
    this.root = root;
    this.t = t;
    this.announce = announce;
    this.field = (id) => root.querySelector(`[data-testid="${id}"]`);
    this.billed = -1;
    this.countdown = null; // {seconds, at}: seconds left as of performance.now() `at`
    this.warning = root.querySelector("[data-low-balance]");
    for (const button of root.querySelectorAll("[data-recharge-open]")) {
      button.addEventListener("click", () => onRecharge && onRecharge(button));
    }
    this.timer = setInterval(() => this.render(), SECOND / 2);
  }

  // The room's state (first paint, after a reconnect, after a recharge): `state.meter`.
  show(meter) {
    if (meter.billed_seconds >= this.billed) this.figures(meter);
    if ("balance" in meter) this.balance(meter.balance);
    if ("available" in meter) this.set("available", formatRupees(meter.available));
    if ("earned" in meter) {
      const earned = this.root.querySelector("[data-earned]");
      if (earned) earned.textContent = formatRupees(meter.earned);
    }
    const left = meter.remaining_seconds ?? meter.ends_in_seconds;
    if (left !== null && left !== undefined) this.startCountdown(left);
    if (this.warning) this.warn(Boolean(meter.balance_low), false);
  }

  // A `billing_tick` frame.
  tick(frame) {
    if (frame.billed_seconds < this.billed) return;
    this.figures(frame);
    if (this.field("balance")) {
      this.balance(frame.balance);
      this.startCountdown(frame.remaining_seconds);
    }
  }

  figures({ billed_seconds, total_amount }) {
    this.billed = billed_seconds;
    this.set("meter-seconds", String(billed_seconds));
    this.set("meter-amount", formatRupees(total_amount));
    const billedClock = this.root.querySelector("[data-meter-clock]");
    if (billedClock) billedClock.textContent = clock(billed_seconds);
  }

  // `balance_low` (or the state's `balance_low`): the warning under the meter, never in the way.
  warn(on, speak = true) {
    if (!this.warning) return;
    const was = !this.warning.hidden;
    this.warning.hidden = !on;
    if (on && !was && speak) this.announce(this.t("low_balance"));
  }

  startCountdown(seconds) {
    this.countdown = { seconds, at: performance.now() };
    this.render();
  }

  secondsLeft() {
    if (!this.countdown) return null;
    const gone = Math.floor((performance.now() - this.countdown.at) / SECOND);
    return Math.max(0, this.countdown.seconds - gone);
  }

  render() {
    const left = this.secondsLeft();
    const field = this.field("time-left");
    if (left === null || !field) return;
    const text = clock(left);
    if (field.textContent !== text) field.textContent = text;
    field.classList.toggle("meter-low", Boolean(this.warning) && !this.warning.hidden);
  }

  // The balance, here and in the site's header (the wallet chip), as the server last said it.
  balance(paise) {
    const text = formatRupees(paise);
    this.set("balance", text);
    const chip = document.querySelector("[data-nav-balance]");
    if (chip && chip.textContent !== text) chip.textContent = text;
  }

  set(id, text) {
    const element = this.field(id);
    if (element && element.textContent !== text) element.textContent = text;
  }

  stop() {
    clearInterval(this.timer);
  }
}
