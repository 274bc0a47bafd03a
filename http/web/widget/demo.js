// The demo page: embeds the widget for ?site=KEY and navigates like a
// single-page app so page tracking can be seen.
const key = new URLSearchParams(location.search).get('site') || '';
const s = document.createElement('script');
s.src = '/widget.js';
s.async = true;
s.dataset.site = key;
document.head.append(s);
document.getElementById('snippet').textContent =
  `<script src="${location.origin}/widget.js" data-site="${key}" async></script>`;
for (const a of document.querySelectorAll('a[data-page]')) {
  a.addEventListener('click', (e) => {
    e.preventDefault();
    history.pushState({}, '', `/demo?site=${encodeURIComponent(key)}&page=${a.dataset.page}`);
    document.title = a.textContent + ' — Demo shop';
    document.getElementById('title').textContent = a.textContent;
  });
}
