/*! cleargif.js: consent banner and beacons. Sends only to its collector: GET /consent and
 * /consent/config; POST /consent (the choice, language, button); POST /t or GET /t.gif (page
 * views and events: path without query but utm_source/medium/campaign, no fragment; referrer
 * origin; event name). No ids. After "Reject all" nothing, unless the site counts "always".
 * Keeps the choice (no ids) in localStorage.
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
button{flex:auto;padding:.5em 1em;border:2px solid #1b1b1b;border-radius:6px;background:#1b1b1b;color:#fff;font-weight:600;cursor:pointer}
a{color:#0b4fa3}
:focus-visible{outline:3px solid #0b62d6;outline-offset:2px}
dialog{width:38em;margin:auto;padding:1.25em;border:0;border-radius:8px}
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

  const base = new URL('../../', me.src).href;
  const lang = (me.dataset.lang || navigator.language || 'en').split('-')[0].toLowerCase();
  const listeners = [], queue = [], ran = {};
  let state = null, cfg = null, T = {}, lastPath = null, busy = 0, again = 0, wantDialog = 0;
  let gSent = '', root, banner, footer, dialog, boxes, opener, prior;

  // never throw into the host page
  const guard = (fn, fallback) => function (...a) {
    try { return fn.apply(this, a); } catch (e) { return fallback; }
  };
  const each = f => PURPOSES.reduce((o, k) => ((o[k] = f(k)), o), {});
  const json = v => JSON.stringify(v);
  const ref = guard(() => {
    const o = new URL(d.referrer).origin;
    return o == location.origin ? '' : o.slice(0, CAP);
  }, '')();

  const call = (method, path, body) => fetch(base + path, {
    method, credentials: 'include', cache: 'no-store', body: body && json(body)
  }).then(r => r.ok ? r.json() : Promise.reject(r.status));

  const mirror = guard(v => {
    if (v === undefined) return JSON.parse(localStorage.getItem(KEY));
    if (v) localStorage.setItem(KEY, json(v));
    else localStorage.removeItem(KEY);
  }, null);

  const gpc = () => !!state?.gpc || navigator.globalPrivacyControl === true;

  // Cross-site a local copy stands in for the cookie. o: the dialog overrode GPC
  function update(s, override) {
    const m = mirror(), prev = state;
    let o = m?.gpc_override;
    if (s.decided) {
      o = s.purposes.marketing &&
        (s.gpc || s.gpc_override || (override ?? (m?.decided_at == s.decided_at && o)));
      mirror({ revision: s.revision, purposes: each(k => !!s.purposes[k]), decided_at: s.decided_at,
        gpc_override: !!o });
    } else if (m?.purposes && m.revision === cfg.revision &&
        Date.now() - Date.parse(m.decided_at) < cfg.consent_days * 864e5) {
      const chosen = each(k => !!m.purposes[k]);
      const p = each(k => chosen[k] && !(k != 'marketing' && s.dnt));
      p.necessary = true;
      s = { ...s, decided: true, purposes: p, chosen, decided_at: m.decided_at, local: true };
    } else if (m) {
      mirror(null);
    }
    if (gpc() && !o) s.purposes.marketing = false;
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

  const emit = guard(fn => fn(view()));

  const clearCookies = guard(() => {
    const names = (cfg.cookies || []).filter(c => !state.purposes[c.purpose])
      .map(c => String(c.name).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
    if (!names.length) return;
    const host = location.hostname.split('.'), re = RegExp(`^(${names.join('|')})$`);
    for (const c of d.cookie.split(/; */)) {
      const n = c.split('=')[0];
      if (!n || !re.test(n)) continue;
      for (let i = 0; i <= host.length; i++) {
        d.cookie = `${n}=; Max-Age=0; path=/${i ? '; domain=' + host.slice(i - 1).join('.') : ''}`;
      }
    }
  });

  // Google Consent Mode v2
  function signals() {
    const g = w.gtag, gcm = p => {
      const o = { security_storage: 'granted' };
      for (const k in GCM) o[k] = p?.[GCM[k]] ? 'granted' : 'denied';
      return o;
    };
    if (typeof g != 'function') return;
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

  // in document order, once
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
      else if (v !== false && v != null) e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...kids.filter(c => c != null));
    return e;
  }

  // no choice from a script's .click()
  const button = (text, click) => h('button', { type: 'button', click: e => e.isTrusted && click() }, [text]);
  const box = (cls, extra) => ({ class: 'cg ' + cls, dir: T.dir || 'ltr', lang: cfg.lang, ...extra });
  const all = v => each(() => v);
  const policy = () => cfg.policy_url &&
    h('a', { href: cfg.policy_url, target: '_blank', rel: 'noopener' }, [T.policy_link]);
  const label = k => T.purposes?.[k]?.label || k;

  function mount() {
    if (root) return root;
    const host = d.createElement('cleargif-root');
    root = host.attachShadow({ mode: 'open' });
    root.addEventListener('focusin', e => root.contains(e.relatedTarget) || (prior = e.relatedTarget));
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
    const p = state.purposes;
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
        h('p', { id: id + 'd' }, [T.purposes?.[k]?.description, ' ', h('strong', {}, [note])])
      ]);
    });
    const cells = (tag, xs) => h('tr', {}, xs.map(x => h(tag, {}, [x])));
    dialog = h('dialog', box('', { 'aria-labelledby': 'cg-pt', keydown: keys, close() {
      if (dialog === this) shut();
    } }), [
      h('h2', { id: 'cg-pt' }, [T.preferences]),
      h('p', {}, [policy()]),
      ...rows,
      h('details', {}, [
        h('summary', {}, [T.cookies_heading]),
        h('table', {}, [
          cells('th', [T.cookie_name, T.cookie_purpose, T.cookie_lifetime]),
          ...(cfg.cookies || []).map(c =>
            cells('td', [c.name + (c.service ? ` (${c.service})` : ''), label(c.purpose), c.lifetime]))
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
    dialog.querySelector('input:enabled,button').focus();
  }

  function keys(e) {
    if (e.key == 'Escape') {
      e.preventDefault();
      return shut();
    }
    const f = [...dialog.querySelectorAll('a[href],input:enabled,summary,button')];
    const i = f.indexOf(root.activeElement);
    if (e.key == 'Tab' && (e.shiftKey ? i <= 0 : i == f.length - 1)) {
      e.preventDefault();
      f[e.shiftKey ? f.length - 1 : 0].focus();
    }
  }

  // focus goes back, else to a way to reopen the dialog
  function shut(kb) {
    const x = dialog;
    dialog = null;
    if (x) {
      x.close?.();
      x.remove();
    } else if (!kb) return;
    for (const e of [x && opener, prior, d.querySelector(HOOK), footer]) {
      if (e && e != d.body && e.getClientRects().length) return e.focus({ preventScroll: kb === false });
    }
  }

  function save() {
    const p = each(k => !!boxes[k]?.checked);
    // only this switch may override GPC
    choose(p, 'dialog', gpc() && p.marketing);
  }

  function choose(p, source, override) {
    const kb = !!root.activeElement?.matches(':focus-visible');
    return post(p, source, override).then(s => s && shut(kb));
  }

  function post(purposes, source, override) {
    if (gpc() && !override) purposes.marketing = false;
    return call('POST', 'consent',
      { purposes, gpc_override: !!override, gpc: gpc(), lang: cfg.lang, source })
      .then(s => update(s, !!override)).catch(() => null);
  }

  // grants need a user gesture
  let gest = 0;
  const gesture = e => e.isTrusted && (gest = Date.now());
  d.addEventListener('click', gesture, true);
  d.addEventListener('keydown', gesture, true);
  function set(o) {
    if (!state) return Promise.resolve(null);
    o = o?.purposes || o || {};
    const act = navigator.userActivation, cur = state.purposes;
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
    history[m] = function () {
      try { return orig.apply(this, arguments); } finally { tick(); }
    };
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
      show: guard(open)
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
    pageview: guard(check)
  };
})(globalThis, globalThis.document);
