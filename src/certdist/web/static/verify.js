// "Scan with camera" on the verify page. Frames from getUserMedia are drawn into a canvas and
// posted as JPEG to POST /verify, one at a time, until the service finds a certificate QR code
// in one; the service decodes them (zxing-cpp), so no QR library runs here. The page works
// without this script: the upload form posts to /verify/result.
(function () {
  "use strict";

  var FRAME_INTERVAL_MS = 700; // about 85 frames a minute: within the per-IP rate limit
  var MAX_FRAME_SIDE = 1280;
  var NO_QR_CODE = "image"; // the error field the service names when a frame holds no QR code

  var section = document.getElementById("camera");
  if (!section || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return; // no camera API: the section stays hidden, the upload form remains
  }
  var startButton = document.getElementById("camera-start");
  var stopButton = document.getElementById("camera-stop");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  var resultBox = document.getElementById("camera-result");
  var template = document.getElementById("result-template");
  var canvas = document.createElement("canvas");
  var stream = null;
  var timer = null;
  var running = false;

  function message(name) {
    return section.getAttribute("data-msg-" + name) || "";
  }

  // As verify_outcome.html words it: "1 / 2" within the series, "3 (booster)" beyond it.
  function doseText(dose, total) {
    if (!dose) {
      return "";
    }
    if (total && dose > total) {
      return message("booster").replace("{dose}", String(dose));
    }
    return total ? dose + " / " + total : String(dose);
  }

  function say(text) {
    status.textContent = text;
  }

  function stop(text) {
    running = false;
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
    }
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.hidden = true;
    stopButton.hidden = true;
    startButton.hidden = false;
    if (text !== undefined) {
      say(text);
    }
  }

  function frameBlob() {
    var width = video.videoWidth;
    var height = video.videoHeight;
    if (!width || !height) {
      return Promise.resolve(null);
    }
    var scale = Math.min(1, MAX_FRAME_SIDE / Math.max(width, height));
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, "image/jpeg", 0.85);
    });
  }

  // The words the page rendered for this outcome code (verify_outcome.html's data-words-for
  // elements), so that the result reads as the no-JavaScript result page does.
  function wordsFor(node, code) {
    var found = null;
    node.querySelectorAll("[data-words-for]").forEach(function (element) {
      if (element.getAttribute("data-words-for") === code) {
        found = element;
      }
    });
    return found;
  }

  // A date of the answer (ISO, "1968-03-14" or a moment) in the page's language, as the
  // result page shows it; anything else (a year alone) as it is.
  function dayText(value) {
    var text = value === undefined || value === null ? "" : String(value);
    if (!/^\d{4}-\d{2}-\d{2}/.test(text) || !window.Intl) {
      return text;
    }
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
        year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
      }).format(new Date(text.slice(0, 10) + "T00:00:00Z"));
    } catch (unsupported) {
      return text;
    }
  }

  function adviceOf(words, outcome) {
    var dated = words.getAttribute("data-dated-advice");
    if (dated && outcome.valid_from) {
      return dated.replace("{date}", dayText(outcome.valid_from));
    }
    return words.getAttribute("data-advice") || "";
  }

  function show(outcome) {
    var node = template.content.firstElementChild.cloneNode(true);
    var words = wordsFor(node, outcome.code);
    node.querySelector("[data-words]").remove();
    node.className = "outcome outcome-" + outcome.status;
    node.setAttribute("data-code", outcome.code);
    node.setAttribute("role", outcome.status === "valid" ? "status" : "alert");
    node.querySelectorAll("[data-status-text]").forEach(function (span) {
      span.hidden = span.getAttribute("data-status-text") !== outcome.status;
    });
    node.querySelector('[data-field="heading"]').textContent = words ? words.getAttribute("data-heading") : "";
    node.querySelector('[data-field="reason"]').textContent = words ? words.getAttribute("data-reason") : "";
    node.querySelector('[data-field="advice"]').textContent = words ? adviceOf(words, outcome) : "";
    node.querySelector('[data-field="detail"]').textContent = outcome.reason;
    node.querySelector("[data-detail]").hidden = outcome.status === "valid";
    var certificate = outcome.certificate || {};
    var facts = node.querySelector("[data-facts]");
    facts.hidden = !outcome.certificate;
    node.querySelectorAll("[data-fact]").forEach(function (fact) {
      var key = fact.getAttribute("data-fact");
      var value = certificate[key];
      if (key === "doses") {
        value = doseText(certificate.dose, certificate.total_doses);
      } else if (fact.hasAttribute("data-day")) {
        value = dayText(value);
      } else if (value && fact.hasAttribute("data-text-" + String(value).replace(/ /g, "-"))) {
        // A coded value (holder_binding) is shown in the page's words for it.
        value = fact.getAttribute("data-text-" + String(value).replace(/ /g, "-"));
      }
      fact.querySelector("[data-field]").textContent = value === undefined || value === null ? "" : String(value);
      fact.hidden = !value;
    });
    resultBox.replaceChildren(node);
    resultBox.focus();
  }

  function scanOnce() {
    if (!running) {
      return;
    }
    frameBlob().then(function (blob) {
      if (!blob || !running) {
        return null;
      }
      return fetch(section.getAttribute("data-endpoint"), {
        method: "POST",
        headers: { "Content-Type": "image/jpeg", "Accept": "application/json" },
        body: blob,
        credentials: "omit"
      });
    }).then(function (response) {
      if (!running) {
        return;
      }
      if (response === null) {
        timer = window.setTimeout(scanOnce, FRAME_INTERVAL_MS);
        return;
      }
      if (response.status === 429) {
        stop(message("busy"));
        return;
      }
      return response.json().then(function (body) {
        if (response.ok) {
          say(message("checking"));
          stop();
          show(body);
          return;
        }
        var noCode = response.status === 400 && body.errors && body.errors.length &&
          body.errors[0].field === NO_QR_CODE;
        say(noCode ? message("looking") : (body.extra || message("failed")));
        timer = window.setTimeout(scanOnce, FRAME_INTERVAL_MS);
      });
    }).catch(function () {
      stop(message("failed"));
    });
  }

  startButton.addEventListener("click", function () {
    say(message("starting"));
    resultBox.replaceChildren();
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (mediaStream) {
        stream = mediaStream;
        video.srcObject = mediaStream;
        video.hidden = false;
        startButton.hidden = true;
        stopButton.hidden = false;
        running = true;
        return video.play();
      })
      .then(function () {
        say(message("looking"));
        scanOnce();
      })
      .catch(function () {
        stop(message("denied"));
      });
  });

  stopButton.addEventListener("click", function () {
    stop(message("stopped"));
  });

  window.addEventListener("pagehide", function () { stop(); });
  section.hidden = false;
})();
