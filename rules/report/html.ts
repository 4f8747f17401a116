/**
 * The report's pages: each one self-contained HTML file (styles, the table script and every plot
 * inline; plots as data: URLs), with a Content-Security-Policy that forbids fetching anything, so
 * it opens from disk, an e-mail or a CI artifact with no network. Pages link to each other by
 * relative paths only.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** An SVG document as an <img>: isolated from the page's styles and from other plots' markup. */
export function plotImage(svg: string, alt: string, className = 'plot'): string {
  return `<img class="${className}" alt="${escapeHtml(alt)}" src="data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}">`;
}

export interface DataColumn {
  /** Names the column in the other columns' templates. */
  key: string;
  label: string;
  /** Header hover text. */
  title: string;
  /** Sorts by the number shown (cells that are not numbers last) rather than alphabetically. */
  numeric: boolean;
  /** Makes each cell a link to this URL; `{key}` stands for the row's value in that column. */
  href?: string;
  /** Each cell's hover text, a template as for `href`; none where it comes out empty. */
  hover?: string;
  /** Each cell's class, a template as for `href`. */
  className?: string;
  /** A value the templates use that is not a column of its own. */
  hidden?: boolean;
}

/** Rows a table shows at once: a page of a 10,000-run table builds as fast as a small table. */
export const PAGE_ROWS = 50;

/**
 * A table drawn by the page's script from rows embedded as JSON: sortable by any column (a click or
 * Enter on its header), filtered by a text box, shown a page at a time. The rows are text as it is
 * shown, so the page's numbers are formatted in one place, here on the server.
 */
export function dataTable(id: string, columns: DataColumn[], rows: string[][]): string {
  const head = columns
    .map((c, i) => (c.hidden ? '' : `<th scope="col" tabindex="0" data-column="${i}"${c.numeric ? '' : ' class="text"'} title="${escapeHtml(c.title)}" aria-sort="none">${escapeHtml(c.label)}</th>`))
    .join('');
  const spec = { columns: columns.map(({ key, numeric, href, hover, className }) => ({ key, numeric, href, hover, className })), rows, pageRows: PAGE_ROWS };
  // Inside <script>, "</script" or "<!--" in a value would end or derail the element: JSON may spell "<" as \u003c.
  const json = JSON.stringify(spec).replace(/</g, '\\u003c');
  return (
    `<div class="data-table">` +
    `<div class="table-controls"><input type="search" placeholder="Filter rows" aria-label="Filter rows"><span class="table-count"></span>` +
    `<button type="button" data-step="-1">‹ Previous</button><span class="table-page"></span><button type="button" data-step="1">Next ›</button></div>` +
    `<div class="table-wrap"><table id="${escapeHtml(id)}" class="sortable"><thead><tr>${head}</tr></thead><tbody></tbody></table></div>` +
    `<noscript><p>This table is drawn by the page's script, which is turned off.</p></noscript>` +
    `<script type="application/json" class="table-data">${json}</script>` +
    `</div>`
  );
}

