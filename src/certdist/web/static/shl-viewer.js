// The SMART Health Link viewer (GET /shl#shlink:/…), following the HL7 "SMART Health Cards
// and Links" implementation guide. Everything happens here, in the browser:
//
// * the link is read from the address's fragment (the part after "#", which no browser sends
//   to a server), as "#shlink:/…" or as a viewer address holding one ("…/shl#shlink:/…");
// * the manifest is POSTed to the link's url with {recipient, passcode?}; files come
//   embedded or from a "location";
// * each file is a compact JWE (alg "dir", enc "A256GCM"), decrypted with WebCrypto under the
//   link's key; the SMART Health Card inside is a JWS (ES256, payload raw-DEFLATEd, "zip":
//   "DEF") whose signature is checked with WebCrypto against the issuer's key set at
//   <iss>/.well-known/jwks.json, and against the key's revocation list when the key set
//   names one (crlVersion).
//
// The key and the card never leave the browser: no request carries the fragment, and the
// decrypted card is checked here rather than sent to the service's verifier. Every text
// shown comes from the page's data-msg-* attributes, translated by the server.
(function () {
  "use strict";

  var root = document.getElementById("shl-viewer");
  if (!root) {
    return;
  }
  var statusLine = document.getElementById("shl-status");
  var errorBox = document.getElementById("shl-error");
  var pasteForm = document.getElementById("shl-paste");
  var pasteField = document.getElementById("shl-link");
  var openForm = document.getElementById("shl-open");
  var labelLine = document.getElementById("shl-label");
  var passcodeField = document.getElementById("shl-passcode-field");
  var passcodeInput = document.getElementById("shl-passcode");
  var recipientInput = document.getElementById("shl-recipient");
  var card = document.getElementById("shl-card");
  var link = null;

  function message(name, values) {
    var text = root.getAttribute("data-msg-" + name) || "";
    Object.keys(values || {}).forEach(function (key) {
      text = text.split("{" + key + "}").join(String(values[key]));
    });
    return text;
  }

  function say(text) {
    statusLine.textContent = text || "";
  }

  function fail(text) {
    say("");
    errorBox.textContent = text;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
  }

  // --- base64url, the link ---------------------------------------------------------------

  function fromBase64Url(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes;
  }

  function utf8(bytes) {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  }

  // "shlink:/<payload>" wherever it is in the text: alone, after "#", or in a viewer address.
  function parseLink(text) {
    var at = text.indexOf("shlink:/");
    if (at < 0) {
      return null;
    }
    var encoded = text.slice(at + "shlink:/".length).trim();
    if (!/^[A-Za-z0-9_-]+$/.test(encoded)) {
      throw new Error("bad-link");
    }
    var payload;
    try {
      payload = JSON.parse(utf8(fromBase64Url(encoded)));
    } catch (error) {
      throw new Error("bad-link");
    }
    if (!payload || typeof payload.url !== "string" || typeof payload.key !== "string" ||
        !/^[A-Za-z0-9_-]{43}$/.test(payload.key) || !/^https?:\/\//.test(payload.url)) {
      throw new Error("bad-link");
    }
    payload.flag = typeof payload.flag === "string" ? payload.flag : "";
    return payload;
  }

  // --- decrypting and inflating -------------------------------------------------------------

  function decrypt(compact, keyBytes) {
    var parts = compact.trim().split(".");
    if (parts.length !== 5) {
      return Promise.reject(new Error("undecryptable"));
    }
    var header;
    try {
      header = JSON.parse(utf8(fromBase64Url(parts[0])));
    } catch (error) {
      return Promise.reject(new Error("undecryptable"));
    }
    if (header.alg !== "dir" || header.enc !== "A256GCM" || parts[1] !== "") {
      return Promise.reject(new Error("undecryptable"));
    }
    var iv = fromBase64Url(parts[2]);
    var ciphertext = fromBase64Url(parts[3]);
    var tag = fromBase64Url(parts[4]);
    var sealed = new Uint8Array(ciphertext.length + tag.length);
    sealed.set(ciphertext);
    sealed.set(tag, ciphertext.length);
    // The additional authenticated data is the protected header as sent (RFC 7516, 5.1).
    var aad = new TextEncoder().encode(parts[0]);
    return crypto.subtle
      .importKey("raw", keyBytes, { name: "AES-GCM" }, false, ["decrypt"])
      .then(function (key) {
        return crypto.subtle.decrypt(
          { name: "AES-GCM", iv: iv, additionalData: aad, tagLength: 128 }, key, sealed);
      })
      .then(function (plain) {
        var bytes = new Uint8Array(plain);
        return header.zip === "DEF" ? inflate(bytes) : bytes;
      }, function () {
        throw new Error("undecryptable");
      });
  }

  function inflate(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      return new Uint8Array(buffer);
    });
  }

  // --- talking to the link's server ---------------------------------------------------------

  function manifest(recipient, passcode) {
    var body = { recipient: recipient };
    if (passcode) {
      body.passcode = passcode;
    }
    // credentials "omit": the receiver's endpoints are anonymous and allow any origin.
    return fetch(link.url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer"
    });
  }

  function directFile(recipient) {
    var address = link.url + (link.url.indexOf("?") < 0 ? "?" : "&") +
      "recipient=" + encodeURIComponent(recipient);
    return fetch(address, { credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer" })
      .then(function (response) {
        if (!response.ok) {
          throw httpError(response.status);
        }
        return response.text().then(function (jwe) {
          return [{ contentType: "application/smart-health-card", jwe: jwe }];
        });
      });
  }

  function httpError(status) {
    var error = new Error(status === 404 || status === 401 || status === 410 ? "gone" : "failed");
    error.status = status;
    return error;
  }

  function fileContents(files) {
    return Promise.all(files.map(function (file) {
      if (typeof file.embedded === "string") {
        return { contentType: file.contentType, jwe: file.embedded };
      }
      return fetch(file.location, {
        credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer"
      }).then(function (response) {
        if (!response.ok) {
          throw httpError(response.status);
        }
        return response.text().then(function (jwe) {
          return { contentType: file.contentType, jwe: jwe };
        });
      });
    }));
  }

  // --- the SMART Health Card ----------------------------------------------------------------

  function verifyCard(jws) {
    var parts = jws.split(".");
    if (parts.length !== 3) {
      return Promise.reject(new Error("undecryptable"));
    }
    var header = JSON.parse(utf8(fromBase64Url(parts[0])));
    var payloadPromise = header.zip === "DEF"
      ? inflate(fromBase64Url(parts[1]))
      : Promise.resolve(fromBase64Url(parts[1]));
    return payloadPromise.then(function (bytes) {
      var payload = JSON.parse(utf8(bytes));
      return checkSignature(header, parts, payload).then(function (verdict) {
        return { payload: payload, verdict: verdict };
      });
    });
  }

  // "verified", "revoked" or "not-verified": the signature against the issuer's key set.
  function checkSignature(header, parts, payload) {
    if (header.alg !== "ES256" || typeof payload.iss !== "string" || !/^https?:\/\//.test(payload.iss)) {
      return Promise.resolve("not-verified");
    }
    var issuer = payload.iss.replace(/\/+$/, "");
    return fetch(issuer + "/.well-known/jwks.json", { credentials: "omit", referrerPolicy: "no-referrer" })
      .then(function (response) {
        return response.ok ? response.json() : { keys: [] };
      })
      .then(function (set) {
        var jwk = (set.keys || []).filter(function (key) {
          return key.kid === header.kid && key.kty === "EC" && key.crv === "P-256";
        })[0];
        if (!jwk) {
          return "not-verified";
        }
        return crypto.subtle
          .importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
            { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])
          .then(function (key) {
            return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key,
              fromBase64Url(parts[2]), new TextEncoder().encode(parts[0] + "." + parts[1]));
          })
          .then(function (valid) {
            if (!valid) {
              return "not-verified";
            }
            if (payload.exp && payload.exp * 1000 < Date.now()) {
              return "not-verified";
            }
            return jwk.crlVersion ? checkRevocation(issuer, jwk.kid, payload) : "verified";
          });
      })
      .catch(function () {
        return "not-verified";
      });
  }

  // The issuer's revocation list of the key: "rid" or "rid.<time>" (cards issued before it).
  function checkRevocation(issuer, kid, payload) {
    var rid = payload.vc && payload.vc.rid;
    if (!rid) {
      return Promise.resolve("verified");
    }
    return fetch(issuer + "/.well-known/crl/" + encodeURIComponent(kid) + ".json",
      { credentials: "omit", referrerPolicy: "no-referrer" })
      .then(function (response) {
        if (!response.ok) {
          return "not-verified"; // a list announced but not served: the card cannot be cleared
        }
        return response.json().then(function (crl) {
          var revoked = (crl.rids || []).some(function (entry) {
            var pieces = String(entry).split(".");
            if (pieces[0] !== rid) {
              return false;
            }
            return pieces.length < 2 || (payload.nbf || 0) < Number(pieces[1]);
          });
          return revoked ? "revoked" : "verified";
        });
      });
  }

  function resources(payload) {
    var bundle = payload.vc && payload.vc.credentialSubject && payload.vc.credentialSubject.fhirBundle;
    return ((bundle && bundle.entry) || []).map(function (entry) {
      return entry.resource || {};
    });
  }

  function codingText(concept) {
    var codings = (concept && concept.coding) || [];
    for (var i = 0; i < codings.length; i++) {
      if (codings[i].display) {
        return codings[i].display;
      }
    }
    return codings.length ? (codings[0].code || "") : ((concept && concept.text) || "");
  }

  function personName(patient) {
    var name = (patient.name || [])[0] || {};
    if (name.text) {
      return name.text;
    }
    return (name.given || []).concat(name.family ? [name.family] : []).join(" ");
  }

  function listItem(list, text) {
    var item = document.createElement("li");
    item.textContent = text;
    list.appendChild(item);
  }

  function show(result) {
    var all = resources(result.payload);
    var patient = all.filter(function (r) { return r.resourceType === "Patient"; })[0] || {};
    document.getElementById("shl-name").textContent = personName(patient);
    document.getElementById("shl-birth").textContent = patient.birthDate || "";
    document.getElementById("shl-issuer").textContent = result.payload.iss || "";
    var vaccinations = document.getElementById("shl-vaccinations");
    var tests = document.getElementById("shl-tests");
    vaccinations.textContent = "";
    tests.textContent = "";
    all.forEach(function (r) {
      if (r.resourceType === "Immunization") {
        var applied = (r.protocolApplied || [])[0] || {};
        var dose = applied.doseNumberPositiveInt;
        var total = applied.seriesDosesPositiveInt;
        var doseText = dose && total ? message("dose", { dose: dose, total: total })
          : dose ? message("dose-only", { dose: dose }) : "";
        var performer = ((r.performer || [])[0] || {}).actor || {};
        listItem(vaccinations, [r.occurrenceDateTime, codingText(r.vaccineCode), doseText,
          r.lotNumber, performer.display].filter(Boolean).join(" · "));
      } else if (r.resourceType === "Observation") {
        var facility = ((r.performer || [])[0] || {}).display;
        listItem(tests, [r.effectiveDateTime, codingText(r.code),
          codingText(r.valueCodeableConcept), facility].filter(Boolean).join(" · "));
      }
    });
    [["shl-vaccinations", vaccinations], ["shl-tests", tests]].forEach(function (pair) {
      var empty = !pair[1].children.length;
      pair[1].hidden = empty;
      document.getElementById(pair[0] + "-heading").hidden = empty;
    });
    var verdict = document.getElementById("shl-verdict");
    verdict.textContent = message(result.verdict);
    verdict.setAttribute("data-verdict", result.verdict);
    card.className = "panel outcome " + (result.verdict === "verified" ? "outcome-valid"
      : result.verdict === "revoked" ? "outcome-revoked" : "outcome-invalid");
    card.hidden = false;
    openForm.hidden = true;
    say("");
    card.focus();
  }

  // --- the flow --------------------------------------------------------------------------------

  function open(event) {
    event.preventDefault();
    clearError();
    var recipient = recipientInput.value.trim() || recipientInput.defaultValue;
    var passcode = passcodeInput.value;
    if (link.flag.indexOf("P") >= 0 && !passcode) {
      fail(message("passcode-needed"));
      passcodeInput.focus();
      return;
    }
    say(message("fetching"));
    var keyBytes = fromBase64Url(link.key);
    var files;
    if (link.flag.indexOf("U") >= 0) {
      files = directFile(recipient);
    } else {
      files = manifest(recipient, passcode).then(function (response) {
        if (response.status === 401) {
          return response.json().then(function (body) {
            var error = new Error("wrong-passcode");
            error.remaining = body && typeof body.remainingAttempts === "number" ? body.remainingAttempts : 0;
            throw error;
          }, function () {
            throw httpError(401);
          });
        }
        if (!response.ok) {
          throw httpError(response.status);
        }
        return response.json().then(function (body) {
          return fileContents(body.files || []);
        });
      });
    }
    files
      .then(function (list) {
        var shc = list.filter(function (f) { return f.contentType === "application/smart-health-card"; })[0];
        if (!shc) {
          throw new Error("no-card");
        }
        return decrypt(shc.jwe, keyBytes);
      })
      .then(function (bytes) {
        var jwsList;
        try {
          jwsList = JSON.parse(utf8(bytes)).verifiableCredential || [];
        } catch (error) {
          throw new Error("undecryptable");
        }
        if (!jwsList.length) {
          throw new Error("no-card");
        }
        return verifyCard(jwsList[0]);
      })
      .then(show)
      .catch(function (error) {
        var kind = error && error.message;
        if (kind === "wrong-passcode") {
          if (error.remaining > 0) {
            fail(message("wrong-passcode", { count: error.remaining }));
            passcodeInput.value = "";
            passcodeInput.focus();
          } else {
            fail(message("gone"));
            openForm.hidden = true;
          }
        } else if (kind === "gone") {
          fail(message("gone"));
          openForm.hidden = true;
        } else if (kind === "undecryptable" || kind === "no-card") {
          fail(message(kind));
        } else if (error instanceof TypeError) {
          fail(message("network"));
        } else {
          fail(message("failed"));
        }
      });
  }

  function start(text) {
    clearError();
    var found;
    try {
      found = parseLink(text);
    } catch (error) {
      fail(message("bad-link"));
      pasteForm.hidden = false;
      return;
    }
    if (!found) {
      say(message("no-link"));
      pasteForm.hidden = false;
      return;
    }
    if (typeof found.exp === "number" && found.exp * 1000 < Date.now()) {
      fail(message("expired"));
      return;
    }
    link = found;
    pasteForm.hidden = true;
    if (link.label) {
      labelLine.textContent = link.label;
      labelLine.hidden = false;
    }
    passcodeField.hidden = link.flag.indexOf("P") < 0;
    openForm.hidden = false;
    say("");
  }

  if (!window.crypto || !crypto.subtle || typeof DecompressionStream === "undefined" || !window.fetch) {
    fail(message("unsupported"));
    return;
  }
  openForm.addEventListener("submit", open);
  pasteForm.addEventListener("submit", function (event) {
    event.preventDefault();
    start(pasteField.value);
  });
  // The fragment as typed or percent-encoded (a link passed through a URL shortener or
  // a chat app); a broken escape is read as it is.
  function fragment() {
    try {
      return decodeURIComponent(window.location.hash);
    } catch (error) {
      return window.location.hash;
    }
  }
  window.addEventListener("hashchange", function () {
    start(fragment());
  });
  start(fragment());
})();
