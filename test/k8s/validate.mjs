// Offline validation of Kubernetes manifests: every resource against the Kubernetes API schemas
// (kubernetes-models, pinned in package.json; 1.32-era schemas), no unknown field, then what this project's deployment examples
// promise (native sidecar, SPIFFE CSI volume, probes, hardened securityContext, resources).
//
//   node validate.mjs DIR                      every *.yaml in DIR must be valid; the
//                                              kustomization's resources must exist
//   node validate.mjs --expect-invalid FILE..  each FILE must be rejected (negative tests)
//
// Exit 0 when everything is as expected, 1 otherwise; one line per finding.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

// apiVersion + kind -> the model class's module.
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`;
  try {
    return (await import(path))[kind];
  } catch {
    return undefined;
  }
}

// Unknown fields. The models' validators accept them (as `kubectl --validate=false` would); the
// API server in strict field validation, kubectl's default, rejects them. The field names come
// from the same package's type declarations (one interface per .d.ts file, its properties
// quoted at four spaces of indentation, other interfaces imported by name).
const here = dirname(fileURLToPath(import.meta.url));
const interfaces = new Map();
function readInterface(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  let result = null;
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8");
    const start = text.indexOf("export interface ");
    if (start >= 0) {
      const imports = new Map();
      for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
        const target = m[2].startsWith(".") ? join(dirname(file), m[2]) : join(here, "node_modules", m[2]);
        imports.set(m[1], target + ".d.ts");
      }
      const body = text.slice(text.indexOf("{", start) + 1, text.indexOf("\n}", start));
      const fields = new Map();
      for (const m of body.matchAll(/^ {4}"([^"]+)"\??: (.*?);?$/gm)) {
        const type = m[2];
        const element = type.match(/^Array<(\w+)>$/)?.[1] ?? type.match(/^(\w+)$/)?.[1];
        fields.set(m[1], { file: element && imports.get(element), array: type.startsWith("Array<") });
      }
      result = fields;
    }
  }
  interfaces.set(file, result);
  return result;
}
function unknownFields(value, file, path, problems) {
  const fields = file && readInterface(file);
  if (!fields || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const field = fields.get(key);
    if (!field) {
      problems.push(`${path}.${key}: unknown field`);
      continue;
    }
    for (const [i, item] of (field.array && Array.isArray(v) ? v.entries() : [[null, v]])) {
      unknownFields(item, field.file, i === null ? `${path}.${key}` : `${path}.${key}[${i}]`, problems);
    }
  }
}
function declarationOf(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  return join(here, "node_modules/kubernetes-models", group, version, `${kind}.d.ts`);
}

function policy(doc, file) {
  const problems = [];
  if (doc.kind !== "Deployment") return problems;
  const pod = doc.spec.template.spec;
  const where = `${file}: ${doc.metadata.name}`;
  const sidecars = (pod.initContainers ?? []).filter((c) => String(c.image).startsWith("aws-spiffe-workload-helper"));
  if (sidecars.length !== 1) return [`${where}: no helper in initContainers`];
  const helper = sidecars[0];
  if (helper.restartPolicy !== "Always") problems.push(`${where}: the helper is not a native sidecar (restartPolicy: Always)`);
  const sc = helper.securityContext ?? {};
  const podSc = pod.securityContext ?? {};
  if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) problems.push(`${where}: runAsNonRoot is not set`);
  if ((sc.runAsUser ?? podSc.runAsUser) !== 65532) problems.push(`${where}: runAsUser is not 65532`);
  if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
  if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
  if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: capabilities are not all dropped`);
  if ((sc.seccompProfile ?? podSc.seccompProfile)?.type !== "RuntimeDefault") problems.push(`${where}: seccomp is not RuntimeDefault`);
  for (const probe of ["startupProbe", "readinessProbe"]) {
    if (helper[probe]?.httpGet?.path !== "/readyz") problems.push(`${where}: no ${probe} on /readyz`);
  }
  const port = helper.startupProbe?.httpGet?.port;
  const health = (helper.args ?? []).find((a) => a.startsWith("--health-addr="));
  const named = (helper.ports ?? []).find((p) => p.name === port || p.containerPort === port);
  if (!health || !named || !health.endsWith(`:${named.containerPort}`)) problems.push(`${where}: the probes' port is not the helper's --health-addr`);
  if (!helper.resources?.requests?.memory || !helper.resources?.limits?.memory) problems.push(`${where}: no memory request and limit`);
  const csi = (pod.volumes ?? []).find((v) => v.csi?.driver === "csi.spiffe.io");
  if (!csi || csi.csi.readOnly !== true) problems.push(`${where}: no read-only csi.spiffe.io volume`);
  const mounts = helper.volumeMounts ?? [];
  for (const m of mounts) {
    const v = (pod.volumes ?? []).find((x) => x.name === m.name);
    if (!v) problems.push(`${where}: mount ${m.name} has no volume`);
    else if (v.emptyDir && v.emptyDir.medium !== "Memory") problems.push(`${where}: ${m.name} is not a memory-backed emptyDir`);
  }
  const app = pod.containers[0];
  const env = Object.fromEntries((app.env ?? []).map((e) => [e.name, e.value]));
  if (helper.args?.[0]?.endsWith("-serve")) {
    const token = helper.args.find((a) => a.startsWith("--token-file="))?.split("=")[1];
    if (!env.AWS_CONTAINER_CREDENTIALS_FULL_URI?.startsWith("http://127.0.0.1:")) problems.push(`${where}: the app has no AWS_CONTAINER_CREDENTIALS_FULL_URI on loopback`);
    if (!token || env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE !== token) problems.push(`${where}: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is not the helper's --token-file`);
  } else {
    const path = helper.args.find((a) => a.startsWith("--aws-credentials-path="))?.split("=")[1];
    if (!path || env.AWS_SHARED_CREDENTIALS_FILE !== path) problems.push(`${where}: AWS_SHARED_CREDENTIALS_FILE is not the helper's --aws-credentials-path`);
  }
  return problems;
}

