/** Named gates for the offline model's `hold` rule: requests wait on a gate until the test releases it. */
export class Gates {
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly open = new Set<string>();

  /** Resolves when the gate is released; at once if it was released before the request arrived. */
  wait(gate: string): Promise<void> {
    if (this.open.has(gate)) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(gate, [...(this.waiting.get(gate) ?? []), resolve]));
  }

  /** Opens the gate for the requests waiting on it and for any that arrive later; returns how many were waiting. */
  release(gate: string): number {
    this.open.add(gate);
    const held = this.waiting.get(gate) ?? [];
    this.waiting.delete(gate);
    for (const resolve of held) resolve();
    return held.length;
  }

  /** Ends every wait and forgets every gate (a reset, or the server closing). */
  releaseAll(): void {
    for (const gate of [...this.waiting.keys()]) this.release(gate);
    this.open.clear();
  }
}
