/**
 * The engine in a web page: load a model folder (a base URL or the Files of a picked folder),
 * encode texts into the CLI's pooled vectors, search a corpus, and train the CLI's demo, all on
 * the visitor's GPU through navigator.gpu. Built into dist/browser/simbert.js by scripts/build-browser.mjs.
 */
export { openEngine, type EngineOptions } from './engine.js';
export {
  BrowserModel, loadModel, type EncodeOptions, type ParaphraseOptions, type SimilarHit, type SimilarOptions,
} from './browser-model.js';
export { trainDemo, type EpochRecord, type StepRecord, type TrainDemoEvent, type TrainDemoOptions, type TrainDemoResult } from './train-demo.js';
export type { AdapterInfo } from './adapter-info.js';
export type { BertConfig } from '../model/config.js';
export type { GenerateResult } from '../generate/generate.js';
