// The operator's console: Preact + htm (tagged templates, so the browser runs this file as it is:
// no build step). Every call goes to the admin API mounted under /console/api, with the browser's
// HTTP Basic credentials for /console.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const API = '/console/api';

async function api(method, path, body) {
  const res = await fetch(`${API}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.error?.message ?? `HTTP ${res.status}`);
  return json;
}

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/tasks');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/tasks');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** Calls `load` now and every `ms` while the page shows; returns [data, error, reload]. */
function usePolling(load, deps, ms = 2000) {
  const [state, setState] = useState({ data: null, error: null });
  const tick = useRef(0);
  const run = () => {
    const mine = ++tick.current;
    load().then(
      (data) => mine === tick.current && setState({ data, error: null }),
      (err) => mine === tick.current && setState((s) => ({ data: s.data, error: err.message })),
    );
  };
  useEffect(() => {
    run();
    if (!ms) return undefined;
    const t = setInterval(run, ms);
    return () => clearInterval(t);
  }, deps);
  return [state.data, state.error, run];
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const money = (micros) => (micros === null || micros === undefined ? '—' : `$${(micros / 1e6).toFixed(4)}`);
const Phase = ({ phase, error }) =>
  html`<span class="phase ${phase}" data-phase=${phase}>${phase === 'waiting' ? 'waiting for slot' : phase}${error ? ` · ${error.code}` : ''}</span>`;
const Bar = ({ value }) => html`<span class="bar" title="${value}%"><i style="width:${value}%"></i></span> <span class="muted">${value}%</span>`;

function Tasks() {
  const [filter, setFilter] = useState({ phase: '', api_key_id: '', model: '', q: '' });
  const [draft, setDraft] = useState(filter);
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '')).toString();
  const [page, error] = usePolling(() => api('GET', `/v1/tasks?limit=50${query ? `&${query}` : ''}`), [query]);
  const [stats] = usePolling(() => api('GET', '/v1/stats'), []);
  const [keys] = usePolling(() => api('GET', '/v1/keys'), [], 0);
  const field = (name) => (e) => setDraft({ ...draft, [name]: e.target.value });
  return html`
    <h1>Tasks</h1>
    ${
      stats &&
      html`<div class="cards">
      ${Object.entries(stats.phases).map(([p, n]) => html`<div class="card" data-card=${p}><b>${n}</b><span>${p === 'waiting' ? 'waiting for a slot' : p}</span></div>`)}
      <div class="card"><b>${stats.last_hour.completed}</b><span>completed, last hour</span></div>
      <div class="card"><b>${stats.last_hour.total_seconds_p50 ?? '—'}s</b><span>create → finish p50</span></div>
    </div>`
    }
    <form class="filters" onSubmit=${(e) => (e.preventDefault(), setFilter(draft))}>
      <label>Phase<select name="phase" value=${draft.phase} onChange=${field('phase')}>
        <option value="">any</option>
        ${['waiting', 'admitted', 'processing', 'completed', 'failed'].map((p) => html`<option value=${p}>${p}</option>`)}
      </select></label>
      <label>Key<select name="api_key_id" value=${draft.api_key_id} onChange=${field('api_key_id')}>
        <option value="">any</option>
        ${(keys?.data ?? []).map((k) => html`<option value=${k.id}>${k.name}</option>`)}
      </select></label>
      <label>Model<input name="model" value=${draft.model} onInput=${field('model')} placeholder="any" /></label>
      <label>Prompt contains<input name="q" value=${draft.q} onInput=${field('q')} placeholder="words" /></label>
      <button type="submit">Search</button>
    </form>
    ${error && html`<div class="error">${error}</div>`}
    ${
      page &&
      html`<p class="muted" data-total=${page.total}>${page.total} task(s)</p>
      <table class="tasks">
        <thead><tr><th></th><th>Task</th><th>Key</th><th>Model</th><th>Prompt</th><th>Status</th><th>Progress</th><th>Created</th></tr></thead>
        <tbody>${page.data.map(
          (t) => html`
          <tr class="link" data-task=${t.id} onClick=${() => (location.hash = `#/tasks/${t.id}`)}>
            <td>${t.thumbnail_url ? html`<img class="thumb" src=${t.thumbnail_url} alt="" onError=${(e) => (e.target.style.visibility = 'hidden')} />` : html`<span class="thumb"></span>`}</td>
            <td class="mono">${t.id}</td><td>${t.key_name}</td><td>${t.model}</td>
            <td>${(t.prompt ?? '').slice(0, 60)}</td><td><${Phase} phase=${t.phase} error=${t.error} /></td>
            <td><${Bar} value=${t.progress} /></td><td class="muted">${when(t.created_at)}</td>
          </tr>`,
        )}
        </tbody>
      </table>`
    }
  `;
}

function TaskPage({ id }) {
  const [task, error, reload] = usePolling(() => api('GET', `/v1/tasks/${id}`), [id]);
  const [acting, setActing] = useState(null);
  const act = async (what) => {
    setActing(null);
    try {
      const t = await api('POST', `/v1/tasks/${id}/${what}`);
      if (what === 'retry') location.hash = `#/tasks/${t.id}`;
      else reload();
    } catch (err) {
      setActing(err.message);
    }
  };
  if (!task) return html`<p>${error ?? 'Loading…'}</p>`;
  const live = ['waiting', 'admitted', 'processing'].includes(task.phase);
  return html`
    <h1><a href="#/tasks">Tasks</a> / <span class="mono">${task.id}</span></h1>
    <div class="actions">
      <${Phase} phase=${task.phase} error=${task.error} /> <${Bar} value=${task.progress} />
      ${live && html`<button class="danger" data-action="cancel" onClick=${() => act('cancel')}>Cancel</button>`}
      ${task.status === 'failed' && html`<button data-action="retry" onClick=${() => act('retry')}>Retry</button>`}
    </div>
    ${acting && html`<div class="error">${acting}</div>`}
    ${task.error && html`<div class="error" data-error>${task.error.code}: ${task.error.message}</div>`}
    <div class="grid">
      <div>
        ${task.video_url ? html`<video controls autoplay muted loop playsinline src=${task.video_url} poster=${task.thumbnail_url}></video>` : html`<p class="muted">No video yet.</p>`}
        <h2>Parameters</h2>
        <dl>
          <dt>Key</dt><dd>${task.key_name} <span class="mono muted">${task.api_key_id}</span></dd>
          <dt>Model</dt><dd>${task.model}</dd>
          <dt>Target</dt><dd class="mono">${task.target ?? '—'}</dd>
          <dt>Upstream id</dt><dd class="mono">${task.upstream_id ?? '—'}</dd>
          <dt>Prompt</dt><dd>${task.prompt}</dd>
          <dt>Size</dt><dd>${task.size} · ${task.seconds}s · ${task.fps} fps · n=${task.n}</dd>
          <dt>User</dt><dd>${task.user ?? '—'}</dd>
          <dt>Cost</dt><dd data-cost>${money(task.cost_micros)} <span class="muted">(reserved ${money(task.reserved_micros)})</span></dd>
          <dt>Queue / run</dt><dd>${task.queue_seconds ?? '—'} s / ${task.run_seconds ?? '—'} s</dd>
          <dt>Created</dt><dd>${when(task.created_at)}</dd>
          <dt>Ended</dt><dd>${when(task.completed_at)}</dd>
          ${task.retried_from_id && html`<dt>Re-run of</dt><dd><a class="mono" href="#/tasks/${task.retried_from_id}">${task.retried_from_id}</a></dd>`}
          ${task.retried_by.length > 0 && html`<dt>Re-run as</dt><dd>${task.retried_by.map((r) => html`<a class="mono" href="#/tasks/${r}">${r}</a> `)}</dd>`}
        </dl>
      </div>
      <div>
        <h2>Timeline</h2>
        <ol class="timeline">${task.timeline.map(
          (e) => html`
          <li data-kind=${e.kind}><b>${e.kind.replace('_', ' ')}</b> <span class="muted">${new Date(e.at).toLocaleTimeString()}</span>
            ${e.target && html` <span class="mono">${e.target}</span>`}${e.attempt !== null ? ` · attempt ${e.attempt}` : ''}
            ${e.progress !== null ? ` · ${e.progress}%` : ''}${e.code ? ` · ${e.code}` : ''}${e.message ? html` — ${e.message}` : ''}${e.actor ? ` · by ${e.actor}` : ''}
          </li>`,
        )}
        </ol>
      </div>
    </div>
  `;
}

