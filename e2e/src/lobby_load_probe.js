// The lobby-load probe: the benchmark has Chromium run it in every new document of the tab (DevTools'
// Page.addScriptToEvaluateOnNewDocument), before any of the page's own scripts, so it sees the lobby appear from the
// very start of the page's life. It needs nothing from the page: it watches the DOM for the lobby's controls.
//
// Each mark is the first time something was seen, in milliseconds on the page's performance.now() clock, whose zero
// (performance.timeOrigin) is the start of the navigation.
//   first_screen: the display-name field (#name) is in the document: the SPA has started and rendered the lobby.
//   usable:       the name field is enabled and the camera preview (video#preview) has the camera's stream: the
//                 person can type their name and press Join (#join). Join itself stays disabled until a name is
//                 typed, which a first visit has not, so "Join enabled" would time the typing too.
(() => {
  if (window.__lobbyLoad || location.protocol !== 'http:') return;
  const marks = {};
  const waiters = [];
  const mark = (name) => {
    if (name in marks) return;
    marks[name] = performance.now();
    for (const waiter of waiters.filter((w) => w.name === name)) waiter.resolve();
  };
  const check = () => {
    const name = document.querySelector('#name');
    if (!name) return;
    mark('first_screen');
    const preview = document.querySelector('video#preview');
    if (!name.disabled && preview && preview.srcObject && document.querySelector('#join')) mark('usable');
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
  // Giving the preview its stream changes no markup, but starts the video's loading: `loadstart` does not bubble,
  // so it is caught on its way down.
  document.addEventListener('loadstart', check, true);

  // What was transferred: the navigation and every resource the page fetched, as Resource Timing reports them.
  const entry = (e) => ({
    name: e.name,
    initiator: e.initiatorType || 'navigation',
    transfer: e.transferSize,
    encoded: e.encodedBodySize,
    decoded: e.decodedBodySize,
    response_end: e.responseEnd,
    delivery: e.deliveryType || '',
    encoding: e.contentEncoding || '',
  });
  const snapshot = () => ({
    marks: { ...marks },
    entries: performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).map(entry),
  });
  // Chromium files a Resource Timing entry a moment after the response is complete, possibly after the page has
  // used it: the byte counts are read once the document has loaded and no entry has come for half a second.
  const entryCount = () => performance.getEntriesByType('resource').length;
  const settled = () => new Promise((resolve) => {
    let [count, quietSince] = [entryCount(), performance.now()];
    const deadline = performance.now() + 10000;
    const poll = () => {
      const now = performance.now();
      if (entryCount() !== count) [count, quietSince] = [entryCount(), now];
      if ((document.readyState === 'complete' && now - quietSince >= 500) || now > deadline) resolve();
      else setTimeout(poll, 50);
    };
    poll();
  });
  window.__lobbyLoad = {
    snapshot,
    // Resolves with a snapshot once `name` is marked and the entries have settled.
    when(name) {
      const marked = name in marks ? Promise.resolve() : new Promise((resolve) => waiters.push({ name, resolve }));
      return marked.then(settled).then(snapshot);
    },
  };
})();
