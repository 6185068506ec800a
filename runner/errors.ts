// Errors that carry a code and a place, so every message can say `file:line: what to change`.

export type ErrorCode =
  | "E_USAGE"
  | "E_NO_FILE"
  | "E_ENCODING"
  | "E_ATTR_UNKNOWN"
  | "E_ATTR_VALUE"
  | "E_NAME_DUPLICATE"
  | "E_NAME_INVALID"
  | "E_NEEDS_UNKNOWN"
  | "E_NEEDS_CYCLE"
  | "E_PORT_DYNAMIC"
  | "E_PORT_VALUE"
  | "E_COMPILE"
  | "E_SANDBOX";

/** A problem with the user's input (page or command line): exit status 2. */
export class LecternError extends Error {
  readonly code: ErrorCode;
  readonly file: string | null;
  readonly line: number | null;

  constructor(code: ErrorCode, message: string, where: { file?: string; line?: number } = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = "LecternError";
    this.code = code;
    this.file = where.file ?? null;
    this.line = where.line ?? null;
  }

  /** `file:line: message`, the form editors and terminals turn into links. */
  describe(): string {
    if (this.file === null) return this.message;
    return this.line === null ? `${this.file}: ${this.message}` : `${this.file}:${this.line}: ${this.message}`;
  }
}
