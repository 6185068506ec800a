// Escaping for HTML: one function for text and quoted attribute values, one for URLs we allow out.

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Safe in text and in double- or single-quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** The normalised URL when it is absolute http(s), else null: the only links a cell's output may carry. */
export function httpUrl(text: string): string | null {
  if (text.length > 2048) return null;
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}
