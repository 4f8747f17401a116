/**
 * The report page: one self-contained HTML file (styles, the table-sorting script and every plot
 * inline; plots as data: URLs), with a Content-Security-Policy that forbids fetching anything, so
 * it opens from disk, an e-mail or a CI artifact with no network.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** An SVG document as an <img>: isolated from the page's styles and from other plots' markup. */
export function plotImage(svg: string, alt: string): string {
  return `<img class="plot" alt="${escapeHtml(alt)}" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}">`;
}

export interface TableCell {
  /** What the cell shows (HTML). */
  html: string;
  /** What the column sorts by: numbers numerically (null last), text alphabetically. */
  sort: number | string | null;
  /** Hover text. */
  title?: string;
  className?: string;
}

/** A table whose columns sort on a click on their header (and on Enter or Space, for keyboards). */
export function sortableTable(id: string, headers: { label: string; title: string; numeric: boolean }[], rows: TableCell[][]): string {
  const head = headers
    .map((h, i) => `<th scope="col" tabindex="0" data-column="${i}" data-numeric="${h.numeric}" title="${escapeHtml(h.title)}" aria-sort="none">${escapeHtml(h.label)}</th>`)
    .join('');
  const body = rows
    .map(
      (cells) =>
        `<tr>${cells
          .map((c) => {
            const sort = c.sort === null || (typeof c.sort === 'number' && !Number.isFinite(c.sort)) ? '' : String(c.sort);
            const attributes = [`data-sort="${escapeHtml(sort)}"`, c.title ? `title="${escapeHtml(c.title)}"` : '', c.className ? `class="${c.className}"` : ''].filter(Boolean).join(' ');
            return `<td ${attributes}>${c.html}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  return `<table id="${id}" class="sortable"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const SORT_SCRIPT = `
for (const table of document.querySelectorAll('table.sortable')) {
  const headers = Array.from(table.tHead.rows[0].cells);
  const sortBy = (th) => {
    const column = Number(th.dataset.column);
    const numeric = th.dataset.numeric === 'true';
    const ascending = th.getAttribute('aria-sort') !== 'ascending';
    for (const other of headers) other.setAttribute('aria-sort', 'none');
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    const body = table.tBodies[0];
    const key = (row) => row.cells[column].dataset.sort;
    const rows = Array.from(body.rows).sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === '' || y === '') return x === y ? 0 : x === '' ? 1 : -1;
      const order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return ascending ? order : -order;
    });
    body.append(...rows);
  };
  for (const th of headers) {
    th.addEventListener('click', () => sortBy(th));
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(th); } });
  }
}
`;

const STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; color: #1a1a1a; }
body { margin: 0 auto; max-width: 1400px; padding: 1.5rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
.lead { color: #555; margin-top: 0; }
nav a { margin-right: 1rem; }
table.sortable { border-collapse: collapse; font-size: 0.85rem; font-variant-numeric: tabular-nums; }
table.sortable th, table.sortable td { padding: 0.25rem 0.5rem; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
table.sortable th { background: #f4f4f4; cursor: pointer; position: sticky; top: 0; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " ▲"; }
table.sortable th[aria-sort="descending"]::after { content: " ▼"; }
table.sortable th:nth-child(-n+4), table.sortable td:nth-child(-n+4) { text-align: left; }
.table-wrap { overflow-x: auto; }
.status-ok { color: #1b7a3a; }
.status-check { color: #9a6200; font-weight: 600; }
.status-diverged { color: #b00020; font-weight: 700; }
.plots { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: flex-start; }
/* Two plots side by side on a laptop screen, scaled down rather than wrapped one per row. */
img.plot { max-width: min(100%, 660px); height: auto; border: 1px solid #eee; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 1rem; font-size: 0.85rem; margin: 0.3rem 0 0.6rem; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
section.run { border-top: 1px solid #eee; }
code { font-family: ui-monospace, monospace; font-size: 0.9em; }
`;

/** Everything is inline; the policy makes any accidental reference to the network fail closed. */
const CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'";

export function reportPage(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<script>${SORT_SCRIPT}</script>
</body>
</html>
`;
}

export function factList(facts: [string, string][]): string {
  return `<dl class="facts">${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}
