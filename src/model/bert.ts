import { unilmAttention, type AttentionMask } from '../autograd/ops/attention.js';
import { dropout } from '../autograd/ops/dropout.js';
import { add } from '../autograd/ops/elementwise.js';
import { embedding } from '../autograd/ops/embedding.js';
import { softmaxCrossEntropy, similarityLoss } from '../autograd/ops/losses.js';
import { linear } from '../autograd/ops/matmul.js';
import { layerNorm } from '../autograd/ops/normalization.js';
import { reshape } from '../autograd/ops/shape.js';
import type { Tensor } from '../autograd/tensor.js';
import type { BertConfig } from './config.js';
import type { BertWeights } from './parameters.js';

export const LAYER_NORM_EPS = 1e-12;
export const SIMILARITY_SCALE = 30;

/** A padded batch: row-major [batch, seqLen] token and segment ids (padding is id 0, segment 0). */
export interface BertBatch {
  batch: number;
  seqLen: number;
  tokenIds: ArrayLike<number>;
  segmentIds: ArrayLike<number>;
}

export interface ForwardOptions {
  /** Dropout is active only in training. */
  training: boolean;
  /** Seed of this step's dropout masks. */
  seed?: number;
  /** Overrides the config's dropout probabilities (parity tests use 0). */
  dropout?: number;
  /** Keep the output of the embeddings and of every layer (for debugging and parity tests). */
  collectHiddenStates?: boolean;
  /**
   * Only the pooled vectors are wanted: the last layer's attention output, FFN and LayerNorms run
   * on the [CLS] rows alone (all the pooler reads; the same values, a quarter less work for a
   * 3-layer encoder), and `sequence` holds just those rows.
   */
  pooledOnly?: boolean;
}

export interface Encoded {
  /** [batch, seqLen, hidden]; with pooledOnly, the [CLS] rows [batch, hidden] */
  sequence: Tensor;
  /** The linear pooler on [CLS]: [batch, hidden] */
  pooled: Tensor;
  hiddenStates: Tensor[];
}

export interface SimBertLosses {
  total: Tensor;
  seq2seq: Tensor;
  similarity: Tensor;
}

/**
 * BERT with bert4keras's UniLM mask, linear pooler and tied MLM head, and the SimBERT loss.
 * Model code is written in ops on tensors only.
 */
export class SimBert {
  constructor(
    readonly config: BertConfig,
    readonly weights: BertWeights,
    /**
     * Every dense layer's kernel is stored [out, in] instead of TensorFlow's [in, out]: the
     * layout the matmul reads fastest as its second operand (see src/model/inference.ts).
     */
    readonly transposedKernels = false,
  ) {}

  get vocabSize(): number {
    return this.weight('bert/embeddings/word_embeddings').shape[0];
  }

  weight(name: string): Tensor {
    const tensor = this.weights.get(name);
    if (!tensor) throw new Error(`model has no weight ${name}`);
    return tensor;
  }

  encode(batch: BertBatch, options: ForwardOptions): Encoded {
    const { config } = this;
    const { batch: rows, seqLen } = batch;
    if (seqLen > config.maxPositionEmbeddings) {
      throw new Error(`sequence length ${seqLen} exceeds max_position_embeddings ${config.maxPositionEmbeddings}`);
    }
    const hiddenRate = options.training ? (options.dropout ?? config.hiddenDropoutProb) : 0;
    const attentionRate = options.training ? (options.dropout ?? config.attentionProbsDropoutProb) : 0;
    let seed = (options.seed ?? 0) * 1000;
    const nextSeed = () => seed++;

    const positions = Array.from({ length: rows * seqLen }, (_, i) => i % seqLen);
    let x = this.embed(batch.tokenIds, positions, batch.segmentIds, [rows, seqLen]);
    x = dropout(x, hiddenRate, nextSeed());
    const hiddenStates = options.collectHiddenStates ? [x] : [];

    const mask: AttentionMask = { batch: rows, seqLen, tokenIds: batch.tokenIds, segmentIds: batch.segmentIds };
    const clsRows = Array.from({ length: rows }, (_, b) => b * seqLen);
    const clsOf = (t: Tensor) => embedding(reshape(t, [rows * seqLen, config.hiddenSize]), clsRows, [rows]);
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      const { q, k, v } = this.queryKeyValue(layer, x);
      const attentionDropout = attentionRate > 0 ? { rate: attentionRate, seed: nextSeed() } : undefined;
      let context = unilmAttention(q, k, v, config.numAttentionHeads, mask, attentionDropout);
      if (options.pooledOnly && layer === config.numHiddenLayers - 1) {
        context = clsOf(context);
        x = clsOf(x);
      }
      x = this.layerOutput(layer, x, context, hiddenRate, nextSeed);
      if (options.collectHiddenStates) hiddenStates.push(x);
    }

