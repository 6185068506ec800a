// Errors that carry a code and a place, so every message can say `file:line: what to change`
// and end with its code, which README.md's table of error codes explains.

export type ErrorCode =
  | "E_USAGE"
  | "E_NO_FILE"
  | "E_ENCODING"
  | "E_FENCE_UNCLOSED"
  | "E_ATTR_UNKNOWN"
  | "E_ATTR_VALUE"
  | "E_NAME_DUPLICATE"
  | "E_NEEDS_UNKNOWN"
  | "E_NEEDS_CYCLE"
  | "E_PORT_DYNAMIC"
  | "E_PORT_VALUE"
  | "E_COMPILE"
  | "E_NO_TOOL"
  | "E_SANDBOX"
  | "E_EXERCISE"
  | "E_NETWORK";

/** Where in a file: a 1-based line and, where it is known, a 1-based column. */
export interface Where {
  file?: string;
  line?: number;
  column?: number;
}

/** A problem with the user's input (page or command line): exit status 2. */
export class LecternError extends Error {
  readonly code: ErrorCode;
  readonly file: string | null;
  readonly line: number | null;
  readonly column: number | null;

  constructor(code: ErrorCode, message: string, where: Where = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = "LecternError";
    this.code = code;
    this.file = where.file ?? null;
    this.line = where.line ?? null;
    this.column = this.line === null ? null : (where.column ?? null);
  }

  /** `file:line:column: message`, the form editors and terminals turn into links. */
  describe(): string {
    if (this.file === null) return this.message;
    const at = [this.file, this.line, this.column].filter((p) => p !== null).join(":");
    return `${at}: ${this.message}`;
  }

  /**
   * What the user is shown, wherever that is: the place, the message, and the code (README's
   * table explains each). A mistake on the command line has none: --help explains those.
   */
  report(): string {
    return this.code === "E_USAGE" ? this.describe() : `${this.describe()} [${this.code}]`;
  }
}

/**
 * A place in a cell's code (0-based line and character) as a place in its page: the line after
 * the fence, and the column after what contains the cell (list indentation, `> ` markers).
 */
export function placeInPage(source: string, cell: { line: number; code: string }, line: number, character: number): { line: number; column: number } {
  const code = cell.code.split("\n");
  // The end of the input (an unterminated string, a missing brace) is on the line after the
  // code's last newline: the fence's closer, whose width says nothing of the cell's indentation.
  // The end of the last line of code is where the reader looks.
  if (line > 0 && line >= code.length - 1 && code.at(-1) === "") {
    line = code.length - 2;
    character = code[line]!.length;
  }
  const pageLine = cell.line + 1 + line;
  const codeLine = code[line] ?? "";
  const text = source.split(/\r\n|\r|\n/)[pageLine - 1] ?? "";
  const prefix = Math.max(0, text.length - codeLine.length);
  return { line: pageLine, column: prefix + character + 1 };
}
