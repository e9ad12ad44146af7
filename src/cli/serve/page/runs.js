// The runs panel: the database's instances of this flow, one of which can be drawn on the
// diagram with its timeline beside it, and the coverage of the flow's scenarios.
import { api } from './api.js';

const time = (at) => new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
const clock = (at) => new Date(at).toISOString().slice(11, 23);
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * `overlayChanged(overlay)` runs whenever what the diagram should mark changes: undefined, or
 * `{ highlight, current, failed }` for the server's `renderSvg` highlight and the page's marks.
 */
export class RunsPanel {
  constructor(name, diagram, elements, overlayChanged) {
    this.name = name;
    this.diagram = diagram;
    this.elements = elements;
    this.overlayChanged = overlayChanged;
    this.selected = undefined;
    this.trail = undefined;
    this.coverage = undefined;
    elements.refresh.addEventListener('click', () => this.refresh());
    elements.coverage.addEventListener('change', () => this.toggleCoverage());
  }

  async refresh() {
    const { database, instances } = this.elements;
    try {
      const listing = await api.instances(this.name);
      database.textContent = listing.exists
        ? `${plural(listing.instances.length, 'instance')} of this flow in ${listing.database}`
        : `No database at ${listing.database} yet: \`laneflow run\` creates it.`;
      instances.replaceChildren(...listing.instances.map((instance) => this.instanceItem(instance)));
      this.elements.toggle.textContent = listing.instances.length === 0 ? 'Runs' : `Runs (${listing.instances.length})`;
      if (this.selected !== undefined && !listing.instances.some((instance) => instance.id === this.selected)) this.select(undefined);
      else if (this.selected !== undefined) await this.select(this.selected);
    } catch (error) {
      database.textContent = `Could not read the instances: ${error.message}`;
    }
    if (this.elements.coverage.checked) await this.toggleCoverage();
  }

  /** Runs the flow's scenarios and draws what they cover, or stops drawing it. */
  async toggleCoverage() {
    const { coverage, coverageSummary } = this.elements;
    this.coverage = undefined;
    if (coverage.checked) {
      await this.select(undefined);
      coverageSummary.textContent = 'Running the scenarios…';
      try {
        const result = await api.coverage(this.name);
        if (result === null) coverageSummary.textContent = 'This flow has no scenario file beside it (`laneflow test --scaffold` starts one).';
        else {
          this.coverage = result;
          coverageSummary.textContent = `${result.edges.covered} of ${result.edges.total} edges taken by the scenarios in ${result.scenarios}.`;
        }
      } catch (error) {
        coverageSummary.textContent = `Could not run the scenarios: ${error.message}`;
      }
      if (!coverage.checked) this.coverage = undefined;
    } else coverageSummary.textContent = '';
    this.showOverlay();
  }

  instanceItem(instance) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.instance = instance.id;
    button.setAttribute('aria-pressed', String(instance.id === this.selected));
    const status = document.createElement('span');
    status.className = `badge ${instance.status}`;
    status.textContent = instance.status;
    const id = document.createElement('span');
    id.className = 'id';
    id.textContent = instance.id;
    const when = document.createElement('span');
    when.className = 'when';
    when.textContent = time(instance.updatedAt).slice(5, 16);
    when.title = time(instance.updatedAt);
    button.title = instance.error === undefined ? `at ${instance.at.join(', ') || 'the end'}` : `${instance.error.name}: ${instance.error.message}`;
    button.append(status, id, when);
    button.addEventListener('click', () => this.select(instance.id === this.selected ? undefined : instance.id));
    item.append(button);
    return item;
  }

  async select(id) {
    const { instances, trail, coverage } = this.elements;
    this.selected = id;
    this.trail = undefined;
    for (const button of instances.querySelectorAll('button')) button.setAttribute('aria-pressed', String(button.dataset.instance === id));
    if (id !== undefined) {
      coverage.checked = false;
      this.coverage = undefined;
      this.elements.coverageSummary.textContent = '';
      try {
        this.trail = await api.instance(this.name, id);
      } catch (error) {
        this.elements.trailStatus.textContent = `Could not read ${id}: ${error.message}`;
      }
    }
    trail.hidden = this.trail === undefined;
    this.elements.trailHint.hidden = this.trail !== undefined;
    if (this.trail !== undefined) this.showTimeline(this.trail);
    this.showOverlay();
  }

  showTimeline(trail) {
    const { trailTitle, trailStatus, timeline } = this.elements;
    trailTitle.textContent = trail.id;
    const where = trail.current.length > 0 ? ` at ${trail.current.join(', ')}` : '';
    const status = trail.error === undefined ? `${trail.status}${where}` : `${trail.status}: ${trail.error.name}: ${trail.error.message}`;
    trailStatus.textContent = trail.sameVersion ? status : `${status}. The flow has changed since this instance started: its path is drawn on the flow as it is now.`;
    timeline.tBodies[0].replaceChildren(
      ...trail.timeline.map((row) => {
        const tr = document.createElement('tr');
        tr.className = row.outcome;
        const at = document.createElement('td');
        at.className = 'time';
        at.textContent = clock(row.at);
        at.title = time(row.at);
        const node = document.createElement('td');
        node.textContent = row.node === '' ? '—' : `${row.node} ${row.label}`.trim();
        const lane = document.createElement('td');
        lane.className = 'lane';
        lane.textContent = row.lane;
        const outcome = document.createElement('td');
        outcome.textContent = row.attempt > 1 ? `${row.outcome} (attempt ${row.attempt})` : row.outcome;
        if (row.detail !== null) {
          const detail = document.createElement('span');
          detail.className = 'detail';
          detail.textContent = compact(row.detail);
          outcome.append(detail);
        }
        tr.append(at, node, lane, outcome);
        tr.addEventListener('pointerenter', () => this.diagram.focusNode(row.node));
        tr.addEventListener('pointerleave', () => this.diagram.focusNode(undefined));
        return tr;
      }),
    );
  }

  showOverlay() {
    const { legend } = this.elements;
    const swatch = (text, kind) => {
      const span = document.createElement('span');
      span.className = kind;
      span.textContent = text;
      return span;
    };
    let overlay;
    if (this.trail !== undefined) {
      overlay = { highlight: this.trail.highlight, current: this.trail.current, failed: this.trail.failed };
      legend.replaceChildren(swatch('taken', 'taken'), swatch('waiting here', 'waiting'), swatch('failed here', 'failed'));
    } else if (this.coverage !== undefined) {
      overlay = { highlight: this.coverage.highlight, current: [], failed: [] };
      legend.replaceChildren(swatch('covered', 'taken'), swatch('never taken', 'missed'));
    }
    legend.hidden = overlay === undefined;
    this.diagram.setMarks(overlay);
    this.overlayChanged(overlay);
  }
}

function compact(detail) {
  const text = Object.entries(detail)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}
