// Calamari console: the only script. Copy buttons (data-copy="<input id>") for the key page.
// No inline script anywhere: the Content-Security-Policy allows only this file.
"use strict";
document.addEventListener("click", function (ev) {
  var button = ev.target.closest("button[data-copy]");
  if (!button) return;
  var input = document.getElementById(button.getAttribute("data-copy"));
  if (!input) return;
  var done = function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
  } else {
    input.select();
    try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: Ctrl+C works */ }
  }
});
