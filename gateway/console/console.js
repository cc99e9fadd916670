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
  loadStats();
  clearInterval(statsTimer);
  statsTimer = setInterval(loadStats, 5000);
}

function showSignIn() {
  csrf = '';
  clearInterval(statsTimer);
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

const SVG = 'http://www.w3.org/2000/svg';
const HISTORY = 60;
const samples = new Map();
let statsTimer;

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// A line of the last samples, 0-100 %, drawn with SVG attributes only (the CSP allows no inline styles).
function sparkline(values, cls) {
  const w = 160;
  const h = 32;
  const chart = svg('svg', { class: 'spark', width: w, height: h, viewBox: `0 0 ${w} ${h}`, role: 'img' });
  chart.append(svg('line', { class: 'axis', x1: 0, y1: h - 1, x2: w, y2: h - 1 }));
  const step = w / (HISTORY - 1);
  // One sample is drawn as a short flat line, so the chart shows from the first poll.
  if (values.length === 1) values = [values[0], values[0]];
  const points = values.map((v, i) => `${(w - (values.length - 1 - i) * step).toFixed(1)},${(h - 1 - (Math.min(100, Math.max(0, v)) / 100) * (h - 2)).toFixed(1)}`);
  chart.append(svg('polyline', { class: cls, points: points.join(' ') }));
  const [x, y] = points[points.length - 1].split(',');
  chart.append(svg('circle', { class: cls, cx: x, cy: y, r: 2 }));
  return chart;
}

async function loadStats() {
  try {
    const { containers } = await request('GET', 'stats');
    for (const c of containers) {
      const h = samples.get(c.name) || { cpu: [], memory: [] };
      h.cpu.push(c.cpu);
      h.memory.push(c.memory);
      if (h.cpu.length > HISTORY) h.cpu.shift();
      if (h.memory.length > HISTORY) h.memory.shift();
      samples.set(c.name, h);
    }
    $('containers').tBodies[0].replaceChildren(
      ...containers.map((c) => {
        const h = samples.get(c.name);
        return el(
          'tr',
          { 'data-container': c.name },
          el('td', {}, el('strong', { text: c.name })),
          el('td', {}, el('span', { class: `badge state-${c.state === 'running' ? 'serving' : 'failed'}`, text: c.state })),
          el('td', {}, sparkline(h.cpu, 'cpu'), el('span', { class: 'cpu-now', text: `${c.cpu.toFixed(1)} %` })),
          el('td', {}, sparkline(h.memory, 'mem'), el('span', { text: `${c.memory.toFixed(1)} % (${(c.memoryBytes / 1048576).toFixed(0)} MiB)` })),
        );
      }),
    );
    $('stats-note').classList.remove('error');
  } catch (err) {
    $('stats-note').textContent = `Container stats are not available: ${err.message}`;
    $('stats-note').classList.add('error');
  }
}

function renderDiagnoses(state) {
  $('diagnoses').replaceChildren(
    ...(state.diagnoses.length
      ? state.diagnoses.map((d) =>
          el(
            'div',
            { class: 'diagnosis', 'data-service': d.service },
            el('div', {}, el('strong', { text: d.service }), el('span', { class: 'muted', text: ` at ${at(d.at)} by ${d.by}` })),
            el('p', { class: d.isError ? 'error' : 'summary', text: d.summary }),
            ...d.findings.map((f) => el('div', { class: 'finding' }, el('span', { class: `sev-${f.severity}`, text: `${f.severity} ` }), el('span', { text: `${f.cause}: ${f.what}` }), el('div', { class: 'muted', text: `fix: ${f.fix}` }))),
          ),
        )
      : [el('p', { class: 'muted', text: 'No diagnose_service result yet.' })]),
  );
}

function render(state) {
  renderShards(state);
  renderPlans(state);
  renderDiagnoses(state);
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

$('diagnose-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('diagnose-error').textContent = '';
  const button = e.target.querySelector('button');
  button.disabled = true;
  try {
    await request('POST', 'diagnose', { service: $('diagnose-service').value });
  } catch (err) {
    $('diagnose-error').textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

$('audit-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  loadAudit();
});

request('GET', 'options').then((options) => {
  $('oauth-sign-in').hidden = !options.oauth;
}, () => undefined);
request('GET', 'session').then(showSignedIn, showSignIn);
