// Requests to the laneflow server. Every answer is JSON except the PNG; a refused request
// becomes an ApiError carrying the server's one-sentence reason.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

async function request(method, url, body, { signal, binary = false } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw new ApiError(response.status, answer.error ?? `${response.status} ${response.statusText}`, answer);
  }
  return binary ? response.blob() : response.json();
}

const query = (params) => new URLSearchParams(params).toString();

export const api = {
  flows: () => request('GET', '/api/flows'),
  flow: (name, theme) => request('GET', `/api/flow?${query({ name, theme })}`),
  preview: (name, text, theme, highlight, signal) => request('POST', '/api/preview', { name, text, theme, highlight }, { signal }),
  save: (name, text, base, force = false) => request('PUT', `/api/flow?${query({ name })}`, { text, base, force }),
  /** Writes a new file, refused (409) when the name is taken: Save as, or the open file made again. */
  create: (name, text) => request('PUT', `/api/flow?${query({ name })}`, { text, create: true }),
  png: (name, text, theme, highlight) => request('POST', '/api/png', { name, text, theme, highlight }, { binary: true }),
  instances: (name) => request('GET', `/api/instances?${query({ name })}`),
  instance: (name, id) => request('GET', `/api/instance?${query({ name, id })}`),
  coverage: (name) => request('POST', '/api/coverage', { name }),
};

/** Calls `listener(name)` whenever a .flow file in the served folder changes on disk. */
export function onFileChange(listener) {
  const events = new EventSource('/api/events');
  events.addEventListener('change', (event) => listener(JSON.parse(event.data).name));
  return events;
}
