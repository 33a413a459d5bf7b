// The shared code editor (CodeMirror 6), built into static/vendor/kb_code_editor.js.
//
// window.KBCodeEditor.attach(textarea, options) turns a <textarea> into an editor while the
// textarea stays the form's source of truth: every change is written back to it (and an
// "input" event fired on it), so a form posts exactly what a plain textarea would, and the
// page works unchanged without JavaScript.
//
// options:
//   language     "python" | "answer-markdown" (Markdown; Python inside ```python run fences)
//   cellOptions  [{name, values: [..], info}] completed on a ```python run fence line
//   check        async (text) => [{line, message}]: problems marked on their line (debounced)
//   onChange     (text) => void, after each change
//   label        the accessible name of the editing area (default: the textarea's label)
//
// Styles: CodeMirror adds its theme as a constructed style sheet (adoptedStyleSheets), which
// the CSP's style-src does not govern; where a browser lacks those it falls back to a
// <style> element, which carries the nonce given in options.cspNonce (none is needed here).
import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import {
  syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, Language,
  LanguageSupport,
} from "@codemirror/language";
import { markdownLanguage, markdownKeymap } from "@codemirror/lang-markdown";
import { parseCode } from "@lezer/markdown";
import { python, pythonLanguage } from "@codemirror/lang-python";
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { linter, lintGutter, lintKeymap, forceLinting } from "@codemirror/lint";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";

const CELL_FENCE = /^ {0,3}(`{3,}|~{3,})\s*python\s+run\b/;

function cellLanguage(info) {
  const words = (info || "").trim().split(/\s+/);
  return words[0] === "python" ? pythonLanguage : null;
}

// Markdown (GFM) with Python parsed inside python fences. Built from the parts rather than
// with lang-markdown's markdown(), which also bundles the HTML, CSS and JavaScript grammars
// for inline HTML: a third of the bundle for highlighting an answer never needs.
function answerMarkdown() {
  const parser = markdownLanguage.parser.configure([
    parseCode({ codeParser: (info) => (cellLanguage(info) ? pythonLanguage.parser : null) }),
  ]);
  const language = new Language(markdownLanguage.data, parser, [], "markdown");
  return new LanguageSupport(language, [keymap.of(markdownKeymap)]);
}

// Completes cell options on a ```python run fence line: the name (as "name="), then its value.
function cellOptionCompletion(cellOptions) {
  return (context) => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    if (!CELL_FENCE.test(before)) return null;
    const word = context.matchBefore(/[A-Za-z_]+=?[^\s=]*$/);
    if (word && word.text.includes("=")) {
      const name = word.text.slice(0, word.text.indexOf("="));
      const option = cellOptions.find((o) => o.name === name);
      if (!option || !option.values || !option.values.length) return null;
      return {
        from: word.from + name.length + 1,
        options: option.values.map((v) => ({ label: v, type: "constant" })),
        validFor: /^[^\s=]*$/,
      };
    }
    const at = context.matchBefore(/[A-Za-z_]*$/);
    if (!at || (at.from === at.to && !context.explicit && !/\s$/.test(before))) return null;
    if (/\brun$/.test(before)) return null;
    const given = new Set((before.match(/[A-Za-z_]+(?==)/g) || []));
    return {
      from: at.from,
      options: cellOptions.filter((o) => !given.has(o.name)).map((o) => ({
        label: o.name + "=", type: "property", info: o.info || undefined,
      })),
      validFor: /^[A-Za-z_]*=?$/,
    };
  };
}

function problemsLinter(check) {
  return linter(async (view) => {
    const text = view.state.doc.toString();
    let problems;
    try {
      problems = await check(text);
    } catch (_error) {
      return [];
    }
    if (view.state.doc.toString() !== text) return [];
    const doc = view.state.doc;
    return (problems || []).filter((p) => p.line >= 1).map((p) => {
      const line = doc.line(Math.min(p.line, doc.lines));
      return { from: line.from, to: line.to, severity: "error", message: p.message };
    });
  }, { delay: 400 });
}

function labelOf(textarea) {
  if (textarea.labels && textarea.labels.length) return textarea.labels[0].textContent.trim();
  return textarea.getAttribute("aria-label") || textarea.name || "Code";
}

function attach(textarea, options = {}) {
  const language = options.language || "python";
  const extensions = [
    lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(),
    drawSelection(), indentOnInput(), bracketMatching(), closeBrackets(), highlightActiveLine(),
    highlightSelectionMatches(), syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    EditorView.lineWrapping,
    keymap.of([
      ...closeBracketsKeymap, ...defaultKeymap, ...searchKeymap, ...historyKeymap,
      ...completionKeymap, ...lintKeymap,
    ]),
    EditorView.contentAttributes.of({ "aria-label": options.label || labelOf(textarea) }),
    EditorView.updateListener.of((update) => {
      if (!update.docChanged) return;
      textarea.value = update.state.doc.toString();
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
      if (options.onChange) options.onChange(textarea.value);
    }),
  ];
  if (language === "answer-markdown") {
    extensions.push(answerMarkdown());
    if (options.cellOptions && options.cellOptions.length) {
      extensions.push(autocompletion({ override: [cellOptionCompletion(options.cellOptions)] }));
    }
  } else {
    extensions.push(python(), autocompletion());
  }
  if (options.check) extensions.push(lintGutter(), problemsLinter(options.check));
  if (options.cspNonce) extensions.push(EditorView.cspNonce.of(options.cspNonce));

  const view = new EditorView({
    state: EditorState.create({ doc: textarea.value, extensions }),
  });
  view.dom.classList.add("kb-code-editor", "kb-code-editor--" + language);
  textarea.parentNode.insertBefore(view.dom, textarea.nextSibling);
  textarea.hidden = true;
  textarea.setAttribute("data-kb-code-editor", "attached");
  // A label pointing at the hidden textarea moves focus into the editor instead.
  if (textarea.labels) {
    for (const label of textarea.labels) label.addEventListener("click", () => view.focus());
  }
  const handle = {
    view,
    getValue: () => view.state.doc.toString(),
    setValue(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    // Replaces source lines [startLine, endLine) (0-based, end exclusive) with `text`.
    replaceLines(startLine, endLine, text) {
      const doc = view.state.doc;
      const from = startLine < doc.lines ? doc.line(startLine + 1).from : doc.length;
      const to = endLine < doc.lines ? doc.line(endLine + 1).from : doc.length;
      view.dispatch({ changes: { from, to, insert: text } });
    },
    recheck: () => forceLinting(view),
    focus: () => view.focus(),
    destroy() {
      view.destroy();
      textarea.hidden = false;
      textarea.removeAttribute("data-kb-code-editor");
    },
  };
  textarea.kbCodeEditor = handle;
  return handle;
}

window.KBCodeEditor = { attach, version: 1 };
