/* cleargif dashboard: progressive enhancement only.
 *
 * Without this script every control is a link or a GET form that loads a whole page.
 * With it, those pages replace the main area in place: the scroll position stays, keyboard
 * focus returns to the link that was used (or its twin on the new page), and a polite
 * status message says what changed. The period form sends only the fields of the chosen
 * period. It talks to nothing but the dashboard itself, and on any failure it falls back
 * to loading the page as a link would.
 */
(function () {
  'use strict';

  function trimPeriod(form) {
    var kind = form.elements.period ? form.elements.period.value : '';
    ['month', 'since', 'until'].forEach(function (name) {
      var field = form.elements[name];
      if (field) field.disabled = (name === 'month') ? kind !== 'month' : kind !== 'custom';
    });
  }

  if (!window.fetch || !window.DOMParser || !window.URLSearchParams || !window.FormData ||
      !(window.history && window.history.pushState) || !Element.prototype.closest) {
    document.addEventListener('submit', function (event) {
      if (event.target.classList && event.target.classList.contains('controls')) {
        trimPeriod(event.target);
      }
    });
    return;
  }

  function say(text) {
    var live = document.getElementById('live');
    if (!live) return;
    live.textContent = '';
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  function focusAfter(key) {
    var target = null;
    if (key) {
      var found = document.querySelectorAll('[data-key]');
      for (var i = 0; i < found.length; i++) {
        if (found[i].getAttribute('data-key') === key) { target = found[i]; break; }
      }
    }
    if (!target) target = document.getElementById('main');
    if (target) target.focus({preventScroll: true});
  }

  var pending = 0;

  function load(url, push, key) {
    var ticket = ++pending;
    var main = document.getElementById('main');
    if (main) main.setAttribute('aria-busy', 'true');
    fetch(url, {credentials: 'same-origin', headers: {'Accept': 'text/html'}})
      .then(function (response) {
        if (!response.ok || response.redirected) throw new Error('load the page instead');
        return response.text();
      })
      .then(function (html) {
        if (ticket !== pending) return;  // a later click won
        var page = new DOMParser().parseFromString(html, 'text/html');
        var next = page.getElementById('main');
        var current = document.getElementById('main');
        if (!next || !current) throw new Error('load the page instead');
        var scrolled = window.scrollY;
        current.replaceWith(document.adoptNode(next));
        var langs = page.querySelector('.langs');
        var oldLangs = document.querySelector('.langs');
        if (langs && oldLangs) oldLangs.replaceWith(document.adoptNode(langs));
        document.title = page.title;
        if (push) window.history.pushState({cleargif: true}, '', url);
        window.scrollTo(0, scrolled);
        focusAfter(key);
        var heading = document.querySelector('.heading');
        say(heading ? heading.textContent.replace(/\s+/g, ' ').trim() : page.title);
      })
      .catch(function () { window.location.href = url; });
  }

  document.addEventListener('click', function (event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey) return;
    var link = event.target.closest('a[data-nav]');
    if (!link || link.origin !== window.location.origin) return;
    event.preventDefault();
    load(link.href, true, link.getAttribute('data-key'));
  });

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains('controls')) return;
    trimPeriod(form);
    event.preventDefault();
    var query = new URLSearchParams(new FormData(form)).toString();
    load(form.action + '?' + query, true, 'show');
  });

  window.addEventListener('popstate', function () {
    load(window.location.href, false, null);
  });
})();
