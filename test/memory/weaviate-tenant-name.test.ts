/**
 * Weaviate tenant names: literal where Weaviate allows it, hashed otherwise, and the two spaces never meet.
 */
import { createHash } from 'node:crypto';
import { weaviateTenantName } from '../../src/memory/weaviate-store';

describe('weaviateTenantName', () => {
  it('keeps plain ids and hashes the others', () => {
    expect(weaviateTenantName('acme-1_x')).toBe('acme-1_x');
    expect(weaviateTenantName('acme.eu')).toMatch(/^h-[0-9a-f]{40}$/);
  });

  it('never gives a literal id the name another id hashes to', () => {
    // A tenant may pick as its id exactly the name a dotted tenant id is stored under.
    const dotted = 'globex.eu';
    const hashedName = weaviateTenantName(dotted);
    expect(hashedName).toBe(`h-${createHash('sha256').update(dotted).digest('hex').slice(0, 40)}`);
    expect(weaviateTenantName(hashedName)).not.toBe(hashedName);
    expect(weaviateTenantName(hashedName)).toMatch(/^h-[0-9a-f]{40}$/);
    // Any id starting `h-` is in the hashed space.
    expect(weaviateTenantName('h-short')).not.toBe('h-short');
  });
});
