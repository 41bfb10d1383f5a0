/** The web UI's log model: ANSI parsing (never markup) and line assembly from stream chunks. */
import { describe, expect, it } from 'vitest';
import { parseAnsiLine, segmentClass, stripAnsi } from '../../web/src/ansi';
import { LogLines } from '../../web/src/log-lines';

describe('parseAnsiLine', () => {
  it('turns SGR colours into styles and keeps text as text', () => {
    const segs = parseAnsiLine('\x1b[1;31merror\x1b[0m: <script>alert(1)</script> \x1b[38;5;208morange\x1b[39m');
    expect(segs.map((s) => s.text)).toEqual(['error', ': <script>alert(1)</script> ', 'orange']);
    expect(segmentClass(segs[0].style).className).toBe('ansi-fg-1 ansi-bold');
    expect(segmentClass(segs[1].style)).toEqual({ className: '', color: undefined, background: undefined });
    expect(segmentClass(segs[2].style).color).toBe('rgb(255,135,0)');
  });

  it('clamps truecolour numbers and drops other escapes, OSC sequences and control characters', () => {
    const segs = parseAnsiLine('\x1b[38;2;999;0;12mx\x1b[2K\x1b]0;title\x07\x1b]8;;http://e\x1b\\y\x07\x00z');
    expect(segs.map((s) => s.text).join('')).toBe('xyz');
    expect(segmentClass(segs[0].style).color).toBe('rgb(255,0,12)');
  });

  it('keeps what follows a carriage return, like a terminal', () => {
    expect(stripAnsi('10%\r50%\r\x1b[32m100%\x1b[0m')).toBe('100%');
    expect(parseAnsiLine('a\r')).toEqual([{ text: 'a', style: {} }]);
  });

  it('drops a malformed sequence without leaving its escape character', () => {
    expect(stripAnsi('a\x1b[38;-1mb\x1bc')).not.toContain('\x1b');
  });

  it('bright, background and inverse colours', () => {
    const [s] = parseAnsiLine('\x1b[92;44;7mx');
    expect(segmentClass(s.style).className).toBe('ansi-fg-4 ansi-bg-10');
  });
});

describe('LogLines', () => {
  it('joins chunks cut anywhere, marks stages and skips chunks seen again', () => {
    const l = new LogLines();
    expect(l.append(1, 'build', 1, 'one\ntw')).toBe(true);
    expect(l.count).toBe(3);
    expect(l.line(2).text).toBe('tw');
    l.append(1, 'build', 2, 'o\nthree\n');
    expect(l.append(1, 'build', 2, 'o\nthree\n')).toBe(false);
    l.append(2, 'deploy', 1, 'last');
    expect(Array.from({ length: l.count }, (_, i) => l.line(i))).toEqual([
      { text: 'stage build', header: true },
      { text: 'one' },
      { text: 'two' },
      { text: 'three' },
      { text: 'stage deploy', header: true },
      { text: 'last' },
    ]);
    expect(l.search('T')).toEqual([2, 3, 5]);
  });

  it('searches the text without escapes, and holds 200,000 lines', () => {
    const l = new LogLines();
    const chunk = Array.from({ length: 1000 }, (_, i) => `\x1b[32mline\x1b[0m ${i}`).join('\n') + '\n';
    for (let seq = 1; seq <= 200; seq++) l.append(1, 'big', seq, chunk);
    expect(l.count).toBe(200_001);
    expect(l.search('line 999').length).toBe(200);
    expect(l.search('32m')).toEqual([]);
  });
});

describe('log search highlighting', () => {
  it('splits around every word, case-insensitive, with regex characters taken literally', async () => {
    const { splitMatches } = await import('../../web/src/pages/Search');
    expect(splitMatches('Error: a.b failed (ERROR)', ['error', 'a.b'])).toEqual(['', 'Error', ': ', 'a.b', ' failed (', 'ERROR', ')']);
    expect(splitMatches('axb', ['a.b'])).toEqual(['axb']);
    expect(splitMatches('text', [])).toEqual(['text']);
  });
});
