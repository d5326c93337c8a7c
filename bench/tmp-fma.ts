import { initNodeEngine } from '../src/node/gpu.js';
import { benchFmaCeiling } from './fma.js';
await initNodeEngine();
console.log(JSON.stringify(await benchFmaCeiling()));
process.exit(0);
