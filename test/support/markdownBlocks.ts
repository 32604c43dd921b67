/** A fenced block of a Markdown page, with what the HTML comments right before it say. */
export interface Block {
  page: string;
  line: number;
  lang: string;
  code: string;
  /** `<!-- not run: why -->`. */
  notRun?: string;
  /** `<!-- run with the test servers: ... -->`: run by test/e2e/gettingStarted.test.ts, not against the demo. */
  withServers: boolean;
  /** `<!-- expect: TEXT -->`, one per line the block must print. */
  expects: string[];
}

/** The fenced blocks of a Markdown page, with the HTML comments right before each. */
export function blocksOf(page: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const comments: string[] = [];
    for (let j = i - 1; j >= 0 && /^\s*<!--.*-->\s*$/.test(lines[j]); j--) comments.unshift(lines[j].trim());
    let end = i + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end])) end++;
    const indent = open[1].length;
    const code = lines
      .slice(i + 1, end)
      .map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length)))
      .join('\n');
    const notRun = comments.map((c) => /^<!-- not run: (.+?) -->$/.exec(c)?.[1]).find((r) => r !== undefined);
    const expects = comments.flatMap((c) => /^<!-- expect: (.+?) -->$/.exec(c)?.[1] ?? []);
    const withServers = comments.some((c) => c.startsWith('<!-- run with the test servers:'));
    blocks.push({ page, line: i + 1, lang: open[2], code, notRun, withServers, expects });
    i = end;
  }
  return blocks;
}
