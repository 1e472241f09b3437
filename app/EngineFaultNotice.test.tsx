import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { EngineFaultNotice, faultNotice, type EngineFault } from './EngineFaultNotice.tsx';

const LOST: EngineFault = { kind: 'device-lost', detail: 'The GPU device was lost (destroyed: Device was destroyed.).', recovery: 'reloading' };
const CRASH: EngineFault = { kind: 'worker-crash', detail: 'Uncaught Error: out of memory', recovery: 'reloading' };

const render = (fault: EngineFault) => renderToStaticMarkup(<EngineFaultNotice fault={fault} onRestart={() => {}} />);

describe('EngineFaultNotice', () => {
  it('while reloading: what happened, its detail, what is being done, and that the conversation is kept', () => {
    const html = render(LOST);
    expect(html).toContain('<strong>The GPU device was lost.</strong>');
    expect(html).toContain('The GPU device was lost (destroyed: Device was destroyed.).');
    expect(html).toContain('Reloading the model on a new GPU device… Your conversation and anything you type are kept.');
    expect(html).not.toContain('<button');
    expect(faultNotice(CRASH).next).toMatch(/^Restarting the engine worker and reloading the model…/);
  });

  it('once reloaded: what to do next', () => {
    const html = render({ ...CRASH, recovery: 'ready' });
    expect(html).toContain('<strong>The engine worker crashed.</strong> <span data-testid="engine-fault-detail">Uncaught Error: out of memory</span>');
    expect(html).toContain('send your next message (the conversation goes with it), or press Regenerate');
    expect(html).toContain('data-recovery="ready"');
  });

  it('when the reload failed too: where the reason is, and a button to restart the engine', () => {
    const html = render({ ...LOST, recovery: 'failed' });
    expect(html).toContain('Reloading the model failed too (the model panel says why)');
    expect(html).toMatch(/<button[^>]*>Restart engine and reload the model<\/button>/);
  });
});
