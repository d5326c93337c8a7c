import { browserTests } from './scenarios.js';

browserTests('compat');
