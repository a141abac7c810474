// A booking's page (/bookings/<id>/): shows Join the moment the room opens, and reads the
// page again when the booking changes (booking_updated on the socket: paid, cancelled, both
// joined, over), so what it says is never stale.

import { connect } from "./socket.js";

const root = document.querySelector("[data-booking]");
const later = document.querySelector("[data-join-later]");

if (later) {
  const wait = Date.parse(later.dataset.opensAt) - Date.now();
  // (setTimeout takes at most 2^31 - 1 ms: a booking weeks away is read again on a reload.)
  if (wait < 2 ** 31 - 1) {
    setTimeout(() => {
      later.hidden = false;
      document.querySelector("[data-room-later]")?.remove();
    }, Math.max(0, wait));
  }
}

// Set once the page is navigating away (a payment form posting to verify): the change that
// posting causes must not reload this page under it, which would cancel the post and leave
// the client on the checkout instead of where verify sends them.
let leaving = false;
window.addEventListener("beforeunload", () => {
  leaving = true;
});

if (root) {
  const socket = connect();
  socket.on("booking_updated", ({ booking }) => {
    if (leaving) return;
    if (booking && booking.id === root.dataset.id && booking.status !== root.dataset.status) {
      window.location.reload();
    }
  });
}
