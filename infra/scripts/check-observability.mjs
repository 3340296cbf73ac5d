// Checks the shipped Grafana dashboard and Prometheus alert rules against the series Reelay
// exports: the dashboard JSON parses and every query names only series defined in
// packages/observability/src/metrics.ts (histograms as _bucket/_sum/_count, process metrics by
// their prefix); the rules pass a schema check, name only exported series (or Prometheus's own
// `up`), and `promtool check rules` where promtool is installed.
//   node infra/scripts/check-observability.mjs [dashboard.json ...] [--rules alerts.yaml]
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every series name the code exports, read from where the metrics are defined. */
export function exportedSeries() {
  const src = readFileSync(join(root, 'packages/observability/src/metrics.ts'), 'utf8');
  const series = new Set();
  for (const m of src.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '([a-z0-9_]+)'/g)) {
    const [, type, name] = m;
    if (type === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) series.add(name + s);
    else series.add(name);
  }
  return series;
}

const PROCESS_PREFIX = 'reelay_process_';
// PromQL words that look like names: functions, keywords, label names are filtered by position.
const named = (expr) =>
  [
    ...expr
      .replace(/\{[^}]*\}/g, '{}')
      .replace(/"[^"]*"/g, '""')
      .matchAll(/\b(reelay_[a-z0-9_]+|up)\b(?!\s*\()/g),
  ].map((m) => m[1]);

function checkExpr(where, expr, series, problems) {
  if (typeof expr !== 'string' || !expr.trim()) return problems.push(`${where}: no query`);
  const names = named(expr);
  if (!names.length) problems.push(`${where}: names no Reelay series: ${expr}`);
  for (const n of names) if (n !== 'up' && !n.startsWith(PROCESS_PREFIX) && !series.has(n)) problems.push(`${where}: ${n} is not a series Reelay exports`);
}

export function checkDashboard(file, series = exportedSeries()) {
  const problems = [];
  let dash;
  try {
    dash = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return [`${file}: not JSON: ${err.message}`];
  }
  if (typeof dash.title !== 'string' || !Array.isArray(dash.panels) || !dash.panels.length) problems.push(`${file}: needs a title and panels`);
  for (const p of dash.panels ?? []) {
    if (!Array.isArray(p.targets) || !p.targets.length) problems.push(`${file}: panel "${p.title}" has no queries`);
    for (const t of p.targets ?? []) checkExpr(`${file}: panel "${p.title}" ${t.refId}`, t.expr, series, problems);
  }
  return problems;
}

const DURATION = /^\d+(ms|s|m|h|d|w|y)$/;
export function checkRules(file, series = exportedSeries()) {
  const problems = [];
  let doc;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return [`${file}: not YAML: ${err.message}`];
  }
  if (!Array.isArray(doc?.groups) || !doc.groups.length) return [`${file}: needs groups`];
  const known = new Set(['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']);
  for (const g of doc.groups) {
    if (typeof g.name !== 'string' || !Array.isArray(g.rules) || !g.rules.length) problems.push(`${file}: group needs a name and rules`);
    for (const r of g.rules ?? []) {
      const where = `${file}: ${r.alert ?? r.record ?? '(unnamed rule)'}`;
      for (const k of Object.keys(r)) if (!known.has(k)) problems.push(`${where}: unknown field ${k}`);
      if (typeof r.alert !== 'string' && typeof r.record !== 'string') problems.push(`${where}: needs alert or record`);
      if (r.for !== undefined && !DURATION.test(String(r.for))) problems.push(`${where}: for must be a duration`);
      if (r.alert && typeof r.labels?.severity !== 'string') problems.push(`${where}: needs labels.severity`);
      if (r.alert && typeof r.annotations?.summary !== 'string') problems.push(`${where}: needs annotations.summary`);
      checkExpr(where, r.expr, series, problems);
    }
  }
  return problems;
}

/** promtool's own check, when it is installed (Debian: apt-get install prometheus). */
export function promtool(file) {
  const run = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  if (run.error) return { ran: false, problems: [] };
  return { ran: true, problems: run.status === 0 ? [] : [`${file}: promtool: ${(run.stdout + run.stderr).trim()}`] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const ruleAt = args.indexOf('--rules');
  const rules = ruleAt >= 0 ? [args[ruleAt + 1]] : [join(root, 'infra/prometheus/alerts.yaml')];
  const dashboards = ruleAt >= 0 ? args.filter((_, i) => i !== ruleAt && i !== ruleAt + 1) : args;
  if (!dashboards.length) dashboards.push(join(root, 'infra/grafana/reelay.json'));
  const problems = [];
  for (const d of dashboards) problems.push(...checkDashboard(d));
  for (const r of rules) {
    if (!existsSync(r)) {
      problems.push(`${r}: missing`);
      continue;
    }
    problems.push(...checkRules(r));
    const p = promtool(r);
    problems.push(...p.problems);
    console.log(p.ran ? `ok   promtool ran on ${r}` : `skip promtool not installed; schema check only for ${r}`);
  }
  for (const p of problems) console.error(`FAIL ${p}`);
  if (problems.length) process.exit(1);
  console.log(`ok   ${dashboards.length} dashboard(s) and ${rules.length} rule file(s) name only exported series`);
}
