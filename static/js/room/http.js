// The room's few HTTP calls to its own routes (web/room.py): same-origin, signed in by the
// session cookie, CSRF token on POSTs, JSON answers. A failure rejects with the answer's
// `{code, detail}` (and `status`), or `{code: "network"}` when the request never got through.

export class Http {
  constructor(csrfToken) {
    this.csrfToken = csrfToken;
  }

  async request(url, { method = "GET", form = null, accept = "application/json" } = {}) {
    const headers = { Accept: accept, "X-Requested-With": "fetch" };
    let body = null;
    if (method !== "GET") {
      headers["X-CSRFToken"] = this.csrfToken;
      body = new URLSearchParams(form || {});
    }
    let answer;
    try {
      answer = await fetch(url, { method, headers, body, credentials: "same-origin" });
    } catch {
      throw { code: "network", status: 0, detail: "" };
    }
    if (answer.redirected && new URL(answer.url).pathname.startsWith("/login")) {
      throw { code: "not_authenticated", status: 401, detail: "" };
    }
    if (!answer.ok) {
      let error = { code: "error", detail: "" };
      try {
        error = await answer.json();
      } catch {
        // not JSON (a proxy's page): the status says enough
      }
      throw { ...error, status: answer.status };
    }
    return accept === "application/json" ? answer.json() : answer.text();
  }

  json(url) {
    return this.request(url);
  }

  html(url) {
    return this.request(url, { accept: "text/html" });
  }

  post(url, form = {}) {
    return this.request(url, { method: "POST", form });
  }
}

// A UUID for client-made ids (client_msg_id): crypto.randomUUID where the page is a secure
// context, else the same from crypto.getRandomValues.
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
