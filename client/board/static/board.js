// Keeps a board page current: one server-sent event stream per page, whose "update" messages carry
// the page's new content (rendered and escaped by the server). The browser reconnects by itself and
// sends the last event id back, so nothing missed while away is lost. No inline script: the
// Content-Security-Policy allows only this file.
(function () {
  'use strict';
  var main = document.getElementById('live');
  var status = document.getElementById('connection');
  if (!main || !main.dataset.events || !window.EventSource) return;
  var say = function (text) {
    if (status) status.textContent = text;
  };
  var source = new EventSource(main.dataset.events + '&since=' + encodeURIComponent(main.dataset.seq || ''));
  source.addEventListener('update', function (event) {
    // Keyboard users keep their place: the focused link, found again by its address.
    var focused = document.activeElement;
    var href = focused && main.contains(focused) && focused.getAttribute('href');
    main.innerHTML = event.data;
    main.dataset.seq = event.lastEventId;
    if (href) {
      var again = main.querySelector('[href="' + href.replace(/"/g, '\\"') + '"]');
      if (again) again.focus();
    }
    say('live: updated at ' + new Date().toLocaleTimeString());
  });
  source.addEventListener('open', function () {
    say('live: updates arrive by themselves');
  });
  source.addEventListener('error', function () {
    say('connection lost: reconnecting…');
  });
})();
