/*! cleargif.js: consent banner and beacons. Sends only to its collector: GET /consent and
 * /consent/config; POST /consent (the choice, language, button); POST /t or GET /t.gif (page
 * views and events: path without query but utm_source/medium/campaign, no fragment; referrer
 * origin; event name). No ids. After "Reject all" nothing, unless the site counts "always".
 * Keeps the choice (no ids) in localStorage.
 */
// The readable source. The collector serves ../cleargif.js, which `python tools/build_snippet.py`
// makes from this file (terser: no comments or white space, short local names); run it
// after every change and commit both.
(function (window, document) {
  'use strict';
  if (!document || window.cleargif) return;

  const PURPOSES = ['analytics', 'personalization', 'marketing'];
  const STORAGE_KEY = 'cleargif.consent';
  // The collector knows this cut (SNIPPET_CAP): a value this long may have lost its end.
  const CAP = 1024;
  const GATED = 'script[type="text/plain"][data-consent],iframe[data-consent][data-src]';
  const PREFERENCES_HOOK = '[data-cleargif="preferences"]';
  // Google Consent Mode v2: each signal is granted by one purpose.
  const CONSENT_MODE = {
    ad_storage: 'marketing', ad_user_data: 'marketing', ad_personalization: 'marketing',
    analytics_storage: 'analytics', functionality_storage: 'personalization',
    personalization_storage: 'personalization'
  };
  // `all:initial` on the host keeps the page's inherited styles out of the shadow root;
  // `font:inherit` makes buttons and inputs take the box's font, so bold must be said again.
  // The switches stay checkboxes, drawn as a track with a knob: a gradient, since an input
  // may have no ::before. Right to left they are mirrored; where the system forces its own
  // colours the gradient would vanish, so they go back to plain checkboxes there.
  const STYLES = `:host{all:initial!important}
*{box-sizing:border-box;margin:0;font:inherit;color:inherit}
.cg{font:15px/1.5 system-ui,sans-serif;color:#1b1b1b;background:#fff}
.banner{position:fixed;z-index:2147483646;inset-inline:1em;bottom:1em;max-width:42em;margin:auto;padding:1em 1.25em;border:1px solid #767676;border-radius:8px;box-shadow:0 4px 24px #0004}
h2{font-size:1.15em;font-weight:700;margin-bottom:.4em}
strong{font-weight:700}
.buttons{display:flex;flex-wrap:wrap;gap:.5em;margin-top:.9em}
button{flex:auto;padding:.5em 1em;border:2px solid #1b1b1b;border-radius:6px;background:#1b1b1b;color:#fff;font-weight:600;cursor:pointer}
a{color:#0b4fa3}
:focus-visible{outline:3px solid #0b62d6;outline-offset:2px}
dialog{width:38em;margin:auto;padding:1.25em;border:0;border-radius:8px}
dialog::backdrop{background:#0009}
.purpose,summary{padding:.6em 0;border-top:1px solid #ddd}
label{display:flex;gap:.6em;align-items:center;font-weight:600}
.purpose p,table{font-size:.9em;color:#444}
input{appearance:none;flex:none;order:1;width:2.6em;height:1.5em;margin-inline-start:auto;border-radius:1em;background:radial-gradient(circle,#fff .45em,#0000 calc(.45em + 1px)) 0/1.5em no-repeat #767676;cursor:pointer;transition:.2s}
input:checked{background-color:#0b4fa3;background-position:100%}
[dir=rtl] input{transform:scaleX(-1)}
input:disabled{opacity:.5;cursor:default}
@media(prefers-reduced-motion:reduce){input{transition:none}}
@media(forced-colors:active){input{appearance:auto;width:1.2em}}
table{border-collapse:collapse;width:100%}
th,td{padding:.3em;border-bottom:1px solid #ddd;text-align:start}
.footer{position:fixed;z-index:2147483646;bottom:.5em;inset-inline-start:.5em;padding:.25em .7em;font-size:13px}`;

  const script = document.currentScript || document.querySelector('script[src*="cleargif.js"]');
  if (!script?.src || !window.fetch || !window.Element?.prototype.attachShadow) return;

  // <script data-debug …> shows the site owner what the guard below keeps from the page.
  const debug = script.hasAttribute('data-debug');
  // The collector serves this file from /static/js/, so its root is two folders up.
  const base = new URL('../../', script.src).href;
  const language = (script.dataset.lang || navigator.language || 'en').split('-')[0].toLowerCase();
  const listeners = [], pendingEvents = [], purposesRun = {};
  let state = null, config = null, texts = {}, lastPath = null;
  let activating = false, activateAgain = false, dialogWanted = false;
  let consentModeSent = '', shadowRoot, banner, footer, dialog, switches, opener, focusBefore;

  // A page may have replaced console, or left it out.
  const warn = (...args) => {
    try { console.warn(...args); } catch (ignored) {}
  };
  const report = error => debug && warn('cleargif: caught', error);
  // Whatever goes wrong in here is cleargif's problem, never the host page's.
  const guard = (fn, fallback) => function (...args) {
    try { return fn.apply(this, args); } catch (error) { report(error); return fallback; }
  };
  const perPurpose = make => PURPOSES.reduce((all, purpose) => ((all[purpose] = make(purpose)), all), {});
  const stringify = value => JSON.stringify(value);
  // Only the referrer's origin goes, and not at all for a link within the site.
  const referrerOrigin = guard(() => {
    if (!document.referrer) return '';
    const origin = new URL(document.referrer).origin;
    return origin == location.origin ? '' : origin.slice(0, CAP);
  }, '')();

  // A request that got no answer rejects with NO_ANSWER: the network failed, or CORS hid
  // the answer because the collector does not list this page's origin.
  const NO_ANSWER = 'no answer from the collector';
  const request = (method, path, body) => fetch(base + path, {
    method, credentials: 'include', cache: 'no-store', body: body && stringify(body)
  }).catch(() => Promise.reject(NO_ANSWER))
    .then(response => response.ok ? response.json() : Promise.reject(`${path}: ${response.status}`));

  // Cross-site the collector's cookie never comes back, so a copy of the choice (no ids)
  // stands in for it. No argument reads it, null removes it.
  const localCopy = guard(value => {
    if (value === undefined) return JSON.parse(localStorage.getItem(STORAGE_KEY));
    if (value) localStorage.setItem(STORAGE_KEY, stringify(value));
    else localStorage.removeItem(STORAGE_KEY);
  }, null);

  // The collector may not see a GPC that only the page sees.
  const gpcOn = () => !!state?.gpc || navigator.globalPrivacyControl === true;

  // dialogOverride: the dialog's own marketing switch granted marketing over GPC.
  function applyState(next, dialogOverride) {
    const copy = localCopy(), previous = state;
    let overridesGpc = copy?.gpc_override;
    if (next.decided) {
      // Marketing granted over GPC the collector saw, the collector's word, this very
      // choice, or the local copy of this same choice.
      overridesGpc = next.purposes.marketing && (next.gpc || next.gpc_override ||
        (dialogOverride ?? (copy?.decided_at == next.decided_at && overridesGpc)));
      localCopy({ revision: next.revision, purposes: perPurpose(purpose => !!next.purposes[purpose]),
        decided_at: next.decided_at, gpc_override: !!overridesGpc });
    } else if (copy?.purposes && copy.revision === config.revision &&
        Date.now() - Date.parse(copy.decided_at) < config.consent_days * 864e5) {
      const chosen = perPurpose(purpose => !!copy.purposes[purpose]);
      // DNT still refuses what it refuses, whatever the copy says.
      const purposes = perPurpose(purpose => chosen[purpose] && !(purpose != 'marketing' && next.dnt));
      purposes.necessary = true;
      next = { ...next, decided: true, purposes, chosen, decided_at: copy.decided_at, local: true };
    } else if (copy) {
      localCopy(null);
    }
    if (gpcOn() && !overridesGpc) next.purposes.marketing = false;
    state = next;
    const reload = PURPOSES.some(purpose =>
      previous?.purposes[purpose] && !next.purposes[purpose] && purposesRun[purpose]);
    clearCookies();
    updateConsentMode();
    listeners.forEach(notify);
    if (reload) location.reload(); // a tag that ran cannot be unloaded
    else {
      activateGated();
      trackPageview();
      pendingEvents.splice(0).forEach(name => send(name));
      render();
    }
    return publicState();
  }

  // A copy, so no caller can change the state in here.
  const publicState = () => state && JSON.parse(stringify(state));

  const notify = guard(listener => listener(publicState()));

  // The collector cannot expire cookies of the page's own services: clear them here.
  const clearCookies = guard(() => {
    const names = (config.cookies || []).filter(cookie => !state.purposes[cookie.purpose])
      .map(cookie => String(cookie.name).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
    if (!names.length) return;
    const host = location.hostname.split('.'), pattern = RegExp(`^(${names.join('|')})$`);
    for (const cookie of document.cookie.split(/; */)) {
      const name = cookie.split('=')[0];
      if (!name || !pattern.test(name)) continue;
      // Without a domain, then for each parent domain: the one it was set for is unknown.
      for (let i = 0; i <= host.length; i++) {
        document.cookie = `${name}=; Max-Age=0; path=/${i ? '; domain=' + host.slice(i - 1).join('.') : ''}`;
      }
    }
  });

  function updateConsentMode() {
    const gtag = window.gtag, signals = purposes => {
      const all = { security_storage: 'granted' };
      for (const signal in CONSENT_MODE) all[signal] = purposes?.[CONSENT_MODE[signal]] ? 'granted' : 'denied';
      return all;
    };
    if (typeof gtag != 'function') return;
    if (!consentModeSent) {
      gtag('consent', 'default', { ...signals(), wait_for_update: 500 });
      consentModeSent = stringify(signals());
    }
    const now = signals(state?.purposes);
    if (stringify(now) != consentModeSent) {
      gtag('consent', 'update', now);
      consentModeSent = stringify(now);
    }
  }

  // Gated tags run in document order, each once: an external script must load before the
  // next one runs, as it would have in the page.
  function activateGated() {
    if (activating) return (activateAgain = true);
    activating = true;
    const gated = document.querySelectorAll(GATED);
    let index = 0;
    (function next() {
      while (index < gated.length) {
        const tag = gated[index++];
        const needs = tag.dataset.consent.split(/[\s,]+/).filter(Boolean);
        if (!tag.parentNode || !needs.length || !needs.every(purpose => state.purposes[purpose] === true)) continue;
        needs.forEach(purpose => (purposesRun[purpose] = true));
        if (tag.tagName == 'IFRAME') {
          tag.src = tag.dataset.src;
          tag.removeAttribute('data-src');
          continue;
        }
        // Only a new script element runs: one whose type changes never does.
        const runnable = document.createElement('script'), src = tag.dataset.src || tag.getAttribute('src');
        for (const attribute of tag.attributes) {
          if (!/^(type|src|data-src|data-type|nonce)$/.test(attribute.name)) runnable.setAttribute(attribute.name, attribute.value);
        }
        if (tag.dataset.type) runnable.type = tag.dataset.type;
        // The nonce attribute reads empty once the page is parsed; the property keeps it.
        runnable.nonce = tag.nonce || tag.getAttribute('nonce') || '';
        if (src) {
          runnable.src = src;
          runnable.async = false;
          runnable.onload = runnable.onerror = guard(next);
        } else runnable.text = tag.text;
        tag.replaceWith(runnable);
        if (src) return;
      }
      activating = false;
      if (activateAgain) {
        activateAgain = false;
        activateGated();
      }
    })();
  }

  // ANONYMOUS_COUNTING: "always" counts without ids whatever the choice, "until-refused"
  // only until a decision (and never under DNT), "never" only with analytics.
  function countingAllowed() {
    const counting = config.counting;
    return state.purposes.analytics || counting == 'always' ||
      (counting == 'until-refused' && !state.decided && !state.dnt);
  }

  function send(eventName, referrer = '') {
    if (!state || !countingAllowed()) return;
    const utm = location.search.slice(1).split('&').filter(pair => /^utm_(source|medium|campaign)=/.test(pair));
    const page = location.pathname + (utm.length ? '?' + utm.join('&') : '');
    const hit = { p: page.slice(0, CAP), r: referrer, e: String(eventName).slice(0, CAP) };
    try {
      if (navigator.sendBeacon(base + 't', new Blob([stringify(hit)], { type: 'text/plain' }))) return;
    } catch (missing) {}
    new Image().src = base + 't.gif?' + new URLSearchParams(hit);
  }

  // One page view per path: a new query or fragment is no new page.
  function trackPageview() {
    if (!state || location.pathname === lastPath || !countingAllowed()) return;
    send('pageview', lastPath === null ? referrerOrigin : '');
    lastPath = location.pathname;
  }

  // Builds an element: a function becomes a guarded listener, true an empty attribute,
  // false and null none.
  function element(tag, attributes, children = []) {
    const built = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (typeof value == 'function') built.addEventListener(name, guard(value));
      else if (value !== false && value != null) built.setAttribute(name, value === true ? '' : value);
    }
    built.append(...children.filter(child => child != null));
    return built;
  }

  // isTrusted: a page script's .click() makes no choice.
  const button = (text, onClick) =>
    element('button', { type: 'button', click: event => event.isTrusted && onClick() }, [text]);
  const boxAttributes = (className, extra) =>
    ({ class: 'cg ' + className, dir: texts.dir || 'ltr', lang: config.lang, ...extra });
  const everyPurpose = value => perPurpose(() => value);
  const policyLink = () => config.policy_url &&
    element('a', { href: config.policy_url, target: '_blank', rel: 'noopener' }, [texts.policy_link]);
  const purposeLabel = purpose => texts.purposes?.[purpose]?.label || purpose;

  function mount() {
    if (shadowRoot) return shadowRoot;
    const host = document.createElement('cleargif-root');
    shadowRoot = host.attachShadow({ mode: 'open' });
    // Where focus came from, to give it back after a decision.
    shadowRoot.addEventListener('focusin', event =>
      shadowRoot.contains(event.relatedTarget) || (focusBefore = event.relatedTarget));
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      shadowRoot.adoptedStyleSheets = [sheet]; // CSSOM passes a strict CSP
    } catch (unsupported) {
      shadowRoot.append(element('style', {}, [STYLES]));
    }
    document.body.prepend(host); // first in reading and Tab order
    return shadowRoot;
  }

  function render() {
    const undecided = !state.decided;
    if (undecided && !banner) {
      banner = element('div', boxAttributes('banner', { role: 'dialog', 'aria-labelledby': 'title', 'aria-describedby': 'text' }), [
        element('h2', { id: 'title' }, [texts.title]),
        // DNT refuses counting for good: "until you choose" would not be true.
        element('p', { id: 'text' }, [texts.body, ' ', state.dnt ? texts.counting_dnt : texts.counting, ' ', policyLink()]),
        element('div', { class: 'buttons' }, [
          button(texts.accept_all, () => choose(everyPurpose(true), 'banner-accept-all')),
          button(texts.reject_all, () => choose(everyPurpose(false), 'banner-reject-all')),
          button(texts.preferences, openDialog)
        ])
      ]);
      mount().append(banner);
    }
    if (banner) banner.hidden = !undecided;
    // Withdrawing must be as easy as giving: without the page's own control, a link of ours.
    if (!footer && !document.querySelector(PREFERENCES_HOOK)) {
      footer = element('button', boxAttributes('footer', { type: 'button', click: openDialog }), [texts.preferences]);
      mount().append(footer);
    }
    if (footer) footer.hidden = undecided;
    if (dialogWanted) openDialog();
  }

  function openDialog() {
    dialogWanted = !config; // asked for before the configuration came: open it then
    if (!config || dialog) return;
    const granted = state.purposes;
    opener = document.activeElement;
    while (opener?.shadowRoot?.activeElement) opener = opener.shadowRoot.activeElement;
    switches = {};
    const rows = (config.purposes || []).map(purpose => {
      const id = 'switch-' + purpose, locked = purpose == 'necessary';
      const refusedByDnt = state.dnt && purpose != 'marketing' && !locked;
      const note = locked ? texts.necessary_locked : refusedByDnt ? texts.dnt_notice :
        purpose == 'marketing' && gpcOn() ? texts.gpc_notice : '';
      switches[purpose] = element('input', { type: 'checkbox', role: 'switch', id, 'aria-describedby': id + '-text',
        checked: locked || (!refusedByDnt && !!granted[purpose]), disabled: locked || refusedByDnt });
      return element('div', { class: 'purpose' }, [
        element('label', { for: id }, [switches[purpose], purposeLabel(purpose)]),
        element('p', { id: id + '-text' }, [texts.purposes?.[purpose]?.description, ' ', element('strong', {}, [note])])
      ]);
    });
    const tableRow = (cellTag, values) => element('tr', {}, values.map(value => element(cellTag, {}, [value])));
    dialog = element('dialog', boxAttributes('', { 'aria-labelledby': 'dialog-title', keydown: dialogKeys, close() {
      if (dialog === this) closeDialog();
    } }), [
      element('h2', { id: 'dialog-title' }, [texts.preferences]),
      element('p', {}, [policyLink()]),
      ...rows,
      element('details', {}, [
        element('summary', {}, [texts.cookies_heading]),
        element('table', {}, [
          tableRow('th', [texts.cookie_name, texts.cookie_purpose, texts.cookie_lifetime]),
          ...(config.cookies || []).map(cookie => tableRow('td',
            [cookie.name + (cookie.service ? ` (${cookie.service})` : ''), purposeLabel(cookie.purpose), cookie.lifetime]))
        ])
      ]),
      element('div', { class: 'buttons' }, [
        button(texts.save, save),
        button(texts.accept_all, () => choose(everyPurpose(true), 'dialog')),
        button(texts.reject_all, () => choose(everyPurpose(false), 'dialog')),
        button(texts.close, closeDialog)
      ])
    ]);
    mount().append(dialog);
    if (dialog.showModal) dialog.showModal();
    else dialog.setAttribute('open', '');
    dialog.querySelector('input:enabled,button').focus();
  }

  // Esc closes without saving; Tab stays inside the dialog, both ways.
  function dialogKeys(event) {
    if (event.key == 'Escape') {
      event.preventDefault();
      return closeDialog();
    }
    const stops = [...dialog.querySelectorAll('a[href],input:enabled,summary,button')];
    const at = stops.indexOf(shadowRoot.activeElement);
    if (event.key == 'Tab' && (event.shiftKey ? at <= 0 : at == stops.length - 1)) {
      event.preventDefault();
      stops[event.shiftKey ? stops.length - 1 : 0].focus();
    }
  }

  // Focus goes back to where it was, else to a way to reopen the dialog, never to nowhere.
  // byKeyboard is set by a choice: true after one made with the keys, whose focus must
  // not vanish with the banner; false after a click, which leaves the scroll alone.
  function closeDialog(byKeyboard) {
    const closing = dialog;
    dialog = null;
    if (closing) {
      closing.close?.();
      closing.remove();
    } else if (!byKeyboard) return;
    for (const target of [closing && opener, focusBefore, document.querySelector(PREFERENCES_HOOK), footer]) {
      if (target && target != document.body && target.getClientRects().length) {
        return target.focus({ preventScroll: byKeyboard === false });
      }
    }
  }

  function save() {
    const purposes = perPurpose(purpose => !!switches[purpose]?.checked);
    // Only this switch may override GPC.
    choose(purposes, 'dialog', gpcOn() && purposes.marketing);
  }

  function choose(purposes, source, overridesGpc) {
    const byKeyboard = !!shadowRoot.activeElement?.matches(':focus-visible');
    return post(purposes, source, overridesGpc).then(answer => answer && closeDialog(byKeyboard));
  }

  function post(purposes, source, overridesGpc) {
    if (gpcOn() && !overridesGpc) purposes.marketing = false;
    return request('POST', 'consent',
      { purposes, gpc_override: !!overridesGpc, gpc: gpcOn(), lang: config.lang, source })
      .then(answer => applyState(answer, !!overridesGpc))
      .catch(error => {
        report(error);
        return null;
      });
  }

  // A page script may grant only inside a user gesture; where the browser cannot tell
  // (no navigator.userActivation), within a second of a real click or key.
  let lastGestureAt = 0;
  const noteGesture = event => event.isTrusted && (lastGestureAt = Date.now());
  document.addEventListener('click', noteGesture, true);
  document.addEventListener('keydown', noteGesture, true);
  function setConsent(asked) {
    if (!state) return Promise.resolve(null);
    asked = asked?.purposes || asked || {};
    const activation = navigator.userActivation, current = state.purposes;
    const purposes = perPurpose(purpose => (purpose in asked ? !!asked[purpose] : !!current[purpose]) &&
      (current[purpose] || (activation ? activation.isActive : Date.now() - lastGestureAt < 1e3)));
    return post(purposes, 'api');
  }

  guard(updateConsentMode)();
  Promise.all([
    request('GET', 'consent'),
    request('GET', 'consent/config?lang=' + encodeURIComponent(language)),
    new Promise(resolve => (document.readyState == 'loading' ? document.addEventListener('DOMContentLoaded', resolve) : resolve()))
  ]).then(([current, loaded]) => {
    config = loaded;
    texts = loaded.texts || {};
    applyState(current);
  }).catch(error => {
    // Said debug or not: the site owner would otherwise see no banner and no reason.
    if (error !== NO_ANSWER) return report(error);
    const origin = location.origin;
    warn(`cleargif: the collector at ${base} refused this page's origin (${origin}) or is unreachable; add ${origin} to ALLOWED_ORIGINS (CLEARGIF_ALLOWED_ORIGINS) if it is one of your sites.`);
  });

  // Single-page apps change the path without a page load.
  const pathMayHaveChanged = guard(trackPageview);
  for (const method of ['pushState', 'replaceState']) {
    const original = history[method];
    history[method] = function () {
      try { return original.apply(this, arguments); } finally { pathMayHaveChanged(); }
    };
  }
  window.addEventListener('popstate', pathMayHaveChanged);
  document.addEventListener('click', guard(event => {
    if (event.target?.closest?.(PREFERENCES_HOOK)) {
      event.preventDefault();
      openDialog();
    }
  }));

  window.cleargif = {
    consent: {
      get: guard(publicState, null),
      set: guard(setConsent, Promise.resolve(null)),
      show: guard(openDialog)
    },
    on: guard((name, listener) => {
      if (name != 'consent' || typeof listener != 'function') return;
      listeners.push(listener);
      if (state) notify(listener);
    }),
    track: guard(name => {
      if (!name) return;
      if (state) send(name);
      else if (pendingEvents.length < 20) pendingEvents.push(name); // before the state came
    }),
    pageview: guard(trackPageview)
  };
})(globalThis, globalThis.document);