function Keys() {
  const [keys, error, reload] = usePolling(() => api('GET', '/v1/keys'), [], 0);
  const [secret, setSecret] = useState(null);
  const [problem, setProblem] = useState(null);
  const [form, setForm] = useState({ name: '', max_concurrent: '', budget_micros: '' });
  const num = (v) => (v === '' ? undefined : Number(v));
  const create = async (e) => {
    e.preventDefault();
    setProblem(null);
    try {
      const made = await api('POST', '/v1/keys', { name: form.name, max_concurrent: num(form.max_concurrent), budget_micros: num(form.budget_micros) });
      setSecret({ name: made.name, key: made.key });
      setForm({ name: '', max_concurrent: '', budget_micros: '' });
      reload();
    } catch (err) {
      setProblem(err.message);
    }
  };
  const edit = async (k, field, value) => {
    setProblem(null);
    try {
      await api('PATCH', `/v1/keys/${k.id}`, { [field]: value === '' ? null : Number(value) });
      reload();
    } catch (err) {
      setProblem(err.message);
    }
  };
  const revoke = async (k) => {
    if (!confirm(`Revoke ${k.name}? Its next request is refused.`)) return;
    await api('POST', `/v1/keys/${k.id}/revoke`).catch((err) => setProblem(err.message));
    reload();
  };
  return html`
    <h1>API keys</h1>
    <form class="filters" onSubmit=${create}>
      <label>Name<input name="name" required value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} /></label>
      <label>Max concurrent<input name="max_concurrent" type="number" min="1" value=${form.max_concurrent} onInput=${(e) => setForm({ ...form, max_concurrent: e.target.value })} /></label>
      <label>Budget (micros)<input name="budget_micros" type="number" min="0" value=${form.budget_micros} onInput=${(e) => setForm({ ...form, budget_micros: e.target.value })} /></label>
      <button type="submit" data-action="create-key">Create key</button>
    </form>
    ${
      secret &&
      html`<div class="secret" data-secret>
      Key <b>${secret.name}</b> created. Copy its secret now: it is shown only this once.
      <div class="mono" data-key>${secret.key}</div>
      <button class="secondary" onClick=${() => setSecret(null)}>Done</button>
    </div>`
    }
    ${(problem || error) && html`<div class="error">${problem || error}</div>`}
    ${
      keys &&
      html`<table class="keys">
      <thead><tr><th>Name</th><th>Id</th><th>Status</th><th>Max concurrent</th><th>Max queued</th><th>Budget (micros)</th><th>Committed</th><th></th></tr></thead>
      <tbody>${keys.data.map(
        (k) => html`
        <tr data-key-id=${k.id}>
          <td>${k.name}</td><td class="mono">${k.id}</td><td>${k.status}</td>
          ${['max_concurrent', 'max_queued', 'budget_micros'].map(
            (f) => html`<td>
            <input type="number" min="0" style="width:110px" name=${f} value=${k[f] ?? ''} disabled=${k.status !== 'active'}
              onChange=${(e) => edit(k, f, e.target.value)} placeholder="none" /></td>`,
          )}
          <td>${k.committed_micros ?? '—'}</td>
          <td>${k.status === 'active' && html`<button class="danger" data-action="revoke" onClick=${() => revoke(k)}>Revoke</button>`}</td>
        </tr>`,
      )}
      </tbody>
    </table>`
    }
  `;
}

