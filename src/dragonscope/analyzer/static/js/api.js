// REST calls to the analyzer. A 401 anywhere means the session is gone: show the login page.

let onAuthRequired = () => {};
export function setAuthHandler(fn) { onAuthRequired = fn; }

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function handle(resp) {
  const text = await resp.text();
  if (resp.status === 401) { onAuthRequired(); throw new ApiError(401, text.trim() || "authentication required"); }
  if (!resp.ok) {
    let message = text.trim();
    try { const j = JSON.parse(text); message = j.error || j.message || j.Error || message; } catch { /* plain text */ }
    throw new ApiError(resp.status, message || `HTTP ${resp.status}`);
  }
  return text ? JSON.parse(text) : null;
}

export async function gremlin(query) {
  return handle(await fetch("/api/topology", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ GremlinQuery: query }),
  }));
}

export async function getJson(path) {
  return handle(await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }));
}

export async function postJson(path, body) {
  return handle(await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  }));
}

// A login refused only because other password checks are running (429, X-Throttled: busy)
// is sent again after Retry-After, a few times, saying so through onWait; a lock-out after
// failed logins is shown as is.
export async function login(username, password, onWait = () => {}) {
  for (let attempt = 1; ; attempt++) {
    const resp = await fetch("/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username, password }),
    });
    if (resp.ok) return resp.json().catch(() => ({}));
    const message = (await resp.text()).trim() || "login failed";
    if (resp.status !== 429 || resp.headers.get("X-Throttled") !== "busy" || attempt >= 5) {
      throw new ApiError(resp.status, message);
    }
    const wait = Math.min(10, Number(resp.headers.get("Retry-After")) || 1);
    onWait(`The analyzer is busy checking other logins: trying again in ${wait} s…`);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

export async function logout() {
  await fetch("/logout", { credentials: "same-origin" }).catch(() => {});
}
