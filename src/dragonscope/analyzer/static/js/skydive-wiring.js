// Loaded first by the Skydive UI build that the analyzer serves at /skydive/.
//
// Skydive's UI v2 logs out by forgetting its session in the browser only (it removes
// the "session" entry of localStorage); the analyzer's session and its authtoken cookie
// would live on. End them too, so that logging out really logs out.
(function () {
  const removeItem = Storage.prototype.removeItem;
  Storage.prototype.removeItem = function (key) {
    if (this === window.localStorage && key === "session") {
      fetch("/logout", { method: "POST", credentials: "same-origin", redirect: "manual" });
    }
    return removeItem.call(this, key);
  };
})();
