// "Share link made": the Copy link and Share… buttons over the link's read-only field.
// Both are sent hidden and revealed here, so a page without JavaScript shows only what works
// there (the field, the SMS and e-mail links). Every text comes from the page's data-
// attributes, translated by the server: this file holds no words of its own.
(function () {
  "use strict";
  var field = document.getElementById("share-url");
  var copyButton = document.getElementById("copy-link");
  var shareButton = document.getElementById("share-link");
  var status = document.getElementById("share-status");
  if (!field || !copyButton || !shareButton || !status) {
    return;
  }

  // A polite live region announces a change of its text; emptied first, so that the same
  // message after a second click is announced again.
  function announce(text) {
    status.textContent = "";
    window.setTimeout(function () {
      status.textContent = text;
    }, 50);
  }

  // The older way, for browsers without the Clipboard API (or that refuse it here, as over
  // plain http): select the field's text and ask the browser to copy the selection.
  function copyBySelecting() {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length); // iOS ignores select() alone
    try {
      return document.execCommand("copy");
    } catch (refused) {
      return false;
    }
  }

  function copied() {
    announce(copyButton.getAttribute("data-done"));
  }

  function notCopied() {
    field.focus();
    field.select(); // ready for the person to copy it themselves
    announce(copyButton.getAttribute("data-failed"));
  }

  function copyFallback() {
    if (copyBySelecting()) {
      copied();
    } else {
      notCopied();
    }
  }

  copyButton.addEventListener("click", function () {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(field.value).then(copied, copyFallback);
    } else {
      copyFallback();
    }
  });
  copyButton.hidden = false;

  // The phone's own share sheet (messaging apps, nearby devices), where there is one.
  if (typeof navigator.share === "function") {
    shareButton.addEventListener("click", function () {
      var shared = navigator.share({
        title: shareButton.getAttribute("data-title"),
        text: shareButton.getAttribute("data-text"),
        url: field.value,
      });
      Promise.resolve(shared).catch(function (error) {
        if (error && error.name === "AbortError") {
          return; // the person closed the share sheet: nothing went wrong
        }
        announce(shareButton.getAttribute("data-failed"));
      });
    });
    shareButton.hidden = false;
  }
})();
