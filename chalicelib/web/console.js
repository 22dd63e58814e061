// Omnicard call-center console: a plain-JavaScript client of the public API, served by the app
// (same origin, no framework, no build step). Everything it shows comes from /v1 routes any
// client can call; it has no private endpoints.
(function () {
  "use strict";

  var SETTINGS = JSON.parse(document.getElementById("console-settings").textContent);
  // Behind an API Gateway stage the app lives under a prefix (e.g. /api): the API is beside this page.
  var API = window.location.pathname.replace(/\/console\/?$/, "");
  var TOKEN_KEY = "omnicard.console.token";
  var PKCE_KEY = "omnicard.console.pkce";
  var REASONS = {goodwill: "Goodwill", service_recovery: "Service recovery", correction: "Correction",
                 fraud: "Fraud", other: "Other"};
  var STAFF = ["agent", "supervisor"];

  var session = null;  // {token, claims}
  var view = {member: null, cards: [], strong: {}, card: null, asOf: null, activityCursor: null,
              txCursor: null, refundTx: null};

  function $(id) { return document.getElementById(id); }

  // ---- DOM building (text only: API data never becomes markup) ----
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attrs[name]; }
      else if (name === "hidden") { node.hidden = attrs[name]; }
      else { node.setAttribute(name, attrs[name]); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child !== null && child !== undefined) {
        node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    }
    return node;
  }
  function cell(text) { return el("td", {text: text === null || text === undefined ? "—" : String(text)}); }
  function numberCell(text) { var td = cell(text); td.className = "number"; return td; }
  // Tables show a masked number by its last four digits; headings show the mask as the API gives it.
  function short(number) { return number ? "••••\u00a0" + number.slice(-4) : "another card"; }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }

  // ---- Money: integer minor units in and out, by string handling, never through a float ----
  function exponent(currency) {
    try {
      return new Intl.NumberFormat("en", {style: "currency", currency: currency}).resolvedOptions().maximumFractionDigits;
    } catch (error) { return 2; }
  }
  function pow10(n) { var p = 1; for (var i = 0; i < n; i++) { p *= 10; } return p; }

  // "5.10" → 510, "-3" → -300, "+0.5" → 50 (for a 2-decimal currency). Up to 9 whole digits keep
  // every intermediate an exact integer. Returns null for anything else.
  function parseMinor(text, currency) {
    var digits = exponent(currency);
    var match = /^([+-]?)(\d{0,9})(?:\.(\d*))?$/.exec(text.trim());
    if (!match || (match[2] === "" && !match[3]) || (match[3] || "").length > digits) { return null; }
    var fraction = (match[3] || "").padEnd(digits, "0");
    var minor = Number(match[2] || "0") * pow10(digits) + Number(fraction || "0");
    return match[1] === "-" ? -minor : minor;
  }
  function formatMoney(money) {
    if (!money) { return "—"; }
    var digits = exponent(money.currency);
    var size = Math.abs(money.amount);
    var whole = Math.floor(size / pow10(digits)).toLocaleString("en-US");
    var fraction = digits ? "." + String(size % pow10(digits)).padStart(digits, "0") : "";
    return (money.amount < 0 ? "-" : "") + whole + fraction + " " + money.currency;
  }
  function signedMoney(money) { return money && money.amount > 0 ? "+" + formatMoney(money) : formatMoney(money); }
  function signedInt(n) { return n > 0 ? "+" + n : String(n); }
  // Times in UTC, to the minute in tables (the full instant is in the cell's title).
  function when(iso) { return iso ? iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "") : "—"; }
  function timeCell(iso) {
    if (!iso) { return cell(null); }
    var parts = when(iso).split(" ");  // wraps between the date and the time, never inside either
    return el("td", {class: "time", title: iso}, el("span", {text: parts[0]}), " ", el("span", {text: parts[1]}));
  }

  // ---- Problems: every problem+json (and every local refusal) lands in the one alert ----
  function Problem(body) { this.body = body; }
  function refuse(title, detail) { throw new Problem({title: title, detail: detail}); }
  function showProblem(problem) {
    var box = clear($("alert"));
    box.appendChild(el("strong", {text: problem.title || "Request failed"}));
    box.appendChild(document.createTextNode(": " + (problem.detail || "")));
    (problem.errors || []).forEach(function (error) {
      box.appendChild(el("div", {class: "detail", text: (error.loc || []).join(".") + ": " + error.msg}));
    });
    box.hidden = false;
  }
  function clearAlert() { clear($("alert")).hidden = true; }
  function say(text) { $("status").textContent = text; }

  // ---- Idempotency keys: one per submission, reused only when that same submission is retried
  // after a network error (the first attempt may have been applied; the server replays it) ----
  var keyring = {};
  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "console-" + Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  function keysFor(scope, fingerprint) {
    var entry = keyring[scope];
    if (!entry || entry.fingerprint !== fingerprint) { entry = keyring[scope] = {fingerprint: fingerprint, keys: {}}; }
    return function (step) { return entry.keys[step] || (entry.keys[step] = newKey()); };
  }
  function settled(scope) { delete keyring[scope]; }

  function NetworkError(message) { this.message = message; }

  function call(method, path, options) {
    options = options || {};
    var headers = {Accept: "application/json", Authorization: "Bearer " + session.token};
    if (options.key) { headers["Idempotency-Key"] = options.key; }
    var init = {method: method, headers: headers};
    if (method === "POST" || method === "PUT") {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body || {});
    }
    return fetch(API + path, init).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (error) { body = null; }
        if (response.ok) { return {status: response.status, body: body}; }
        if (response.status === 401) { signOut(); }
        throw new Problem(body && body.title ? body :
          {title: "HTTP " + response.status, detail: "the server answered " + response.status + " without a problem description"});
      });
    }, function (error) {
      throw new NetworkError(error && error.message ? error.message : String(error));
    });
  }

  // Runs one submission: the form (or row) is busy until it ends, so a double click sends it once.
  function submit(scope, controls, fingerprint, action) {
    if (controls.some(function (c) { return c.disabled; })) { return Promise.resolve(); }
    controls.forEach(function (c) { c.disabled = true; });
    clearAlert();
    var keys = fingerprint === null ? null : keysFor(scope, fingerprint);
    return Promise.resolve().then(function () { return action(keys); }).then(function () {
      settled(scope);
    }, function (error) {
      if (error instanceof NetworkError) {
        showProblem({title: "Network error", detail: "No answer from the server (" + error.message + "). " +
                     "Submit again: the retry carries the same Idempotency-Key, so it cannot apply twice."});
        return;
      }
      settled(scope);
      if (error instanceof Problem) { showProblem(error.body); return; }
      showProblem({title: "Console error", detail: String(error && error.message || error)});
    }).then(function () {
      controls.forEach(function (c) { c.disabled = false; });
    });
  }
  function onSubmit(form, handler) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var controls = Array.prototype.slice.call(form.querySelectorAll("button[type=submit]"));
      if (controls.some(function (c) { return c.disabled; })) { return; }
      var plan;
      try { plan = handler(); } catch (error) {
        if (error instanceof Problem) { showProblem(error.body); return; }
        throw error;
      }
      submit(form.id, controls, plan.fingerprint, plan.run);
    });
  }

  // ---- Session ----
  function decodeClaims(token) {
    var part = token.split(".")[1];
    if (!part) { return null; }
    try {
      var json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
      return JSON.parse(decodeURIComponent(Array.prototype.map.call(json, function (c) {
        return "%" + c.charCodeAt(0).toString(16).padStart(2, "0");
      }).join("")));
    } catch (error) { return null; }
  }

  function signIn(token) {
    token = token.trim();
    var claims = decodeClaims(token);
    if (!claims) { refuse("Not a token", "paste the JWT that `make token ROLE=agent` prints"); }
    if (STAFF.indexOf(claims.role) < 0) {
      refuse("Not a staff token", "this console is for agent and supervisor tokens; this one is a " + claims.role + " token");
    }
    if (claims.exp && claims.exp * 1000 < Date.now()) { refuse("Token expired", "get a new token and sign in again"); }
    session = {token: token, claims: claims};
    sessionStorage.setItem(TOKEN_KEY, token);
    render();
    $("find").focus();
  }

  function signOut() {
    session = null;
    sessionStorage.removeItem(TOKEN_KEY);
    view = {member: null, cards: [], strong: {}, card: null, asOf: null, activityCursor: null, txCursor: null, refundTx: null};
    keyring = {};
    Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) { form.reset(); });
    Array.prototype.forEach.call(document.querySelectorAll(".result"), function (node) { node.textContent = ""; });
    ["member", "card", "approvals", "audit"].forEach(function (id) { $(id).hidden = true; });
    say("");
    render();
  }

  function render() {
    var signedIn = session !== null;
    $("token-form").hidden = signedIn || !SETTINGS.token_sign_in;
    $("oauth-sign-in").hidden = signedIn || !SETTINGS.oauth;
    $("who").hidden = !signedIn;
    $("main").hidden = !signedIn;
    if (signedIn) {
      $("who-role").textContent = session.claims.role;
      $("who-agent").textContent = "agent_id " + (session.claims.agent_id || "—");
      var supervisor = session.claims.role === "supervisor";
      $("approvals-button").hidden = !supervisor;
      $("audit-button").hidden = !supervisor;
    }
  }

  // OAuth 2 authorization code with PKCE (RFC 7636): a public client, so no secret; the verifier
  // stays in this tab's sessionStorage and only its SHA-256 goes to the authorization endpoint.
  function base64url(bytes) {
    return btoa(String.fromCharCode.apply(null, new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function randomBytes(n) { var bytes = new Uint8Array(n); crypto.getRandomValues(bytes); return bytes; }
  function redirectUri() { return window.location.origin + window.location.pathname; }

  function startOAuth() {
    var verifier = base64url(randomBytes(32));
    var state = base64url(randomBytes(16));
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (digest) {
      sessionStorage.setItem(PKCE_KEY, JSON.stringify({verifier: verifier, state: state}));
      var url = new URL(SETTINGS.oauth_authorize_url);  // may carry its own parameters (e.g. audience)
      url.searchParams.set("response_type", "code");
      url.searchParams.set("client_id", SETTINGS.oauth_client_id);
      url.searchParams.set("redirect_uri", redirectUri());
      url.searchParams.set("scope", SETTINGS.oauth_scope);
      url.searchParams.set("state", state);
      url.searchParams.set("code_challenge", base64url(digest));
      url.searchParams.set("code_challenge_method", "S256");
      window.location.assign(url.toString());
    });
  }

  function finishOAuth(params) {
    var saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    window.history.replaceState(null, "", window.location.pathname);  // the code is single-use: drop it from the URL
    if (params.get("error")) { refuse("Sign-in refused", params.get("error_description") || params.get("error")); }
    if (!saved || saved.state !== params.get("state")) {
      refuse("Sign-in failed", "the identity provider's answer does not belong to a sign-in started in this tab");
    }
    var form = new URLSearchParams({grant_type: "authorization_code", code: params.get("code"),
                                    redirect_uri: redirectUri(), client_id: SETTINGS.oauth_client_id,
                                    code_verifier: saved.verifier});
    return fetch(SETTINGS.oauth_token_url, {method: "POST", body: form,
                                            headers: {"Content-Type": "application/x-www-form-urlencoded"}})
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok || !body.access_token) {
            refuse("Sign-in failed", body.error_description || body.error || "the token endpoint answered " + response.status);
          }
          signIn(body.access_token);
        });
      });
  }

  // ---- Find and show a member ----
  function search(query) {
    var text = query.trim();
    var number = text.replace(/[\s-]/g, "");
    if (/^\d{16}$/.test(number)) {
      return call("GET", "/v1/cards?number=" + number).then(function (result) {
        var card = result.body.items[0];
        if (!card) { say("No card has the number ending " + number.slice(-4) + "."); return null; }
        if (!card.member_id) { showMember(null); view.cards = [card]; return openCard(card.card_id); }
        return loadMember(card.member_id, card.card_id);
      });
    }
    if (text.indexOf("@") > 0) {
      return call("GET", "/v1/members?email=" + encodeURIComponent(text)).then(function (result) {
        var member = result.body.items[0];
        if (!member) { say("No member has the email " + text + "."); return null; }
        return loadMember(member.member_id, null);
      });
    }
    refuse("Not an email or a card number", "type the member's email or the card's 16 digits");
  }

  function loadMember(memberId, cardId) {
    return call("GET", "/v1/members/" + encodeURIComponent(memberId)).then(function (result) {
      showMember(result.body);
      var wanted = cardId || (view.card && view.cards.some(function (c) { return c.card_id === view.card.card_id; }) && view.card.card_id)
        || (view.cards[0] && view.cards[0].card_id);
      return Promise.all([loadActivity(true), wanted ? openCard(wanted) : hideCard()]);
    }).then(function () { $("member-name").focus(); });
  }

  function hideCard() { view.card = null; $("card").hidden = true; }

  function showMember(wallet) {
    view.member = wallet;
    $("member").hidden = !wallet;
    $("audit").hidden = true;
    if (!wallet) { return; }
    say("");
    view.cards = wallet.cards || [];
    view.asOf = wallet.as_of;
    $("member-name").textContent = wallet.name;
    $("member-email").textContent = wallet.email;
    $("member-tier").textContent = wallet.tier;
    $("member-stars").textContent = String(wallet.stars);
    var expiring = clear($("member-expiring"));
    if (!wallet.stars_expiring.length) { expiring.textContent = "none"; }
    wallet.stars_expiring.forEach(function (lot) {
      expiring.appendChild(el("div", {text: lot.stars + " stars expire " + when(lot.expires_at) + " UTC"}));
    });
    $("as-of").textContent = wallet.as_of ? wallet.as_of.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "—";
    if (wallet.as_of) { $("as-of").setAttribute("datetime", wallet.as_of); }
    tick();
    renderCards();
  }

  function tick() {
    var node = $("as-of-age");
    if (!view.asOf) { node.textContent = view.member ? "(the view has no change of this member yet)" : ""; return; }
    var seconds = Math.max(0, Math.round((Date.now() - Date.parse(view.asOf)) / 1000));
    node.textContent = "(" + (seconds < 120 ? seconds + " s" : Math.round(seconds / 60) + " min") + " ago)";
  }

  // A card read directly (strongly consistent) wins over the view's copy when it is newer.
  function freshest(card) {
    var strong = view.strong[card.card_id];
    return strong && strong.version >= card.version ? strong : card;
  }

  function renderCards() {
    var body = clear($("cards-table").querySelector("tbody"));
    var cards = view.cards.map(freshest);
    var holds = cards.some(function (card) { return card.held && card.held.amount > 0; });
    document.body.classList.toggle("with-holds", holds);
    cards.forEach(function (card) {
      var open = el("button", {type: "button", "aria-label": "Open card " + card.card_number, text: "Open"});
      open.addEventListener("click", function () { clearAlert(); openCard(card.card_id).catch(report); });
      var row = el("tr", view.card && view.card.card_id === card.card_id ? {"aria-current": "true"} : {},
                   cell(card.card_number), cell(card.status), numberCell(formatMoney(card.balance)),
                   el("td", {class: "holds", text: formatMoney(card.held)}),
                   el("td", {class: "holds", text: formatMoney(card.available)}), el("td", {}, open));
      body.appendChild(row);
    });
    renderTransferTargets();
  }

  function loadActivity(first) {
    if (!view.member) { return Promise.resolve(); }
    var path = "/v1/members/" + encodeURIComponent(view.member.member_id) + "/activity?limit=25" +
      (first ? "" : "&cursor=" + encodeURIComponent(view.activityCursor));
    return call("GET", path).then(function (result) {
      var body = $("activity-table").querySelector("tbody");
      if (first) { clear(body); }
      var numbers = {};
      view.cards.forEach(function (card) { numbers[card.card_id] = card.card_number; });
      result.body.items.forEach(function (tx) {
        body.appendChild(el("tr", {}, timeCell(tx.created_at), cell(describe(tx)),
                            cell(tx.card_id ? short(numbers[tx.card_id]) : null), numberCell(tx.amount ? signedMoney(tx.amount) : null),
                            cell(tx.stars ? signedInt(tx.stars) : null), cell(tx.channel), cell(tx.store_id)));
      });
      view.activityCursor = result.body.next_cursor;
      $("activity-more").hidden = !view.activityCursor;
      $("activity-as-of").textContent = result.body.as_of ? result.body.as_of.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC") : "—";
    });
  }

  function describe(tx) {
    var what = tx.kind.replace(/_/g, " ");
    if (tx.reason_code) { what += " (" + (REASONS[tx.reason_code] || tx.reason_code) + ")"; }
    if (tx.agent_id) { what += " by " + tx.agent_id; }
    return what;
  }

  // ---- One card ----
  function openCard(cardId) {
    return Promise.all([
      call("GET", "/v1/cards/" + encodeURIComponent(cardId)),
      call("GET", "/v1/cards/" + encodeURIComponent(cardId) + "/transactions?limit=25")
    ]).then(function (results) {
      showCard(results[0].body);
      renderTransactions(results[1].body, true);
      $("refund-form").hidden = true;
    });
  }

  function showCard(card) {
    var changed = !view.card || view.card.card_id !== card.card_id;
    view.card = card;
    view.strong[card.card_id] = card;
    if (!view.cards.some(function (c) { return c.card_id === card.card_id; })) { view.cards.push(card); }
    $("card").hidden = false;
    $("card-title").textContent = "Card " + card.card_number;
    $("card-status").textContent = card.status;
    $("card-balance").textContent = formatMoney(card.balance);
    $("card-held").textContent = formatMoney(card.held);
    $("card-available").textContent = formatMoney(card.available);
    $("card").classList.toggle("with-holds", Boolean(card.held && card.held.amount > 0));
    $("status-button").textContent = card.status === "frozen" ? "Unfreeze card" : "Freeze card";
    $("status-button").hidden = card.status === "closed";
    if (changed) {
      ["adjust-form", "transfer-form", "refund-form"].forEach(function (id) {
        $(id).reset();
        $(id).querySelector(".result").textContent = "";
      });
      $("card-status-result").textContent = "";
    }
    renderCards();
  }

  function renderTransactions(page, first) {
    var body = $("tx-table").querySelector("tbody");
    if (first) { clear(body); }
    page.items.forEach(function (tx) {
      var action = el("td", {});
      if (tx.kind === "payment") {
        var refund = el("button", {type: "button", text: "Refund",
                                   "aria-label": "Refund payment of " + formatMoney(tx.amount) + " at " + when(tx.created_at) + " UTC"});
        refund.addEventListener("click", function () { openRefund(tx); });
        action.appendChild(refund);
      }
      body.appendChild(el("tr", {}, timeCell(tx.created_at), cell(describe(tx)), numberCell(signedMoney(tx.amount)),
                          numberCell(formatMoney(tx.balance_after)), cell(tx.channel), cell(tx.store_id), action));
    });
    view.txCursor = page.next_cursor;
    $("tx-more").hidden = !view.txCursor;
  }

  function renderTransferTargets() {
    var select = clear($("transfer-to"));
    view.cards.map(freshest).forEach(function (card) {
      if (!view.card || card.card_id === view.card.card_id) { return; }
      select.appendChild(el("option", {value: card.card_id, text: card.card_number + " (" + card.status + ", " + formatMoney(card.balance) + ")"}));
    });
    if (view.card && view.card.member_id) { select.appendChild(el("option", {value: "new", text: "A new card for this member"})); }
  }

  function afterChange(cardIds) {
    // Authoritative reads at once; the wallet view and feed follow the stream (see their as_of).
    return Promise.all(cardIds.map(function (id) { return call("GET", "/v1/cards/" + encodeURIComponent(id)); }))
      .then(function (results) {
        results.forEach(function (result) { view.strong[result.body.card_id] = result.body; });
        if (view.card) { showCard(view.strong[view.card.card_id] || view.card); }
        return call("GET", "/v1/cards/" + encodeURIComponent(view.card.card_id) + "/transactions?limit=25");
      }).then(function (result) {
        renderTransactions(result.body, true);
        if (view.member) { window.setTimeout(refreshMember, 1500); }
      });
  }

  function refreshMember() {
    if (!view.member || !session) { return; }
    call("GET", "/v1/members/" + encodeURIComponent(view.member.member_id)).then(function (result) {
      showMember(result.body);
      return loadActivity(true);
    }).catch(report);
  }

  function report(error) {
    if (error instanceof Problem) { showProblem(error.body); }
    else if (error instanceof NetworkError) { showProblem({title: "Network error", detail: error.message}); }
    else { showProblem({title: "Console error", detail: String(error && error.message || error)}); }
  }

  function reasonAndNote(form) {
    var body = {reason_code: form.elements.reason_code.value};
    var note = form.elements.note.value.trim();
    if (note) { body.note = note; }
    return body;
  }

  function adjustmentOutcome(result, applied) {
    if (result.status === 202) { return "Pending approval (" + result.body.adjustment_id + "): a second supervisor must approve it."; }
    return applied(result.body);
  }

  function wire() {
    Array.prototype.forEach.call(document.querySelectorAll("select.reason"), function (select) {
      SETTINGS.reason_codes.forEach(function (code) { select.appendChild(el("option", {value: code, text: REASONS[code] || code})); });
    });

    $("token-form").addEventListener("submit", function (event) {
      event.preventDefault();
      clearAlert();
      try { signIn($("token").value); $("token").value = ""; } catch (error) { report(error); }
    });
    $("oauth-sign-in").addEventListener("click", function () { startOAuth().catch(report); });
    $("sign-out").addEventListener("click", function () { signOut(); say("Signed out."); });

    onSubmit($("find-form"), function () {
      var query = $("find").value;
      return {fingerprint: null, run: function () { $("approvals").hidden = true; return search(query); }};
    });
    $("refresh").addEventListener("click", function () { clearAlert(); refreshMember(); });
    $("activity-more").addEventListener("click", function () { loadActivity(false).catch(report); });
    $("tx-more").addEventListener("click", function () {
      call("GET", "/v1/cards/" + encodeURIComponent(view.card.card_id) + "/transactions?limit=25&cursor=" +
           encodeURIComponent(view.txCursor)).then(function (result) { renderTransactions(result.body, false); }).catch(report);
    });

    onSubmit($("adjust-form"), function () {
      var form = $("adjust-form");
      var card = view.card;
      var minor = parseMinor(form.elements.amount.value, card.balance.currency);
      if (minor === null || minor === 0) {
        refuse("Invalid amount", "\"" + form.elements.amount.value + "\" is not an amount: type major units such as 5.10 or -3, " +
               "with at most " + exponent(card.balance.currency) + " decimals, and not zero");
      }
      var body = Object.assign({amount: {amount: minor, currency: card.balance.currency}}, reasonAndNote(form));
      var path = "/v1/cards/" + encodeURIComponent(card.card_id) + "/adjustments";
      return {fingerprint: path + JSON.stringify(body), run: function (key) {
        return call("POST", path, {body: body, key: key("adjust")}).then(function (result) {
          form.querySelector(".result").textContent = adjustmentOutcome(result, function (tx) {
            return "Applied " + signedMoney(tx.amount) + ": new balance " + formatMoney(tx.balance_after) + ".";
          });
          form.elements.amount.value = "";
          form.elements.note.value = "";
          return afterChange([card.card_id]);
        });
      }};
    });

    onSubmit($("stars-form"), function () {
      var form = $("stars-form");
      var text = form.elements.stars.value.trim();
      if (!/^[+-]?\d{1,7}$/.test(text) || Number(text) === 0) {
        refuse("Invalid stars", "\"" + form.elements.stars.value + "\" is not a number of stars: type a whole number such as 50 or -20, not zero");
      }
      var body = Object.assign({stars: Number(text)}, reasonAndNote(form));
      var path = "/v1/members/" + encodeURIComponent(view.member.member_id) + "/adjustments";
      return {fingerprint: path + JSON.stringify(body), run: function (key) {
        return call("POST", path, {body: body, key: key("adjust")}).then(function (result) {
          form.querySelector(".result").textContent = adjustmentOutcome(result, function (tx) {
            return "Applied " + signedInt(tx.stars) + " stars: the member now has " + tx.stars_after + ".";
          });
          form.reset();
          window.setTimeout(refreshMember, 1500);
        });
      }};
    });

    onSubmit($("status-form"), function () {
      var card = view.card;
      var action = card.status === "frozen" ? "unfreeze" : "freeze";
      var path = "/v1/cards/" + encodeURIComponent(card.card_id) + "/" + action;
      return {fingerprint: path, run: function (key) {
        return call("POST", path, {key: key(action)}).then(function (result) {
          $("card-status-result").textContent = "Card " + result.body.card_number + " is " + result.body.status + ".";
          view.strong[result.body.card_id] = result.body;
          showCard(result.body);
          if (view.member) { window.setTimeout(refreshMember, 1500); }
        });
      }};
    });

    onSubmit($("transfer-form"), function () {
      var form = $("transfer-form");
      var card = view.card;
      var target = form.elements.to.value;
      if (!target) { refuse("No card to transfer to", "the member has no other card; choose \"A new card for this member\""); }
      var body = {};
      var text = form.elements.amount.value.trim();
      if (text) {
        var minor = parseMinor(text, card.balance.currency);
        if (minor === null || minor <= 0) {
          refuse("Invalid amount", "\"" + text + "\" is not an amount to move: type major units such as 12.50, or leave it blank to move everything available");
        }
        body.amount = {amount: minor, currency: card.balance.currency};
      }
      var path = "/v1/cards/" + encodeURIComponent(card.card_id) + "/transfers";
      return {fingerprint: path + target + JSON.stringify(body), run: function (key) {
        var destination = target !== "new" ? Promise.resolve(target) :
          call("POST", "/v1/cards", {body: {member_id: card.member_id}, key: key("issue")})
            .then(function (result) { view.cards.push(result.body); return result.body.card_id; });
        return destination.then(function (toCardId) {
          return call("POST", path, {body: Object.assign({to_card_id: toCardId}, body), key: key("transfer")});
        }).then(function (result) {
          var moved = result.body["in"];
          var to = view.cards.filter(function (c) { return c.card_id === moved.card_id; })[0];
          form.querySelector(".result").textContent = "Moved " + formatMoney(moved.amount) + " to " +
            (to ? to.card_number : "the other card") + ": it now holds " + formatMoney(moved.balance_after) +
            ", this card " + formatMoney(result.body.out.balance_after) + ".";
          form.elements.amount.value = "";
          return afterChange([card.card_id, moved.card_id]);
        });
      }};
    });

    onSubmit($("refund-form"), function () {
      var form = $("refund-form");
      var tx = view.refundTx;
      var body = {};
      var text = form.elements.amount.value.trim();
      if (text) {
        var minor = parseMinor(text, tx.amount.currency);
        if (minor === null || minor <= 0) {
          refuse("Invalid amount", "\"" + text + "\" is not a refund amount: type major units such as 2.50, or leave it blank to refund all of it");
        }
        body.amount = {amount: minor, currency: tx.amount.currency};
      }
      var path = "/v1/transactions/" + encodeURIComponent(tx.tx_id) + "/refunds";
      return {fingerprint: path + JSON.stringify(body), run: function (key) {
        return call("POST", path, {body: body, key: key("refund")}).then(function (result) {
          form.querySelector(".result").textContent = "Refunded " + formatMoney(result.body.amount) +
            ": new balance " + formatMoney(result.body.balance_after) + ".";
          form.elements.amount.value = "";
          return afterChange([view.card.card_id]);
        });
      }};
    });
    $("refund-cancel").addEventListener("click", function () { $("refund-form").hidden = true; });

    $("approvals-button").addEventListener("click", function () { clearAlert(); loadApprovals().catch(report); });
    $("audit-button").addEventListener("click", function () { clearAlert(); loadAudit().catch(report); });
  }

  function openRefund(tx) {
    view.refundTx = tx;
    var form = $("refund-form");
    form.hidden = false;
    form.querySelector(".result").textContent = "";
    $("refund-what").textContent = "Payment of " + formatMoney({amount: -tx.amount.amount, currency: tx.amount.currency}) +
      " on " + when(tx.created_at) + " UTC" + (tx.store_id ? " at store " + tx.store_id : "") + ".";
    $("refund-amount").focus();
  }

  // ---- Supervisors ----
  function loadApprovals() {
    return call("GET", "/v1/adjustments?status=pending_approval&limit=100").then(function (result) {
      $("approvals").hidden = false;
      var body = clear($("approvals-table").querySelector("tbody"));
      $("approvals-empty").hidden = result.body.items.length > 0;
      $("approvals-table").hidden = result.body.items.length === 0;
      result.body.items.forEach(function (adjustment) { body.appendChild(approvalRow(adjustment)); });
      $("approvals-title").focus();
    });
  }

  function approvalRow(adjustment) {
    var id = adjustment.adjustment_id;
    var noteId = "reject-note-" + id;
    var approve = el("button", {type: "button", text: "Approve"});
    var reject = el("button", {type: "button", text: "Reject"});
    var note = el("input", {id: noteId, maxlength: "500", autocomplete: "off"});
    var outcome = el("span", {class: "result", role: "status"});
    var decision = el("td", {class: "decision"}, el("label", {for: noteId, text: "Rejection note"}), note, approve, reject, outcome);
    var row = el("tr", {"data-adjustment": id}, timeCell(adjustment.requested_at), cell(adjustment.agent_id),
                 cell(adjustment.card_id ? "card " + adjustment.card_id : "member " + adjustment.member_id),
                 numberCell(adjustment.amount ? signedMoney(adjustment.amount) : signedInt(adjustment.stars) + " stars"),
                 cell(REASONS[adjustment.reason_code] || adjustment.reason_code), cell(adjustment.note), decision);
    function decide(verb) {
      var body = {};
      if (verb === "reject" && note.value.trim()) { body.note = note.value.trim(); }
      var path = "/v1/adjustments/" + encodeURIComponent(id) + "/" + verb;
      submit("decide-" + id, [approve, reject], path + JSON.stringify(body), function (key) {
        return call("POST", path, {body: body, key: key(verb)}).then(function (result) {
          approve.hidden = reject.hidden = note.hidden = true;
          decision.querySelector("label").hidden = true;
          outcome.textContent = verb === "approve"
            ? "Approved: " + (result.body.balance_after ? "new balance " + formatMoney(result.body.balance_after)
                                                         : "the member now has " + result.body.stars_after + " stars") + "."
            : "Rejected.";
          if (view.card && verb === "approve" && result.body.card_id === view.card.card_id) { return afterChange([view.card.card_id]); }
        });
      });
    }
    approve.addEventListener("click", function () { decide("approve"); });
    reject.addEventListener("click", function () { decide("reject"); });
    return row;
  }

  function loadAudit() {
    return call("GET", "/v1/members/" + encodeURIComponent(view.member.member_id) + "/audit?limit=100").then(function (result) {
      $("audit").hidden = false;
      var body = clear($("audit-table").querySelector("tbody"));
      result.body.items.forEach(function (record) {
        body.appendChild(el("tr", {}, timeCell(record.at), cell(record.agent_id || record.actor), cell(record.role),
                            cell(record.action.replace(/[._]/g, " ")), cell(change(record.before, record.after)),
                            cell([record.reason_code && (REASONS[record.reason_code] || record.reason_code), record.note]
                                   .filter(Boolean).join(": ") || null)));
      });
      $("audit-title").focus();
    });
  }

  function change(before, after) {
    if (!before && !after) { return null; }
    var names = Object.keys(Object.assign({}, before || {}, after || {}));
    var currency = (after && after.currency) || (before && before.currency);
    function show(name, value) {
      if (value === undefined || value === null) { return "—"; }
      if (name === "balance" && typeof value === "number" && currency) { return formatMoney({amount: value, currency: currency}); }
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    }
    var parts = names.filter(function (name) {
      return JSON.stringify((before || {})[name]) !== JSON.stringify((after || {})[name]);
    }).map(function (name) { return name + ": " + show(name, (before || {})[name]) + " → " + show(name, (after || {})[name]); });
    return parts.length ? parts.join("; ") : "no change";
  }

  // ---- Start ----
  window.omnicardConsole = {parseMinor: parseMinor, formatMoney: formatMoney};  // for the browser tests
  wire();
  window.setInterval(tick, 1000);
  var params = new URLSearchParams(window.location.search);
  var start = Promise.resolve();
  if (SETTINGS.oauth && (params.get("code") || params.get("error"))) {
    start = Promise.resolve().then(function () { return finishOAuth(params); });
  } else if (sessionStorage.getItem(TOKEN_KEY)) {
    start = Promise.resolve().then(function () { signIn(sessionStorage.getItem(TOKEN_KEY)); });
  }
  start.catch(function (error) { sessionStorage.removeItem(TOKEN_KEY); report(error); }).then(render);
  render();
})();
