// The password page's one enhancement: verdicts while the person types. The page works
// without it (the "Check the rules" button posts the form and the server answers with
// the same verdicts). Served from this site only; the CSP allows no inline script.
'use strict';
(function () {
  const form = document.getElementById('password-form');
  if (!form) return;
  const password = document.getElementById('new-password');
  const confirm = document.getElementById('confirm-password');
  const csrf = document.getElementById('csrf');
  const list = document.getElementById('verdicts');
  const summary = document.getElementById('summary');
  let timer = null;
  let sequence = 0;

  function render(answer) {
    list.textContent = '';
    for (const r of answer.rules || []) {
      const li = document.createElement('li');
      li.className = r.passed ? 'pass' : 'fail';
      li.dataset.rule = r.rule;
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.setAttribute('aria-hidden', 'true');
      mark.textContent = r.passed ? '✓' : '✗';
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = r.label;
      const state = document.createElement('span');
      state.className = 'state';
      state.textContent = '(' + r.state + ')';
      li.append(mark, ' ', label, ' ', state);
      if (r.message) {
        const msg = document.createElement('span');
        msg.className = 'message';
        msg.textContent = r.message;
        li.append(document.createElement('br'), msg);
      }
      list.append(li);
    }
    summary.textContent = answer.summary || '';
  }

  async function check() {
    const mine = ++sequence;
    if (!password.value) {
      list.textContent = '';
      summary.textContent = '';
      return;
    }
    try {
      const response = await fetch('/v1/preflight', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf.value },
        body: JSON.stringify({ password: password.value, confirm: confirm.value }),
      });
      const answer = await response.json();
      if (mine !== sequence) return; // a newer check is under way
      if (response.ok) render(answer);
      else summary.textContent = answer.message || '';
    } catch (e) {
      // Offline or the server is gone: the form still posts and is checked there.
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(check, 200);
  }
  password.addEventListener('input', soon);
  confirm.addEventListener('input', soon);
})();