function BarChart({ title, labels, series }) {
  const canvas = useRef(null);
  useEffect(() => {
    if (!window.Chart || !canvas.current) return undefined;
    const chart = new window.Chart(canvas.current, {
      type: 'bar',
      data: { labels, datasets: series },
      options: {
        animation: false,
        responsive: true,
        plugins: { title: { display: true, text: title } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      },
    });
    return () => chart.destroy();
  }, [JSON.stringify({ labels, series })]);
  return html`<div><canvas ref=${canvas} data-chart=${title}></canvas></div>`;
}

const COLORS = ['#2f5bd3', '#12b76a', '#f79009', '#d92d20', '#7a5af8', '#0ba5ec', '#667085'];
function stacked(rows, by, value, labels) {
  const groups = [...new Set(rows.map((r) => r[by]))];
  return groups.map((g, i) => ({
    label: g,
    backgroundColor: COLORS[i % COLORS.length],
    data: labels.map((d) => rows.filter((r) => r.date === d && r[by] === g).reduce((s, r) => s + value(r), 0)),
  }));
}

function Usage() {
  const [usage, error] = usePolling(() => api('GET', '/v1/usage'), [], 0);
  const [keys] = usePolling(() => api('GET', '/v1/keys'), [], 0);
  if (!usage) return html`<p>${error ?? 'Loading…'}</p>`;
  const names = new Map((keys?.data ?? []).map((k) => [k.id, k.name]));
  const rows = usage.data.map((r) => ({ ...r, key: names.get(r.api_key_id) ?? r.api_key_id }));
  const days = [...new Set(rows.map((r) => r.date))].sort();
  return html`
    <h1>Usage <span class="muted">${usage.from} → ${usage.to}</span></h1>
    <div class="cards">
      <div class="card"><b>${usage.total.tasks}</b><span>tasks</span></div>
      <div class="card"><b>${usage.total.seconds}</b><span>seconds of video</span></div>
      <div class="card"><b>${money(usage.total.cost_micros)}</b><span>charged</span></div>
    </div>
    <div class="charts">
      <${BarChart} title="Tasks per day by model" labels=${days} series=${stacked(rows, 'model', (r) => r.tasks, days)} />
      <${BarChart} title="Tasks per day by key" labels=${days} series=${stacked(rows, 'key', (r) => r.tasks, days)} />
      <${BarChart} title="Cost per day by model (micros)" labels=${days} series=${stacked(rows, 'model', (r) => r.cost_micros, days)} />
      <${BarChart} title="Cost per day by key (micros)" labels=${days} series=${stacked(rows, 'key', (r) => r.cost_micros, days)} />
    </div>
  `;
}

function App() {
  const hash = useHash();
  const [, section, id] = hash.split('/');
  const link = (to, text) => html`<a href="#/${to}" class=${section === to ? 'active' : ''}>${text}</a>`;
  let page;
  if (section === 'tasks' && id) page = html`<${TaskPage} id=${id} />`;
  else if (section === 'keys') page = html`<${Keys} />`;
  else if (section === 'usage') page = html`<${Usage} />`;
  else page = html`<${Tasks} />`;
  return html`
    <header><strong>Reelay</strong>${link('tasks', 'Tasks')}${link('keys', 'Keys')}${link('usage', 'Usage')}
      <span class="spacer"></span><a href="/admin/queues">Queues</a><a href="/docs">API docs</a></header>
    <main>${page}</main>
  `;
}

render(html`<${App} />`, document.getElementById('app'));