    const cls = options.pooledOnly && config.numHiddenLayers > 0 ? x : clsOf(x);
    const pooled = this.dense(cls, 'bert/pooler/dense');
    return { sequence: x, pooled, hiddenStates };
  }

  /** The embeddings LayerNorm of word + position + token-type embeddings; ids are host values of `shape`. */
  embed(tokenIds: ArrayLike<number>, positions: ArrayLike<number>, segmentIds: ArrayLike<number>, shape: readonly number[]): Tensor {
    const x = add(
      add(embedding(this.weight('bert/embeddings/word_embeddings'), tokenIds, shape), embedding(this.weight('bert/embeddings/position_embeddings'), positions, shape)),
      embedding(this.weight('bert/embeddings/token_type_embeddings'), segmentIds, shape),
    );
    return layerNorm(x, this.weight('bert/embeddings/LayerNorm/gamma'), this.weight('bert/embeddings/LayerNorm/beta'), LAYER_NORM_EPS);
  }

  /** A layer's query, key and value projections of x [..., hidden]. */
  queryKeyValue(layer: number, x: Tensor): { q: Tensor; k: Tensor; v: Tensor } {
    const prefix = `bert/encoder/layer_${layer}/attention/self`;
    return { q: this.dense(x, `${prefix}/query`), k: this.dense(x, `${prefix}/key`), v: this.dense(x, `${prefix}/value`) };
  }

  /**
   * A layer after its attention: output projection, residual and LayerNorm, FFN, residual and
   * LayerNorm; dropout at `hiddenRate` after the projection and the FFN (seeds from nextSeed).
   */
  layerOutput(layer: number, x: Tensor, context: Tensor, hiddenRate = 0, nextSeed: () => number = () => 0): Tensor {
    const w = (name: string) => this.weight(`bert/encoder/layer_${layer}/${name}`);
    const prefix = `bert/encoder/layer_${layer}`;
    let attended = this.dense(context, `${prefix}/attention/output/dense`);
    attended = dropout(attended, hiddenRate, nextSeed());
    const y = layerNorm(add(x, attended), w('attention/output/LayerNorm/gamma'), w('attention/output/LayerNorm/beta'), LAYER_NORM_EPS);
    const inner = this.dense(y, `${prefix}/intermediate/dense`, 'gelu');
    let ffn = this.dense(inner, `${prefix}/output/dense`);
    ffn = dropout(ffn, hiddenRate, nextSeed());
    return layerNorm(add(y, ffn), w('output/LayerNorm/gamma'), w('output/LayerNorm/beta'), LAYER_NORM_EPS);
  }

  /** The dense layer `name` (its `kernel` and `bias`) on x [..., in]. */
  private dense(x: Tensor, name: string, activation: 'none' | 'gelu' = 'none'): Tensor {
    return linear(x, this.weight(`${name}/kernel`), this.weight(`${name}/bias`), activation, this.transposedKernels);
  }

  /** MLM logits for hidden states [..., hidden] -> [..., vocab]: dense+GELU, LayerNorm, tied embeddings, bias. */
  mlmLogits(hidden: Tensor): Tensor {
    const h = layerNorm(
      this.dense(hidden, 'cls/predictions/transform/dense', 'gelu'),
      this.weight('cls/predictions/transform/LayerNorm/gamma'),
      this.weight('cls/predictions/transform/LayerNorm/beta'),
      LAYER_NORM_EPS,
    );
    // The output layer is tied to the token embedding table [vocab, hidden].
    return linear(h, this.weight('bert/embeddings/word_embeddings'), this.weight('cls/predictions/output_bias'), 'none', true);
  }

  /**
   * SimBERT's loss: seq2seq cross-entropy predicting token t+1 from position t wherever
   * segment[t+1] = 1 (only those positions go through the MLM head), plus the in-batch
   * similarity loss of the pooled vectors (rows 2k and 2k+1 are a pair).
   */
  loss(batch: BertBatch, options: ForwardOptions): SimBertLosses & Encoded {
    const encoded = this.encode(batch, options);
    const { batch: rows, seqLen } = batch;
    const positions: number[] = [];
    const targets: number[] = [];
    for (let b = 0; b < rows; b++) {
      for (let t = 0; t + 1 < seqLen; t++) {
        if (batch.segmentIds[b * seqLen + t + 1] === 1) {
          positions.push(b * seqLen + t);
          targets.push(batch.tokenIds[b * seqLen + t + 1]);
        }
      }
    }
    if (positions.length === 0) throw new Error('the batch has no second-segment tokens to predict');
    const flat = reshape(encoded.sequence, [rows * seqLen, this.config.hiddenSize]);
    const predicting = embedding(flat, positions, [positions.length]);
    const seq2seq = softmaxCrossEntropy(this.mlmLogits(predicting), targets);
    const similarity = similarityLoss(encoded.pooled, SIMILARITY_SCALE);
    return { ...encoded, total: add(seq2seq, similarity), seq2seq, similarity };
  }
}
