// Loaded first by the Skydive UI build that the analyzer serves at /skydive/, after
// skydive-config.js.
(function () {
  // Skydive's UI v2 logs out by forgetting its session in the browser only (it removes
  // the "session" entry of localStorage); the analyzer's session and its authtoken cookie
  // would live on. End them too, so that logging out really logs out.
  const removeItem = Storage.prototype.removeItem;
  Storage.prototype.removeItem = function (key) {
    if (this === window.localStorage && key === "session") {
      fetch("/logout", { method: "POST", credentials: "same-origin", redirect: "manual" });
    }
    return removeItem.call(this, key);
  };

  // The UI reads a configuration only from its ?config= parameter, which its own login
  // and links drop. It publishes itself as window.App when it starts (every start: after
  // a login too), with its configurations in App.config: hand ours over then, before it
  // asks for the topology, and before a ?config= of the operator's, which can refine it.
  const config = window.dragonscopeSkydiveConfig;
  if (!config) return;
  const given = new WeakSet();
  let app;
  Object.defineProperty(window, "App", {
    configurable: true,
    get: () => app,
    set(value) {
      app = value;
      const reducer = value && value.config;
      if (reducer && typeof reducer.append === "function" && !given.has(reducer)) {
        given.add(reducer);
        reducer.append("dragonscope", config);
      }
    },
  });
})();
