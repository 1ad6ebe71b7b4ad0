'use strict';
// Where the shared test data lives: ../shared beside the repository, or $RWKV_SHARED_DIR.
const path = require('path');

const shared = process.env.RWKV_SHARED_DIR || path.join(__dirname, '..', '..', 'shared');
const tiny = (stem) => path.join(shared, 'models', 'tiny', `${stem}.bin`);
const vocab = (file) => path.join(shared, 'vocab', file);

module.exports = { shared, tiny, vocab };
