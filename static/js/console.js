// Console behaviour on top of htmx (no framework): when a polled fragment comes back as the login
// page (the session expired, the login middleware redirected the request), load the login page
// itself instead of drawing it inside the dashboard.
document.addEventListener("htmx:beforeSwap", function (evt) {
  var url = evt.detail.xhr && evt.detail.xhr.responseURL;
  if (url && url.indexOf("/accounts/login/") !== -1) {
    evt.detail.shouldSwap = false;
    window.location.assign("/accounts/login/?next=" + encodeURIComponent(window.location.pathname));
  }
});

// A live region (orders table, order page) is not refreshed while the operator is typing in it (a
// row's cancel reason): the poll skips a turn instead of wiping the input.
document.addEventListener("htmx:beforeRequest", function (evt) {
  var region = evt.detail.elt;
  if (!region || !region.querySelectorAll) return;
  var busy = Array.prototype.some.call(region.querySelectorAll("input, textarea, select"), function (el) {
    return el === document.activeElement || (el.type !== "hidden" && el.value);
  });
  if (busy) evt.preventDefault();
});

// Copy buttons next to shortened ids (the full id is also in the title on hover).
document.addEventListener("click", function (evt) {
  var button = evt.target.closest && evt.target.closest("[data-copy]");
  if (!button) return;
  var text = button.getAttribute("data-copy");
  var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () {});
  } else {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); done(); } catch (e) { /* the id stays readable in the title */ }
    area.remove();
  }
});
