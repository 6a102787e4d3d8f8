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

export async function login(username, password) {
  const resp = await fetch("/login", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username, password }),
  });
  if (!resp.ok) throw new ApiError(resp.status, (await resp.text()).trim() || "login failed");
  return resp.json().catch(() => ({}));
}

export async function logout() {
  await fetch("/logout", { credentials: "same-origin" }).catch(() => {});
}
