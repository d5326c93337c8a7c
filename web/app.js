// The page: wires the form controls to the browser module (/dist/browser/simbert.js).
import * as simbert from '/dist/browser/simbert.js';
import { drawLineChart } from '/web/charts.js';

const $ = (id) => document.getElementById(id);
const DEFAULT_CORPUS = [
  '北京明天天气怎么样', '明天北京会下雨吗', '上海明天天气怎么样', '去火车站怎么走', '请问到火车站的路怎么走',
  '苹果多少钱一斤', '一斤苹果卖多少钱', '博物馆几点开门', '博物馆每天什么时候开放', '从北京到上海的高铁票怎么买',
  '北京到上海坐高铁要多久', '怎么做红烧肉', '红烧肉的做法是什么',
].join('\n');

let model = null;
let training = null;

function setStatus(id, text, kind = '') {
  const node = $(id);
  node.textContent = text;
  node.className = `status ${kind}`;
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function showGpu() {
  if (!model) return;
  const info = model.adapterInfo;
  const memory = model.memory();
  const mode = info.compatibility ? 'compatibility mode' : 'core';
  const subgroups = info.subgroupSize ? `subgroups of ${info.subgroupSize}` : 'no subgroups';
  setStatus('gpu-status', `GPU: ${info.kind} adapter (${info.description}), ${mode}, ${subgroups}; kernels: matmul ${info.matmul}, attention ${info.attention}. ` +
    `Memory held: ${formatBytes(memory.held)} of a ${formatBytes(memory.limit)} cap.`, 'ok');
}

function useModel(next, description) {
  if (model && model !== next) model.dispose();
  model = next;
  const config = next.config;
  setStatus('model-status', `Loaded ${description}: ${config.numHiddenLayers} layers, hidden size ${config.hiddenSize}, vocabulary ${config.vocabSize}.`, 'ok');
  $('search').disabled = false;
  $('generate').disabled = false;
  setStatus('search-status', 'Type a query and press Search.');
  setStatus('generate-status', 'Type a sentence and press Generate.');
  showGpu();
}

async function load(source, description) {
  setStatus('model-status', `Loading ${description}…`);
  try {
    useModel(await simbert.loadModel(source), description);
  } catch (error) {
    setStatus('model-status', error.message, 'error');
  }
}

$('url-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const url = $('model-url').value.trim();
  if (url === '') {
    setStatus('model-status', 'Give the URL of a model folder first.', 'error');
    return;
  }
  void load(new URL(url, location.href).href, url);
});

$('folder-input').addEventListener('change', () => {
  const files = [...$('folder-input').files];
  if (files.length > 0) void load(files, files[0].webkitRelativePath.split('/')[0] || 'the picked files');
});

/** Every File under the dropped entries (folders are walked). */
async function droppedFiles(items) {
  const files = [];
  const walk = async (entry) => {
    if (entry.isFile) files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of [...items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean)) await walk(entry);
  return files;
}

const dropZone = $('drop-zone');
dropZone.addEventListener('dragover', (event) => {
  event.preventDefault();
  dropZone.classList.add('over');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', async (event) => {
  event.preventDefault();
  dropZone.classList.remove('over');
  const files = await droppedFiles(event.dataTransfer.items);
  if (files.length > 0) void load(files, 'the dropped folder');
});

$('corpus').value = DEFAULT_CORPUS;
$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!model) return;
  const corpus = $('corpus').value.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const query = $('query').value.trim();
  const k = Number($('top-k').value) || 5;
  setStatus('search-status', 'Encoding…');
  $('search').disabled = true;
  try {
    const started = performance.now();
    const hits = await model.similar(query, corpus, { k });
    rankedList('results', hits);
    setStatus('search-status', `${corpus.length} sentences encoded and ranked by cosine similarity in ${((performance.now() - started) / 1000).toFixed(2)} s.`, 'ok');
  } catch (error) {
    $('results').replaceChildren();
    setStatus('search-status', error.message, 'error');
  } finally {
    $('search').disabled = false;
    showGpu();
  }
});

