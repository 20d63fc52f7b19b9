/**
 * A README's TypeScript examples as modules a consumer would compile, and tsc's
 * answer mapped back to README lines: for readme-examples.test.ts, which states
 * the conventions.
 *
 * - `readmeBlocks(markdown)` finds the ```ts / ```tsx blocks (indented ones in
 *   list items too) and the `<!-- not checked: reason -->` marker on the line
 *   right before a fence.
 * - `readmeProgram(blocks, prefix)` writes them as two modules:
 *     `<prefix>chain.tsx`: every checked block in README order, each inside the
 *       block scope of the one before it, so that a block sees the names the
 *       earlier ones declared and may declare one again (a later `store`); the
 *       blocks' imports are hoisted to the top, one statement per binding;
 *     `<prefix>model.ts`: the first block alone, exporting its top-level names,
 *       for an example that imports the app's model (`./model.js`).
 * - `parseDiagnostics(output)` reads `tsc --pretty false`; `mapDiagnostics`
 *   turns a generated file's `file(line,col)` into `README.md:line:col`.
 */
import ts from 'typescript';

export interface ReadmeBlock {
  /** The README line (1-based) of the block's first line of code. */
  line: number;
  /** How far the fence is indented (a block in a list item): stripped from the code. */
  indent: number;
  lang: 'ts' | 'tsx';
  code: string;
  /** The marker's reason when the block is not checked. */
  skip?: string;
}

const ANY_FENCE = /^ *```/;
const CLOSING_FENCE = /^ *```\s*$/;
const TS_FENCE = /^( *)```(ts|tsx|typescript)\s*$/;
const COMMENT = /^\s*<!--(.*)-->\s*$/;
const NOT_CHECKED = /^\s*not checked:\s*(\S.*?)\s*$/;

/** The markdown's TypeScript blocks, in order. Throws on a marker it does not know, or a fence left open. */
export function readmeBlocks(markdown: string, label = 'README.md'): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!ANY_FENCE.test(lines[i]!)) continue;
    // The closing fence of every block (sh, json…), so that nothing inside one is read as a fence.
    let end = i + 1;
    while (end < lines.length && !CLOSING_FENCE.test(lines[end]!)) end++;
    if (end === lines.length) throw new Error(`${label}:${i + 1}: a code fence that is never closed`);
    const open = TS_FENCE.exec(lines[i]!);
    if (open) {
      const indent = open[1]!.length;
      const block: ReadmeBlock = {
        line: i + 2,
        indent,
        lang: open[2] === 'tsx' ? 'tsx' : 'ts',
        code: lines
          .slice(i + 1, end)
          .map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)))
          .join('\n'),
      };
      const comment = i > 0 ? COMMENT.exec(lines[i - 1]!) : null;
      if (comment) {
        const marker = NOT_CHECKED.exec(comment[1]!);
        if (!marker)
          throw new Error(
            `${label}:${i}: unknown marker before a code block (only "<!-- not checked: reason -->"): ${lines[i - 1]!.trim()}`,
          );
        block.skip = marker[1]!;
      }
      blocks.push(block);
    }
    i = end;
  }
  return blocks;
}

/** Where a generated line came from: a README line and the indent its code lost; null for scaffolding. */
export type Origin = { line: number; indent: number } | null;

export interface GeneratedFile {
  name: string;
  text: string;
  /** One entry per line of `text`. */
  origins: Origin[];
}

class FileBuilder {
  private readonly lines: string[] = [];
  private readonly origins: Origin[] = [];
  add(text: string, origin: Origin = null): void {
    for (const [k, line] of text.split('\n').entries()) {
      this.lines.push(line);
      this.origins.push(origin && { line: origin.line + k, indent: origin.indent });
    }
  }
  file(name: string): GeneratedFile {
    return { name, text: `${this.lines.join('\n')}\n`, origins: [...this.origins, null] };
  }
}

function parse(block: ReadmeBlock): ts.SourceFile {
  return ts.createSourceFile(`block.${block.lang}`, block.code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX);
}

/** The block's import declarations, and its code with them blanked out (so that its lines stay where they were). */
function splitImports(block: ReadmeBlock): { body: string; imports: ts.ImportDeclaration[]; source: ts.SourceFile } {
  const source = parse(block);
  const imports = source.statements.filter(ts.isImportDeclaration);
  let body = block.code;
  for (const node of imports) {
    const start = node.getStart(source);
    body = body.slice(0, start) + body.slice(start, node.end).replace(/[^\n]/g, ' ') + body.slice(node.end);
  }
  return { body, imports, source };
}

/**
 * The blocks' imports, one statement per binding and each once: two blocks that
 * import one name from one module share the binding, and two different bindings
 * of one local name both stay, for tsc to report.
 */
function hoistedImports(blocks: ReadmeBlock[]): { text: string; origin: Origin }[] {
  const seen = new Set<string>();
  const out: { text: string; origin: Origin }[] = [];
  for (const block of blocks) {
    const { imports, source } = splitImports(block);
    for (const node of imports) {
      const origin = { line: block.line + source.getLineAndCharacterOfPosition(node.getStart(source)).line, indent: block.indent };
      const from = node.moduleSpecifier.getText(source);
      const clause = node.importClause;
      const type = clause?.isTypeOnly ? 'type ' : '';
      const bindings = clause?.namedBindings;
      const statements: string[] = [];
      if (!clause) statements.push(`import ${from};`);
      if (clause?.name) statements.push(`import ${type}${clause.name.text} from ${from};`);
      if (bindings && ts.isNamespaceImport(bindings)) statements.push(`import ${type}* as ${bindings.name.text} from ${from};`);
      if (bindings && ts.isNamedImports(bindings)) {
        for (const element of bindings.elements) statements.push(`import ${type}{ ${element.getText(source)} } from ${from};`);
      }
      for (const text of statements.filter((statement) => !seen.has(statement))) {
        seen.add(text);
        out.push({ text, origin });
      }
    }
  }
  return out;
}

/** The names a module declares at its top level. */
function topLevelNames(source: ts.SourceFile): string[] {
  const names: string[] = [];
  const bind = (name: ts.BindingName): void => {
    if (ts.isIdentifier(name)) names.push(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) for (const declaration of statement.declarationList.declarations) bind(declaration.name);
    else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name
    )
      names.push(statement.name.text);
  }
  return names;
}

/** The modules to compile (see the top of this file). */
export function readmeProgram(blocks: ReadmeBlock[], prefix = ''): GeneratedFile[] {
  const checked = blocks.filter((block) => block.skip === undefined);
  const files: GeneratedFile[] = [];

  const model = checked[0];
  if (model) {
    const file = new FileBuilder();
    file.add(model.code, { line: model.line, indent: model.indent });
    const names = topLevelNames(parse(model));
    if (names.length > 0) file.add(`export { ${names.join(', ')} };`);
    files.push(file.file(`${prefix}model.${model.lang}`));
  }

  const chain = new FileBuilder();
  chain.add('// Generated from README.md by test/consumers/readme-examples.test.ts.');
  for (const { text, origin } of hoistedImports(checked)) chain.add(text, origin);
  for (const block of checked) {
    chain.add(`{ // README.md:${block.line}`);
    chain.add(splitImports(block).body, { line: block.line, indent: block.indent });
  }
  chain.add('}'.repeat(checked.length));
  files.push(chain.file(`${prefix}chain.tsx`));
  return files;
}

