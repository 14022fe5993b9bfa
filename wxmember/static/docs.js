// The API documents' page: render the document named by the page with the vendored Redoc.
(function () {
  "use strict";
  var target = document.getElementById("redoc");
  if (!target || !window.Redoc) {
    return;
  }
  window.Redoc.init(target.getAttribute("data-spec-url"), { hideDownloadButton: false }, target);
})();