async function check(file) {
  const problems = [];
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const d of docs) {
    if (d.errors.length) {
      problems.push(`${file}: YAML: ${d.errors[0].message}`);
      continue;
    }
    const doc = d.toJS();
    if (doc === null) continue;
    if (doc.kind === "Kustomization") {
      for (const r of doc.resources ?? []) {
        if (!existsSync(join(dirname(file), r))) problems.push(`${file}: resource ${r} does not exist`);
      }
      continue;
    }
    const Model = await modelFor(doc.apiVersion, doc.kind);
    if (!Model) {
      problems.push(`${file}: unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      problems.push(`${file}: ${doc.kind} ${doc.metadata?.name}: ${e.message}`);
      continue;
    }
    const unknown = [];
    unknownFields(doc, declarationOf(doc.apiVersion, doc.kind), `${basename(file)}: ${doc.kind}`, unknown);
    if (!readInterface(declarationOf(doc.apiVersion, doc.kind))) unknown.push(`${file}: no type declaration for ${doc.kind}`);
    problems.push(...unknown);
    problems.push(...policy(doc, basename(file)));
  }
  return problems;
}

const args = process.argv.slice(2);
let failed = false;
if (args[0] === "--expect-invalid") {
  for (const file of args.slice(1)) {
    const problems = await check(file);
    if (problems.length === 0) {
      console.log(`FAIL: ${file} was accepted but is invalid`);
      failed = true;
    } else {
      console.log(`rejected as expected: ${problems[0]}`);
    }
  }
} else {
  const dir = args[0];
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort();
  let resources = 0;
  for (const f of files) {
    const problems = await check(join(dir, f));
    for (const p of problems) console.log(`FAIL: ${p}`);
    failed ||= problems.length > 0;
    resources += 1;
  }
  if (!failed) console.log(`${files.length} manifest files valid against the Kubernetes schemas and the deployment checks`);
}
process.exit(failed ? 1 : 0);
