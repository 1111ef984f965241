// Passkeys on the edge's own pages (/account and the sign-in page): buttons marked
// data-passkey="register" or data-passkey="sign-in" ask the browser for a credential with the
// options the edge gives, and post the answer in the form named by data-form (a form post,
// so the server answers with a page or a redirect, as for a password).
const b64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
const bytes = (s) => Uint8Array.from(atob(s.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));

function put(form, name, value) {
  let input = form.querySelector(`input[name="${name}"]`);
  if (!input) {
    input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    form.append(input);
  }
  input.value = value;
}

async function options(url, form) {
  const body = new URLSearchParams({ csrf: form.querySelector('input[name="csrf"]')?.value ?? "" });
  const r = await fetch(url, { method: "POST", body, credentials: "same-origin" });
  if (!r.ok) throw new Error(`the server refused: HTTP ${r.status}`);
  return r.json();
}

async function register(form) {
  const o = await options("/account/passkey-options", form);
  const cred = await navigator.credentials.create({
    publicKey: { ...o, challenge: bytes(o.challenge), user: { ...o.user, id: bytes(o.user.id) } },
  });
  put(form, "client_data", b64u(cred.response.clientDataJSON));
  put(form, "attestation_object", b64u(cred.response.attestationObject));
  form.submit();
}

async function signIn(form) {
  const o = await options("/passkey/options", form);
  const cred = await navigator.credentials.get({ publicKey: { ...o, challenge: bytes(o.challenge) } });
  put(form, "credential_id", cred.id);
  put(form, "client_data", b64u(cred.response.clientDataJSON));
  put(form, "authenticator_data", b64u(cred.response.authenticatorData));
  put(form, "signature", b64u(cred.response.signature));
  form.submit();
}

for (const button of document.querySelectorAll("[data-passkey]")) {
  button.hidden = !window.PublicKeyCredential;
  button.addEventListener("click", async (e) => {
    e.preventDefault();
    const form = document.getElementById(button.dataset.form);
    const status = document.getElementById("passkey-status");
    try {
      await (button.dataset.passkey === "register" ? register(form) : signIn(form));
    } catch (err) {
      if (status) status.textContent = `Passkey: ${err.message}`;
    }
  });
}
