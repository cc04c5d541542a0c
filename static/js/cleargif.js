/*! cleargif.js: consent banner and beacons for a cleargif collector. Sends, only to that
 * collector: GET /consent and /consent/config (the choice, texts); POST /consent (a choice:
 * purposes, language, button); POST /t or GET /t.gif (page views, events: path without query
 * but utm_source/medium/campaign, no fragment; referrer origin; event name). No ids, nothing
 * else, nothing after "Reject all". Keeps the choice (no ids) in localStorage.
 */
(function (w, d) {
  'use strict';
  if (!d || w.cleargif) return;

  const PURPOSES = ['analytics', 'personalization', 'marketing'];
  const KEY = 'cleargif.consent';
  const CAP = 1024;
  const GATED = 'script[type="text/plain"][data-consent],iframe[data-consent][data-src]';
  const HOOK = '[data-cleargif="preferences"]';
  const GCM = {
    ad_storage: 'marketing', ad_user_data: 'marketing', ad_personalization: 'marketing',
    analytics_storage: 'analytics', functionality_storage: 'personalization',
    personalization_storage: 'personalization'
  };
  const CSS = `:host{all:initial!important}
*{box-sizing:border-box;margin:0;font:inherit;color:inherit}
.cg{font:15px/1.5 system-ui,sans-serif;color:#1b1b1b;background:#fff}
.cg-b{position:fixed;z-index:2147483646;inset-inline:1em;bottom:1em;max-width:42em;margin:auto;padding:1em 1.25em;border:1px solid #767676;border-radius:8px;box-shadow:0 4px 24px #0004}
h2{font-size:1.15em;font-weight:700;margin-bottom:.4em}
.cg-r{display:flex;flex-wrap:wrap;gap:.5em;margin-top:.9em}
button{flex:1 1 auto;padding:.5em 1em;border:2px solid #1b1b1b;border-radius:6px;background:#1b1b1b;color:#fff;font-weight:600;cursor:pointer}
a{color:#0b4fa3}
:focus-visible{outline:3px solid #0b62d6;outline-offset:2px}
dialog{width:min(38em,calc(100% - 2em));max-height:calc(100% - 2em);overflow:auto;margin:auto;padding:1.25em;border:0;border-radius:8px}
dialog::backdrop{background:#0009}
.cg-p,summary{padding:.6em 0;border-top:1px solid #ddd}
label{display:flex;gap:.6em;align-items:center;font-weight:600}
.cg-p p,table{font-size:.9em;color:#444}
input{width:1.2em;height:1.2em;accent-color:#1b1b1b}
table{border-collapse:collapse;width:100%}
th,td{padding:.3em;border-bottom:1px solid #ddd;text-align:start}
.cg-f{position:fixed;z-index:2147483646;bottom:.5em;inset-inline-start:.5em;padding:.25em .7em;font-size:13px}`;

  const me = d.currentScript || d.querySelector('script[src*="cleargif.js"]');
  if (!me?.src || !w.fetch || !w.Element?.prototype.attachShadow) return;

  const base = new URL('../../', me.src).href; // served from <collector>/static/js/
  const lang = (me.dataset.lang || navigator.language || 'en').split('-')[0].toLowerCase();
  const listeners = [], queue = [], ran = {};
  let state = null, cfg = null, T = {}, lastPath = null, busy = 0, again = 0, wantDialog = 0;
  let gSent = '', root, banner, footer, dialog, boxes, opener;

  // Wraps every entry point: never throw into the host page.
  const guard = (fn, fallback) => function (...a) {
    try { return fn.apply(this, a); } catch (e) { return fallback; }
  };
  const each = f => PURPOSES.reduce((o, k) => ((o[k] = f(k)), o), {});
  const json = v => JSON.stringify(v);
  const ref = (() => {
    try {
      const o = new URL(d.referrer).origin;
      return o == location.origin ? '' : o.slice(0, CAP);
    } catch (e) { return ''; }
  })();

  function call(method, path, body) {
    return fetch(base + path, {
      method, credentials: 'include', cache: 'no-store', body: body && json(body)
    }).then(r => {
      if (!r.ok) throw Error(r.status);
      return r.json();
    });
  }

  function mirror(v) {
    try {
      if (v === undefined) return JSON.parse(localStorage.getItem(KEY));
      if (v) localStorage.setItem(KEY, json(v));
      else localStorage.removeItem(KEY);
    } catch (e) { return null; }
  }

  const gpc = () => !!state?.gpc || navigator.globalPrivacyControl === true;

  // A collector on another site keeps no cookie: a current local copy stands in.
  function update(s) {
    const m = mirror(), prev = state;
    if (s.decided) {
      mirror({ revision: s.revision, purposes: each(k => !!s.purposes[k]), decided_at: s.decided_at });
    } else if (m?.purposes && m.revision === cfg.revision &&
        Date.now() - Date.parse(m.decided_at) < cfg.consent_days * 864e5) {
      const chosen = each(k => !!m.purposes[k]);
      const p = each(k => chosen[k] && !(k != 'marketing' ? s.dnt : gpc()));
      p.necessary = true;
      s = { ...s, decided: true, purposes: p, chosen, decided_at: m.decided_at, local: true };
    } else if (m) {
      mirror(null);
    }
    if (gpc() && !s.gpc) s.purposes.marketing = false;
    state = s;
    const reload = PURPOSES.some(k => prev?.purposes[k] && !s.purposes[k] && ran[k]);
    clearCookies();
    signals();
    listeners.forEach(emit);
    if (reload) location.reload(); // a tag that ran cannot be unloaded
    else {
      activate();
      check();
      queue.splice(0).forEach(name => send(name));
      render();
    }
    return view();
  }

  const view = () => state && JSON.parse(json(state));

  function emit(fn) {
    try { fn(view()); } catch (e) {}
  }

  function clearCookies() {
    const names = [], host = location.hostname.split('.');
    for (const s of cfg.services || []) if (!state.purposes[s.purpose]) names.push(...(s.cookies || []));
    for (const c of cfg.cookies || []) if (!state.purposes[c.purpose]) names.push(c.name);
    if (!names.length) return;
    const glob = n => String(n).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
    const re = RegExp('^(' + names.map(glob).join('|') + ')$');
    try {
      for (const c of d.cookie.split(/; */)) {
        const n = c.split('=')[0];
        if (!n || !re.test(n)) continue;
        for (let i = 0; i <= host.length; i++) {
          d.cookie = `${n}=; Max-Age=0; path=/${i ? '; domain=' + host.slice(i - 1).join('.') : ''}`;
        }
      }
    } catch (e) {}
  }

  // Google Consent Mode v2
  function signals() {
    const g = w.gtag;
    if (typeof g != 'function') return;
    const gcm = (p = {}) => {
      const o = { security_storage: 'granted' };
      for (const k in GCM) o[k] = p[GCM[k]] ? 'granted' : 'denied';
      return o;
    };
    if (!gSent) {
      g('consent', 'default', { ...gcm(), wait_for_update: 500 });
      gSent = json(gcm());
    }
    const now = gcm(state?.purposes);
    if (json(now) != gSent) {
      g('consent', 'update', now);
      gSent = json(now);
    }
  }

  // Document order, once; external scripts are awaited as the parser would.
  function activate() {
    if (busy) return (again = 1);
    busy = 1;
    const list = d.querySelectorAll(GATED);
    let i = 0;
    (function next() {
      while (i < list.length) {
        const el = list[i++], ks = el.dataset.consent.split(/[\s,]+/).filter(Boolean);
        if (!el.parentNode || !ks.length || !ks.every(k => state.purposes[k] === true)) continue;
        ks.forEach(k => (ran[k] = 1));
        if (el.tagName == 'IFRAME') {
          el.src = el.dataset.src;
          el.removeAttribute('data-src');
          continue;
        }
        const s = d.createElement('script'), src = el.dataset.src || el.getAttribute('src');
        for (const a of el.attributes) {
          if (!/^(type|src|data-src|data-type|nonce)$/.test(a.name)) s.setAttribute(a.name, a.value);
        }
        if (el.dataset.type) s.type = el.dataset.type;
        s.nonce = el.nonce || el.getAttribute('nonce') || '';
        if (src) {
          s.src = src;
          s.async = false;
          s.onload = s.onerror = guard(next);
        } else s.text = el.text;
        el.replaceWith(s);
        if (src) return;
      }
      busy = 0;
      if (again) {
        again = 0;
        activate();
      }
    })();
  }

  // Anonymous counts only where the site allows them, never after a refusal.
  function allowed() {
    const c = cfg.counting;
    return state.purposes.analytics || c == 'always' ||
      (c == 'until-refused' && !state.decided && !state.dnt);
  }

  function send(e, r = '') {
    if (!state || !allowed()) return;
    const utm = location.search.slice(1).split('&').filter(x => /^utm_(source|medium|campaign)=/.test(x));
    const p = location.pathname + (utm.length ? '?' + utm.join('&') : '');
    const hit = { p: p.slice(0, CAP), r, e: String(e).slice(0, CAP) };
    try {
      if (navigator.sendBeacon(base + 't', new Blob([json(hit)], { type: 'text/plain' }))) return;
    } catch (x) {}
    new Image().src = base + 't.gif?' + new URLSearchParams(hit);
  }

  function check() {
    if (!state || location.pathname === lastPath || !allowed()) return;
    send('pageview', lastPath === null ? ref : '');
    lastPath = location.pathname;
  }

  function h(tag, attrs, kids = []) {
    const e = d.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (typeof v == 'function') e.addEventListener(k, guard(v));
      else if (v === true) e.setAttribute(k, '');
      else if (v !== false && v != null) e.setAttribute(k, v);
    }
    e.append(...kids.filter(c => c != null));
    return e;
  }

  const button = (text, click) => h('button', { type: 'button', click }, [text]);
  const box = (cls, extra) => ({ class: 'cg ' + cls, dir: T.dir || 'ltr', lang: cfg.lang, ...extra });
  const all = v => each(() => v);
  const policy = () => cfg.policy_url &&
    h('a', { href: cfg.policy_url, target: '_blank', rel: 'noopener' }, [T.policy_link]);
  const label = k => T.purposes?.[k]?.label || k;

  function mount() {
    if (root) return root;
    const host = d.createElement('cleargif-root');
    root = host.attachShadow({ mode: 'open' });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet]; // CSSOM passes a strict CSP
    } catch (e) {
      root.append(h('style', {}, [CSS]));
    }
    d.body.prepend(host); // first in reading and Tab order
    return root;
  }

  function render() {
    const undecided = !state.decided;
    if (undecided && !banner) {
      banner = h('div', box('cg-b', { role: 'dialog', 'aria-labelledby': 'cg-t', 'aria-describedby': 'cg-d' }), [
        h('h2', { id: 'cg-t' }, [T.title]),
        h('p', { id: 'cg-d' }, [T.body, ' ', T.counting, ' ', policy()]),
        h('div', { class: 'cg-r' }, [
          button(T.accept_all, () => choose(all(true), 'banner-accept-all')),
          button(T.reject_all, () => choose(all(false), 'banner-reject-all')),
          button(T.preferences, open)
        ])
      ]);
      mount().append(banner);
    }
    if (banner) banner.hidden = !undecided;
    if (!footer && !d.querySelector(HOOK)) {
      footer = h('button', box('cg-f', { type: 'button', click: open }), [T.preferences]);
      mount().append(footer);
    }
    if (footer) footer.hidden = undecided;
    if (wantDialog) open();
  }

  function open() {
    wantDialog = !cfg;
    if (!cfg || dialog) return;
    const p = state.decided ? state.purposes : {};
    opener = d.activeElement;
    while (opener?.shadowRoot?.activeElement) opener = opener.shadowRoot.activeElement;
    boxes = {};
    const rows = (cfg.purposes || []).map(k => {
      const id = 'cg-' + k, locked = k == 'necessary', dnt = state.dnt && k != 'marketing' && !locked;
      const note = locked ? T.necessary_locked : dnt ? T.dnt_notice :
        k == 'marketing' && gpc() ? T.gpc_notice : '';
      boxes[k] = h('input', { type: 'checkbox', role: 'switch', id, 'aria-describedby': id + 'd',
        checked: locked || (!dnt && !!p[k]), disabled: locked || dnt });
      return h('div', { class: 'cg-p' }, [
        h('label', { for: id }, [boxes[k], label(k)]),
        h('p', { id: id + 'd' }, [T.purposes?.[k]?.description, ' ', note && h('strong', {}, [note])])
      ]);
    });
    const cells = (tag, xs) => h('tr', {}, xs.map(x => h(tag, {}, [x])));
    const onclose = function () { if (dialog === this) shut(); };
    dialog = h('dialog', box('', { 'aria-labelledby': 'cg-pt', keydown: keys, close: onclose }), [
      h('h2', { id: 'cg-pt' }, [T.preferences]),
      h('p', {}, [policy()]),
      ...rows,
      h('details', {}, [
        h('summary', {}, [T.cookies_heading]),
        h('table', {}, [
          h('thead', {}, [cells('th', [T.cookie_name, T.cookie_purpose, T.cookie_lifetime])]),
          h('tbody', {}, (cfg.cookies || []).map(c =>
            cells('td', [c.name + (c.service ? ` (${c.service})` : ''), label(c.purpose), c.lifetime])))
        ])
      ]),
      h('div', { class: 'cg-r' }, [
        button(T.save, save),
        button(T.accept_all, () => choose(all(true), 'dialog')),
        button(T.reject_all, () => choose(all(false), 'dialog')),
        button(T.close, shut)
      ])
    ]);
    mount().append(dialog);
    if (dialog.showModal) dialog.showModal();
    else dialog.setAttribute('open', '');
    (dialog.querySelector('input:enabled') || focusable()[0]).focus();
  }

  const focusable = () =>
    [...dialog.querySelectorAll('button,input,summary,a[href]')].filter(x => !x.disabled);

  function keys(e) {
    if (e.key == 'Escape') {
      e.preventDefault();
      return shut();
    }
    const f = focusable(), i = f.indexOf(root.activeElement);
    if (e.key == 'Tab' && (e.shiftKey ? i <= 0 : i == f.length - 1)) {
      e.preventDefault();
      f[e.shiftKey ? f.length - 1 : 0].focus();
    }
  }

  function shut() {
    const x = dialog;
    if (!x) return;
    dialog = null;
    if (x.open && x.close) x.close();
    x.remove();
    // Back to the opener, or to "Cookie settings" when a decision hid the banner.
    (opener?.isConnected && opener.getClientRects().length ? opener : footer)?.focus();
  }

  function save() {
    const p = each(k => !!boxes[k]?.checked);
    // only this switch may override GPC
    choose(p, 'dialog', gpc() && p.marketing);
  }

  function choose(p, source, override) {
    return post(p, source, override).then(s => s && shut());
  }

  function post(purposes, source, override) {
    if (gpc() && !override) purposes.marketing = false;
    return call('POST', 'consent', { purposes, gpc_override: !!override, lang: cfg.lang, source })
      .then(update).catch(() => null);
  }

  // grants need a user gesture
  let gest = 0;
  const gesture = e => e.isTrusted && (gest = Date.now());
  d.addEventListener('click', gesture, true);
  d.addEventListener('keydown', gesture, true);
  function set(o) {
    if (!state) return Promise.resolve(null);
    o = o?.purposes || o || {};
    const act = navigator.userActivation, cur = state.decided ? state.purposes : {};
    const p = each(k => (k in o ? !!o[k] : !!cur[k]) &&
      (cur[k] || (act ? act.isActive : Date.now() - gest < 1e3)));
    return post(p, 'api');
  }

  guard(signals)();
  Promise.all([
    call('GET', 'consent'),
    call('GET', 'consent/config?lang=' + encodeURIComponent(lang)),
    new Promise(r => (d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', r) : r()))
  ]).then(([s, c]) => {
    cfg = c;
    T = c.texts || {};
    update(s);
  }).catch(() => {});

  const tick = guard(check);
  for (const m of ['pushState', 'replaceState']) {
    const orig = history[m];
    if (typeof orig == 'function') {
      history[m] = function () {
        const r = orig.apply(this, arguments);
        tick();
        return r;
      };
    }
  }
  w.addEventListener('popstate', tick);
  d.addEventListener('click', guard(e => {
    if (e.target?.closest?.(HOOK)) {
      e.preventDefault();
      open();
    }
  }));

  w.cleargif = {
    consent: {
      get: guard(view, null),
      set: guard(set, Promise.resolve(null)),
      show: guard(() => open())
    },
    on: guard((name, fn) => {
      if (name != 'consent' || typeof fn != 'function') return;
      listeners.push(fn);
      if (state) emit(fn);
    }),
    track: guard(name => {
      if (!name) return;
      if (state) send(name);
      else if (queue.length < 20) queue.push(name);
    }),
    pageview: guard(() => check())
  };
})(globalThis, globalThis.document);
