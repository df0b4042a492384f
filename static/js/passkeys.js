// Passkeys (WebAuthn) for the login, second-factor and security pages. The server
// (accounts/security_views.py, py_webauthn) makes the options and checks the answers; this
// script only hands them between it and the browser's navigator.credentials API.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), function (c) { return c.charCodeAt(0); }).buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? "{}" : JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || "Something went wrong. Try again."); }
        return data;
      });
    });
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return out;
  }

  function showError(box, error) {
    var target = box.querySelector("[data-passkey-error]");
    if (target) {
      target.textContent = error.name === "NotAllowedError"
        ? "The passkey request was cancelled or timed out."
        : error.message;
    }
  }

  function signIn(box) {
    post(box.dataset.optionsUrl).then(function (options) {
      options.challenge = toBytes(options.challenge);
      options.allowCredentials = descriptors(options.allowCredentials);
      return navigator.credentials.get({ publicKey: options });
    }).then(function (credential) {
      return post(box.dataset.verifyUrl, credentialJSON(credential));
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (error) { showError(box, error); });
  }

  function register(form) {
    var name = form.querySelector("input[name=name]");
    post(form.dataset.optionsUrl).then(function (options) {
      options.challenge = toBytes(options.challenge);
      options.user.id = toBytes(options.user.id);
      options.excludeCredentials = descriptors(options.excludeCredentials);
      return navigator.credentials.create({ publicKey: options });
    }).then(function (credential) {
      return post(form.dataset.verifyUrl, {
        name: name ? name.value : "",
        credential: credentialJSON(credential),
      });
    }).then(function (data) {
      window.location.assign(data.redirect);
    }).catch(function (error) { showError(form, error); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = !!window.PublicKeyCredential;
    document.querySelectorAll("[data-passkey-login]").forEach(function (box) {
      if (!supported) { box.hidden = true; return; }
      box.querySelector("[data-passkey-start]").addEventListener("click", function () {
        signIn(box);
      });
    });
    document.querySelectorAll("form[data-passkey-register]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (!supported) {
          showError(form, new Error("This browser does not support passkeys."));
          return;
        }
        register(form);
      });
    });
  });
})();
