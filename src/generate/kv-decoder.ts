import { activeGpu } from '../autograd/engine.js';
import { cachedAttention, copyInto, scatterRows, type CachedRow, type LayerCache } from '../autograd/ops/decoding.js';
import { embedding } from '../autograd/ops/embedding.js';
import { unilmAttention } from '../autograd/ops/attention.js';
import { reshape } from '../autograd/ops/shape.js';
import { noGrad } from '../autograd/tape.js';
import { keep, scope, Tensor } from '../autograd/tensor.js';
import type { SimBert } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';

/** One row of a decoding step: which input it continues, its cache slot, and the token it feeds. */
export interface StepRow {
  input: number;
  slot: number;
  token: number;
}

/** Bytes of key/value cache one decoding row holds per generated token: keys and values of every layer. */
export function cacheBytesPerToken(config: Pick<BertConfig, 'numHiddenLayers' | 'hiddenSize'>): number {
  return 2 * config.numHiddenLayers * config.hiddenSize * 4;
}

/**
 * UniLM decoding with every layer's keys and values cached on the GPU. Each source
 * `[CLS] text [SEP]` (segment 0) is run once (prefill); its keys and values are shared by every
 * row that continues it. A row then feeds one token per step (segment 1, the next position) and
 * attends to its source's keys and to the keys it generated, which is exactly what the full
 * sequence computes: under the UniLM mask no source position sees a generated one.
 *
 * Generated keys live in `slots` slots of `maxGen` rows each, counted against the GPU memory cap
 * like every tensor; `reorder` moves them when beam search changes which row continues which.
 * Slots are split into pages of `pageSlots` so that no cache tensor passes the storage binding
 * limit; the rows of one step must share a page.
 */
export class KvDecoder {
  readonly srcStarts: number[] = [];
  readonly srcLens: number[];
  private readonly srcK: Tensor[] = [];
  private readonly srcV: Tensor[] = [];
  /** Per layer, per page, [pageSlots, maxGen * hidden]. */
  private genK: Tensor[][] = [];
  private genV: Tensor[][] = [];
  private readonly hidden: number;
  readonly pageSlots: number;

  constructor(
    private readonly model: SimBert,
    private readonly sources: readonly (readonly number[])[],
    slots: number,
    readonly maxGen: number,
    /** Most bytes of one cache page (default: the GPU's storage binding limit). */
    maxPageBytes = activeGpu().maxBindingBytes,
  ) {
    const { config } = model;
    this.hidden = config.hiddenSize;
    this.srcLens = sources.map((ids) => ids.length);
    let start = 0;
    for (const length of this.srcLens) {
      this.srcStarts.push(start);
      start += length;
    }
    const longest = Math.max(...this.srcLens);
    if (longest + maxGen > config.maxPositionEmbeddings) {
      throw new Error(`a source of ${longest} tokens plus ${maxGen} generated ones passes max_position_embeddings ${config.maxPositionEmbeddings}`);
    }
    const slotBytes = maxGen * this.hidden * 4;
    this.pageSlots = Math.floor(maxPageBytes / slotBytes);
    if (this.pageSlots < 1) throw new Error(`${maxGen} cached tokens of hidden size ${this.hidden} pass the GPU's storage binding limit`);
    const pages = Array.from({ length: Math.ceil(slots / this.pageSlots) }, (_, p) => Math.min(this.pageSlots, slots - p * this.pageSlots));
    try {
      for (let layer = 0; layer < config.numHiddenLayers; layer++) {
        this.srcK.push(keep(Tensor.empty([start, this.hidden], `source keys ${layer}`)));
        this.srcV.push(keep(Tensor.empty([start, this.hidden], `source values ${layer}`)));
        this.genK.push(pages.map((count) => keep(Tensor.empty([count, maxGen * this.hidden], `generated keys ${layer}`))));
        this.genV.push(pages.map((count) => keep(Tensor.empty([count, maxGen * this.hidden], `generated values ${layer}`))));
      }
    } catch (error) {
      this.release();
      throw error;
    }
  }

  /** Runs every source once, filling the source cache; returns the logits at each source's [SEP], [inputs, vocab]. */
  prefill(): Tensor {
    const { model } = this;
    const vocab = model.vocabSize;
    const logits = Tensor.empty([this.sources.length, vocab], 'prefill logits');
    noGrad(() => this.sources.forEach((ids, input) => scope(() => {
      const length = ids.length;
      const zeros = new Array<number>(length).fill(0);
      let x = model.embed(ids, ids.map((_, t) => t), zeros, [1, length]);
      const mask = { batch: 1, seqLen: length, tokenIds: ids, segmentIds: zeros };
      for (let layer = 0; layer < model.config.numHiddenLayers; layer++) {
        const { q, k, v } = model.queryKeyValue(layer, x);
        copyInto(k, this.srcK[layer], this.srcStarts[input] * this.hidden);
        copyInto(v, this.srcV[layer], this.srcStarts[input] * this.hidden);
        x = model.layerOutput(layer, x, unilmAttention(q, k, v, model.config.numAttentionHeads, mask));
      }
      const last = embedding(reshape(x, [length, this.hidden]), [length - 1], [1]);
      copyInto(model.mlmLogits(last), logits, input * vocab);
    })));
    return logits;
  }

