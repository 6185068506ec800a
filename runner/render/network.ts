// A page's ```network block -> what a reader sees in its place: the hosts with their addresses
// and each link with what shapes it, as a table (readable without CSS or JavaScript, and by
// screen readers), under the block's own text so the notation stays on the page.
import { escapeHtml } from "./html.ts";
import { attachments, type NetworkSpec } from "../network/spec.ts";
import { formatDuration } from "../duration.ts";

const rate = (bits: number) => (bits >= 1e9 ? `${bits / 1e9} Gbit/s` : bits >= 1e6 ? `${bits / 1e6} Mbit/s` : `${bits / 1e3} kbit/s`);

export function networkFigure(spec: NetworkSpec, source: string): string {
  const esc = escapeHtml;
  const hosts = spec.hosts.map((h) => {
    const addresses = attachments(spec, h.name).map((a) => `<code>${esc(a.address)}</code>`).join(", ") || "no link";
    return `<li><strong>${esc(h.name)}</strong>${h.router ? " (router)" : ""}: ${addresses}</li>`;
  });
  const links = spec.links.map((l) => {
    const shaping = [l.delayMs ? `delay ${formatDuration(l.delayMs)} each way` : "", l.lossPct ? `loss ${l.lossPct}% each way` : "", l.rateBits ? `rate ${rate(l.rateBits)}` : ""].filter(Boolean).join(", ") || "none";
    return `<tr><td>${esc(l.a)} — ${esc(l.b)}</td><td><code>10.0.${l.index}.0/24</code></td><td>${esc(shaping)}</td></tr>`;
  });
  return (
    `<figure class="network">\n<pre class="network-source"><code>${esc(source)}</code></pre>\n` +
    `<figcaption>The page's network: its cells run on these hosts, each in a network namespace of its own.</figcaption>\n` +
    `<ul class="network-hosts">${hosts.join("")}</ul>\n` +
    (links.length > 0 ? `<table class="network-links" tabindex="0"><thead><tr><th scope="col">Link</th><th scope="col">Subnet</th><th scope="col">Shaping</th></tr></thead><tbody>${links.join("")}</tbody></table>\n` : "") +
    `</figure>\n`
  );
}
