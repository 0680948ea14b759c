'use strict';
// Generated files are rewritten only when their text changes, so that make, webpack and tsc
// (which go by modification times) do not rebuild what a no-op generation touched.

const fs = require('fs');
const path = require('path');

/** Writes `text` to `file` unless it already holds exactly that; returns whether it wrote. */
function writeIfChanged(file, text) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return true;
}

module.exports = { writeIfChanged };