  /**
   * Feeds each row's token as generated token `t` (position srcLen + t, segment 1), writing its
   * keys and values to slot row t, and returns the last layer's hidden states [groups, hidden].
   * The rows of one group continue the same input with the same generated tokens (this step's
   * included), so their caches hold the same keys: the group is computed once, from its first
   * row's cache, and its keys and values are written to every member's slot.
   */
  step(groups: readonly (readonly StepRow[])[], t: number): Tensor {
    const { model } = this;
    if (t < 0 || t >= this.maxGen) throw new Error(`decoder step ${t} is outside the cache of ${this.maxGen} tokens`);
    const rows = groups.flat();
    const page = this.pageOf(rows[0].slot);
    if (rows.some((row) => this.pageOf(row.slot) !== page)) throw new Error('the rows of a decoder step must share a cache page');
    if (groups.some((group) => group.length === 0 || group.some((row) => row.input !== group[0].input || row.token !== group[0].token))) {
      throw new Error('a decoder step group must be rows of one input feeding one token');
    }
    const firsts = groups.map((group) => group[0]);
    const shared = rows.length > groups.length;
    const groupOfRow = groups.flatMap((group, g) => group.map(() => g));
    return noGrad(() => scope(() => {
      const local = (row: StepRow) => row.slot - page * this.pageSlots;
      const cached: CachedRow[] = firsts.map((row) => ({ srcStart: this.srcStarts[row.input], srcLen: this.srcLens[row.input], genStart: local(row) * this.maxGen }));
      const targets = rows.map((row) => local(row) * this.maxGen + t);
      const toEveryRow = (x: Tensor) => (shared ? embedding(x, groupOfRow, [rows.length]) : x);
      let x = model.embed(firsts.map((row) => row.token), firsts.map((row) => this.srcLens[row.input] + t), firsts.map(() => 1), [firsts.length]);
      for (let layer = 0; layer < model.config.numHiddenLayers; layer++) {
        const cache: LayerCache = {
          srcK: this.srcK[layer],
          srcV: this.srcV[layer],
          genK: this.genK[layer][page].view([this.genK[layer][page].shape[0] * this.maxGen, this.hidden]),
          genV: this.genV[layer][page].view([this.genV[layer][page].shape[0] * this.maxGen, this.hidden]),
        };
        const { q, k, v } = model.queryKeyValue(layer, x);
        scatterRows(toEveryRow(k), cache.genK, targets);
        scatterRows(toEveryRow(v), cache.genV, targets);
        x = model.layerOutput(layer, x, cachedAttention(q, cache, cached, model.config.numAttentionHeads, t + 1));
      }
      return x;
    }));
  }

  /** The cache page that holds a slot. */
  pageOf(slot: number): number {
    return Math.floor(slot / this.pageSlots);
  }

  /** MLM logits [count, vocab] of rows start..start+count-1 of hidden states [rows, hidden]. */
  logits(hidden: Tensor, start: number, count: number): Tensor {
    return noGrad(() => scope(() => {
      const rows = start === 0 && count === hidden.shape[0] ? hidden : embedding(hidden, Array.from({ length: count }, (_, i) => start + i), [count]);
      return this.model.mlmLogits(rows);
    }));
  }

  /** The most rows whose logits fit one storage binding. */
  maxLogitRows(): number {
    return Math.max(1, Math.floor(activeGpu().maxBindingBytes / (this.model.vocabSize * 4)));
  }

  /**
   * Slot i takes the generated keys and values that slot parents[i] holds (beam search); other
   * slots are dropped. Needs every slot on one page.
   */
  reorder(parents: readonly number[]): void {
    if (this.genK[0]?.length > 1) throw new Error('beam search needs its rows on one cache page; decode fewer inputs at once');
    noGrad(() => {
      const gather = (cache: Tensor[][]) => cache.map(([t]) => {
        const moved = keep(embedding(t, parents, [parents.length]));
        t.release();
        return [moved];
      });
      this.genK = gather(this.genK);
      this.genV = gather(this.genV);
    });
  }

  release(): void {
    for (const t of [...this.srcK, ...this.srcV, ...this.genK.flat(), ...this.genV.flat()]) t.release();
  }
}
