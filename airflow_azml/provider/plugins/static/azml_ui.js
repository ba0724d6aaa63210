// airflow-azml pipeline view: reload every 5 s while steps are queued or running.
// Served by the plugin from the package (no CDN); the page works without it.
(function () {
  "use strict";
  if (document.body && document.body.dataset.running === "true") {
    window.setTimeout(function () { window.location.reload(); }, 5000);
  }
})();
