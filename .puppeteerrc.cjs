// Puppeteer comes in with @mermaid-js/mermaid-cli, a peer in the render benchmark. It must not
// download a browser when installed (these machines reach no browser host, and `npm ci` would
// fail): the benchmark drives Debian's chromium, and reports mermaid-cli unavailable without it.
module.exports = { skipDownload: true };
