/**
 * hadolint-style rules over one Dockerfile's text. Each finding: { rule, level ('error' | 'warning'), line, message }.
 * Pure, no dependencies: the plugin is its own files.
 */
export const RULES = {
  DL3000: { level: 'error', text: 'Use absolute WORKDIR' },
  DL3002: { level: 'warning', text: 'Last USER should not be root' },
  DL3004: { level: 'error', text: 'Do not use sudo: it has unpredictable behaviour in a container' },
  DL3007: { level: 'warning', text: 'Using latest (or no tag) is prone to errors; pin the version explicitly' },
  DL3020: { level: 'error', text: 'Use COPY instead of ADD for files and folders' },
  DL3025: { level: 'warning', text: 'Use the JSON form for CMD and ENTRYPOINT' },
  DL4000: { level: 'error', text: 'MAINTAINER is deprecated; use a LABEL' },
};

/** Logical instructions with the line they start on (continuation lines joined, comments dropped). */
function instructions(text) {
  const out = [];
  let cur;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!cur && (!line || line.startsWith('#'))) return;
    if (!cur) cur = { line: i + 1, text: '' };
    const cont = line.endsWith('\\');
    cur.text += ` ${cont ? line.slice(0, -1) : line}`;
    if (!cont) {
      const t = cur.text.trim();
      const m = /^(\S+)\s*(.*)$/s.exec(t);
      out.push({ line: cur.line, op: m[1].toUpperCase(), args: m[2] });
      cur = undefined;
    }
  });
  return out;
}

export function lint(text, ignore = []) {
  const found = [];
  const add = (rule, line, extra = '') => {
    if (!ignore.includes(rule)) found.push({ rule, level: RULES[rule].level, line, message: RULES[rule].text + extra });
  };
  const stages = new Set();
  let lastUser;
  for (const ins of instructions(text)) {
    switch (ins.op) {
      case 'FROM': {
        const parts = ins.args.split(/\s+/);
        const image = parts.find((p) => !p.startsWith('--'));
        const as = parts.findIndex((p) => p.toUpperCase() === 'AS');
        if (image && image !== 'scratch' && !stages.has(image) && !image.includes('@')) {
          const tag = image.split('/').pop().split(':')[1];
          if (!tag || tag === 'latest') add('DL3007', ins.line, ` (${image})`);
        }
        if (as > 0 && parts[as + 1]) stages.add(parts[as + 1]);
        lastUser = undefined;
        break;
      }
      case 'USER':
        lastUser = { name: ins.args.trim().split(':')[0], line: ins.line };
        break;
      case 'WORKDIR':
        if (!/^(\/|\$|[A-Za-z]:)/.test(ins.args.trim().replace(/^["']/, ''))) add('DL3000', ins.line);
        break;
      case 'RUN':
        if (/(^|[;&|]\s*|\s)sudo\s/.test(` ${ins.args} `)) add('DL3004', ins.line);
        break;
      case 'ADD': {
        const srcs = ins.args.split(/\s+/).filter((p) => !p.startsWith('--')).slice(0, -1);
        if (srcs.some((s) => !/^(https?:\/\/|git@)/.test(s) && !/\.(tar|tar\.gz|tgz|tar\.bz2|tar\.xz)$/.test(s))) add('DL3020', ins.line);
        break;
      }
      case 'CMD':
      case 'ENTRYPOINT':
        if (!ins.args.trim().startsWith('[')) add('DL3025', ins.line);
        break;
      case 'MAINTAINER':
        add('DL4000', ins.line);
        break;
      default:
    }
  }
  if (lastUser && (lastUser.name === 'root' || lastUser.name === '0')) add('DL3002', lastUser.line);
  return found;
}
