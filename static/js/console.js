// console.js: the console's only script. The Content-Security-Policy forbids
// inline scripts and inline event handlers, so every behaviour is attached
// here by delegation on document, which also covers content htmx swaps in
// later. Everything is progressive: without this script the forms still
// post, and the server checks every rule (including the typed confirmation
// word) on its own.
(function () {
  "use strict";

  // --- Confirmation dialogs ------------------------------------------------
  // <dialog data-confirm-dialog data-autoopen> is opened as a modal as soon
  // as it arrives. Its Confirm button ([data-confirm-button]) stays disabled
  // until the text field [data-confirm-word="WORD"] holds exactly WORD.
  // Cancel ([data-dialog-cancel]), Escape (native) and any other close send
  // nothing: the dialog is removed, so the form is back as it was.

  function confirmButton(dialog) {
    return dialog.querySelector("[data-confirm-button]");
  }

  function syncConfirm(input) {
    var dialog = input.closest("dialog");
    if (!dialog) return;
    var btn = confirmButton(dialog);
    if (btn) btn.disabled = input.value !== input.getAttribute("data-confirm-word");
  }

  function openDialogs(root) {
    var found = [];
    if (root.matches && root.matches("dialog[data-autoopen]")) found.push(root);
    if (root.querySelectorAll) {
      found = found.concat(Array.prototype.slice.call(root.querySelectorAll("dialog[data-autoopen]")));
    }
    found.forEach(function (dialog) {
      if (dialog.open || typeof dialog.showModal !== "function") return;
      var word = dialog.querySelector("[data-confirm-word]");
      if (word) {
        word.value = "";
        syncConfirm(word);
      }
      dialog.showModal();
      if (word) word.focus();
    });
  }

  document.addEventListener("input", function (e) {
    var t = e.target;
    if (t && t.matches && t.matches("[data-confirm-word]")) syncConfirm(t);
  });

  document.addEventListener("click", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("[data-dialog-cancel]") : null;
    if (!t) return;
    var dialog = t.closest("dialog");
    if (dialog) {
      e.preventDefault();
      dialog.close("cancel");
    }
  });

  // "close" does not bubble: listen in the capture phase.
  document.addEventListener(
    "close",
    function (e) {
      var dialog = e.target;
      if (!dialog || !dialog.matches || !dialog.matches("dialog[data-confirm-dialog]")) return;
      var word = dialog.querySelector("[data-confirm-word]");
      if (word) word.value = "";
      var btn = confirmButton(dialog);
      if (btn) btn.disabled = true;
      var form = dialog.closest("form");
      dialog.remove();
      var cont = form && form.querySelector(".action-continue");
      if (cont) cont.focus();
    },
    true
  );

  // --- Fleet rows --------------------------------------------------------------
  // A row's checkbox saves the selection on the server (htmx); mark the row
  // at once so the highlight follows the tick without a reload.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (!t || !t.matches || !t.matches("tr[data-server-id] input[type=checkbox]")) return;
    var row = t.closest("tr");
    if (row) row.classList.toggle("selected", t.checked);
  });

  // --- Close preview ---------------------------------------------------------
  // The preview's "Close preview" link goes back to the fleet; with this
  // script it just empties the panel the preview was shown in (nothing was
  // sent, and the one-time token simply expires).
  document.addEventListener("click", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("[data-panel-close]") : null;
    if (!t) return;
    var panel = t.closest("#action-panel");
    if (!panel || !panel.closest("main") || !document.getElementById("fleet-table")) return;
    e.preventDefault();
    panel.replaceChildren();
    var bar = document.getElementById("action-bar");
    var first = bar && bar.querySelector("button[name=action]");
    if (first) first.focus();
  });

  // --- "Log in with": show only the chosen field -----------------------------
  function syncLogin(root) {
    var scope = root.querySelectorAll ? root : document;
    var forms = [];
    if (scope.matches && scope.matches("form")) forms.push(scope);
    forms = forms.concat(Array.prototype.slice.call(scope.querySelectorAll("form")));
    if (scope.closest) {
      var outer = scope.closest("form");
      if (outer) forms.push(outer);
    }
    forms.forEach(function (form) {
      var chosen = form.querySelector("[data-login-choice]:checked");
      if (!chosen) return;
      form.querySelectorAll("[data-login-group]").forEach(function (g) {
        g.hidden = g.getAttribute("data-login-group") !== chosen.value;
      });
    });
  }

  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.matches && t.matches("[data-login-choice]")) syncLogin(t.closest("form") || document);
  });

  // --- Field messages -> aria-invalid ------------------------------------------
  // /actions/validate answers with the field's message element; mirror it
  // into aria-invalid on every control it describes.
  function syncFieldErrors(root) {
    var els = [];
    if (root.matches && root.matches("[data-field-error]")) els.push(root);
    if (root.querySelectorAll) {
      els = els.concat(Array.prototype.slice.call(root.querySelectorAll("[data-field-error]")));
    }
    els.forEach(function (el) {
      if (!el.id) return;
      var bad = el.textContent.trim() !== "";
      document.querySelectorAll("[aria-describedby]").forEach(function (ctl) {
        var ids = ctl.getAttribute("aria-describedby").split(/\s+/);
        if (ids.indexOf(el.id) < 0 || ctl.tagName === "FIELDSET" || ctl.tagName === "DIALOG") return;
        if (bad) ctl.setAttribute("aria-invalid", "true");
        else ctl.removeAttribute("aria-invalid");
      });
    });
  }

  // --- Errors htmx does not swap ---------------------------------------------
  // 4xx/5xx answers (other than 422, which htmx swaps) carry a short error
  // fragment; show its text in the nearest alert slot, never as HTML.
  function alertSlot(elt) {
    var dialog = elt && elt.closest ? elt.closest("dialog") : null;
    if (dialog) return dialog.querySelector("#confirm-error");
    var form = elt && elt.closest ? elt.closest("form") : null;
    if (form) {
      var slot = form.querySelector("#action-form-error");
      if (slot) return slot;
    }
    var panel = document.getElementById("action-panel");
    return panel;
  }

  function messageOf(html) {
    try {
      var doc = new DOMParser().parseFromString(html || "", "text/html");
      var el = doc.querySelector("[role=alert], .error, p");
      var text = (el ? el.textContent : doc.body.textContent || "").trim();
      if (text) return text.slice(0, 500);
    } catch (err) {
      /* fall through */
    }
    return "";
  }

  // msg is one of the script's messages, rendered by the layout from the
  // catalog in the page's language (data-msg-* on <body>).
  function msg(name) {
    var key = "msg" + name.charAt(0).toUpperCase() + name.slice(1);
    return (document.body && document.body.dataset[key]) || "";
  }

  function showError(elt, text) {
    var slot = alertSlot(elt);
    if (!slot) return;
    var p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    slot.replaceChildren(p);
  }

  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail && e.detail.xhr;
    var text = messageOf(xhr ? xhr.responseText : "");
    showError(e.detail.elt, text || msg("httpError").replace("{status}", xhr ? String(xhr.status) : "?"));
  });

  document.addEventListener("htmx:sendError", function (e) {
    showError(e.detail.elt, msg("unreachable"));
  });

  // --- Fleet filters and ids --------------------------------------------------
  // Filters apply as soon as they change (the Apply button stays for use
  // without this script); the search box applies on Enter or when cleared.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (!t || !t.matches || !t.matches("form.fleet-filters select")) return;
    var form = t.closest("form");
    if (form && typeof form.requestSubmit === "function") form.requestSubmit();
  });
  document.addEventListener("search", function (e) {
    var t = e.target;
    if (!t || !t.matches || !t.matches("form.fleet-filters input[type=search]")) return;
    var form = t.closest("form");
    if (form && typeof form.requestSubmit === "function") form.requestSubmit();
  }, true);

  // A copy button ([data-copy]) puts its full server id on the clipboard
  // and says so in its own label for a moment.
  document.addEventListener("click", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("button[data-copy]") : null;
    if (!t || !navigator.clipboard) return;
    e.preventDefault();
    navigator.clipboard.writeText(t.getAttribute("data-copy")).then(function () {
      var was = t.textContent;
      t.textContent = t.getAttribute("data-copied") || "✓";
      setTimeout(function () { t.textContent = was; }, 1500);
    }, function () { /* no clipboard permission: the id stays in the tooltip */ });
  });


  // --- Enter in the typed confirmation ---------------------------------------
  // Enter in [data-confirm-word] confirms when the word matches (it presses
  // the dialog's Confirm button, so the same request goes out as by
  // clicking), and does nothing otherwise: it never submits the form some
  // other way.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key !== "Enter" || e.isComposing || !t || !t.matches || !t.matches("[data-confirm-word]")) return;
    e.preventDefault();
    var dialog = t.closest("dialog");
    var btn = dialog && confirmButton(dialog);
    syncConfirm(t);
    if (btn && !btn.disabled) btn.click();
  });

  // --- Focus follows the preview ---------------------------------------------
  // When a preview arrives in the action panel, focus moves to its heading,
  // so keyboard and screen reader users land on what just appeared.
  document.addEventListener("htmx:afterSettle", function (e) {
    var target = e.detail && e.detail.target;
    if (!target || target.id !== "action-panel") return;
    var heading = target.querySelector("#action-preview-title, h2");
    if (!heading) return;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus();
  });

  // --- Focus survives a refresh ------------------------------------------------
  // The fleet table replaces itself while it polls; whatever control had the
  // keyboard focus inside it gets it back in the new table (found by its
  // id, else by its link or its name and text), so a person tabbing
  // through the table is not thrown back to the top of the page.
  var kept = null;
  function focusKey(el) {
    if (el.id) return { id: el.id };
    return {
      tag: el.tagName,
      href: el.getAttribute("href"),
      name: el.getAttribute("name"),
      value: el.getAttribute("value"),
      text: (el.textContent || "").trim()
    };
  }
  function findByKey(root, k) {
    if (k.id) return document.getElementById(k.id);
    var all = root.querySelectorAll(k.tag);
    for (var i = 0; i < all.length; i++) {
      var el = all[i];
      if (el.getAttribute("href") === k.href && el.getAttribute("name") === k.name &&
          el.getAttribute("value") === k.value && (el.textContent || "").trim() === k.text) return el;
    }
    return null;
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail && e.detail.target;
    var a = document.activeElement;
    kept = null;
    if (!target || !target.id || !a || a === document.body || !target.contains(a)) return;
    kept = { container: target.id, key: focusKey(a) };
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!kept) return;
    var k = kept;
    kept = null;
    var root = document.getElementById(k.container);
    if (!root || (document.activeElement && document.activeElement !== document.body)) return;
    var el = findByKey(root, k.key);
    if (el && typeof el.focus === "function") el.focus({ preventScroll: true });
  });

  // --- Times in the person's time zone ------------------------------------------
  // <time datetime="…Z" data-when="second|minute|clock"> is rendered in the
  // user's time zone setting, else UTC; here it is shown in the setting's
  // zone (html[data-time-zone]) or else the browser's, as
  // "YYYY-MM-DD HH:MM:SS zone". The UTC time stays in the title (hover).
  var zoneSetting = document.documentElement.getAttribute("data-time-zone") || undefined;
  var formatters = {};

  function formatter(precision) {
    if (formatters[precision]) return formatters[precision];
    var opts = { hourCycle: "h23", hour: "2-digit", minute: "2-digit", timeZoneName: "short", timeZone: zoneSetting };
    if (precision !== "clock") {
      opts.year = "numeric";
      opts.month = "2-digit";
      opts.day = "2-digit";
    }
    if (precision !== "minute") opts.second = "2-digit";
    try {
      formatters[precision] = new Intl.DateTimeFormat(document.documentElement.lang || "en", opts);
    } catch (err) {
      formatters[precision] = null; // an unknown zone: keep the server's text
    }
    return formatters[precision];
  }

  function localTime(el) {
    var d = new Date(el.getAttribute("datetime"));
    var f = formatter(el.getAttribute("data-when"));
    if (isNaN(d.getTime()) || !f) return;
    var p = {};
    f.formatToParts(d).forEach(function (part) {
      p[part.type] = part.value;
    });
    var clock = p.hour + ":" + p.minute + (p.second ? ":" + p.second : "");
    var text = (p.year ? p.year + "-" + p.month + "-" + p.day + " " : "") + clock + (p.timeZoneName ? " " + p.timeZoneName : "");
    if (el.textContent !== text) el.textContent = text;
  }

  function localTimes(root) {
    var els = [];
    if (root.matches && root.matches("time[data-when]")) els.push(root);
    if (root.querySelectorAll) els = els.concat(Array.prototype.slice.call(root.querySelectorAll("time[data-when]")));
    els.forEach(localTime);
  }
  // --- Current project ----------------------------------------------------------
  // The page names its project in <meta name="console-project">. So that
  // every link, form and htmx request stays in that project (and a second
  // tab can be in another), local links and POST forms get ?project=NAME,
  // GET forms a hidden field (their query replaces the action's), and htmx
  // requests the X-Console-Project header. The server decides: a link that
  // names no project opens the user's first.
  function currentProject() {
    var m = document.querySelector('meta[name="console-project"]');
    return m ? m.getAttribute("content") : "";
  }

  function withProject(href, name) {
    if (!href || href.charAt(0) !== "/" || href.charAt(1) === "/") return href;
    var u = new URL(href, window.location.origin);
    if (u.searchParams.has("project") || u.pathname.indexOf("/static/") === 0) return href;
    u.searchParams.set("project", name);
    return u.pathname + u.search + u.hash;
  }

  function keepProject(root) {
    var name = currentProject();
    if (!name || !root.querySelectorAll) return;
    root.querySelectorAll("a[href]").forEach(function (a) {
      a.setAttribute("href", withProject(a.getAttribute("href"), name));
    });
    root.querySelectorAll("form").forEach(function (f) {
      if ((f.getAttribute("method") || "get").toLowerCase() === "get") {
        if (f.querySelector('[name="project"]')) return;
        var h = document.createElement("input");
        h.type = "hidden";
        h.name = "project";
        h.value = name;
        f.appendChild(h);
      } else if (f.hasAttribute("action")) {
        f.setAttribute("action", withProject(f.getAttribute("action"), name));
      }
    });
  }

  document.addEventListener("htmx:configRequest", function (e) {
    var name = currentProject();
    if (name && e.detail && e.detail.headers) e.detail.headers["X-Console-Project"] = name;
  });

  // --- Wiring ------------------------------------------------------------------
  function init(root) {
    keepProject(root);
    syncLogin(root);
    syncFieldErrors(root);
    localTimes(root);
    openDialogs(root);
  }

  // htmx:load fires for the initial page (once htmx is ready) and for every
  // piece of content it swaps in.
  document.addEventListener("htmx:load", function (e) {
    init(e.detail && e.detail.elt ? e.detail.elt : document);
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      init(document);
    });
  } else {
    init(document);
  }
})();
