#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's CommonJS hook: no build step between a clone and a command.
require('tsx/cjs');
require('../client/cli.ts').main();
