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

if (root) {
  const socket = connect();
  socket.on("booking_updated", ({ booking }) => {
    if (booking && booking.id === root.dataset.id && booking.status !== root.dataset.status) {
      window.location.reload();
    }
  });
}