function rankedList(listId, rows) {
  $(listId).replaceChildren(...rows.map(({ score, text }) => {
    const item = document.createElement('li');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(0, score) * 6}rem`;
    const value = document.createElement('span');
    value.className = 'score';
    value.textContent = score.toFixed(4);
    item.append(bar, value, document.createTextNode(text));
    return item;
  }));
}

$('generate-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!model) return;
  const text = $('generate-text').value.trim();
  const n = Number($('generate-n').value) || 50;
  const k = Math.min(Number($('generate-k').value) || 10, n);
  setStatus('generate-status', `Sampling ${n} sentences…`);
  $('generate').disabled = true;
  try {
    const result = await model.generate(text, { n, k });
    rankedList('paraphrases', result.candidates.map((c) => ({ score: c.cosine, text: c.text })));
    setStatus('generate-status', `${result.candidates.length} paraphrases, ranked by cosine with the sentence, in ${result.seconds.toFixed(2)} s.`, 'ok');
  } catch (error) {
    $('paraphrases').replaceChildren();
    setStatus('generate-status', error.message, 'error');
  } finally {
    $('generate').disabled = false;
    showGpu();
  }
});

/** Loss per step and accuracy per epoch from metrics records (trainDemo's, or a metrics.jsonl's). */
function drawMetrics(records) {
  const steps = records.filter((r) => typeof r.step === 'number' && typeof r.loss === 'number');
  const epochs = records.filter((r) => typeof r.epoch === 'number' && 'accuracy' in r && r.step === undefined);
  drawLineChart($('loss-chart'), [
    { name: 'total', points: steps.map((r) => [r.step, r.loss]) },
    { name: 'seq2seq', points: steps.map((r) => [r.step, r.seq2seq_loss]) },
    { name: 'similarity', points: steps.map((r) => [r.step, r.similarity_loss]) },
  ], { xLabel: 'step' });
  drawLineChart($('accuracy-chart'), [
    { name: 'accuracy', points: epochs.map((r) => [r.epoch, r.accuracy]) },
    { name: 'AUC', points: epochs.map((r) => [r.epoch, r.auc]) },
  ], { xLabel: 'epoch', yRange: [0, 1] });
}
drawMetrics([]);

$('train-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (training) return;
  const epochs = Number($('train-epochs').value) || 3;
  const maxSteps = Number($('train-steps').value) || undefined;
  const records = [];
  training = new AbortController();
  $('train-start').disabled = true;
  $('train-stop').disabled = false;
  setStatus('train-status', 'Preparing the demo data and model…');
  try {
    const result = await simbert.trainDemo({ epochs, maxSteps, signal: training.signal }, (event) => {
      records.push(event.record);
      drawMetrics(records);
      if (event.kind === 'step') {
        setStatus('train-status', `step ${event.record.step} of ${event.totalSteps}: loss ${event.record.loss.toFixed(4)} ` +
          `(seq2seq ${event.record.seq2seq_loss.toFixed(4)}, similarity ${event.record.similarity_loss.toFixed(4)}), ${event.record.seconds.toFixed(2)} s/step`);
      } else {
        setStatus('train-status', `epoch ${event.record.epoch}: test accuracy ${event.record.accuracy?.toFixed(4)}, AUC ${event.record.auc?.toFixed(4)}`);
      }
    });
    useModel(result.model, 'the demo model trained in this page');
    setStatus('train-status', `${result.stopped ? 'Stopped' : 'Done'} after ${result.steps} steps` +
      (result.accuracy === null ? '.' : `; test accuracy ${result.accuracy.toFixed(4)}.`) + ' Try a query above.', 'ok');
  } catch (error) {
    setStatus('train-status', error.message, 'error');
  } finally {
    training = null;
    $('train-start').disabled = false;
    $('train-stop').disabled = true;
  }
});
$('train-stop').addEventListener('click', () => training?.abort());

$('metrics-input').addEventListener('change', async () => {
  const file = $('metrics-input').files[0];
  if (!file) return;
  const records = [];
  const lines = (await file.text()).split('\n');
  let bad = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      bad++;
    }
  }
  drawMetrics(records);
  const steps = records.filter((r) => typeof r.step === 'number').length;
  const note = `${file.name}: ${steps} steps, ${records.length - steps} evaluations` + (bad ? `; ${bad} lines were not JSON and were skipped` : '');
  $('metrics-status').textContent = note;
  $('metrics-status').className = bad ? 'status error' : 'status ok';
});
