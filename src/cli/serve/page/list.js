// The list of flows: each with its problem counts, kept current as files change on disk.
import { api, onFileChange } from './api.js';
import { setUpThemeToggle } from './theme.js';

const table = document.getElementById('flows');
const empty = document.getElementById('empty');

setUpThemeToggle(document.getElementById('theme'));

function badge(text, kind) {
  const span = document.createElement('span');
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function refresh() {
  let listing;
  try {
    listing = await api.flows();
  } catch (error) {
    empty.textContent = `Could not list the flows: ${error.message}`;
    empty.hidden = false;
    return;
  }
  document.getElementById('folder').textContent = listing.folder;
  const body = table.tBodies[0];
  body.replaceChildren(
    ...listing.flows.map((flow) => {
      const row = document.createElement('tr');
      const name = document.createElement('td');
      const link = document.createElement('a');
      link.href = `/flow/${flow.name.split('/').map(encodeURIComponent).join('/')}`;
      link.textContent = flow.name;
      name.append(link);
      const problems = document.createElement('td');
      if (flow.problem !== undefined) problems.append(badge(flow.problem, 'error'));
      else if (flow.errors === 0 && flow.warnings === 0) problems.append(badge('no problems', 'ok'));
      else {
        if (flow.errors > 0) problems.append(badge(plural(flow.errors, 'error'), 'error'));
        if (flow.warnings > 0) problems.append(badge(plural(flow.warnings, 'warning'), 'warning'));
      }
      row.append(name, problems);
      return row;
    }),
  );
  table.hidden = listing.flows.length === 0;
  empty.hidden = listing.flows.length > 0;
  empty.textContent = 'There are no .flow files in this folder yet.';
}

let pending;
onFileChange(() => {
  clearTimeout(pending);
  pending = setTimeout(refresh, 100);
});
refresh();
