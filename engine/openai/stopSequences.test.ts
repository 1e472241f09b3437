import { describe, expect, it } from 'vitest';
import { StopSequenceFilter } from './stopSequences.ts';

/** The pieces handed out for `pieces`, then the flush, and whether a stop sequence ended the text. */
function run(stops: string[], pieces: string[]): { out: string[]; stopped: boolean } {
  const filter = new StopSequenceFilter(stops);
  const out = pieces.map((piece) => filter.push(piece));
  out.push(filter.flush());
  return { out, stopped: filter.stopped };
}

describe('StopSequenceFilter', () => {
  it('hands text out as it comes when no stop sequence could be starting', () => {
    expect(run(['END'], ['ab', 'cd'])).toEqual({ out: ['ab', 'cd', ''], stopped: false });
  });

  it('holds back what may begin a stop sequence, and releases it when it does not', () => {
    expect(run(['END'], ['ab E', 'N', 'x'])).toEqual({ out: ['ab ', '', 'ENx', ''], stopped: false });
    expect(run(['END'], ['ab E'])).toEqual({ out: ['ab ', 'E'], stopped: false });
  });

  it('cuts before a stop sequence split across pieces, and hands out nothing after it', () => {
    expect(run(['END'], ['ab E', 'ND tail', 'more'])).toEqual({ out: ['ab ', '', '', ''], stopped: true });
  });

  it('stops at whichever stop sequence comes first in the text', () => {
    expect(run(['later', ', e'], ['x, ensure later'])).toEqual({ out: ['x', ''], stopped: true });
  });

  it('with no stop sequences holds nothing back', () => {
    expect(run([], ['a', 'b'])).toEqual({ out: ['a', 'b', ''], stopped: false });
  });
});
