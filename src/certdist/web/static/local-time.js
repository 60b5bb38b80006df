// Moments (<time datetime data-local-time>) are rendered by the server in the deployment's
// time zone, named; here they are rewritten in the reader's own time zone and the page's
// language, so a share link's expiry reads as the reader's clock shows it.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) {
    return; // the server's text, with its zone named, stays
  }
  var language = document.documentElement.lang || undefined;
  var format;
  try {
    format = new Intl.DateTimeFormat(language, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      timeZoneName: "short",
    });
  } catch (unsupported) {
    return;
  }
  var moments = document.querySelectorAll("time[data-local-time]");
  for (var i = 0; i < moments.length; i += 1) {
    var instant = new Date(moments[i].getAttribute("datetime"));
    if (!isNaN(instant.getTime())) {
      moments[i].textContent = format.format(instant);
    }
  }
})();
