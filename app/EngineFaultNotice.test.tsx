import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { EngineFaultNotice, faultNext, type EngineFault } from './EngineFaultNotice.tsx';

const LOST: EngineFault = {
  kind: 'device-lost',
  message: 'The GPU device was lost (destroyed: Device was destroyed.). Reload the model to continue; your conversation is kept.',
  recovery: 'reloading',
};
const CRASH: EngineFault = { kind: 'worker-crash', message: 'The engine worker crashed (Uncaught Error: out of memory)', recovery: 'reloading' };

const render = (fault: EngineFault) => renderToStaticMarkup(<EngineFaultNotice fault={fault} onRestart={() => {}} />);

describe('EngineFaultNotice', () => {
  it('while reloading: what happened, what is being done about it, and that the conversation is kept', () => {
    const html = render(LOST);
    expect(html).toContain(`<strong data-testid="engine-fault-message">${LOST.message}</strong>`);
    expect(html).toContain('Reloading the model on a new GPU device… Your conversation and anything you type are kept.');
    expect(html).not.toContain('<button');
    expect(faultNext(CRASH)).toBe('Restarting the engine worker and reloading the model… Your conversation and anything you type are kept.');
  });

  it('once reloaded: what to do next', () => {
    const html = render({ ...CRASH, recovery: 'ready' });
    expect(html).toContain('The engine worker crashed (Uncaught Error: out of memory)');
    expect(html).toContain('send your next message (the conversation goes with it), or press Regenerate to answer the last one again');
    expect(html).toContain('data-recovery="ready"');
  });

  it('when the reload failed too: where the reason is, and a button to restart the engine', () => {
    const html = render({ ...LOST, recovery: 'failed' });
    expect(html).toContain('Reloading the model failed too (the model panel says why)');
    expect(html).toMatch(/<button[^>]*>Restart engine and reload the model<\/button>/);
  });
});
