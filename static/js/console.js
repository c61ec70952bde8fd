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