export interface Diagnostic {
  /** The path as tsc printed it (relative to its working directory). */
  path: string;
  line: number;
  column: number;
  code: string;
  /** The message, with the lines tsc indented under it. */
  message: string;
}

const DIAGNOSTIC = /^(.+?)\((\d+),(\d+)\): (?:error|warning) (TS\d+): (.*)$/;

/** `tsc --pretty false` output as diagnostics; a line that is neither one nor part of one comes back as a diagnostic without a place. */
export function parseDiagnostics(output: string): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split('\n')) {
    if (!line.trim()) continue;
    const match = DIAGNOSTIC.exec(line);
    const last = diagnostics.at(-1);
    if (match) {
      const [, path, row, column, code, message] = match;
      diagnostics.push({ path: path!, line: Number(row), column: Number(column), code: code!, message: message! });
    } else if (last && /^\s/.test(line)) last.message += `\n${line}`;
    else diagnostics.push({ path: '', line: 0, column: 0, code: '', message: line });
  }
  return diagnostics;
}

/**
 * The diagnostics of the generated `files` (written to `dir`, as tsc names it)
 * as `README.md:line:col TSxxxx: message`, each once: the first block is
 * compiled twice, in model.ts and in the chain.
 */
export function mapDiagnostics(diagnostics: Diagnostic[], files: GeneratedFile[], dir: string, label = 'README.md'): string[] {
  const byPath = new Map(files.map((file) => [`${dir}/${file.name}`, file]));
  const mapped = diagnostics.flatMap(({ path, line, column, code, message }) => {
    const file = byPath.get(path);
    if (!file) return [];
    const origin = file.origins[line - 1];
    return origin
      ? [`${label}:${origin.line}:${column + origin.indent} ${code}: ${message}`]
      : [`${path}(${line},${column}) ${code}: ${message} (in the generated scaffolding around ${label}'s blocks)`];
  });
  return [...new Set(mapped)];
}
