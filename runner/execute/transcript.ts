// A cell's transcript: stdout and stderr in the order they arrived, echoed input placed exactly
// where the program read it, multi-byte characters decoded whole, and a cap on what is kept.
import { StringDecoder } from "node:string_decoder";
import type { Chunk, Stream } from "../types.ts";

interface Piece {
  stream: "stdout" | "stderr";
  buf: Buffer;
  /** Bytes of this stream received before this piece. */
  start: number;
}

interface Echo {
  text: string;
  /** How many bytes the program had written to stdout and stderr when it read the line. */
  stdout: number;
  stderr: number;
}

export class Transcript {
  private pieces: Piece[] = [];
  private echoes: Echo[] = [];
  private received = { stdout: 0, stderr: 0 };
  private kept = 0;
  private stdoutDecoder = new StringDecoder("utf8");
  private stdoutSoFar = "";
  private built: Chunk[] | null = null;
  /** Bytes that arrived after the cap was reached. */
  dropped = 0;

  constructor(private readonly cap: number) {}

  get full(): boolean {
    return this.dropped > 0;
  }

  /** Raw bytes from the cell's stdout or stderr. */
  data(stream: "stdout" | "stderr", buf: Buffer): void {
    const room = Math.max(0, this.cap - this.kept);
    const keep = buf.length > room ? buf.subarray(0, room) : buf;
    this.dropped += buf.length - keep.length;
    if (keep.length > 0) {
      this.pieces.push({ stream, buf: keep, start: this.received[stream] });
      this.kept += keep.length;
      if (stream === "stdout") this.stdoutSoFar += this.stdoutDecoder.write(keep);
    }
    this.received[stream] += keep.length;
  }

  /**
   * A line the program read. The side channel may deliver this before or after the output
   * that surrounds it; the byte counts say where it goes.
   */
  echo(text: string, stdout: number, stderr: number): void {
    this.echoes.push({ text, stdout, stderr });
  }

  /** Everything the cell printed to stdout so far (for ready=/regex/). */
  stdoutText(): string {
    return this.stdoutSoFar;
  }

  /** The transcript in arrival order, with each echo after the bytes written before it was read. */
  get chunks(): Chunk[] {
    if (this.built) return this.built;
    const out: Chunk[] = [];
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    const add = (stream: Stream, text: string) => {
      if (text === "") return;
      const last = out[out.length - 1];
      if (last && last.stream === stream) last.text += text;
      else out.push({ stream, text });
    };
    const seen = { stdout: 0, stderr: 0 };
    const echoes = [...this.echoes];
    const placeDue = () => {
      while (echoes.length > 0 && seen.stdout >= echoes[0]!.stdout && seen.stderr >= echoes[0]!.stderr) add("stdin", echoes.shift()!.text);
    };
    placeDue();
    for (const piece of this.pieces) {
      let buf = piece.buf;
      // An echo whose offset falls inside this piece splits it there.
      while (echoes.length > 0 && buf.length > 0) {
        const cut = echoes[0]![piece.stream] - seen[piece.stream];
        const other = piece.stream === "stdout" ? "stderr" : "stdout";
        if (cut <= 0 || cut >= buf.length || seen[other] < echoes[0]![other]) break;
        add(piece.stream, decoders[piece.stream].write(buf.subarray(0, cut)));
        seen[piece.stream] += cut;
        buf = buf.subarray(cut);
        placeDue();
      }
      add(piece.stream, decoders[piece.stream].write(buf));
      seen[piece.stream] += buf.length;
      placeDue();
    }
    add("stdout", decoders.stdout.end());
    add("stderr", decoders.stderr.end());
    for (const echo of echoes) add("stdin", echo.text);
    if (this.dropped > 0) add("stderr", `${out.length > 0 && !out[out.length - 1]!.text.endsWith("\n") ? "\n" : ""}[output truncated: ${this.dropped} bytes more]\n`);
    return out;
  }

  /** Freezes the transcript once the process has ended. */
  finish(): void {
    this.built = this.chunks;
  }

  text(): string {
    return this.chunks.map((c) => c.text).join("");
  }
}
