import { DMA_FROM_DEVICE, Kernel } from '@p2pdma/kernel';
import { enumerate, getBuiltin, kernelOptionsForTopology } from '@p2pdma/pci-core';
import { expect, it } from 'vitest';
import { checkP2p, p2pdmaEnumerationHooks, pciP2pdmaAddResource, pciP2pdmaMapSg, pciP2pmemAllocSgl, pciP2pmemPublish } from '../src/index';
import { readBar } from './helpers';

it('the README example runs as documented (through the public index)', () => {
  const spec = getBuiltin('seed-switch')!;
  const kernel = new Kernel({ ...kernelOptionsForTopology(spec), policy: 'upstream' });
  const sys = enumerate(kernel, spec, p2pdmaEnumerationHooks(kernel));
  if ('error' in sys) throw new Error(sys.error.message);
  const card = sys.findByBdf('06:00.0')!;
  const rnic = sys.findByBdf('03:00.0')!;
  expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
  expect(kernel.log.grep('added peer-to-peer')[0]!.text).toBe('pci 0000:06:00.0: added peer-to-peer DMA memory 0x80000000-0x8fffffff');
  pciP2pmemPublish(card, true);
  const sg = pciP2pmemAllocSgl(card, 8192);
  if (typeof sg === 'number') throw new Error('alloc_sgl failed');
  expect(pciP2pdmaMapSg(rnic, sg.sgl, 1, DMA_FROM_DEVICE)).toBe(1);
  const data = new Uint8Array(8192).fill(0x5a);
  expect(sys.fabric.dmaWrite(rnic, sg.sgl.dmaAddress, data)).toEqual({ status: 'ok' });
  expect(readBar(card, 4, sg.sgl.dmaAddress - 0x8000_0000, 8192)).toEqual(data);
  const r = checkP2p(getBuiltin('acs-redirect')!, { provider: '06:00.0', clients: ['03:00.0'] });
  expect(r).toMatchObject({ ok: true, supported: false, clients: [{ mapType: 'not-supported', fix: 'pci=disable_acs_redir=0000:02:11.0;0000:02:08.0' }] });
  expect(r.ok && r.warnings).toHaveLength(4);
});
