import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@reelay/testing';

/** The shipped Grafana dashboard and alert rules name only series Reelay exports; a typo is caught. */
const check = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'infra/scripts/check-observability.mjs'), ...args], { encoding: 'utf8' });
let dir: string;
beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'reelay-obs-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the shipped dashboard and rules pass', () => {
  const run = check();
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/1 dashboard\(s\) and 1 rule file\(s\) name only exported series/);
});

test('a dashboard query or rule naming a series the code does not export fails, naming it', () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'infra/grafana/reelay.json'), 'utf8'));
  dash.panels[0].targets[0].expr = 'sum(rate(reelay_task_finished_total[5m]))';
  writeFileSync(join(dir, 'bad.json'), JSON.stringify(dash));
  const rules = readFileSync(join(ROOT, 'infra/prometheus/alerts.yaml'), 'utf8').replace('reelay_dependency_up{dependency="redis"}', 'reelay_redis_up');
  writeFileSync(join(dir, 'bad.yaml'), rules);
  const run = check(join(dir, 'bad.json'), '--rules', join(dir, 'bad.yaml'));
  expect(run.status).toBe(1);
  expect(run.stderr).toContain('reelay_task_finished_total is not a series Reelay exports');
  expect(run.stderr).toContain('ReelayRedisDown: reelay_redis_up is not a series Reelay exports');
  writeFileSync(join(dir, 'broken.json'), '{"title": "x", "panels": [');
  expect(check(join(dir, 'broken.json')).stderr).toMatch(/not JSON/);
});
