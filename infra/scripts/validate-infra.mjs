// Checks infra/ without a cluster or a Docker engine: every manifest parses as YAML and passes the
// Kubernetes OpenAPI schema (kubernetes-models' validate()), the kustomization lists existing files,
// the Dockerfile passes dockerfile-utils' validator (the one behind VS Code's Docker support), and
// compose.yaml parses. `docker compose config` (or docker-compose config) checks the compose
// schema where a compose client is installed.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse } from 'yaml';
import * as k8s from 'kubernetes-models';
import dockerfileUtils from 'dockerfile-utils';
import { checkDashboard, checkRules, promtool } from './check-observability.mjs';

const infra = join(dirname(fileURLToPath(import.meta.url)), '..');
const k8sDir = join(infra, 'k8s');
let problems = 0;
const fail = (msg) => {
  problems++;
  console.error(`FAIL ${msg}`);
};

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  // kubernetes-models names a dotted group in camel case: networking.k8s.io → networkingK8sIo.
  const camel = group.replace(/\.(\w)/g, (_, c) => c.toUpperCase());
  const groupModule = group === '' ? (k8s.v1 ?? k8s) : (k8s[camel] ?? k8s[group.replace(/\./g, '_')] ?? k8s[group]);
  const ns = group === '' ? k8s.v1 : groupModule?.[version];
  return ns?.[kind];
}

for (const file of readdirSync(k8sDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()) {
  const docs = parseAllDocuments(readFileSync(join(k8sDir, file), 'utf8'));
  for (const doc of docs) {
    if (doc.errors.length) {
      fail(`${file}: ${doc.errors[0].message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj.kind === 'Kustomization') {
      for (const r of obj.resources ?? []) if (!existsSync(join(k8sDir, r))) fail(`${file}: resource ${r} does not exist`);
      console.log(`ok   ${file}: Kustomization (${obj.resources.length} resources)`);
      continue;
    }
    const Model = modelFor(obj.apiVersion, obj.kind);
    if (!Model) {
      fail(`${file}: no schema for ${obj.apiVersion} ${obj.kind}`);
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok   ${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}`);
    } catch (err) {
      fail(`${file}: ${obj.kind} ${obj.metadata?.name}: ${err.message}`);
    }
  }
}

const compose = parse(readFileSync(join(infra, 'compose.yaml'), 'utf8'));
for (const s of ['redis', 'postgres', 'migrate', 'api', 'worker']) if (!compose.services?.[s]) fail(`compose.yaml: service ${s} missing`);
console.log(`ok   compose.yaml: parses, services ${Object.keys(compose.services).join(', ')}`);

const dockerfile = readFileSync(join(infra, 'docker', 'Dockerfile'), 'utf8');
const diagnostics = dockerfileUtils.validate(dockerfile);
for (const d of diagnostics) fail(`docker/Dockerfile:${d.range.start.line + 1}: ${d.message}`);
if (!diagnostics.length) console.log(`ok   docker/Dockerfile: ${dockerfile.split('\n').filter((l) => /^FROM /.test(l)).length} stages, no diagnostics`);

// The Grafana dashboard and the alert rules name only series the code exports (check-observability.mjs).
for (const file of readdirSync(join(infra, 'grafana')).filter((f) => f.endsWith('.json'))) {
  const found = checkDashboard(join(infra, 'grafana', file));
  for (const p of found) fail(p);
  if (!found.length) console.log(`ok   grafana/${file}: parses, every query names an exported series`);
}
const rulesFile = join(infra, 'prometheus', 'alerts.yaml');
const ruleProblems = [...checkRules(rulesFile), ...promtool(rulesFile).problems];
for (const p of ruleProblems) fail(p);
if (!ruleProblems.length)
  console.log(
    `ok   prometheus/alerts.yaml: schema${promtool(rulesFile).ran ? ' and promtool check rules' : ' (promtool not installed)'}, exported series only`,
  );

if (problems) {
  console.error(`${problems} problem(s)`);
  process.exit(1);
}
