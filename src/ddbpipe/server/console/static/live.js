// Live refresh of a running pipeline's objects: the one script of the console.
(function () {
  var box = document.getElementById("live");
  if (!box) return;
  function refresh() {
    var url = box.getAttribute("data-live");
    if (!url) return;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var next = document.createElement("div");
        next.innerHTML = html;
        if (!next.querySelector(".live-note")) {
          box.removeAttribute("data-live");
          window.location.reload();  // the run ended: state and health changed too
          return;
        }
        box.innerHTML = next.innerHTML;
      })
      .catch(function () {})
      .finally(function () { if (box.getAttribute("data-live")) setTimeout(refresh, 2000); });
  }
  if (box.getAttribute("data-live")) setTimeout(refresh, 2000);
})();
