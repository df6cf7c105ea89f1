// Preloaded by pack.sh (node -r): at exit, writes every file this process loaded through require
// (JavaScript, JSON and native .node files) to $MTLKIT_TRACE_FILE, one absolute path a line.
const fs = require("fs");
const out = process.env.MTLKIT_TRACE_FILE;
if (out) {
  process.on("exit", () => {
    fs.appendFileSync(out, Object.keys(require.cache).join("\n") + "\n");
  });
}
