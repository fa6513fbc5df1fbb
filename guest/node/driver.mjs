// Drives the LightRAG engine component under Node.js: opens a workspace directory,
// ingests documents and answers queries, fulfilling the engine's model requests from
// an OpenAI-compatible endpoint. See ../README.md for the protocol it follows.
//
//   node driver.mjs DATA_DIR [ingest FILE]... [query MODE QUESTION]... [graph]
//
// Prints one JSON object: the documents processed, each query's context and data,
// and the graph. Models come from LightRAG's variables: LLM_BINDING_HOST, LLM_MODEL,
// LLM_BINDING_API_KEY, EMBEDDING_BINDING_HOST (default: the LLM's), EMBEDDING_MODEL,
// EMBEDDING_DIM. ENGINE_JS names the transpiled component (default ./out).
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { types as fsTypes } from '@bytecodealliance/preview2-shim/filesystem';

// Rust's std opens files for writing with `mutate-directory`, which the shim's Node
// filesystem refuses ("unsupported"); the flag changes nothing for a file, so drop it.
const openAt = fsTypes.Descriptor.prototype.openAt;
fsTypes.Descriptor.prototype.openAt = function (pathFlags, path, openFlags, flags) {
  return openAt.call(this, pathFlags, path, openFlags, { ...flags, mutateDirectory: false });
};

const env = process.env;
const [dataDir, ...commands] = process.argv.slice(2);
const llmHost = env.LLM_BINDING_HOST ?? 'http://localhost:11434/v1';
const embedHost = env.EMBEDDING_BINDING_HOST ?? llmHost;
const dim = Number(env.EMBEDDING_DIM ?? 1024);

// One instance per data directory, preopened at /data and nothing else.
const outDir = resolve(env.ENGINE_JS ?? new URL('./out', import.meta.url).pathname);
const { instantiate } = await import(pathToFileURL(`${outDir}/lightrag_engine.js`));
const shim = new WASIShim({ sandbox: { preopens: { '/data': resolve(dataDir) }, env: {}, args: [] } });
const compile = (file) => WebAssembly.compile(readFileSync(`${outDir}/${file}`));
const { engine } = await instantiate(compile, shim.getImportObject());

async function post(url, body) {
  const reply = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.LLM_BINDING_API_KEY ?? ''}` },
    body: JSON.stringify(body),
  });
  if (!reply.ok) throw new Error(`${url}: ${reply.status} ${await reply.text()}`);
  return reply.json();
}

// Fulfils one request; a provider's failure becomes the reply's error, as the engine expects.
async function fulfil({ id, request: { tag, val } }) {
  try {
    if (tag === 'complete') {
      const body = { model: env.LLM_MODEL ?? 'mock-llm', messages: val.messages };
      if (val.jsonMode) body.response_format = { type: 'json_object' };
      const text = (await post(`${llmHost}/chat/completions`, body)).choices[0].message.content;
      return { id, reply: { tag: 'completion', val: { tag: 'ok', val: text } } };
    }
    if (tag === 'embed') {
      const body = { model: env.EMBEDDING_MODEL ?? 'mock-embed', input: val.texts, encoding_format: 'float' };
      const vectors = (await post(`${embedHost}/embeddings`, body)).data.map((d) => Float32Array.from(d.embedding));
      return { id, reply: { tag: 'embedding', val: { tag: 'ok', val: vectors } } };
    }
    return { id, reply: { tag: 'ranking', val: { tag: 'err', val: 'no reranker configured' } } };
  } catch (error) {
    const kind = { complete: 'completion', embed: 'embedding' }[tag] ?? 'ranking';
    return { id, reply: { tag: kind, val: { tag: 'err', val: String(error.message) } } };
  }
}

// One line per request, to follow the protocol (LIGHTRAG_TRACE=1).
const describe = ({ id, request: { tag, val } }) =>
  `#${id} ${tag}(${tag === 'complete' ? val.purpose : tag === 'embed' ? `${val.kind}, ${val.texts.length} texts` : 'rerank'})`;

// Starts a task and answers its requests until it is done. One task at a time, so
// nothing waits on another task and `woken` stays empty.
async function run(task) {
  let [taskId, progress] = engine.start(task);
  for (;;) {
    const { tag, val } = progress.step;
    if (tag === 'done') return val;
    if (tag === 'failed') throw new Error(`task failed: ${JSON.stringify(val)}`);
    if (val.length === 0) throw new Error('a lone task is waiting with nothing asked');
    if (env.LIGHTRAG_TRACE) console.error(val.map(describe).join('  '));
    progress = engine.resume(taskId, await Promise.all(val.map(fulfil)));
  }
}

const defaults = {
  chunkSize: 1200, chunkOverlap: 100, cosineThreshold: 0.2, topK: 40, chunkTopK: 20,
  maxEntityTokens: 6000, maxRelationTokens: 8000, maxTotalTokens: 30000,
  enableLlmCache: true, enableLlmCacheForExtract: true, maxParallelInsert: 3,
  summaryLanguage: 'English',
  entityTypes: ['Person', 'Creature', 'Organization', 'Location', 'Event', 'Concept',
    'Method', 'Content', 'Data', 'Artifact', 'NaturalObject'],
  maxGleaning: 1, forceLlmSummaryOnMerge: 8, summaryMaxTokens: 1200, summaryContextSize: 12000,
  summaryLengthRecommended: 600, relatedChunkNumber: 5, minRerankScore: 0,
  diskQuotaBytes: 0n, queryCacheBytes: 0n, maxSourceIdsPerEntity: 200,
  maxSourceIdsPerRelation: 200, sourceIdsLimit: 'keep', maxFilePaths: 75,
  memoryLimitBytes: 0n, exactVectors: false, pdfDecryptPassword: undefined,
};
engine.open({
  ...defaults,
  workspace: basename(resolve(dataDir)),
  llmIdentity: `openai:${env.LLM_MODEL ?? 'mock-llm'}@${llmHost}`,
  // Must match the identity the vectors were stored under, or `open` refuses.
  embeddingIdentity: `openai:${env.EMBEDDING_MODEL ?? 'mock-embed'}/${dim}`,
  embeddingDim: dim,
}, undefined);

const result = { processed: [0, 0], queries: [] };
for (let i = 0; i < commands.length; i++) {
  if (commands[i] === 'ingest') {
    const file = commands[++i];
    engine.enqueue([{ content: readFileSync(file, 'utf8'), filePath: basename(file) }], 'node-driver');
    const { val } = await run({ tag: 'process-documents' });
    result.processed = result.processed.map((n, k) => n + val[k]);
  } else if (commands[i] === 'query') {
    const [mode, query] = [commands[++i], commands[++i]];
    const params = {
      query, mode, onlyNeedContext: true, onlyNeedPrompt: false, responseType: 'Multiple Paragraphs',
      hlKeywords: [], llKeywords: [], conversationHistory: [], stream: false,
      includeChunkContent: false, dataOnly: false, enableRerank: false,
    };
    const context = (await run({ tag: 'query', val: params })).val.response;
    const data = (await run({ tag: 'query', val: { ...params, dataOnly: true } })).val.data;
    result.queries.push({ mode, query, context, data });
  } else if (commands[i] === 'graph') {
    result.graph = engine.subgraph('*', 3, 1000);
  } else {
    throw new Error(`unknown command ${commands[i]}`);
  }
}
const page = { states: [], page: 1, pageSize: 1000, sort: 'file-path', descending: false };
result.documents = engine.documentsPage(page).documents;
engine.finalize();
process.stdout.write(JSON.stringify(result, (_, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');
