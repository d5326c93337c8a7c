import { browserTests } from './scenarios.js';

browserTests('swiftshader');
