// Builds src/code_editor.js into one self-contained file: node build.mjs [outfile]
//
// The strict CSP (style-src 'self', no nonce: pages are cached and stored whole) blocks the
// <style> element that style-mod, CodeMirror's style injector, adds to a document. For shadow
// roots style-mod already uses a constructed style sheet (adoptedStyleSheets), which style-src
// does not govern; the plugin below makes it do the same for the document, which every browser
// the site supports can (Chromium 73+, Firefox 101+, Safari 16.4+). A browser without
// constructed sheets still gets the <style> fallback (blocked by the CSP: unstyled but usable).
// The build fails if style-mod's source no longer holds the line it patches.
import { build } from "esbuild";
import { readFile } from "node:fs/promises";

const CONDITION = "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet) {";
const PATCHED = "if (root.adoptedStyleSheets && win.CSSStyleSheet) {";

const constructedSheetsForDocuments = {
  name: "style-mod-constructed-sheets",
  setup(b) {
    b.onLoad({ filter: /style-mod[\\/]src[\\/]style-mod\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes(CONDITION)) {
        throw new Error("style-mod changed: review the constructed-sheet patch in build.mjs");
      }
      return { contents: source.replace(CONDITION, PATCHED), loader: "js" };
    });
  },
};

await build({
  entryPoints: ["src/code_editor.js"],
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "eof",
  logLevel: "warning",
  outfile: process.argv[2] || "../static/vendor/kb_code_editor.js",
  plugins: [constructedSheetsForDocuments],
});