const TABLE_SCRIPT = `
for (const root of document.querySelectorAll('.data-table')) {
  const { columns, rows, pageRows } = JSON.parse(root.querySelector('script.table-data').textContent);
  const index = Object.fromEntries(columns.map((c, i) => [c.key, i]));
  const fill = (template, row, encode) => template.replace(/\\{(\\w+)\\}/g, (_, key) => (encode ? encodeURIComponent(row[index[key]]) : row[index[key]]));
  const table = root.querySelector('table');
  const headers = Array.from(table.tHead.rows[0].cells);
  const filter = root.querySelector('input[type=search]');
  const [previous, next] = root.querySelectorAll('button[data-step]');
  let order = rows.slice();
  let shown = order;
  let page = 0;
  const draw = () => {
    const pages = Math.max(1, Math.ceil(shown.length / pageRows));
    page = Math.min(Math.max(page, 0), pages - 1);
    const first = page * pageRows;
    const slice = shown.slice(first, first + pageRows);
    table.tBodies[0].replaceChildren(...slice.map((row) => {
      const tr = document.createElement('tr');
      for (const th of headers) {
        const c = columns[th.dataset.column];
        const value = row[th.dataset.column];
        const td = tr.insertCell();
        if (c.href) {
          const a = document.createElement('a');
          a.href = fill(c.href, row, true);
          a.textContent = value;
          td.append(a);
        } else td.textContent = value;
        const hover = c.hover && fill(c.hover, row, false);
        if (hover) td.title = hover;
        if (!c.numeric) td.classList.add('text');
        if (c.className) td.classList.add(fill(c.className, row, false));
      }
      return tr;
    }));
    const filtered = shown.length === rows.length ? '' : ' (filtered from ' + rows.length + ')';
    root.querySelector('.table-count').textContent = shown.length ? 'rows ' + (first + 1) + '–' + (first + slice.length) + ' of ' + shown.length + filtered : 'no rows' + filtered;
    root.querySelector('.table-page').textContent = 'page ' + (page + 1) + ' of ' + pages;
    previous.disabled = page === 0;
    next.disabled = page === pages - 1;
    for (const e of [previous, next, root.querySelector('.table-page')]) e.hidden = pages === 1;
  };
  const applyFilter = () => {
    const words = filter.value.toLowerCase().split(/\\s+/).filter(Boolean);
    shown = words.length ? order.filter((row) => words.every((w) => row.some((v) => v.toLowerCase().includes(w)))) : order;
  };
  const sortBy = (th) => {
    const column = Number(th.dataset.column);
    const numeric = columns[column].numeric;
    const ascending = th.getAttribute('aria-sort') !== 'ascending';
    for (const other of headers) other.setAttribute('aria-sort', 'none');
    th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    const key = (row) => (numeric ? (row[column] === '' ? NaN : Number(row[column])) : row[column]);
    const blank = (x) => (numeric ? !Number.isFinite(x) : x === '');
    order = rows.slice().sort((a, b) => {
      const x = key(a), y = key(b);
      if (blank(x) || blank(y)) return blank(x) === blank(y) ? 0 : blank(x) ? 1 : -1;
      const by = numeric ? x - y : x.localeCompare(y);
      return ascending ? by : -by;
    });
    applyFilter();
    page = 0;
    draw();
  };
  for (const th of headers) {
    th.addEventListener('click', () => sortBy(th));
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(th); } });
  }
  filter.addEventListener('input', () => { applyFilter(); page = 0; draw(); });
  previous.addEventListener('click', () => { page--; draw(); });
  next.addEventListener('click', () => { page++; draw(); });
  draw();
}
`;

const STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; color: #1a1a1a; }
body { margin: 0 auto; max-width: 1400px; padding: 1.5rem; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
.lead { color: #555; margin-top: 0; }
.note { color: #555; font-size: 0.9rem; }
nav a { margin-right: 1rem; }
table.sortable { border-collapse: collapse; font-size: 0.85rem; font-variant-numeric: tabular-nums; }
table.sortable th, table.sortable td { padding: 0.25rem 0.5rem; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
table.sortable th { background: #f4f4f4; cursor: pointer; position: sticky; top: 0; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " ▲"; }
table.sortable th[aria-sort="descending"]::after { content: " ▼"; }
table.sortable .text { text-align: left; }
.table-wrap { overflow-x: auto; }
.table-controls { display: flex; gap: 0.75rem; align-items: center; margin: 0.4rem 0; font-size: 0.85rem; }
.table-controls input { font: inherit; padding: 0.15rem 0.4rem; min-width: 16rem; }
.table-controls .table-count { color: #555; margin-right: auto; }
.status-ok { color: #1b7a3a; }
.status-check { color: #9a6200; font-weight: 600; }
.status-diverged { color: #b00020; font-weight: 700; }
.plots { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: flex-start; }
/* Two plots side by side on a laptop screen, scaled down rather than wrapped one per row. */
img.plot { max-width: min(100%, 660px); height: auto; border: 1px solid #eee; }
/* A plot drawn wide for many groups: on a row of its own at its own width, so that its labels stay legible. */
img.plot.wide { max-width: 100%; flex: none; }
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
<script>${TABLE_SCRIPT}</script>
</body>
</html>
`;
}

export function factList(facts: [string, string][]): string {
  return `<dl class="facts">${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

export function section(id: string, title: string, content: string): string {
  return `<section id="${escapeHtml(id)}"><h2>${escapeHtml(title)}</h2>\n${content}\n</section>`;
}
