// The console's only script: plain DOM, no framework, nothing to build.
// Every text from the gateway goes into textContent, never into HTML.
'use strict';

const api = '/console/api/';
let csrf = '';
let canDecide = false;
let events;

const $ = (id) => document.getElementById(id);

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('data-')) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c !== undefined && c !== null) node.append(c);
  return node;
}

async function request(method, route, body) {
  const headers = {};
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(api + route, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

function at(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleString();
}

function inDays(iso) {
  const days = Math.floor((new Date(iso).getTime() - Date.now()) / 86400000);
  return days < 0 ? 'expired' : `in ${days} day${days === 1 ? '' : 's'}`;
}

function showSignedIn(session) {
  csrf = session.csrf;
  canDecide = session.canDecide;
  $('sign-in-view').hidden = true;
  $('app-view').hidden = false;
  $('who').hidden = false;
  $('who').textContent = `signed in as ${session.approver}`;
  $('sign-out').hidden = false;
  connect();
  loadAudit();
}

function showSignIn() {
  csrf = '';
  if (events) events.close();
  $('app-view').hidden = true;
  $('who').hidden = true;
  $('sign-out').hidden = true;
  $('live').hidden = true;
  $('sign-in-view').hidden = false;
  $('token').focus();
}

function renderShards(state) {
  const body = $('shards').tBodies[0];
  body.replaceChildren(
    ...state.shards.map((s) =>
      el(
        'tr',
        { 'data-shard': s.name },
        el('td', {}, el('strong', { text: s.name }), el('div', { class: 'muted', text: s.identity })),
        el('td', {}, el('span', { class: `badge state-${s.state}`, text: s.state })),
        el('td', { text: at(s.since) }),
        el('td', { class: 'tool-count', text: String(s.toolCount) }),
        el('td', {}, s.certificateExpiresAt ? `${at(s.certificateExpiresAt)} (${inDays(s.certificateExpiresAt)})` : '—', s.certificateWarning ? el('div', { class: 'warn', text: s.certificateWarning }) : null),
        el('td', {}, el('code', { text: s.address })),
        el('td', { class: 'muted', text: s.lastError || '' }),
      ),
    ),
  );
  $('listed-tools').textContent = `${state.listedTools} tools listed to MCP clients right now.`;
}

function diffView(text) {
  const pre = el('pre', { class: 'diff' });
  for (const line of String(text || '').split('\n')) {
    const cls = line.startsWith('+') && !line.startsWith('+++') ? 'add' : line.startsWith('-') && !line.startsWith('---') ? 'del' : line.startsWith('@@') ? 'hunk' : '';
    pre.append(el('span', { class: cls, text: `${line}\n` }));
  }
  return pre;
}

async function decide(plan, verb, reasonInput, buttons) {
  $('decide-error').textContent = '';
  for (const b of buttons) b.disabled = true;
  try {
    await request('POST', `plans/${encodeURIComponent(plan.id)}/${verb}`, verb === 'reject' ? { reason: reasonInput.value } : {});
    loadAudit();
  } catch (err) {
    $('decide-error').textContent = err.message;
    for (const b of buttons) b.disabled = false;
  }
}

function planCard(plan) {
  const card = el(
    'article',
    { class: 'plan', 'data-plan-id': plan.id, 'data-status': plan.status },
    el('h3', {}, el('code', { text: plan.tool }), el('span', { class: `badge status-${plan.status}`, text: plan.status }), el('span', { class: 'muted', text: `plan ${plan.id}` })),
    el('div', { class: 'muted', text: `asked by ${plan.subject} at ${at(plan.createdAt)}; ${plan.status === 'pending' ? 'expires' : 'expired or expires'} ${at(plan.expiresAt)}` }),
    plan.summary ? el('p', { text: plan.summary }) : null,
    diffView(plan.diff || plan.text),
    el('details', {}, el('summary', { text: 'arguments' }), el('pre', { text: JSON.stringify(plan.arguments, null, 2) })),
  );
  if (plan.decision) {
    const d = plan.decision;
    card.append(el('p', { class: 'decision', text: `${plan.status === 'rejected' ? 'Rejected' : 'Approved'} by ${d.by} (${d.via}) at ${at(d.at)}${d.reason ? `: ${d.reason}` : ''}` }));
  }
  if (plan.outcome && plan.outcome !== 'applied') card.append(el('pre', { class: 'outcome', text: plan.outcome }));
  if (plan.status === 'pending') {
    const reason = el('input', { type: 'text', placeholder: 'why (for a rejection)', maxLength: 500, className: 'reason' });
    const approve = el('button', { type: 'button', class: 'approve', text: 'Approve and apply', disabled: !canDecide });
    const reject = el('button', { type: 'button', class: 'reject', text: 'Reject', disabled: !canDecide });
    approve.addEventListener('click', () => decide(plan, 'approve', reason, [approve, reject]));
    reject.addEventListener('click', () => decide(plan, 'reject', reason, [approve, reject]));
    card.append(el('div', { class: 'actions' }, approve, reason, reject));
    if (!canDecide) card.append(el('p', { class: 'muted', text: 'Your sign-in grants no homelab:write: you can look, not decide.' }));
  }
  return card;
}

function renderPlans(state) {
  $('approval-mode').hidden = false;
  $('approval-mode').textContent = `approval: ${state.approval}`;
  $('approval-note').textContent =
    state.approval === 'human'
      ? 'Every change waits here (or in the client, by elicitation) until a person approves it; approving applies it.'
      : 'This gateway runs with GATEWAY_APPROVAL=model: clients apply their own plans, so nothing waits here.';
  const pending = state.plans.filter((p) => p.status === 'pending');
  $('pending').replaceChildren(...(pending.length ? pending.map(planCard) : [el('p', { class: 'muted', id: 'no-pending', text: 'No plan is waiting.' })]));
  $('decided').replaceChildren(...state.plans.filter((p) => p.status !== 'pending').map(planCard));
}

function render(state) {
  renderShards(state);
  renderPlans(state);
}

function connect() {
  if (events) events.close();
  events = new EventSource(`${api}events`);
  events.addEventListener('state', (e) => {
    $('live').hidden = false;
    render(JSON.parse(e.data));
    loadAudit();
  });
  events.addEventListener('error', async () => {
    $('live').hidden = true;
    // A lost session ends the stream for good; anything else reconnects by itself.
    try {
      await request('GET', 'session');
    } catch {
      events.close();
      showSignIn();
    }
  });
}

async function loadAudit() {
  const params = new URLSearchParams();
  if ($('audit-q').value) params.set('q', $('audit-q').value);
  if ($('audit-result').value) params.set('result', $('audit-result').value);
  try {
    const { entries } = await request('GET', `audit?${params}`);
    $('audit').tBodies[0].replaceChildren(
      ...entries.map((e) =>
        el(
          'tr',
          { 'data-result': e.result },
          el('td', { text: at(e.time) }),
          el('td', { text: e.subject }),
          el('td', {}, el('code', { text: e.tool })),
          el('td', {}, el('span', { class: `badge status-${e.result}`, text: e.result })),
          el('td', {}, el('code', { text: e.planId || '' })),
          el('td', { text: e.approver ? `${e.approver} (${e.via})` : '' }),
          el('td', { class: 'muted', text: e.reason || e.error || '' }),
        ),
      ),
    );
  } catch (err) {
    $('decide-error').textContent = `audit log: ${err.message}`;
  }
}

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('sign-in-error').textContent = '';
  try {
    const session = await request('POST', 'session', { token: $('token').value, name: $('name').value });
    $('token').value = '';
    showSignedIn(session);
  } catch (err) {
    $('sign-in-error').textContent = err.message;
  }
});

$('sign-out').addEventListener('click', async () => {
  await request('DELETE', 'session').catch(() => undefined);
  showSignIn();
});

$('audit-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadAudit();
});

request('GET', 'session').then(showSignedIn, showSignIn);
