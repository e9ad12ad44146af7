// The text editor: a plain textarea with a line-number gutter that marks the lines with
// problems, and the list of diagnostics, each of which selects its range when clicked.

const LINE_HEIGHT = 20;

export class Editor {
  constructor(textarea, gutter, list, count) {
    this.textarea = textarea;
    this.gutter = gutter;
    this.list = list;
    this.count = count;
    this.lineCount = 0;
    this.marks = new Map();
    textarea.addEventListener('scroll', () => {
      gutter.scrollTop = textarea.scrollTop;
    });
    textarea.addEventListener('keydown', (event) => {
      if (event.key !== 'Tab' || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
      event.preventDefault();
      this.insert('  ');
    });
    textarea.addEventListener('input', () => this.renderGutter());
  }

  get text() {
    return this.textarea.value;
  }

  /** Replaces the text, keeping the cursor and scroll position where they can stay. */
  setText(text) {
    const { selectionStart, selectionEnd, scrollTop } = this.textarea;
    this.textarea.value = text;
    this.textarea.setSelectionRange(Math.min(selectionStart, text.length), Math.min(selectionEnd, text.length));
    this.textarea.scrollTop = scrollTop;
    this.renderGutter();
  }

  /** Types text at the cursor the way a keystroke would, so undo still works. */
  insert(text) {
    if (!document.execCommand('insertText', false, text)) this.textarea.setRangeText(text, this.textarea.selectionStart, this.textarea.selectionEnd, 'end');
    this.textarea.dispatchEvent(new Event('input', { bubbles: true }));
  }

  /** Shows the diagnostics in the list and marks their lines in the gutter. */
  showDiagnostics(diagnostics) {
    this.marks = new Map();
    for (const d of diagnostics) {
      for (let line = d.range.start.line; line <= Math.max(d.range.start.line, d.range.end.line - (d.range.end.column === 1 ? 1 : 0)); line++) {
        if (this.marks.get(line) !== 'error') this.marks.set(line, d.severity);
      }
    }
    this.lineCount = -1;
    this.renderGutter();

    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    const warnings = diagnostics.length - errors;
    this.count.textContent = diagnostics.length === 0 ? '' : `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
    if (diagnostics.length === 0) {
      const none = document.createElement('li');
      none.className = 'none';
      none.textContent = 'No problems.';
      this.list.replaceChildren(none);
      return;
    }
    this.list.replaceChildren(
      ...diagnostics.map((d) => {
        const item = document.createElement('li');
        item.className = d.severity;
        const button = document.createElement('button');
        button.type = 'button';
        button.className = d.severity;
        const where = document.createElement('span');
        where.className = 'where';
        where.textContent = `line ${d.range.start.line}:${d.range.start.column} ${d.code}`;
        const message = document.createElement('span');
        message.className = 'message';
        message.textContent = d.message;
        button.title = `${d.severity}: go to line ${d.range.start.line}`;
        button.append(where, message);
        button.addEventListener('click', () => this.select(d.range));
        item.append(button);
        return item;
      }),
    );
  }

  /** Selects a range and scrolls it into the middle of the editor. */
  select(range) {
    const textarea = this.textarea;
    textarea.focus();
    textarea.setSelectionRange(range.start.offset, Math.max(range.start.offset, range.end.offset));
    textarea.scrollTop = Math.max(0, (range.start.line - 1) * LINE_HEIGHT - textarea.clientHeight / 2);
  }

  renderGutter() {
    const lines = this.textarea.value.split('\n').length;
    if (lines === this.lineCount) return;
    this.lineCount = lines;
    const fragment = document.createDocumentFragment();
    for (let line = 1; line <= lines; line++) {
      const row = document.createElement('div');
      row.textContent = String(line);
      const mark = this.marks.get(line);
      if (mark !== undefined) row.className = mark;
      fragment.append(row);
    }
    // Room below the last line, as the textarea has, so the two scroll alike.
    const tail = document.createElement('div');
    tail.style.height = '40px';
    fragment.append(tail);
    this.gutter.replaceChildren(fragment);
    this.gutter.scrollTop = this.textarea.scrollTop;
  }
}
