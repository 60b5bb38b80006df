// Starts ReDoc on /redoc (an external file, so the page's policy needs no inline script).
"use strict";
(function () {
  var root = document.getElementById("redoc");
  Redoc.init(root.getAttribute("data-openapi-url"), { hideDownloadButton: false }, root);
})();
