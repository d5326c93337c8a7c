import { Tokenizer } from '../model/tokenizer.js';
import { loadTestPairs } from '../node/data-files.js';
import { wordPieceCounter, type LabelKind } from '../train/data.js';
import { evaluatePairs } from '../train/encode.js';
import { metricsRecord, type SimilarityEvaluation } from '../train/metrics.js';
import { writeFileAtomically } from '../node/npy-file.js';
import { requireFlag, UsageError, type CommandSpec, type ParsedArgs } from './args.js';
import type { Command } from './command.js';
import { BATCH_SIZE_FLAG, batchSizeFlag, checkOutputDirectory, encodingProgress } from './encoding-support.js';
import { fitMaxlen, instantiateForInference, loadModelFromFlags, maxlenFlag, MEMORY_FLAG, MODEL_FLAGS, openGpu } from './model-flags.js';

const LABEL_KINDS: readonly LabelKind[] = ['auto', 'binary', 'graded'];

/** The metrics object `eval` prints, with the key names of the trainer's metrics log. */
export function metricsJson(metrics: SimilarityEvaluation): Record<string, number | null> {
  return {
    ...metricsRecord(metrics),
    pairs: metrics.pairs,
    positives: metrics.positives,
  };
}

const spec: CommandSpec = {
  name: 'eval',
  summary: 'evaluate a model on labelled text pairs and print the metrics as one JSON object',
  usage: 'node dist/cli eval (--model DIR | --config FILE --checkpoint PREFIX --vocab FILE) --test FILE [--threshold 0.8]',
  details: [
    'Each line of --test is text1<TAB>text2<TAB>label, label 0/1 or a 0..5 score (graded sets such as',
    'STS-B: a fractional score, or scores other than 0/1 on at least 5% of the pairs; a stray integer',
    'such as 2 among 0/1 labels is an error naming its line). Every text is encoded alone and each',
    'pair scored by the cosine of the pooled vectors.',
    'stdout gets one JSON object:',
    '  {"accuracy", "threshold", "best_threshold", "best_threshold_accuracy", "auc", "spearman",',
    '   "pairs", "positives"}',
    'accuracy counts a pair similar when cosine > threshold; best_threshold is the threshold with the',
    'highest accuracy on this set. For graded labels a score above 2.5 counts as positive for accuracy',
    'and AUC, and spearman uses the scores themselves. A metric that is undefined (AUC with one',
    'class only, a correlation with a constant side) is null.',
  ].join('\n'),
  flags: [
    ...MODEL_FLAGS,
    { name: 'test', kind: 'string', help: 'labelled pairs text1<TAB>text2<TAB>label', placeholder: 'FILE' },
    { name: 'threshold', kind: 'number', help: 'cosine above which a pair counts as similar', default: 0.8, placeholder: 'X' },
    { name: 'labels', kind: 'string', help: 'auto detects binary (all 0/1) or graded labels; binary or graded insists', default: 'auto', placeholder: 'auto|binary|graded' },
    { name: 'scores', kind: 'string', help: 'also write each pair\'s cosine to FILE, one per line in test-file order', placeholder: 'FILE' },
    BATCH_SIZE_FLAG,
    MEMORY_FLAG,
  ],
};

async function run(args: ParsedArgs): Promise<number> {
  const testPath = requireFlag<string>(args, 'test', spec.name);
  const labels = args.flags.labels as string;
  if (!(LABEL_KINDS as readonly string[]).includes(labels)) {
    throw new UsageError(`--labels must be one of ${LABEL_KINDS.join(', ')}, got '${labels}'`, spec.name);
  }
  const threshold = args.flags.threshold as number;
  const batchSize = batchSizeFlag(args, spec.name);
  const maxlen = maxlenFlag(args, spec.name);
  const scoresPath = args.flags.scores as string | undefined;
  if (scoresPath !== undefined) checkOutputDirectory(scoresPath);

  const loaded = await loadModelFromFlags(args, spec.name);
  const { pairs, graded } = loadTestPairs(testPath, wordPieceCounter(new Tokenizer(loaded.vocab)), labels as LabelKind);
  await openGpu(args);
  const { model, tokenizer } = instantiateForInference(loaded);
  const { scores, metrics } = await evaluatePairs(model, tokenizer, pairs, {
    maxlen: fitMaxlen(maxlen, loaded), batchSize, threshold, graded, onProgress: encodingProgress('encoded'),
  });
  if (scoresPath !== undefined) {
    writeFileAtomically(scoresPath, scores.map((score) => `${score}\n`).join(''));
    console.error(`wrote ${scoresPath}: ${scores.length} scores`);
  }
  console.log(JSON.stringify(metricsJson(metrics)));
  return 0;
}

export const evalCommand: Command = { spec, run };
